import { constant } from "../backoff/constant.js";
import type { Backoff } from "../backoff/backoff.js";
import type { Clock } from "../core/clock.js";
import {
  CircuitOpenError,
  describe,
  type FailureRecord,
  InvalidOptionError,
  ReturnValuePolicyError,
  TimeoutError,
} from "../core/errors.js";
import { checkAttach, type Telemetry, telemetryOption } from "../core/telemetry.js";
import { Emitter, type ListenerErrorHandler } from "../core/events.js";
import { type ExecuteOptions, type Operation, type Policy, toContext } from "../core/policy.js";
import {
  checkKeys,
  clockOption,
  func,
  integer,
  nonEmptyString,
  nonNegative,
  nonNegativeOrInfinity,
  oneOf,
  orDefault,
  positive,
} from "../core/validate.js";
import { MemoryStore } from "../store/memory.js";
import { mirrorOf } from "../store/mirror.js";
import { isPromiseLike, type MirroredState, type Store } from "../store/store.js";
import {
  checkErrorFilter,
  checkResultFilter,
  type ErrorClassifier,
  errorClassifier,
  type ErrorFilter,
  type ResultClassifier,
  resultClassifier,
  type ResultFilter,
} from "../core/classify.js";
import { History, type HistoryEntry } from "./history.js";
import {
  type BreakerInput,
  BreakerDecision,
  type BreakerOutput,
  type BreakerRecord,
  type CircuitState,
  NO_PERMIT,
  type Permit,
  type Transition,
} from "./state.js";
import { type BreakerSnapshot, restoreRecord, snapshotOf } from "./snapshot.js";
import { type BreakerStatus, statusOf } from "./status.js";
import { consecutiveFailures, type TripRule } from "./trip.js";

/** Options of {@link CircuitBreaker}. Every one is optional. */
export interface CircuitBreakerOptions {
  /** Shown in errors, events, metrics and `status()`. Default `"breaker"`. */
  readonly name?: string;
  /** When to open. Default `consecutiveFailures(5)`. */
  readonly trip?: TripRule;
  /** How long to stay open: ms, or a backoff over failed probes. Default 30,000 ms. */
  readonly recovery?: number | Backoff;
  /** Trial calls while half-open. */
  readonly halfOpen?: {
    /** Trial calls allowed at once. Default 1. */
    readonly maxCalls?: number;
    /** Successful trials that close the circuit. Default `maxCalls`. */
    readonly successesToClose?: number;
    /** Trial permits not returned within this long are taken back. Default 60,000 ms. */
    readonly trialTimeoutMs?: number;
  };
  /** Only these errors count as failures. Default: every error. */
  readonly failOn?: ErrorFilter;
  /** These errors never count (they still propagate). Wins over `failOn`. */
  readonly ignore?: ErrorFilter;
  /** Return values that count as failures; they reject with `ReturnValuePolicyError`. */
  readonly failOnResult?: ResultFilter;
  /** The reason recorded when `failOnResult` matches. Default: a description of the match. */
  readonly failureReason?: string;
  /** Where the state lives. Default: a private `MemoryStore`. */
  readonly store?: Store;
  /** The store key. Default `breaker:<name>`. */
  readonly key?: string;
  /** Default `systemClock`. */
  readonly clock?: Clock;
  /** Uniform numbers in [0, 1) for the recovery schedule's jitter. Default `Math.random`. */
  readonly random?: () => number;
  /**
   * How many recent outcomes `history` keeps. Default 0 (off): keeping it costs a clock
   * read on every call, so it is opt-in.
   */
  readonly historySize?: number;
  /**
   * A call that takes longer than this (ms) counts as a failure (reason `slow call: N ms`),
   * while its caller still gets its value. Off by default. Works with every trip rule.
   */
  readonly slowCallMs?: number;
  /**
   * `"normal"` (default) decides and rejects; `"metricsOnly"` decides, reports and records
   * everything but never rejects (a call the circuit would refuse runs, uncounted);
   * `"disabled"` runs every call and records nothing.
   */
  readonly mode?: BreakerMode;
  /**
   * On a shared store (`RedisStore`): how many processes' failures it takes to open the
   * circuit for the fleet. Until then a process whose own outcomes meet the trip rule opens
   * its own view only (its calls are rejected, the others' are not) and closes it through
   * its own trial calls. Default 1: any process alone opens it for everyone. No effect on an
   * in-process store (one process).
   */
  readonly quorum?: number;
  /**
   * The state to start from: what `toJSON()` gave (e.g. before a restart), so a restarted
   * process does not forget an open circuit. In-process stores only: a shared store keeps
   * the state itself.
   */
  readonly initialState?: BreakerSnapshot;
  /** Called on every state change (the same payload as the `stateChange` event). */
  readonly onStateChange?: (event: StateChangeEvent) => void;
  /** Where listener errors go. Default: a process warning. */
  readonly onListenerError?: ListenerErrorHandler;
  /**
   * Where this policy reports its events (see docs/telemetry.md): a sink such as a
   * `TelemetryStream`, Prometheus or OpenTelemetry metrics. Default: none.
   */
  readonly telemetry?: Telemetry;
}

