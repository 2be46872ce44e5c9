import { type Clock, preciseClock } from "../core/clock.js";
import { BackoffExhaustedError, InvalidOptionError } from "../core/errors.js";
import { type AttachOptions, checkAttach, type Telemetry, telemetryOption } from "../core/telemetry.js";
import { Emitter, type Listener, type ListenerErrorHandler } from "../core/events.js";
import { checkKeys, integer, nonEmptyString, nonNegativeOrInfinity, orDefault } from "../core/validate.js";
import { AdaptiveRateLimiter } from "../limit/adaptive.js";
import type { Store } from "../store/store.js";
import { buildRequest, checkBaseUrl, type HeadersInit, type RequestParts } from "./build-request.js";
import { deadline } from "./deadline.js";
import { type HttpClientEvents, requestEvent } from "./events.js";
import { parseRetryAfter } from "../core/headers.js";
import type { RateConfig } from "./rate-config.js";
import { resolveRateConfig, type ResolvedRateConfig } from "./resolve-rate-config.js";

/** The `fetch` an {@link ApiClient} calls: the global one, or any with its shape (undici's, a test double). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Options of {@link ApiClient}. Only `baseUrl` is required. */
export interface ApiClientOptions {
  /** Every request path is relative to it, e.g. `"https://api.example.com/v1"`. */
  readonly baseUrl: string;
  /** How to pace this upstream. Default: {@link DEFAULT_RATE_CONFIG}, which starts at 10 requests/s and finds the limit. */
  readonly rateConfig?: RateConfig;
  /** Default: the global `fetch`. */
  readonly fetch?: FetchLike;
  /**
   * The time limit of each `request` (ms), from the call until the response's headers:
   * the wait for a permit, every attempt and every cooldown. `Infinity` turns it off.
   * Default 30,000.
   */
  readonly timeoutMs?: number;
  /** Sent with every request; a request's own headers win. */
  readonly defaultHeaders?: HeadersInit;
  /** Retries of one request after back-off statuses. Default: the rate config's (3). */
  readonly maxRetriesOnBackoff?: number;
  /** Default `preciseClock` (the limiter paces on it). */
  readonly clock?: Clock;
  /** Where the limiter's rate and cooldown live; share one to share them. Default: a private `MemoryStore`. */
  readonly store?: Store;
  /** The limiter's store key. Default `adaptive:<name>`. */
  readonly key?: string;
  /** Names the limiter in events and errors. Default: the base URL's host. */
  readonly name?: string;
  /** Where listener errors go. Default: a process warning. */
  readonly onListenerError?: ListenerErrorHandler;
  /** Where the client and its limiter report their events (see docs/telemetry.md). Default: none. */
  readonly telemetry?: Telemetry;
}

/** Options of one request. */
export interface ApiRequestOptions extends RequestParts {
  /** This request's time limit (ms); `Infinity` for none. Default: the client's `timeoutMs`. */
  readonly timeoutMs?: number;
  /** Aborts the request, including its wait for a permit. */
  readonly signal?: AbortSignal;
}

/** A back-off answer seen while sending one request. */
export interface BackoffNotice {
  readonly status: number;
  readonly retryAfterMs: number | undefined;
  /** Which attempt it answered (1 for the first). */
  readonly attempt: number;
  /** True when the request will be sent again. */
  readonly willRetry: boolean;
}

/**
 * What one exchange reports as it goes (used by `EnterpriseClient` for metrics and logs).
 * @internal
 */
export interface ExchangeTally {
  attempts: number;
  onBackoff?: (notice: BackoffNotice) => void;
}

const WHERE = "ApiClient";
const OPTION_KEYS = [
  "baseUrl",
  "rateConfig",
  "fetch",
  "timeoutMs",
  "defaultHeaders",
  "maxRetriesOnBackoff",
  "clock",
  "store",
  "key",
  "name",
  "onListenerError",
  "telemetry",
] as const;
const REQUEST_KEYS = ["headers", "query", "json", "body", "timeoutMs", "signal"];

/** The default time limit of a request (ms). */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * An HTTP client for one upstream API: every request waits
 * for a permit from an {@link AdaptiveRateLimiter}; back-off statuses (429, 503, ...) feed
 * the limiter and are retried up to `maxRetriesOnBackoff` times (each retry waits out the
 * cooldown the limiter opened, e.g. `Retry-After`), then reject with
 * `BackoffExhaustedError`. Any other response is returned as it is. A time limit (30 s by
 * default) covers the whole request and rejects with `TimeoutError`.
 */
