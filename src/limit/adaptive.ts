import { abortReason, throwIfAborted } from "../core/abort.js";
import { type Clock, preciseClock, systemClock } from "../core/clock.js";
import { InvalidOptionError, RateLimitExceededError, ResilienceError } from "../core/errors.js";
import { type AttachOptions, checkAttach, type Telemetry, telemetryOption } from "../core/telemetry.js";
import { isNetworkFailure } from "../core/network.js";
import { type ExecuteOptions, type Operation, type Policy, toContext } from "../core/policy.js";
import { Emitter, type ListenerErrorHandler } from "../core/events.js";
import {
  backoffStatuses,
  checkKeys,
  clockOption,
  integer,
  nonEmptyString,
  nonNegativeOrInfinity,
  orDefault,
  positive,
} from "../core/validate.js";
import { type HeadersInput, headerValue, parseBackoffHints, type RateLimitInfo } from "../core/headers.js";
import { MemoryStore } from "../store/memory.js";
import { isPromiseLike, type Store } from "../store/store.js";
import { type Waiter, WaitQueue } from "../policy/wait-queue.js";
import { SuccessCounts } from "./concurrency-gate.js";
import { FLIGHT_NONE, FLIGHT_UNKNOWN } from "./in-flight.js";
import {
  AdaptiveDecision,
  type AdaptiveInput,
  type AdaptiveOutput,
  type AdaptiveRecord,
  type QuotaInput,
  SOURCE_HEADERS,
} from "./adaptive-decision.js";
import type { AcquireOptions, RateLimitDecision, RateLimiterEvents } from "./limiter.js";

/** Options of {@link AdaptiveRateLimiter}. Every one is optional; the control law is described on the class. */
export interface AdaptiveRateLimiterOptions {
  /** Shown in errors, events and snapshots. Default `"adaptive"`. */
  readonly name?: string;
  /** The store key; limiters with the same store and key share rate and cooldown. Default `adaptive:<name>`. */
  readonly key?: string;
  /** The rate to start from (requests per second). Default 10. */
  readonly initialRatePerSec?: number;
  /** Never pace slower than this. Default 0.5. */
  readonly minRatePerSec?: number;
  /** Never pace faster than this. Default 10,000. */
  readonly maxRatePerSec?: number;
  /** Permits that may go at once after a quiet spell (the pacing bucket's capacity). Default 1. */
  readonly burst?: number;
  /** A refusal pauses for `cooldownMultiplier / rate` seconds (that many pacing intervals, at most `cooldownCapMs`), doubling with each further refusal since the last cut (at most 64 times). Default 2. */
  readonly cooldownMultiplier?: number;
  /**
   * The longest pause `cooldownMultiplier` intervals give a refusal before it doubles (ms),
   * unless a quota policy from headers sets the pace. Default 150
   * ({@link DEFAULT_COOLDOWN_CAP_MS}): at low rates two intervals are much of the upstream's
   * second, and the pauses would hold the rate sent under a pace that stays over the limit.
   * `Infinity` for a fixed wait of that many intervals (a vendor that documents one).
   */
  readonly cooldownCapMs?: number;
  /** The longest cooldown, whatever `Retry-After` asks (ms). Default 60,000. */
  readonly maxCooldownMs?: number;
  /** Statuses that {@link AdaptiveRateLimiter.record} treats as back-off signals (4xx: refusals; 5xx: outages): from 400 to 599, 429 always included (added when missing). Default `[429, 503]`. */
  readonly backoffStatuses?: readonly number[];
  /** The cut on refusals when too few answers came to measure what the upstream accepts, in (0, 1). Default 0.7. */
  readonly decrease?: number;
  /** How far below the limit a cut paces, in [0, 1); also sizes the steps of a confirmed cut. Default 0.05. */
  readonly headroom?: number;
  /** How long the rate holds after a cut before probing upward (ms). Default 500. */
  readonly holdMs?: number;
  /** The hold lasts at least this many times the cooldown the last cut drew (a Retry-After honoured in full). Default 2. */
  readonly holdPerCooldown?: number;
  /** In slow start (before the first back-off) the rate doubles every this many ms. Default 700. */
  readonly doublingMs?: number;
  /** After its return to just under the ceiling the probe grows as `plateau * (1 + probeGain * t^4)`, t in seconds. Default 0.5. */
  readonly probeGain?: number;
  /** A store may drop this limiter's state after this long without use (ms). Default 600,000. */
  readonly forgetAfterMs?: number;
  /** The longest `acquire` waits by default (ms). Default Infinity. */
  readonly maxWaitMs?: number;
  /** Where rate and cooldown live. Default: a private `MemoryStore`. */
  readonly store?: Store;
  /** Default `preciseClock` (readings with a fraction of a millisecond: pacing at tens of requests per second needs them). */
  readonly clock?: Clock;
  /** Where listener errors go. Default: a process warning. */
  readonly onListenerError?: ListenerErrorHandler;
  /** Where it reports its events (see docs/telemetry.md). Default: none. */
  readonly telemetry?: Telemetry;
}

/** Options of {@link AdaptiveRateLimiter.acquire}. */
export interface AdaptiveAcquireOptions extends AcquireOptions {
  /**
   * A retry of a request that already waited its turn (and was answered with a back-off):
   * it goes to the front of the queue, so a retried request does not queue twice.
   */
  readonly retry?: boolean;
}