/** How a breaker treats calls: see {@link CircuitBreakerOptions.mode}. */
export type BreakerMode = "normal" | "metricsOnly" | "disabled";

/** What {@link CircuitBreaker.open} takes: how long, or until when (breaker clock, ms). */
export type OpenOptions = { readonly forMs: number; readonly until?: undefined } | { readonly until: number; readonly forMs?: undefined };

/** Per-call classification overrides (used by `CircuitBreakers`' precedence rules). */
export interface Classification {
  readonly countsAsFailure: ErrorClassifier;
  readonly resultFailure: ResultClassifier | undefined;
  readonly resultPolicy: ResultFilter | undefined;
}

/** A state change. */
export interface StateChangeEvent {
  readonly name: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: string;
  /** When it happened, in the breaker's clock. */
  readonly at: number;
  /**
   * `"local"` when this process performed the transition; `"remote"` when another process
   * sharing the store did (seen through the store's mirror). Always `"local"` in process.
   */
  readonly origin: "local" | "remote";
  /**
   * `"fleet"`: the shared circuit (or the only one, in process). `"own"`: this process's own
   * view, with a `quorum` above 1 on a shared store.
   */
  readonly scope: "fleet" | "own";
}

/**
 * A breaker's record as its store holds it (`Store.mirror`): the record itself in process,
 * a local mirror of the shared one on `RedisStore`. Records hold the store's time; `offset`
 * converts.
 */
type BreakerMirror = MirroredState<BreakerRecord, BreakerInput, BreakerOutput>;

/** The events of a breaker. */
export interface BreakerEvents {
  stateChange: StateChangeEvent;
  success: { readonly name: string; readonly at: number };
  failure: { readonly name: string; readonly reason: string; readonly error: unknown; readonly at: number };
  /** An error that did not count (`ignore` / not in `failOn`), or a call the caller aborted. */
  ignored: { readonly name: string; readonly error: unknown; readonly at: number };
  rejected: { readonly name: string; readonly retryAfterMs: number; readonly state: CircuitState; readonly at: number };
}

/** Options of `execute`: the caller's signal and attempt. */
export type BreakerExecuteOptions = ExecuteOptions;

interface Handlers {
  readonly epoch: number;
  readonly how: Classification;
  readonly onValue: (value: unknown) => unknown;
  readonly onError: (error: unknown) => never;
}

const WHERE = "CircuitBreaker";
/** The options that make a breaker's policy: what `CircuitBreakers` accepts per service. */
export const BREAKER_POLICY_KEYS = [
  "trip",
  "recovery",
  "halfOpen",
  "failOn",
  "ignore",
  "failOnResult",
  "failureReason",
  "historySize",
  "quorum",
  "slowCallMs",
  "mode",
] as const;
const OPTION_KEYS = [
  ...BREAKER_POLICY_KEYS,
  "name",
  "store",
  "key",
  "clock",
  "random",
  "initialState",
  "onStateChange",
  "onListenerError",
  "telemetry",
] as const;
const ACQUIRE: BreakerInput = { type: "acquire" };
const MODES: readonly BreakerMode[] = ["normal", "metricsOnly", "disabled"];

