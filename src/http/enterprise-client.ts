import { CircuitBreaker, type Classification } from "../breaker/circuit-breaker.js";
import { CircuitBreakers } from "../breaker/circuit-breakers.js";
import type { CircuitState } from "../breaker/state.js";
import type { StateChangeEvent } from "../breaker/circuit-breaker.js";
import type { AdaptiveEvents } from "../limit/adaptive.js";
import { type AttachOptions, checkAttach, type Telemetry, type TelemetryEvent, telemetryOption } from "../core/telemetry.js";
import { consecutiveFailures } from "../breaker/trip.js";
import { type Clock, systemClock } from "../core/clock.js";
import { BackoffExhaustedError, CircuitOpenError, InvalidOptionError, ResilienceError, TimeoutError } from "../core/errors.js";
import { Emitter, type Listener } from "../core/events.js";
import { checkKeys, func, integer, nonEmptyString, orDefault, positive } from "../core/validate.js";
import type { AdaptiveSnapshot } from "../limit/adaptive.js";
import { isPromiseLike, type Store } from "../store/store.js";
import { ApiClient, type ApiRequestOptions, type ExchangeTally, type FetchLike } from "./api-client.js";
import type { HeadersInit } from "./build-request.js";
import type { ClientRequestEvent, HttpClientEvents } from "./events.js";
import type { Logger } from "../core/log.js";
import { checkLogger, errorSummary, type HttpLogLevel, safeLog } from "./logger.js";
import type { RateConfig } from "./rate-config.js";

/** The breaker in its simplest form: open after `failureThreshold` consecutive failures, for `openIntervalMs`. */
export interface CircuitBreakerConfig {
  /** Consecutive failures (5xx, network errors, timeouts) that open the circuit. Default 5. */
  readonly failureThreshold?: number;
  /** How long the circuit stays open before a trial request (ms). Default 30,000. */
  readonly openIntervalMs?: number;
}

/** The one metrics event of a request. */
export interface RequestMetricsEvent {
  readonly integration: string;
  readonly tenantId: string;
  /** Upper-cased. */
  readonly method: string;
  readonly path: string;
  /** The final response's status; null when there was none (an error, an open circuit). */
  readonly statusCode: number | null;
  /** From the call to the response or the error, on the client's clock (ms). */
  readonly elapsedMs: number;
  /** Requests sent (0 when the circuit was open or no permit was granted). */
  readonly attempts: number;
  /** The limiter's state after the request. */
  readonly rateSnapshot: AdaptiveSnapshot;
  /** The breaker's state after the request. */
  readonly circuitState: CircuitState;
  /** The `context` given at construction, passed through. */
  readonly context: Readonly<Record<string, unknown>>;
  /** What went wrong, or null. */
  readonly error: { readonly name: string; readonly message: string } | null;
  /** How it ended. */
  readonly outcome: RequestOutcome;
}

/**
 * How a request ended: a response below 500 (`ok`, including other 4xx), a 5xx response
 * (`server-error`), back-off statuses until the retries ran out (`backoff-exhausted`), the
 * time limit (`timeout`), an open circuit (`circuit-open`), or another error (`error`:
 * network failure, abort, rate limiter refusal, bad arguments).
 */
export type RequestOutcome = "ok" | "server-error" | "backoff-exhausted" | "timeout" | "circuit-open" | "error";

/** Options of {@link EnterpriseClient}. */
export interface EnterpriseClientOptions {
  /** The upstream's name, e.g. `"notion"`: names the limiter, the breaker (in a `CircuitBreakers`), logs and metrics. */
  readonly integration: string;
  /** Whose requests these are; the limiter is keyed by integration and tenant. Default `"default"`. */
  readonly tenantId?: string;
  readonly baseUrl: string;
  /** How to pace the upstream (e.g. `apiRateConfig("notion")`). Default: find the limit from 10 requests/s. */
  readonly rateConfig?: RateConfig;
  /**
   * The breaker: `{ failureThreshold, openIntervalMs }`, a `CircuitBreaker`, or a
   * `CircuitBreakers` (the service is the integration). Default `{ failureThreshold: 5, openIntervalMs: 30_000 }`.
   */
  readonly circuitBreaker?: CircuitBreakerConfig | CircuitBreaker | CircuitBreakers;
  /** Called with one event per request; an exception it throws is logged and ignored. */
  readonly onMetrics?: (event: RequestMetricsEvent) => void;
  /** A pino-style logger; an exception it throws is ignored. Default: no logs. */
  readonly logger?: Logger;
  /** Passed through to every metrics event and log line (e.g. a region, a job id). */
  readonly context?: Readonly<Record<string, unknown>>;
  /** The underlying client's options. */
  readonly fetch?: FetchLike;
  readonly timeoutMs?: number;
  readonly defaultHeaders?: HeadersInit;
  readonly maxRetriesOnBackoff?: number;
  readonly clock?: Clock;
  /** Where the limiter's state lives: share one store (a `RedisStore` across a fleet) to share each tenant's rate. */
  readonly store?: Store;
  /**
   * Where the client, its limiter and its breaker report their events (see docs/telemetry.md):
   * one `request` event per request, in the same shape `on("request")` gets. Default: none.
   */
  readonly telemetry?: Telemetry;
}