export class ApiClient {
  /** The base URL, without trailing slashes. */
  readonly baseUrl: string;
  /** The rate config in force, defaults filled in. */
  readonly rateConfig: ResolvedRateConfig;
  /** The limiter every request goes through. */
  readonly limiter: AdaptiveRateLimiter;
  /** The default time limit of a request (ms). */
  readonly timeoutMs: number;
  /** Retries after back-off statuses. */
  readonly maxRetriesOnBackoff: number;
  private readonly fetchImpl: FetchLike;
  private readonly clock: Clock;
  private readonly defaultHeaders: Headers;
  private readonly backoffStatuses: ReadonlySet<number>;
  private readonly events: Emitter<HttpClientEvents>;

  constructor(options: ApiClientOptions) {
    if (options === undefined || options === null || typeof options !== "object")
      throw new InvalidOptionError(WHERE, "options", options, "an object with at least baseUrl");
    checkKeys(WHERE, options, OPTION_KEYS);
    this.baseUrl = checkBaseUrl(WHERE, options.baseUrl);
    this.rateConfig = resolveRateConfig(options.rateConfig);
    this.timeoutMs = checkTimeout(WHERE, "timeoutMs", orDefault(options.timeoutMs, DEFAULT_TIMEOUT_MS));
    this.maxRetriesOnBackoff = integer(
      WHERE,
      "maxRetriesOnBackoff",
      orDefault(options.maxRetriesOnBackoff, this.rateConfig.maxRetriesOnBackoff),
      0,
    );
    const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (typeof fetchImpl !== "function")
      throw new InvalidOptionError(WHERE, "fetch", options.fetch, "a fetch function (no global fetch here)");
    this.fetchImpl = fetchImpl;
    try {
      this.defaultHeaders = new Headers(options.defaultHeaders);
    } catch {
      throw new InvalidOptionError(WHERE, "defaultHeaders", options.defaultHeaders, "a Headers, a record of strings or a list of pairs");
    }
    this.clock = options.clock ?? preciseClock;
    const name = nonEmptyString(WHERE, "name", orDefault(options.name, new URL(this.baseUrl).host));
    const config = this.rateConfig;
    const telemetry = telemetryOption(WHERE, options.telemetry);
    this.limiter = new AdaptiveRateLimiter({
      name,
      ...(options.key === undefined ? {} : { key: options.key }),
      initialRatePerSec: config.ratePerSec,
      minRatePerSec: config.minRatePerSec,
      maxRatePerSec: config.maxRatePerSec,
      burst: config.burst,
      cooldownMultiplier: config.cooldownMultiplier,
      cooldownCapMs: config.cooldownCapMs,
      backoffStatuses: config.backoffStatuses,
      clock: this.clock,
      ...(options.store === undefined ? {} : { store: options.store }),
      ...(options.onListenerError === undefined ? {} : { onListenerError: options.onListenerError }),
      ...(telemetry === undefined ? {} : { telemetry }),
    });
    this.backoffStatuses = new Set(config.backoffStatuses);
    this.events = new Emitter<HttpClientEvents>(options.onListenerError, { source: "http", name, telemetry });
  }

  /** Subscribes to an event (`"request"`: one per request, when it ends); returns the unsubscribe function. */
  on<K extends keyof HttpClientEvents>(event: K, listener: Listener<HttpClientEvents[K]>): () => void {
    return this.events.on(event, listener);
  }

  /**
   * Reports the client's events (its requests, its limiter's and, for an `EnterpriseClient`,
   * its breaker's) to `telemetry` too, its requests under `options.name` if given; returns
   * the function that detaches it. Attaching one sink twice reports each event to it once.
   */
  attach(telemetry: Telemetry, options?: AttachOptions): () => void {
    const own = this.events.attach(telemetry, checkAttach(`${WHERE}.attach`, telemetry, options));
    const limiter = this.limiter.attach(telemetry);
    return () => {
      own();
      limiter();
    };
  }

  /**
   * The pause before a 5xx back-off without Retry-After is retried: `cooldownMultiplier`
   * intervals at the pace, at most `cooldownCapMs` and the limiter's `maxCooldownMs`.
   */
  private outagePauseMs(): number {
    const { cooldownMultiplier, cooldownCapMs } = this.rateConfig;
    return Math.min(cooldownCapMs, this.limiter.maxCooldownMs, (cooldownMultiplier * 1000) / this.limiter.snapshot().ratePerSec);
  }