/**
 * A circuit breaker: closed, open, half-open. It counts outcomes with a trip rule, opens
 * when the rule says so, waits out the recovery schedule, lets `halfOpen.maxCalls` trial
 * calls through, and closes after `halfOpen.successesToClose` of them succeed.
 *
 * The decision is a pure function over a plain record (`BreakerDecision`) that a `Store`
 * applies; this class reads the clock, asks the store, and reports what happened.
 */
export class CircuitBreaker implements Policy {
  /** The name given at construction. */
  readonly name: string;
  /** The store holding this breaker's state. */
  readonly store: Store;
  /** The key of this breaker's state in the store. */
  readonly key: string;
  private readonly decision: BreakerDecision;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly events: Emitter<BreakerEvents>;
  private readonly classification: Classification;
  private readonly log: History;
  /** The record, as the store offers it: held in process, or mirrored from a shared store. */
  private readonly state$: BreakerMirror;
  /** The store's `exclusive`: this process alone changes the record (see `succeed`). */
  private readonly exclusive: boolean;
  /** Whether a success in the closed state needs the time (time-window rule, ratio rule, history). */
  private readonly successNeedsTime: boolean;
  /** Whether a success may open the circuit (a ratio rule): its input then carries a random. */
  private readonly successJudged: boolean;
  private readonly slowCallMs: number | undefined;
  /** How calls are treated: see {@link CircuitBreakerOptions.mode}. */
  readonly mode: BreakerMode;
  /**
   * False until the store has told this process the fleet's state (a shared store's first
   * answer): until then every call waits for it, on `joining`, instead of deciding from
   * an empty record. True at once on an in-process store.
   */
  private joined: boolean;
  private readonly joining: Promise<void>;
  /**
   * `joined`, in normal mode, without `slowCallMs`: a closed circuit lets the call through
   * without asking anything else, and its success is judged without the clock. Everything
   * that may vary per breaker is folded into this one flag, so that the hot path reads one
   * field instead of each option (see `run`).
   */
  private fast: boolean;
  private successInput: { readonly type: "success"; readonly epoch: number } = { type: "success", epoch: 0 };
  private readonly totals = { successes: 0, failures: 0, ignored: 0, rejections: 0 };
  private handlers: Handlers | undefined;
  /** Isolation handles this process holds, and the reset they were taken after (a reset voids older handles). */
  private isolations = 0;
  private isolationEra = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    checkKeys(WHERE, options, OPTION_KEYS);
    this.name = nonEmptyString(WHERE, "name", orDefault(options.name, "breaker"));
    const trip = options.trip ?? consecutiveFailures(5);
    if (typeof trip !== "object" || trip === null || typeof trip.record !== "function") {
      throw new InvalidOptionError(WHERE, "trip", trip, "a trip rule such as consecutiveFailures(5)");
    }
    const recovery = toBackoff(options.recovery);
    checkKeys(WHERE, options.halfOpen, ["maxCalls", "successesToClose", "trialTimeoutMs"], "halfOpen.");
    const maxCalls = integer(WHERE, "halfOpen.maxCalls", orDefault(options.halfOpen?.maxCalls, 1));
    const successesToClose = integer(WHERE, "halfOpen.successesToClose", orDefault(options.halfOpen?.successesToClose, maxCalls));
    const trialTimeoutMs = nonNegativeOrInfinity(WHERE, "halfOpen.trialTimeoutMs", orDefault(options.halfOpen?.trialTimeoutMs, 60_000));

    const failOn = checkErrorFilter(WHERE, "failOn", options.failOn);
    const ignore = checkErrorFilter(WHERE, "ignore", options.ignore);
    const failOnResult = checkResultFilter(WHERE, "failOnResult", options.failOnResult);
    if (options.failureReason !== undefined) nonEmptyString(WHERE, "failureReason", options.failureReason);
    this.classification = {
      countsAsFailure: errorClassifier(failOn, ignore),
      resultFailure: resultClassifier(failOnResult, options.failureReason),
      resultPolicy: failOnResult,
    };