/** A granted permit. Hand it back to `onSuccess`, `onBackoff` or `release` so the single-congestion-event rule can tell old requests from new ones. */
export interface AdaptivePermit extends RateLimitDecision {
  /** The congestion epoch the permit was issued in. */
  readonly epoch: number;
  /** How long the caller waited for it (ms). */
  readonly waitedMs: number;
  /**
   * How many other permits were in flight when it was granted, of this limiter and of every
   * other one sharing its state (other processes, through a shared store): where its answer
   * falls tells a concurrency cap from a rate limit.
   */
  readonly othersInFlight: number;
  /**
   * The permit's number among those granted on its state (by every limiter sharing it, from
   * 0 at the state's start): with it the requests granted before this one that were refused
   * while it was out are left out of {@link othersInFlight} when it is answered (a refused
   * request holds no place under an upstream's cap). A permit rebuilt without it is counted
   * as granted.
   */
  readonly sequence: number;
  /**
   * The pace in force when the permit was granted (req/s): a refusal of it is evidence about
   * that pace, not about the one in force when the answer comes. A permit rebuilt without it
   * is taken to have gone out at the pace of the moment it is answered.
   */
  readonly issuedRate: number;
  /**
   * The span of the shared count in flight the permit was counted in: its answer takes it
   * out of that count. A permit rebuilt without it takes out the oldest one counted.
   */
  readonly flightSpan: number;
}

/** Anything with response headers (and maybe a status): a `fetch` `Response`, an `IncomingMessage`, a plain object. */
export interface ResponseLike {
  readonly status?: number;
  readonly headers?: HeadersInput | null;
}

/** A back-off signal from the upstream. */
export interface BackoffSignal {
  /** The status that asked to back off. Default 429. */
  readonly status?: number;
  /** The wait the upstream asked for (ms); read from `headers` (`Retry-After`) when not given. */
  readonly retryAfterMs?: number;
  /** The response headers: `Retry-After` and the rate-limit fields are read from them. */
  readonly headers?: HeadersInput | null;
  /** The permit of the request that was answered. */
  readonly permit?: AdaptivePermit;
}

/** Where the current rate comes from. */
export type RateSource = "initial" | "adaptive" | "headers";

/** What {@link AdaptiveRateLimiter.snapshot} reports: the pace, the cooldown, and what it has seen. */
export interface AdaptiveSnapshot {
  /** The pace in force (requests per second). */
  readonly ratePerSec: number;
  /** When the current cooldown ends (clock ms), or null when none is in force. */
  readonly cooldownUntil: number | null;
  /** Milliseconds left in the current cooldown on the limiter's clock (0 when none): for metrics and dashboards. */
  readonly cooldownMs: number;
  /** Permits granted by this limiter and not yet reported back. */
  readonly inFlight: number;
  /** Callers waiting for a permit in this limiter. */
  readonly queued: number;
  /**
   * The cap on requests in flight learned from an upstream that refuses by concurrency
   * (refusals only when many are in flight), held by every limiter sharing the state, or
   * null when none applies.
   */
  readonly concurrencyCap: number | null;
  /** Successes recorded (by every limiter sharing the state). */
  readonly successes: number;
  /** Back-offs recorded (by every limiter sharing the state). */
  readonly backoffs: number;
  /** The last back-off, or null. */
  readonly lastBackoff: { readonly status: number; readonly at: number; readonly retryAfterMs: number | null } | null;
  /** What set the rate: the initial value, the control law, or rate-limit headers. */
  readonly source: RateSource;
  /** The congestion epoch (grows by one per rate cut). */
  readonly epoch: number;
}

/** Why the rate changed. */
export type RateChangeReason = "increase" | "decrease" | "backoff" | "headers" | "reset";

/** The events of an {@link AdaptiveRateLimiter}. */
export interface AdaptiveEvents extends RateLimiterEvents {
  /** The pace changed: at every cut and reset, and on any other change of 10% or more since the last report. */
  rateChange: {
    readonly limiter: string;
    readonly key: string;
    readonly from: number;
    readonly to: number;
    readonly reason: RateChangeReason;
  };
  /** A back-off was recorded; `congestion` tells whether it cut the rate. */
  backoff: {
    readonly limiter: string;
    readonly key: string;
    readonly status: number;
    readonly retryAfterMs: number | undefined;
    readonly congestion: boolean;
    readonly ratePerSec: number;
    readonly epoch: number;
  };
  /** A cooldown opened (or was extended): nothing is released until `until`. */
  cooldown: {
    readonly limiter: string;
    readonly key: string;
    readonly cooldownMs: number;
    readonly until: number;
    readonly reason: "retry-after" | "backoff" | "quota";
  };
}

const WHERE = "AdaptiveRateLimiter";
/**
 * The default `cooldownCapMs`: two pacing intervals at about 13 requests/s, so that from there
 * up a refusal pauses as it always did. Chosen against every upstream model at limits from a
 * tenth to twice the usual ones (bench/law-sim.ts): 100 to 150 ms did about as well at low
 * limits, but 125 cost GCRA about 3 points at 20 requests/s in real time (its pace sits
 * near 15 there).
 */