  /**
   * Sends `method path` and returns the `fetch` `Response` (of any status but a back-off
   * one). Rejects with `BackoffExhaustedError` when back-off statuses outlast the
   * retries, `TimeoutError` when the time limit passes, `InvalidOptionError` for bad
   * arguments, the signal's reason on abort, and `fetch`'s own error on network failure.
   */
  async request(method: string, path: string, options: ApiRequestOptions = {}): Promise<Response> {
    // Unobserved, a request reads no clock and builds no event.
    if (!this.events.has("request")) return this.exchange(method, path, options, { attempts: 0 });
    const started = this.clock.now();
    const tally: ExchangeTally = { attempts: 0 };
    let response: Response;
    try {
      response = await this.exchange(method, path, options, tally);
    } catch (error) {
      this.events.emit(
        "request",
        requestEvent(this.limiter.name, method, path, this.clock.now() - started, tally.attempts, undefined, error),
      );
      throw error;
    }
    this.events.emit(
      "request",
      requestEvent(this.limiter.name, method, path, this.clock.now() - started, tally.attempts, response, undefined),
    );
    return response;
  }

  /**
   * {@link request}, reporting attempts and back-offs into `tally` as it goes.
   * @internal
   */
  async exchange(method: string, path: string, options: ApiRequestOptions, tally: ExchangeTally): Promise<Response> {
    checkKeys(`${WHERE}.request`, options, REQUEST_KEYS);
    const built = buildRequest(this.baseUrl, this.defaultHeaders, method, path, options);
    const timeoutMs = options.timeoutMs === undefined ? this.timeoutMs : checkTimeout(`${WHERE}.request`, "timeoutMs", options.timeoutMs);
    const limit = deadline(this.clock, timeoutMs, options.signal);
    const signal = limit.signal;
    const maxAttempts = built.replayable ? this.maxRetriesOnBackoff + 1 : 1;
    try {
      for (let attempt = 1; ; attempt++) {
        const permit = await this.limiter.acquire(attempt === 1 ? (signal === undefined ? {} : { signal }) : { signal, retry: true });
        tally.attempts = attempt;
        let response: Response;
        try {
          response = await this.fetchImpl(built.url, signal === undefined ? built.init : { ...built.init, signal });
        } catch (error) {
          // No answer: an outage (the rate is kept), unless the caller gave up.
          if (signal?.aborted) this.limiter.release(permit);
          else this.limiter.onUnavailable({ permit });
          throw signal?.aborted ? signal.reason : error;
        }
        if (!this.backoffStatuses.has(response.status)) {
          // A 5xx that is no back-off says nothing about the rate: an outage (the rate is kept).
          if (response.status >= 500) this.limiter.onUnavailable({ permit });
          else this.limiter.onSuccess(response, permit);
          return response;
        }
        const dateHeader = response.headers.get("date") ?? undefined;
        const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), dateHeader === undefined ? {} : { dateHeader });
        this.limiter.onBackoff({
          status: response.status,
          headers: response.headers,
          permit,
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        });
        const willRetry = attempt < maxAttempts;
        tally.onBackoff?.({ status: response.status, retryAfterMs, attempt, willRetry });
        await discard(response);
        if (!willRetry) throw new BackoffExhaustedError(response.status, attempt, retryAfterMs);
        // A 5xx back-off is an outage to the limiter, which keeps its pace: without a Retry-After,
        // this request waits the pause a refusal would get before it is sent again, not at once.
        if (retryAfterMs === undefined && response.status >= 500) await this.clock.sleep(this.outagePauseMs(), signal);
      }
    } catch (error) {
      throw signal?.aborted && limit.expired ? signal.reason : error;
    } finally {
      limit.dispose();
    }
  }
}

/** Reads a back-off answer's body to the end, so the connection can be reused; errors are ignored. */
async function discard(response: Response): Promise<void> {
  try {
    await response.arrayBuffer();
  } catch {
    // Aborted or broken: the request is being retried or given up anyway.
  }
}

/** A time limit: a number > 0 (Infinity for none). */
export function checkTimeout(where: string, option: string, value: unknown): number {
  const ms = nonNegativeOrInfinity(where, option, value);
  if (ms === 0) throw new InvalidOptionError(where, option, value, "a number > 0 (Infinity for no limit)");
  return ms;
}