    this.store = options.store ?? new MemoryStore({ sweepIntervalMs: 0 });
    if (typeof this.store.apply !== "function") throw new InvalidOptionError(WHERE, "store", options.store, "a Store");
    const quorum = integer(WHERE, "quorum", orDefault(options.quorum, 1));
    if (quorum > 1 && (typeof trip.mark !== "function" || typeof trip.stillCounts !== "function")) {
      throw new InvalidOptionError(WHERE, "quorum", quorum, "1 with this trip rule (it has no quorum marks: mark() and stillCounts())");
    }
    // One process holds an in-process store: a quorum above 1 could never be met there.
    this.decision = new BreakerDecision({
      trip,
      recovery,
      maxCalls,
      successesToClose,
      trialTimeoutMs,
      quorum: this.store.synchronous ? 1 : quorum,
    });
    this.key = nonEmptyString(WHERE, "key", orDefault(options.key, `breaker:${this.name}`));
    this.clock = clockOption(WHERE, options.clock);
    this.random = options.random === undefined ? Math.random : func(WHERE, "random", options.random);
    this.log = new History(integer(WHERE, "historySize", orDefault(options.historySize, 0), 0));
    this.successJudged = trip.judgesSuccesses === true;
    this.successNeedsTime = trip.timeBased || this.successJudged || this.log.size > 0;
    this.slowCallMs = options.slowCallMs === undefined ? undefined : positive(WHERE, "slowCallMs", options.slowCallMs);
    this.mode = oneOf(WHERE, "mode", orDefault(options.mode, "normal"), MODES);
    const restored = options.initialState === undefined ? undefined : restoreRecord(WHERE, options.initialState, this.decision);
    this.events = new Emitter<BreakerEvents>(options.onListenerError, {
      source: "breaker",
      name: this.name,
      telemetry: telemetryOption(WHERE, options.telemetry),
    });
    if (options.onStateChange !== undefined) this.events.on("stateChange", func(WHERE, "onStateChange", options.onStateChange));