export const DEFAULT_COOLDOWN_CAP_MS = 150;
const OPTION_KEYS = [
  "name",
  "key",
  "initialRatePerSec",
  "minRatePerSec",
  "maxRatePerSec",
  "burst",
  "cooldownMultiplier",
  "cooldownCapMs",
  "maxCooldownMs",
  "backoffStatuses",
  "decrease",
  "headroom",
  "holdMs",
  "holdPerCooldown",
  "doublingMs",
  "probeGain",
  "forgetAfterMs",
  "maxWaitMs",
  "store",
  "clock",
  "onListenerError",
  "telemetry",
] as const;
const SOURCES: readonly RateSource[] = ["initial", "adaptive", "headers"];
/** A change that is not a cut or a reset is reported once it reaches this share of the last reported rate. */
const REPORT_CHANGE = 0.1;

/**
 * A rate limiter that finds an upstream's limit by itself (safe under
 * concurrency, and shareable by a fleet): it paces requests at a rate that grows while they
 * succeed and falls on refusals (429), keeps what it learned through outages (5xx, no
 * answer), honours `Retry-After`, and paces from `RateLimit-*` / `X-RateLimit-*` headers
 * before a 429 arrives.
 *
 * The control law (see `AdaptiveDecision` and docs/adaptive-rate-limiting.md): slow start
 * doubles the rate every `doublingMs`; a refusal cuts it just below the pace it came at (or
 * below what the upstream accepted, after a steep climb); refusals that go on after a cut
 * cut again in bounded steps; after each cut the rate holds `holdMs`, climbs back to the
 * ceiling and probes above it as `plateau * (1 + probeGain * t^4)`. Responses to requests
 * issued before a cut never cut again: each permit carries its epoch.
 *
 * The algorithm is a pure decision run by the `store`; this class is the shell around it:
 * the clock, the FIFO of waiters, permits in flight, and events.
 */
export class AdaptiveRateLimiter implements Policy {
  /** The name given at construction. */
  readonly name: string;
  /** The store key of this limiter's state. */
  readonly key: string;
  /** The store holding the state. */
  readonly store: Store;
  /** The statuses {@link record} treats as back-off signals. */
  readonly backoffStatuses: readonly number[];
  /** The longest pause a back-off imposes (ms). */
  readonly maxCooldownMs: number;
  private readonly decision: AdaptiveDecision;
  private readonly clock: Clock;
  private readonly events: Emitter<AdaptiveEvents>;
  private readonly defaultMaxWaitMs: number;
  /** Waiters abort alone: the pump sleeps for the pace, so only the last abort wakes it (to stop). */
  private readonly queue = new WaitQueue<AdaptivePermit>({ wakeOnAbort: "last" });
  private pumping = false;
  /** Permits in flight, as runs of [epoch, count] in issue order. */
  private readonly outstanding: [number, number][] = [];
  private readonly settledPermits = new WeakSet<AdaptivePermit>();
  private inFlightCount = 0;
  /**
   * This process's successes by count in flight, for the concurrency gate (the gate itself,
   * a cap on requests in flight for an upstream that refuses by concurrency, is in the record).
   */
  private readonly successCounts = new SuccessCounts();
  /** The record's learned cap on requests in flight, as the store last answered (-1: none). */
  private gateLimit = -1;
  /** The record's count of successes at this limiter's last one, or when it first heard from the record (-1: not yet). */
  private successesSeen = -1;
  /** The record's count of gate openings when this limiter last looked (-1: never looked). */
  private gateOpensSeen = -1;
  /** The permit the last `settle` took out of the in-flight set: its others in flight and number (-1: unknown)... */
  private settledOthers = -1;
  private settledSeq = -1;
  /** ... and the span of the shared count it leaves (FLIGHT_NONE when no permit was taken out). */
  private settledFlight = FLIGHT_NONE;
  /** The pump waits for an answer because the gate is shut. */
  private gated = false;
  private mirror: AdaptiveOutput | undefined;
  /** When `mirror` was last set (clock ms): the estimate credits the refill since. */
  private mirrorAt = 0;
  private reportedRate: number;
  private closed = false;
  private readonly onStoreError: (error: unknown) => void;