const WHERE = "EnterpriseClient";
const OPTION_KEYS = [
  "integration",
  "tenantId",
  "baseUrl",
  "rateConfig",
  "circuitBreaker",
  "onMetrics",
  "logger",
  "context",
  "fetch",
  "timeoutMs",
  "defaultHeaders",
  "maxRetriesOnBackoff",
  "clock",
  "store",
  "telemetry",
] as const;
const BREAKER_KEYS = ["failureThreshold", "openIntervalMs"];

/**
 * Marks a 5xx response inside the breaker, so that it counts as a failure; the response
 * itself is still returned to the caller. Select it in a breaker's `failOn` / `ignore`.
 */
export class UpstreamServerError extends ResilienceError {
  /** The status (500-599). */
  readonly status: number;
  /** The response, returned to the caller. */
  readonly response: Response;

  constructor(response: Response) {
    super(`Upstream answered ${response.status}`);
    this.status = response.status;
    this.response = response;
  }
}

/**
 * An {@link ApiClient} (adaptive limiter keyed by
 * integration and tenant) inside a circuit breaker, with exactly one metrics event per
 * request and structured logs through any pino-style logger.
 *
 * An open circuit rejects with `CircuitOpenError` before any HTTP request. 5xx responses
 * (which are still returned), network errors, timeouts and back-off statuses of 500 and
 * up that outlast the retries count as failures; other 4xx do not.
 */
export class EnterpriseClient {
  readonly integration: string;
  readonly tenantId: string;
  /** The breaker every request goes through. */
  readonly breaker: CircuitBreaker;
  /** The underlying client (and its `limiter`). */
  readonly client: ApiClient;
  private readonly onMetrics: ((event: RequestMetricsEvent) => void) | undefined;
  /** The breaker's own classification, narrowed: what is not the upstream's fault is ignored, neither a failure nor a success. */
  private readonly classification: Classification;
  private readonly logger: Logger | undefined;
  private readonly context: Readonly<Record<string, unknown>>;
  private readonly clock: Clock;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly events: Emitter<HttpClientEvents>;

  constructor(options: EnterpriseClientOptions) {
    if (options === undefined || options === null || typeof options !== "object")
      throw new InvalidOptionError(WHERE, "options", options, "an object with integration and baseUrl");
    checkKeys(WHERE, options, OPTION_KEYS);
    this.integration = nonEmptyString(WHERE, "integration", options.integration);
    this.tenantId = nonEmptyString(WHERE, "tenantId", orDefault(options.tenantId, "default"));
    this.onMetrics =
      options.onMetrics === undefined ? undefined : func<(event: RequestMetricsEvent) => void>(WHERE, "onMetrics", options.onMetrics);
    this.logger = checkLogger(WHERE, options.logger);
    const context = options.context ?? {};
    if (typeof context !== "object" || context === null || Array.isArray(context))
      throw new InvalidOptionError(WHERE, "context", context, "a plain object");
    this.context = Object.freeze({ ...context });
    this.client = new ApiClient({
      baseUrl: options.baseUrl,
      name: this.integration,
      key: `adaptive:${this.integration}:${this.tenantId}`,
      ...definedOnly({
        rateConfig: options.rateConfig,
        fetch: options.fetch,
        timeoutMs: options.timeoutMs,
        defaultHeaders: options.defaultHeaders,
        maxRetriesOnBackoff: options.maxRetriesOnBackoff,
        clock: options.clock,
        store: options.store,
      }),
    });
    this.clock = options.clock ?? systemClock;
    this.breaker = toBreaker(options.circuitBreaker, this.integration, options.clock);
    this.classification = narrowed(this.breaker);
    const telemetry = telemetryOption(WHERE, options.telemetry);
    this.events = new Emitter<HttpClientEvents>(undefined, { source: "http", name: this.integration, telemetry });
    // The limiter and a breaker handed in report to it too (the underlying client's own
    // request events stay out: this client reports each request once).
    if (telemetry !== undefined) this.unsubscribe.push(this.client.limiter.attach(telemetry), this.breaker.attach(telemetry));
    // The logger and onMetrics are sinks of the same events: one request event feeds both.
    if (this.logger !== undefined) this.unsubscribe.push(this.attach(new ClientLog(this.log.bind(this))));
    if (this.onMetrics !== undefined) this.unsubscribe.push(this.events.attach(new MetricsAdapter(this, this.onMetrics)));
  }