    const held = mirrorOf(this.store, this.decision, this.key);
    if (held === undefined) {
      throw new InvalidOptionError(WHERE, "store", this.store.name, "a synchronous store, or one that offers mirror() (RedisStore)");
    }
    this.state$ = held;
    this.exclusive = held.exclusive;
    if (restored !== undefined && !held.exclusive) {
      throw new InvalidOptionError(WHERE, "initialState", "a snapshot", "an in-process store (a shared store keeps the state itself)");
    }
    held.attach(this.clock, (output, origin, scope) => this.announce(output, origin, scope));
    if (held.exclusive) {
      this.joined = true;
      this.fast = this.fastAllowed();
      this.joining = Promise.resolve();
      if (restored !== undefined) Object.assign(this.mirror, restored);
      return;
    }
    // A late joiner: the first decision waits for the fleet's state, one round trip shared by every first call.
    this.joined = false;
    this.fast = false;
    this.joining = held.flush().then(() => {
      this.joined = true;
      this.fast = this.fastAllowed();
    });
  }

  /** Whether a joined breaker may take the hot path (see {@link fast}). */
  private fastAllowed(): boolean {
    return this.mode === "normal" && this.slowCallMs === undefined;
  }

  /** The breaker's record as this process sees it (in process, the record itself). */
  private get mirror(): BreakerRecord {
    return this.state$.read();
  }

  /** The current state. */
  get state(): CircuitState {
    return this.mirror.state;
  }

  /** The most recent outcomes, oldest first (kept when `historySize` > 0). */
  get history(): readonly HistoryEntry[] {
    return this.log.entries();
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof BreakerEvents>(event: K, listener: (payload: BreakerEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /**
   * Reports this policy's events to `telemetry` too (logging and metrics use it); returns the
   * function that detaches it. Attaching one sink twice reports each event to it once.
   */
  attach(telemetry: Telemetry): () => void {
    checkAttach(`${WHERE}.attach`, telemetry, undefined);
    return this.events.attach(telemetry);
  }

  /**
   * Runs `fn` if the circuit lets it: rejects with `CircuitOpenError` when open, counts
   * the outcome, and returns (or rethrows) what `fn` did. Sync and async `fn` alike.
   */
  execute<T>(fn: Operation<T>, options?: BreakerExecuteOptions): Promise<T> {
    return this.run(fn, options, this.classification);
  }

  /** Wraps `fn` so that every call goes through {@link execute}. */
  protect<A extends unknown[], T>(fn: (...args: A) => T | PromiseLike<T>): (...args: A) => Promise<T> {
    return (...args: A) => this.run(() => fn(...args), undefined, this.classification);
  }

  /**
   * How this breaker tells failures from the rest (its `failOn`, `ignore`, `failOnResult`):
   * for callers that narrow it per call with {@link run}, as `CircuitBreakers` does.
   */
  get classifier(): Classification {
    return this.classification;
  }

  /**
   * Runs `fn` with the given classification: how `CircuitBreakers` applies per-call
   * overrides. Prefer {@link execute}.
   */
  run<T>(fn: Operation<T>, options: BreakerExecuteOptions | undefined, how: Classification): Promise<T> {
    // The hot path: every per-call option is folded into `fast`, the rest is in `runSlow`.
    // `=== true` / `=== false`, not `!`: V8 compiles a field's truthiness to a test of every
    // falsy kind of value (it does not know the field holds a boolean), a comparison to one.
    const r = this.mirror;
    if (r.state === "closed" && r.isolated === false && this.fast === true) return this.runWith(fn, options, how, r.epoch, undefined);
    return this.runSlow(fn, options, how);
  }

  /** Everything but a fast closed-state call: disabled, joining, slow calls timed, metrics only, open, half-open. */
  private runSlow<T>(fn: Operation<T>, options: BreakerExecuteOptions | undefined, how: Classification): Promise<T> {
    if (this.mode === "disabled") return runBare(fn, options);
    if (!this.joined) return this.joining.then(() => this.runSlow(fn, options, how));
    let epoch: number | Promise<number>;
    try {
      epoch = this.permit();
    } catch (error) {
      return Promise.reject(error);
    }
    if (typeof epoch === "number") return this.runWith(fn, options, how, epoch, this.startTime());
    return epoch.then((e) => this.runWith(fn, options, how, e, this.startTime()));
  }

  /**
   * The epoch this call runs under: the record's while closed; while open, a refusal until
   * the probe time (read from the record, the store not asked); else the store's permit
   * (trial permits count fleet-wide on a shared store), a promise when it must be awaited.
   * Throws `CircuitOpenError` when refused (see {@link refuse}).
   */
  private permit(): number | Promise<number> {
    const r = this.mirror;
    if (r.state === "closed" && !r.isolated) return r.epoch;
    const now = this.clock.now();
    if (r.isolated) return this.refuse(now, Infinity);
    const storeNow = now + this.state$.offset;
    if (r.state === "open" && storeNow < r.nextProbeAt) return this.refuse(now, r.nextProbeAt - storeNow);
    const answer = this.state$.apply(ACQUIRE, now);
    if (isPromiseLike(answer)) return answer.then((p) => this.permitted(p as Permit, this.clock.now()));
    // An answer given at once carries the transition it caused; an awaited one's reaches the listener.
    this.announce(answer, "local", "fleet");
    return this.permitted(answer as Permit, now);
  }

  /** A permit's epoch; refused: see {@link refuse}. */
  private permitted(permit: Permit, now: number): number {
    return permit.allowed ? permit.epoch : this.refuse(now, permit.retryAfterMs);
  }

  /** When a call starts, for `slowCallMs`; undefined without it (no clock read). */
  private startTime(): number | undefined {
    return this.slowCallMs === undefined ? undefined : this.clock.now();
  }

  /** Runs `fn` under a permit for `epoch`; `startedAt` (slow calls only) is when the call started. */
  private runWith<T>(
    fn: Operation<T>,
    options: BreakerExecuteOptions | undefined,
    how: Classification,
    epoch: number,
    startedAt: number | undefined,
  ): Promise<T> {
    const context = toContext(options);
    let result: T | PromiseLike<T>;
    try {
      result = fn(context);
    } catch (error) {
      this.settleError(error, epoch, context.signal, how);
      return Promise.reject(error);
    }
    if (!isPromiseLike(result)) return this.settleNow(result, epoch, how, startedAt);
    const settle =
      context.signal === undefined && startedAt === undefined
        ? this.handlersFor(epoch, how)
        : this.makeHandlers(epoch, how, context.signal, startedAt);
    const promise = result instanceof Promise ? result : Promise.resolve(result);
    return promise.then(settle.onValue as (value: T) => T, settle.onError);
  }

  /**
   * The settle handlers for calls without a signal, cached per epoch and classification:
   * in the closed state they change only on transitions, so a call allocates none.
   */
  private handlersFor(epoch: number, how: Classification): Handlers {
    const cached = this.handlers;
    if (cached !== undefined && cached.epoch === epoch && cached.how === how) return cached;
    return (this.handlers = this.makeHandlers(epoch, how, undefined, undefined));
  }

  private makeHandlers(epoch: number, how: Classification, signal: AbortSignal | undefined, startedAt: number | undefined): Handlers {
    return {
      epoch,
      how,
      onValue:
        startedAt === undefined
          ? (value) => this.settleValue(value, epoch, how)
          : (value) => this.settleTimed(value, epoch, how, startedAt),
      onError: (error) => {
        this.settleError(error, epoch, signal, how);
        throw error;
      },
    };
  }

  /** A value `fn` returned synchronously, settled as a promise. */
  private settleNow<T>(value: T, epoch: number, how: Classification, startedAt: number | undefined): Promise<T> {
    try {
      return Promise.resolve(
        startedAt === undefined ? this.settleValue(value, epoch, how) : this.settleTimed(value, epoch, how, startedAt),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private settleValue<T>(value: T, epoch: number, how: Classification): T {
    if (how.resultFailure !== undefined) this.judgeResult(value, epoch, how.resultFailure, how.resultPolicy);
    this.succeed(epoch);
    return value;
  }

  /** A value with `slowCallMs` set: a call that took longer is a failure for the circuit, and its caller still gets the value. */
  private settleTimed<T>(value: T, epoch: number, how: Classification, startedAt: number): T {
    if (how.resultFailure !== undefined) this.judgeResult(value, epoch, how.resultFailure, how.resultPolicy);
    const tookMs = this.clock.now() - startedAt;
    if (tookMs > (this.slowCallMs as number)) this.fail(epoch, `slow call: ${tookMs} ms`, undefined);
    else this.succeed(epoch);
    return value;
  }

  /** Throws `ReturnValuePolicyError`, after recording the failure, when `failOnResult` matches `value`. */
  private judgeResult(value: unknown, epoch: number, resultFailure: ResultClassifier, policy: ResultFilter | undefined): void {
    const reason = resultFailure(value);
    if (reason === undefined) return;
    this.fail(epoch, reason, value);
    throw new ReturnValuePolicyError(value, policy, reason);
  }

  /**
   * True when a call would be let through now: closed, half-open with a free trial, or
   * open with a probe due. Synchronous, and takes no permit.
   */
  isAvailable(): boolean {
    if (this.mode !== "normal") return true;
    const r = this.mirror;
    if (r.isolated) return false;
    switch (r.state) {
      case "closed":
        return true;
      case "open":
        return this.storeNow() >= r.nextProbeAt;
      case "half-open": {
        const { maxCalls, trialTimeoutMs } = this.decision.config;
        return r.trials < maxCalls || this.storeNow() - r.halfOpenAt >= trialTimeoutMs;
      }
    }
  }

  /**
   * Resolves once every outcome recorded so far has reached the store and this breaker's
   * view of the state is fresh. Immediate on an in-process store; on `RedisStore`, what a
   * test or a graceful shutdown awaits.
   */
  flush(): Promise<void> {
    return this.state$.flush();
  }

  /** Records a success by hand (for code that checks `isAvailable` and runs the call itself). */
  recordSuccess(): void {
    if (this.mode !== "disabled") this.succeed(-1);
  }

  /** Records a failure by hand; `reason` is kept as the last failure. */
  recordFailure(reason: unknown = "recorded failure"): void {
    if (this.mode !== "disabled") this.fail(-1, typeof reason === "string" ? reason : describe(reason), reason);
  }

  /**
   * Opens the circuit for a while whatever the trip rule says (resilience4j's
   * transitionToOpenStateFor / Until): `{ forMs }`, or `{ until }` in the breaker's clock.
   * Then a probe is due, as after any open interval. Already open: the probe time moves.
   * An isolated circuit stays isolated. On a shared store it opens for every process.
   */
  open(options: OpenOptions): void {
    const where = `${WHERE}.open()`;
    checkKeys(where, options, ["forMs", "until"]);
    let forMs: number;
    if (options?.forMs !== undefined && options.until === undefined) forMs = nonNegative(where, "forMs", options.forMs);
    else if (options?.until !== undefined && options.forMs === undefined) {
      forMs = Math.max(0, nonNegative(where, "until", options.until) - this.clock.now());
    } else throw new InvalidOptionError(where, "forMs | until", options, "exactly one of forMs or until");
    // Whole milliseconds: the record stays integral (exact in Lua's JSON too).
    this.apply({ type: "open", forMs: Math.round(forMs) });
  }

  /**
   * The state as plain JSON, to give back as `initialState` (e.g. across a restart). On a
   * shared store it is this process's mirror, in the store's clock.
   */
  toJSON(): BreakerSnapshot {
    return snapshotOf(this.name, this.decision.config.trip.spec, this.mirror);
  }

  /** The most recent failure, or undefined. */
  lastFailure(): FailureRecord | undefined {
    return this.local(this.mirror.lastFailure) ?? undefined;
  }

  /**
   * Holds the circuit open until `reset()`, or until every handle this process took is
   * disposed (two components may isolate it for reasons of their own): every call is
   * rejected with `retryAfterMs: Infinity`.
   */
  isolate(): {
    /** Gives this handle up (a second call does nothing); the last one ends the isolation, as `reset()` does. */
    dispose(): void;
  } {
    this.apply({ type: "isolate" });
    this.isolations++;
    const era = this.isolationEra;
    let held = true;
    return {
      dispose: () => {
        if (!held || era !== this.isolationEra) return;
        held = false;
        if (--this.isolations === 0) this.reset();
      },
    };
  }

  /** Closes the circuit and clears its counts (and any isolation, whatever handles are held). */
  reset(): void {
    this.isolationEra++;
    this.isolations = 0;
    this.apply({ type: "reset" });
  }

  /** A snapshot for monitoring: state, counts, timing of the next probe, recovery phase. */
  status(): BreakerStatus {
    const r = this.mirror;
    const now = this.storeNow();
    const own = this.state$.own();
    const { trip, recovery, maxCalls } = this.decision.config;
    return statusOf(r, now, {
      name: this.name,
      store: this.store.name,
      trip,
      recovery,
      maxCalls,
      offset: now - this.clock.now(),
      totals: { ...this.totals },
      fleet:
        own === undefined
          ? undefined
          : { record: this.state$.fleet(), quorum: this.decision.quorum, processId: this.state$.processId, ownView: own.state },
    });
  }

  /** The time in the store's clock: the breaker's clock plus the store's offset (0 in process). */
  private storeNow(): number {
    return this.clock.now() + this.state$.offset;
  }

  /** A failure record with its time moved from the store's clock to the breaker's. */
  private local(f: FailureRecord | null): FailureRecord | null {
    const offset = this.state$.offset;
    if (f === null || offset === 0) return f;
    return { reason: f.reason, at: f.at - offset };
  }

  /** A call the circuit refuses: rejected, or in metrics-only mode run without a permit (uncounted). */
  private refuse(now: number, retryAfterMs: number): number {
    return this.mode === "metricsOnly" ? NO_PERMIT : this.reject(now, retryAfterMs);
  }

  private reject(now: number, retryAfterMs: number): never {
    this.totals.rejections++;
    const lastFailure = this.local(this.mirror.lastFailure) ?? undefined;
    this.log.push(now, "rejected", lastFailure?.reason);
    if (this.events.has("rejected")) this.events.emit("rejected", { name: this.name, retryAfterMs, state: this.mirror.state, at: now });
    throw new CircuitOpenError(this.name, retryAfterMs, lastFailure);
  }

  private succeed(epoch: number): void {
    const r = this.mirror;
    const listened = this.events.has("success");
    if (r.state === "closed" && this.successNeedsTime === false && !listened) {
      // The hot path: a success that keeps a count-based breaker closed needs no clock
      // read, and none of the store either when it would change nothing. A shared store's
      // counts may be stale (other processes record too), so it always gets it, batched.
      // (Such a success never opens the circuit: only ratio rules judge successes.)
      if (this.exclusive === false || epoch !== r.epoch || !this.decision.config.trip.successIsNoop(r.trip)) {
        this.state$.send(this.countedSuccess(epoch), 0);
      }
      this.totals.successes++;
      return;
    }
    const now = this.clock.now();
    const output = this.state$.send(this.success(epoch), now);
    this.totals.successes++;
    this.log.push(now, "success");
    // The outcome first, then the transition it caused.
    if (listened) this.events.emit("success", { name: this.name, at: now });
    this.announce(output, "local", "fleet");
  }

  private success(epoch: number): BreakerInput {
    return this.successJudged ? { type: "success", epoch, random: this.random() } : this.countedSuccess(epoch);
  }

  /** A success the trip rule only counts (it cannot open the circuit): one input object per epoch. */
  private countedSuccess(epoch: number): BreakerInput {
    if (this.successInput.epoch !== epoch) this.successInput = { type: "success", epoch };
    return this.successInput;
  }

  private fail(epoch: number, reason: string, error: unknown): void {
    const now = this.clock.now();
    const output = this.state$.send({ type: "failure", epoch, reason, random: this.random() }, now);
    this.totals.failures++;
    this.log.push(now, "failure", reason);
    // The outcome first, then the transition it caused.
    if (this.events.has("failure")) this.events.emit("failure", { name: this.name, reason, error, at: now });
    this.announce(output, "local", "fleet");
  }

  private settleError(error: unknown, epoch: number, signal: AbortSignal | undefined, how: Classification): void {
    // The caller aborted (not a timeout): whatever the callee rejected with then (the reason itself, or its
    // own AbortError as Node's APIs make, the reason as cause), the upstream is not at fault.
    // An inner timeout that fired first still counts, as the docs say a TimeoutError does.
    const cancelled = signal?.aborted === true && !(signal.reason instanceof TimeoutError) && !(error instanceof TimeoutError);
    if (!cancelled && how.countsAsFailure(error)) {
      this.fail(epoch, describe(error), error);
      return;
    }
    const now = this.clock.now();
    this.apply({ type: "release", epoch }, now);
    this.totals.ignored++;
    this.log.push(now, "ignored", describe(error));
    if (this.events.has("ignored")) this.events.emit("ignored", { name: this.name, error, at: now });
  }

  /**
   * Sends a command and reports the transition it caused. In process the answer is
   * immediate; a shared store queues it (batched, never awaited) and its mirror reports the
   * transition once the store has decided (so after the outcome's own event, as in process).
   */
  private apply(input: BreakerInput, now = this.clock.now()): void {
    this.announce(this.state$.send(input, now), "local", "fleet");
  }

  /** Reports the transition an answer carries, if any: at once in process, or when a shared store's mirror learns it. */
  private announce(output: BreakerOutput, origin: "local" | "remote", scope: "fleet" | "own"): void {
    if (output === undefined) return;
    if ("to" in output) this.report(output, origin, scope);
    else if ("transition" in output && output.transition !== undefined) this.report(output.transition, origin, scope);
  }

  private report(t: Transition, origin: "local" | "remote", scope: "fleet" | "own"): void {
    if (this.events.has("stateChange")) {
      const at = t.at - this.state$.offset;
      this.events.emit("stateChange", { name: this.name, from: t.from, to: t.to, reason: t.reason, at, origin, scope });
    }
  }
}

/** A call in disabled mode: the function alone, settled as a promise. */
function runBare<T>(fn: Operation<T>, options: BreakerExecuteOptions | undefined): Promise<T> {
  try {
    return Promise.resolve(fn(toContext(options)));
  } catch (error) {
    return Promise.reject(error);
  }
}

function toBackoff(recovery: number | Backoff | undefined): Backoff {
  if (recovery === undefined) return constant(30_000);
  if (typeof recovery === "number") {
    nonNegative(WHERE, "recovery", recovery);
    return constant(recovery);
  }
  if (typeof recovery !== "object" || recovery === null || typeof recovery.delay !== "function") {
    throw new InvalidOptionError(WHERE, "recovery", recovery, "a number of ms >= 0 or a backoff such as fixedThenExponential({...})");
  }
  return recovery;
}