  constructor(options: AdaptiveRateLimiterOptions = {}) {
    checkKeys(WHERE, options, OPTION_KEYS);
    this.name = nonEmptyString(WHERE, "name", orDefault(options.name, "adaptive"));
    this.key = nonEmptyString(WHERE, "key", orDefault(options.key, `adaptive:${this.name}`));
    const minRate = positive(WHERE, "minRatePerSec", orDefault(options.minRatePerSec, 0.5));
    const maxRate = positive(WHERE, "maxRatePerSec", orDefault(options.maxRatePerSec, 10_000));
    if (maxRate < minRate) throw new InvalidOptionError(WHERE, "maxRatePerSec", maxRate, `a finite number >= minRatePerSec (${minRate})`);
    const initialRate = positive(
      WHERE,
      "initialRatePerSec",
      orDefault(options.initialRatePerSec, Math.min(maxRate, Math.max(minRate, 10))),
    );
    if (initialRate < minRate || initialRate > maxRate) {
      throw new InvalidOptionError(
        WHERE,
        "initialRatePerSec",
        initialRate,
        `a number between minRatePerSec (${minRate}) and maxRatePerSec (${maxRate})`,
      );
    }
    const decrease = openUnit("decrease", orDefault(options.decrease, 0.7));
    const maxCooldownMs = nonNegativeFinite("maxCooldownMs", orDefault(options.maxCooldownMs, 60_000));
    this.maxCooldownMs = maxCooldownMs;
    const headroom = options.headroom === undefined ? 0.05 : options.headroom === 0 ? 0 : openUnit("headroom", options.headroom);
    this.decision = new AdaptiveDecision({
      initialRate,
      minRate,
      maxRate,
      burst: integer(WHERE, "burst", orDefault(options.burst, 1)),
      decrease,
      headroom,
      holdMs: nonNegativeFinite("holdMs", orDefault(options.holdMs, 500)),
      holdPerCooldown: nonNegativeFinite("holdPerCooldown", orDefault(options.holdPerCooldown, 2)),
      doublingMs: positive(WHERE, "doublingMs", orDefault(options.doublingMs, 700)),
      probeGain: positive(WHERE, "probeGain", orDefault(options.probeGain, 0.5)),
      cooldownMultiplier: nonNegativeFinite("cooldownMultiplier", orDefault(options.cooldownMultiplier, 2)),
      cooldownCapMs: Math.min(
        maxCooldownMs,
        nonNegativeOrInfinity(WHERE, "cooldownCapMs", orDefault(options.cooldownCapMs, DEFAULT_COOLDOWN_CAP_MS)),
      ),
      maxCooldownMs,
      forgetAfterMs: positive(WHERE, "forgetAfterMs", orDefault(options.forgetAfterMs, 600_000)),
    });
    this.backoffStatuses = backoffStatuses(WHERE, orDefault(options.backoffStatuses, [429, 503]));
    this.defaultMaxWaitMs = nonNegativeOrInfinity(WHERE, "maxWaitMs", orDefault(options.maxWaitMs, Number.POSITIVE_INFINITY));
    this.store = options.store ?? new MemoryStore({ sweepIntervalMs: 0 });
    if (typeof this.store !== "object" || this.store === null || typeof this.store.apply !== "function") {
      throw new InvalidOptionError(WHERE, "store", options.store, "a Store");
    }
    this.clock = clockOption(WHERE, options.clock, true, preciseClock);
    if (options.onListenerError !== undefined && typeof options.onListenerError !== "function") {
      throw new InvalidOptionError(WHERE, "onListenerError", options.onListenerError, "a function");
    }
    this.events = new Emitter<AdaptiveEvents>(options.onListenerError, {
      source: "adaptive",
      name: this.name,
      telemetry: telemetryOption(WHERE, options.telemetry),
    });
    this.onStoreError = (error) => {
      if (options.onListenerError) options.onListenerError(error, "store");
      else
        process.emitWarning(
          `${WHERE} "${this.name}": the store failed to record an outcome: ${error instanceof Error ? error.message : String(error)}`,
          { type: "BreakwaterStoreError" },
        );
    };
    this.reportedRate = initialRate;
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof AdaptiveEvents>(event: K, listener: (payload: AdaptiveEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /**
   * Reports this policy's events to `telemetry` too (logging and metrics use it), under
   * `options.name` if given; returns the function that detaches it. Attaching one sink
   * twice reports each event to it once.
   */
  attach(telemetry: Telemetry, options?: AttachOptions): () => void {
    return this.events.attach(telemetry, checkAttach(`${WHERE}.attach`, telemetry, options));
  }

  /**
   * Waits its turn (FIFO; a `retry` goes first) for a permit: until the cooldown is over
   * and the pace allows.
   * Rejects with `RateLimitExceededError` when the wait would exceed `maxWaitMs` (checked
   * on entry, from the current pace, and again at the head of the queue), and with the
   * signal's reason when it aborts.
   */
  acquire(options?: AdaptiveAcquireOptions): Promise<AdaptivePermit>;
  /**
   * The other limiters' shape: `key` is the limiter's own {@link AdaptiveRateLimiter.key | key} (or undefined). An
   * adaptive limiter paces one upstream; share one state by giving limiters the same key.
   */
  acquire(key: string | undefined, options?: AdaptiveAcquireOptions): Promise<AdaptivePermit>;
  acquire(keyOrOptions?: string | AdaptiveAcquireOptions, maybeOptions?: AdaptiveAcquireOptions): Promise<AdaptivePermit> {
    let options = NO_OPTIONS;
    if (typeof keyOrOptions === "object" && keyOrOptions !== null) options = keyOrOptions;
    else {
      if (keyOrOptions !== undefined && keyOrOptions !== this.key) {
        return Promise.reject(
          new InvalidOptionError(`${WHERE}.acquire`, "key", keyOrOptions, `this limiter's key ("${this.key}") or undefined`),
        );
      }
      options = maybeOptions ?? NO_OPTIONS;
    }
    if (this.closed) return Promise.reject(new ResilienceError(`${WHERE} "${this.name}" is closed`));
    const cost = options.cost ?? 1;
    if (!Number.isInteger(cost) || cost < 0)
      return Promise.reject(new InvalidOptionError(`${WHERE}.acquire`, "cost", cost, "an integer >= 0"));
    const maxWaitMs = options.maxWaitMs ?? this.defaultMaxWaitMs;
    if (typeof maxWaitMs !== "number" || Number.isNaN(maxWaitMs) || maxWaitMs < 0) {
      return Promise.reject(new InvalidOptionError(`${WHERE}.acquire`, "maxWaitMs", maxWaitMs, "a number >= 0 (Infinity for no limit)"));
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (cost > this.decision.config.burst) return Promise.reject(this.reject(cost, Number.POSITIVE_INFINITY));
    const now = this.clock.now();
    if (this.store.synchronous && (options.retry === true || this.queue.size === 0) && this.allows()) {
      const out = this.apply({ type: "acquire", cost }, now) as AdaptiveOutput;
      this.observe(out);
      if (out.allowed) return Promise.resolve(this.grant(out, cost, 0));
      if (out.waitMs > maxWaitMs) return Promise.reject(this.reject(cost, out.waitMs));
    } else if (Number.isFinite(maxWaitMs)) {
      const estimate = this.estimateWait(cost, now);
      if (estimate > maxWaitMs) return Promise.reject(this.reject(cost, estimate));
    }
    const waited = this.queue.enqueue({ cost, now, maxWaitMs, signal, front: options.retry === true });
    void this.pump();
    return waited;
  }

  /**
   * Runs `fn` when a permit is granted (waiting its turn; `signal` aborts the wait and is
   * handed to `fn`) and records the outcome, so the limiter joins a `pipeline(...)` like any
   * policy: a result with an HTTP `status` (a `Response`) goes to {@link record}, an error
   * with one (`status` or `statusCode`) too, and the error is rethrown. An error without a
   * status and no abort counts as an outage ({@link onUnavailable}) when it is a network
   * failure (`TypeError` from `fetch`, or a `code` such as `ECONNREFUSED`); any other error
   * returns the permit unjudged.
   */
  async execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    const signal = options?.signal;
    const permit = await this.acquire(signal === undefined ? undefined : { signal });
    let value: T;
    try {
      // Admitted, but the signal may have aborted since: a call that has not started does not start.
      throwIfAborted(signal);
      value = await fn(toContext(options));
    } catch (error) {
      const status = statusOf(error);
      if (status !== undefined) this.record({ status, headers: headersOf(error) }, permit);
      else if (signal?.aborted !== true && isNetworkFailure(error)) this.onUnavailable({ permit });
      else this.release(permit);
      throw error;
    }
    const status = statusOf(value);
    if (status !== undefined) this.record(value as ResponseLike, permit);
    else this.onSuccess(null, permit);
    return value;
  }

  /** Records a response that was not a back-off; its rate-limit headers, if any, pace what follows. */
  onSuccess(response?: ResponseLike | null, permit?: AdaptivePermit): void {
    const epoch = this.settle(permit);
    const quota = response ? this.quotaOf(response.headers) : null;
    this.applyFeedback(
      { type: "success", epoch, quota, flight: this.settledFlight, others: this.settledOthers, seq: this.settledSeq },
      undefined,
    );
  }

  /**
   * Records a back-off signal (429, 503, ...). A refusal pauses `cooldownMultiplier` pacing
   * intervals (at most `cooldownCapMs` unless a quota policy sets the pace), doubling with
   * each further refusal since the last cut; a `Retry-After`
   * (given, or read from `headers`) of up to 1 s caps that pause, a longer one is waited
   * out in full (capped by `maxCooldownMs`). Only a back-off to a permit issued since the
   * last cut cuts the rate.
   */
  onBackoff(signal: BackoffSignal = {}): void {
    const status = signal.status ?? 429;
    if (!Number.isInteger(status) || status < 100 || status > 599) {
      throw new InvalidOptionError(`${WHERE}.onBackoff`, "status", status, "an HTTP status (an integer from 100 to 599)");
    }
    let retryAfterMs = signal.retryAfterMs;
    if (retryAfterMs !== undefined && (typeof retryAfterMs !== "number" || !(retryAfterMs >= 0))) {
      throw new InvalidOptionError(`${WHERE}.onBackoff`, "retryAfterMs", retryAfterMs, "a number >= 0");
    }
    const epoch = this.settle(signal.permit);
    const flight = this.settledFlight;
    // An outage's answers (5xx) do not matter to the gate.
    const others = status < 500 ? this.settledOthers : -1;
    const seq = status < 500 ? this.settledSeq : -1;
    // The record judges the refusal against its cap; while there is none (it may have opened since this process last looked), it may close one where these successes allow.
    const closeFrom = others >= 0 ? this.successCounts.closeFrom() : -1;
    const hints = signal.headers ? parseBackoffHints(signal.headers, { nowMs: systemClock.now() }) : {};
    retryAfterMs ??= hints.retryAfterMs;
    const quota = hints.rateLimit ? toQuota(hints.rateLimit) : null;
    const issued = signal.permit?.issuedRate;
    const issuedRate = typeof issued === "number" && issued > 0 ? issued : -1;
    this.applyFeedback(
      { type: "backoff", epoch, status, retryAfterMs: retryAfterMs ?? -1, quota, issuedRate, flight, others, seq, closeFrom },
      retryAfterMs,
    );
  }

  /** Another name for {@link onBackoff}, the one dynamic-api-rate-limiter's users know: any back-off status, not only 429. */
  on429(signal: BackoffSignal = {}): void {
    this.onBackoff(signal);
  }

  /**
   * Records a response by its status: a back-off status goes to {@link onBackoff}, any
   * other to {@link onSuccess}. Returns true when it was a back-off.
   */
  record(response: ResponseLike, permit?: AdaptivePermit): boolean {
    const status = response.status ?? 200;
    if (this.backoffStatuses.includes(status)) {
      this.onBackoff({ status, headers: response.headers ?? null, ...(permit === undefined ? {} : { permit }) });
      return true;
    }
    this.onSuccess(response, permit);
    return false;
  }

  /** Returns a permit whose request was abandoned (an abort): it neither grows nor cuts the rate. */
  release(permit?: AdaptivePermit): void {
    this.settle(permit);
    // It leaves the count in flight it shares with every limiter of its state.
    if (this.settledFlight !== FLIGHT_NONE) this.applyFeedback({ type: "release", flight: this.settledFlight }, undefined);
  }

  /**
   * Records a request the upstream could not answer (a network error, a refused
   * connection): evidence of an outage, never of the rate limit. The learned rate is kept;
   * from the second outage answer in a row the pace drops to a trickle until a success.
   */
  onUnavailable(signal: { readonly permit?: AdaptivePermit; readonly retryAfterMs?: number } = {}): void {
    const retryAfterMs = signal.retryAfterMs;
    if (retryAfterMs !== undefined && (typeof retryAfterMs !== "number" || !(retryAfterMs >= 0))) {
      throw new InvalidOptionError(`${WHERE}.onUnavailable`, "retryAfterMs", retryAfterMs, "a number >= 0");
    }
    const epoch = this.settle(signal.permit);
    this.applyFeedback({ type: "outage", epoch, retryAfterMs: retryAfterMs ?? -1, flight: this.settledFlight }, retryAfterMs);
  }

  /** The current rate, cooldown and counts. */
  snapshot(): AdaptiveSnapshot {
    const now = this.clock.now();
    let view: Pick<
      AdaptiveRecord,
      "rate" | "cooldownUntil" | "successes" | "backoffs" | "lastStatus" | "lastAt" | "lastRetryAfterMs" | "source" | "epoch"
    >;
    const record = this.store.synchronous ? (this.store.read(this.decision, this.key, now) as AdaptiveRecord | undefined) : undefined;
    if (record !== undefined) view = { ...record, rate: this.decision.pace(record, now) };
    else view = this.mirror ?? { ...this.decision.init(now), rate: this.decision.config.initialRate };
    return {
      ratePerSec: view.rate,
      cooldownUntil: view.cooldownUntil > now ? view.cooldownUntil : null,
      cooldownMs: view.cooldownUntil > now ? view.cooldownUntil - now : 0,
      inFlight: this.inFlightCount,
      queued: this.queue.size,
      concurrencyCap: this.gateLimit < 0 ? null : this.gateLimit,
      successes: view.successes,
      backoffs: view.backoffs,
      lastBackoff:
        view.lastStatus === 0
          ? null
          : { status: view.lastStatus, at: view.lastAt, retryAfterMs: view.lastRetryAfterMs < 0 ? null : view.lastRetryAfterMs },
      source: SOURCES[view.source] ?? "adaptive",
      epoch: view.epoch,
    };
  }

  /** Forgets what was learned: back to the initial rate, no cooldown. */
  async reset(): Promise<void> {
    this.successCounts.reset();
    this.gateLimit = -1;
    this.applyFeedback({ type: "reset" }, undefined);
    this.queue.wake();
  }

  /** Rejects every waiter and refuses new ones. The store is left open (it may be shared). */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.drain(new ResilienceError(`${WHERE} "${this.name}" is closed`));
  }

  private apply(input: AdaptiveInput, now: number): AdaptiveOutput | Promise<AdaptiveOutput> {
    return this.store.apply(this.decision, this.key, input, now);
  }

  /**
   * Serves the queue: asks the store for the head's permit, grants it, refuses it when the
   * wait would pass its `maxWaitMs`, or sleeps for the pace (woken early by a reset, a
   * close, or the last waiter's abort). A store failure rejects every waiter.
   */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let head = this.queue.first(); head !== undefined; head = this.queue.first()) {
        if (!this.allows()) {
          // The upstream caps requests in flight: wait for an answer (it wakes the pump).
          this.gated = true;
          const napFrom = this.clock.now();
          await this.queue.nap(GATE_NAP_MS, this.sleep);
          this.gated = false;
          // Woken: look again. Else ask the store: another process may have widened or opened
          // the gate, and the record forgets permits whose answers never came.
          if (this.clock.now() - napFrom < GATE_NAP_MS) continue;
        }
        const at = this.clock.now();
        // Its place in line, not its own wait: a retry at the front holds the place of the head it passed.
        const answer = this.apply({ type: "acquire", cost: head.cost, waitedMs: at - head.since }, at);
        const out = isPromiseLike(answer) ? await answer : answer;
        this.observe(out);
        if (head.done) {
          // The waiter left (aborted) while the store answered: a permit granted meanwhile was counted in flight.
          if (out.allowed) this.applyFeedback({ type: "release", flight: out.flightSpan }, undefined);
          continue;
        }
        const now = this.clock.now();
        if (out.allowed) this.grant(out, head.cost, now - head.enqueuedAt, head);
        else if (now - head.enqueuedAt + out.waitMs > head.maxWaitMs) this.reject(head.cost, out.waitMs, head);
        else {
          // A caller awaits this sleep: the clock's sleep keeps the process alive while it runs.
          // At the learned cap (of the whole fleet, in a shared store) an answer here may free a place sooner.
          this.gated = this.gateLimit >= 0;
          await this.queue.nap(out.waitMs, this.sleep);
          this.gated = false;
        }
      }
    } catch (error) {
      this.queue.drain(error);
    } finally {
      this.pumping = false;
    }
  }

  private readonly sleep = (ms: number, signal: AbortSignal): Promise<void> => this.clock.sleep(ms, signal);

  /** Whether the learned cap lets one more of this process's requests go (the store judges the fleet's count). */
  private allows(): boolean {
    return this.gateLimit < 0 || this.inFlightCount < this.gateLimit;
  }

  /** Keeps what the store answered: the estimate of the wait, and the cap on requests in flight. */
  private observe(out: AdaptiveOutput): void {
    this.mirror = out;
    this.mirrorAt = this.clock.now();
    // Its count of the fleet's successes starts at its first answer: processes that start
    // together count them all, one that joins a busy record only those since it joined.
    if (this.successesSeen < 0) this.successesSeen = out.successes;
    // The gate opened since (here or in another process): the successes at the count it opened at or above came under the old width.
    if (out.gateOpens !== this.gateOpensSeen) {
      if (this.gateOpensSeen >= 0) this.successCounts.forgetFrom(out.gateOpenedAt);
      this.gateOpensSeen = out.gateOpens;
    }
    this.gateLimit = out.gateLimit;
  }

  private estimateWait(cost: number, now: number): number {
    const view = this.mirror;
    if (view === undefined) return 0;
    // The pacing bucket has refilled since the store last answered (a remote store answers rarely).
    const tokens = Math.min(this.decision.config.burst, view.tokens + (Math.max(0, now - this.mirrorAt) * view.rate) / 1000);
    const ahead = cost - tokens + this.queue.queuedCost;
    return Math.max(0, view.cooldownUntil - now) + Math.max(0, (ahead * 1000) / view.rate);
  }

  /** Issues a permit (to `waiter`, admitted before the event, so a listener sees the queue without it). */
  private grant(out: AdaptiveOutput, cost: number, waitedMs: number, waiter?: Waiter): AdaptivePermit {
    const last = this.outstanding[this.outstanding.length - 1];
    if (last !== undefined && last[0] === out.epoch) last[1]++;
    else this.outstanding.push([out.epoch, 1]);
    // Every limiter sharing the state counts: behind a cap on requests in flight, a fleet's share it.
    const othersInFlight = out.inFlight;
    this.inFlightCount++;
    const burst = this.decision.config.burst;
    const permit: AdaptivePermit = {
      allowed: true,
      remaining: Math.floor(out.tokens),
      limit: burst,
      retryAfterMs: 0,
      resetAfterMs: out.rate > 0 ? ((burst - out.tokens) * 1000) / out.rate : 0,
      epoch: out.epoch,
      waitedMs,
      othersInFlight,
      sequence: out.seq,
      issuedRate: out.rate,
      flightSpan: out.flightSpan,
    };
    if (waiter !== undefined) this.queue.admit(waiter, permit);
    if (this.events.has("acquired")) this.events.emit("acquired", { limiter: this.name, key: this.key, cost, waitedMs });
    return permit;
  }

  /** A refusal (of `waiter`, failed before the event, so a listener sees the queue without it). */
  private reject(cost: number, retryAfterMs: number, waiter?: Waiter): RateLimitExceededError {
    const error = new RateLimitExceededError(retryAfterMs, { limiter: this.name, key: this.key });
    if (waiter !== undefined) this.queue.fail(waiter, error);
    if (this.events.has("rejected")) this.events.emit("rejected", { limiter: this.name, key: this.key, cost, retryAfterMs });
    return error;
  }

  /**
   * Takes a permit out of the in-flight set; returns its epoch. Without a permit the
   * oldest one in flight is taken (responses mostly come back in order); with none in
   * flight, -1 (the current epoch).
   */
  private settle(permit: AdaptivePermit | undefined): number {
    this.settledOthers = -1;
    this.settledSeq = -1;
    this.settledFlight = FLIGHT_NONE;
    if (permit !== undefined) {
      if (this.settledPermits.has(permit)) return permit.epoch;
      this.settledPermits.add(permit);
      this.settledFlight = typeof permit.flightSpan === "number" ? permit.flightSpan : FLIGHT_UNKNOWN;
      // A permit made by hand (or by an older version) has no count: the gate leaves it out.
      if (typeof permit.othersInFlight === "number") this.settledOthers = permit.othersInFlight;
      if (typeof permit.sequence === "number") this.settledSeq = permit.sequence;
      const run = this.outstanding.find((r) => r[0] === permit.epoch);
      if (run !== undefined) this.take(run);
      return permit.epoch;
    }
    const oldest = this.outstanding[0];
    if (oldest === undefined) return -1;
    this.settledFlight = FLIGHT_UNKNOWN;
    this.take(oldest);
    return oldest[0];
  }

  private take(run: [number, number]): void {
    run[1]--;
    this.inFlightCount--;
    if (this.gated) this.queue.wake();
    if (run[1] <= 0) this.outstanding.splice(this.outstanding.indexOf(run), 1);
  }

  private quotaOf(headers: HeadersInput | null | undefined): QuotaInput | null {
    if (!headers) return null;
    // Cheap check first: most responses carry no rate-limit fields.
    if (
      headerValue(headers, "ratelimit-remaining") === undefined &&
      headerValue(headers, "ratelimit-policy") === undefined &&
      headerValue(headers, "ratelimit") === undefined &&
      headerValue(headers, "ratelimit-limit") === undefined &&
      headerValue(headers, "x-ratelimit-remaining") === undefined
    )
      return null;
    const info = parseBackoffHints(headers, { nowMs: systemClock.now() }).rateLimit;
    return info ? toQuota(info) : null;
  }

  private applyFeedback(input: AdaptiveInput, retryAfterMs: number | undefined): void {
    const answer = this.apply(input, this.clock.now());
    if (isPromiseLike(answer)) {
      answer.then(
        (out) => this.report(input, out, retryAfterMs),
        (error: unknown) => this.onStoreError(error),
      );
    } else this.report(input, answer, retryAfterMs);
  }

  private report(input: AdaptiveInput, out: AdaptiveOutput, retryAfterMs: number | undefined): void {
    this.observe(out);
    if (input.type === "success") {
      // The successes of every limiter sharing the state since this one's last (its first: since
      // its first answer, see observe): its own are a sample of them. The first since the record
      // was reset or forgotten counts alone.
      const seen = out.successes <= this.successesSeen ? 1 : out.successes - this.successesSeen;
      this.successesSeen = out.successes;
      if (out.others >= 0) this.successCounts.add(out.others, seen);
    }
    const now = this.clock.now();
    if (input.type === "backoff") {
      if (this.events.has("backoff")) {
        this.events.emit("backoff", {
          limiter: this.name,
          key: this.key,
          status: input.status,
          retryAfterMs,
          congestion: out.congestion,
          ratePerSec: out.rate,
          epoch: out.epoch,
        });
      }
      if (out.cooldownMs > 0 && this.events.has("cooldown")) {
        // Without Retry-After, a refusal's pause is the law's own unless headers came with it.
        const reason = retryAfterMs !== undefined ? "retry-after" : input.quota === null ? "backoff" : "quota";
        this.events.emit("cooldown", {
          limiter: this.name,
          key: this.key,
          cooldownMs: out.cooldownMs,
          until: now + out.cooldownMs,
          reason,
        });
      }
    } else if (out.cooldownMs > 0 && this.events.has("cooldown")) {
      this.events.emit("cooldown", {
        limiter: this.name,
        key: this.key,
        cooldownMs: out.cooldownMs,
        until: now + out.cooldownMs,
        reason: input.type === "outage" && retryAfterMs !== undefined ? "retry-after" : "quota",
      });
    }
    const from = this.reportedRate;
    const to = out.rate;
    if (to === from) return;
    let reason: RateChangeReason;
    if (input.type === "reset") reason = "reset";
    else if (input.type === "backoff" && out.congestion) reason = "backoff";
    else if (Math.abs(to - from) / from < REPORT_CHANGE) return;
    else if (out.source === SOURCE_HEADERS) reason = "headers";
    else reason = to > from ? "increase" : "decrease";
    this.reportedRate = to;
    if (this.events.has("rateChange")) this.events.emit("rateChange", { limiter: this.name, key: this.key, from, to, reason });
  }
}