  /** Subscribes to an event (`"request"`: one per request, when it ends); returns the unsubscribe function. */
  on<K extends keyof HttpClientEvents>(event: K, listener: Listener<HttpClientEvents[K]>): () => void {
    return this.events.on(event, listener);
  }

  /**
   * Reports the client's events (one `request` per request, under `options.name` if given),
   * its limiter's and its breaker's to `telemetry` too; returns the function that detaches
   * it. Attaching one sink twice reports each event to it once.
   */
  attach(telemetry: Telemetry, options?: AttachOptions): () => void {
    const offs = [
      this.events.attach(telemetry, checkAttach(`${WHERE}.attach`, telemetry, options)),
      this.client.limiter.attach(telemetry),
      this.breaker.attach(telemetry),
    ];
    return () => {
      for (const off of offs.splice(0)) off();
    };
  }

  /** The limiter's state now. */
  rateSnapshot(): AdaptiveSnapshot {
    return this.client.limiter.snapshot();
  }

  /**
   * Sends `method path` through the breaker and the limiter and returns the `fetch`
   * `Response` (5xx included). Rejects like {@link ApiClient.request}, and with
   * `CircuitOpenError` when the circuit is open (no request is sent).
   */
  async request(method: string, path: string, options: ApiRequestOptions = {}): Promise<Response> {
    const started = this.clock.now();
    const upper = typeof method === "string" ? method.toUpperCase() : String(method);
    const tally: ExchangeTally = {
      attempts: 0,
      onBackoff: (n) =>
        this.log(
          "warn",
          { method: upper, path, status: n.status, retryAfterMs: n.retryAfterMs ?? null, attempt: n.attempt, willRetry: n.willRetry },
          "upstream asked to back off",
        ),
    };
    const callerSignal = options.signal;
    let response: Response | undefined;
    let error: unknown;
    let failed = false;
    try {
      // An error that is not the upstream's fault (a 429 that outlasted the retries, a bad
      // option) is thrown too: the breaker records it as ignored, and a run of failures goes on.
      response = await this.breaker.run(
        async (): Promise<Response> => {
          const res = await this.client.exchange(method, path, options, tally);
          if (res.status >= 500) throw new UpstreamServerError(res);
          return res;
        },
        callerSignal === undefined ? undefined : { signal: callerSignal },
        this.classification,
      );
    } catch (e) {
      if (e instanceof UpstreamServerError) response = e.response;
      else {
        failed = true;
        error = e;
      }
    }
    this.finish(upper, path, started, tally.attempts, response, failed ? error : undefined, failed);
    if (failed) throw error;
    return response as Response;
  }

  /** Detaches from the breaker's and the limiter's events (a shared breaker outlives the client). */
  close(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  private finish(
    method: string,
    path: string,
    started: number,
    attempts: number,
    response: Response | undefined,
    error: unknown,
    failed: boolean,
  ): void {
    if (!this.events.has("request")) return;
    const durationMs = Math.max(0, this.clock.now() - started);
    const outcome = outcomeOf(response, error, failed);
    const status = response?.status ?? (error instanceof BackoffExhaustedError ? error.status : null);
    this.events.emit("request", {
      integration: this.integration,
      method,
      path,
      status,
      durationMs,
      attempts,
      outcome,
      error: failed ? error : undefined,
    });
  }

  /** @internal The `onMetrics` event of a request (see {@link RequestMetricsEvent}). */
  metricsEvent(e: ClientRequestEvent): RequestMetricsEvent {
    return {
      integration: this.integration,
      tenantId: this.tenantId,
      method: e.method,
      path: e.path,
      statusCode: e.status,
      elapsedMs: e.durationMs,
      attempts: e.attempts,
      rateSnapshot: this.client.limiter.snapshot(),
      circuitState: this.breaker.state,
      context: this.context,
      error: failedOutcome(e.outcome) ? errorSummary(e.error) : null,
      outcome: e.outcome,
    };
  }

  /** @internal Logs that the metrics handler threw. */
  logDropped(error: unknown): void {
    this.log("error", { err: errorSummary(error) }, "metrics handler threw; event dropped");
  }

  private log(level: HttpLogLevel, fields: Record<string, unknown>, msg: string): void {
    safeLog(this.logger, level, { integration: this.integration, tenantId: this.tenantId, context: this.context, ...fields }, msg);
  }
}

/** Whether a request with this outcome threw (rather than returned a response). */
function failedOutcome(outcome: RequestOutcome): boolean {
  return outcome !== "ok" && outcome !== "server-error";
}

type Log = (level: HttpLogLevel, fields: Record<string, unknown>, msg: string) => void;

/**
 * The client's `logger`, as a sink of its events: a line per request (its fields named
 * `statusCode` and `elapsedMs`, as they always were), per state change of its breaker and
 * per change of its limiter's rate.
 */
class ClientLog implements Telemetry {
  constructor(private readonly log: Log) {}