/** How long the pump waits for an answer while the learned cap on requests in flight is reached (ms); an answer wakes it sooner. */
const GATE_NAP_MS = 1_000;

function toQuota(info: RateLimitInfo): QuotaInput {
  return { limit: info.limit ?? -1, remaining: info.remaining ?? -1, resetMs: info.resetMs ?? -1, policyRate: info.policyRatePerSec ?? -1 };
}

function openUnit(option: string, value: unknown): number {
  if (typeof value !== "number" || !(value > 0 && value < 1)) throw new InvalidOptionError(WHERE, option, value, "a number in (0, 1)");
  return value;
}

function nonNegativeFinite(option: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw new InvalidOptionError(WHERE, option, value, "a finite number >= 0");
  return value;
}

/** The options of a plain `acquire()`: one shared object, not one per call. */
const NO_OPTIONS: AdaptiveAcquireOptions = Object.freeze({});

/** An HTTP status carried by a response or an error (`status`, or `statusCode` as node's errors name it). */
function statusOf(value: unknown): number | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as { status?: unknown; statusCode?: unknown };
  const status = typeof v.status === "number" ? v.status : typeof v.statusCode === "number" ? v.statusCode : undefined;
  return status !== undefined && Number.isInteger(status) && status >= 100 && status <= 599 ? status : undefined;
}

function headersOf(error: unknown): HeadersInput | null {
  const headers =
    (error as { headers?: unknown; response?: { headers?: unknown } }).headers ??
    (error as { response?: { headers?: unknown } }).response?.headers;
  return typeof headers === "object" && headers !== null ? (headers as HeadersInput) : null;
}