  wants(source: string, event: string): boolean {
    return (
      (source === "http" && event === "request") ||
      (source === "breaker" && event === "stateChange") ||
      (source === "adaptive" && event === "rateChange")
    );
  }

  report(t: TelemetryEvent): void {
    if (t.source === "breaker") {
      const e = t.payload as StateChangeEvent;
      this.log(e.to === "closed" ? "info" : "warn", { from: e.from, to: e.to, reason: e.reason }, "circuit state changed");
    } else if (t.source === "adaptive") {
      const e = t.payload as AdaptiveEvents["rateChange"];
      this.log("debug", { from: e.from, to: e.to, reason: e.reason }, "rate changed");
    } else {
      const e = t.payload as ClientRequestEvent;
      const line = {
        method: e.method,
        path: e.path,
        statusCode: e.status,
        elapsedMs: e.durationMs,
        attempts: e.attempts,
        outcome: e.outcome,
      };
      if (e.outcome === "ok") this.log("info", line, "upstream request completed");
      else if (e.outcome === "circuit-open")
        this.log("warn", { ...line, retryAfterMs: (e.error as CircuitOpenError).retryAfterMs }, "circuit open; request rejected");
      else this.log("error", failedOutcome(e.outcome) ? { ...line, err: errorSummary(e.error) } : line, "upstream request failed");
    }
  }
}

/** `onMetrics`, as a sink of the client's request events; a handler that throws (or rejects) is logged. */
class MetricsAdapter implements Telemetry {
  constructor(
    private readonly client: EnterpriseClient,
    private readonly onMetrics: (event: RequestMetricsEvent) => void,
  ) {}

  wants(source: string, event: string): boolean {
    return source === "http" && event === "request";
  }

  report(t: TelemetryEvent): void {
    const event = this.client.metricsEvent(t.payload as ClientRequestEvent);
    const dropped = (e: unknown): void => this.client.logDropped(e);
    try {
      const result: unknown = this.onMetrics(event);
      // An async handler's rejection would otherwise go unhandled, which ends a Node process.
      if (isPromiseLike(result)) result.then(undefined, dropped);
    } catch (e) {
      dropped(e);
    }
  }
}

/** Each breaker's classification narrowed for the clients on it: one object per breaker, so the breaker's per-classification handlers are shared. */
const NARROWED = new WeakMap<CircuitBreaker, Classification>();

/** The breaker's own classification, but what is not the upstream's fault is ignored. */
function narrowed(breaker: CircuitBreaker): Classification {
  let classification = NARROWED.get(breaker);
  if (classification === undefined) {
    const own = breaker.classifier;
    classification = { ...own, countsAsFailure: (e) => (e instanceof UpstreamServerError || countsAsFailure(e)) && own.countsAsFailure(e) };
    NARROWED.set(breaker, classification);
  }
  return classification;
}

/** Whether an error from the client counts against the circuit: network errors, timeouts, 5xx back-offs. */
function countsAsFailure(error: unknown): boolean {
  if (error instanceof BackoffExhaustedError) return error.status >= 500;
  if (error instanceof TimeoutError) return true;
  // Everything else Breakwater raises (rate limiter refusal, bad options) is not the upstream's fault.
  if (error instanceof ResilienceError) return false;
  return true;
}

function outcomeOf(response: Response | undefined, error: unknown, failed: boolean): RequestOutcome {
  if (!failed) return response !== undefined && response.status >= 500 ? "server-error" : "ok";
  if (error instanceof CircuitOpenError) return "circuit-open";
  if (error instanceof BackoffExhaustedError) return "backoff-exhausted";
  if (error instanceof TimeoutError) return "timeout";
  return "error";
}

function toBreaker(option: EnterpriseClientOptions["circuitBreaker"], integration: string, clock: Clock | undefined): CircuitBreaker {
  if (option instanceof CircuitBreaker) return option;
  if (option instanceof CircuitBreakers) return option.get(integration);
  const config = option ?? {};
  if (typeof config !== "object" || config === null) {
    throw new InvalidOptionError(
      WHERE,
      "circuitBreaker",
      option,
      "{ failureThreshold, openIntervalMs }, a CircuitBreaker or a CircuitBreakers",
    );
  }
  checkKeys(WHERE, config, BREAKER_KEYS, "circuitBreaker.");
  return new CircuitBreaker({
    name: integration,
    trip: consecutiveFailures(integer(WHERE, "circuitBreaker.failureThreshold", orDefault(config.failureThreshold, 5))),
    recovery: positive(WHERE, "circuitBreaker.openIntervalMs", orDefault(config.openIntervalMs, 30_000)),
    ...(clock === undefined ? {} : { clock }),
  });
}

function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
