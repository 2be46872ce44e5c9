import { abortReason } from "../core/abort.js";
import { type Clock, MAX_TIMER_MS } from "../core/clock.js";
import { InvalidOptionError, TimeoutError } from "../core/errors.js";
import { type AttachOptions, checkAttach, type Telemetry, telemetryOption } from "../core/telemetry.js";
import { Emitter, type ListenerErrorHandler } from "../core/events.js";
import type { ExecuteOptions, ExecutionContext, Operation, Policy } from "../core/policy.js";
import { checkKeys, clockOption, nonEmptyString, nonNegativeOrInfinity, oneOf, orDefault, positive } from "../core/validate.js";
import { isPromiseLike } from "../store/store.js";
import { type Deadline, DeadlineLists, type Deadlines } from "./deadlines.js";

/** How a timeout treats a callee that runs past the limit. */
export type TimeoutMode = "cooperative" | "aggressive";

/** Options of {@link timeout}. */
export interface TimeoutOptions {
  /**
   * `cooperative` (default): aborts the signal handed to the callee and waits for it to
   * settle (up to `graceMs`), then rejects with `TimeoutError`. `aggressive`: also stops
   * waiting at once.
   */
  readonly mode?: TimeoutMode;
  /**
   * Cooperative mode: how long (ms) to wait, once the limit has passed and the signal is
   * aborted, for the callee to settle; after that the call rejects with the `TimeoutError`
   * anyway and the callee is abandoned (its late result or error is dropped). Default
   * 1,000: long enough for a callee that honours its signal to clean up (a `fetch` stops
   * at once, a database driver cancels its query), short enough that a callee ignoring
   * its signal (`new Promise(() => {})`) cannot hold its caller, or a plain script's
   * top-level `await`, forever. `0` stops waiting at the limit; `Infinity` waits for the
   * callee however long it takes. Ignored in aggressive mode (validated all the same).
   */
  readonly graceMs?: number;
  /** Default `systemClock`. */
  readonly clock?: Clock;
  /** Where listener errors go. Default: a process warning. */
  readonly onListenerError?: ListenerErrorHandler;
  /** Its name in telemetry, logs and metrics. Default `"timeout"`. */
  readonly name?: string;
  /** Where it reports its events (see docs/telemetry.md). Default: none. */
  readonly telemetry?: Telemetry;
}

/** The events of a {@link TimeoutPolicy}. */
export interface TimeoutEvents {
  /** The limit passed before the callee settled. */
  timeout: { readonly timeoutMs: number; readonly mode: TimeoutMode };
}

const WHERE = "timeout()";
const MODES: readonly TimeoutMode[] = ["cooperative", "aggressive"];
/** See {@link TimeoutOptions.graceMs}. */
const DEFAULT_GRACE_MS = 1_000;

/** What a call needs of its policy: one object per policy. */
interface Limit {
  readonly timeoutMs: number;
  readonly mode: TimeoutMode;
  readonly graceMs: number;
  readonly clock: Clock;
  readonly events: Emitter<TimeoutEvents>;
  /** The calls in flight under this limit (shared with every policy of the same clock and limit). */
  readonly deadlines: Deadlines<TimedCall>;
}

/**
 * Limits how long a call may run. Each call gets its own `AbortSignal` (aborted with a
 * `TimeoutError` when the limit passes, or with the caller's reason when the caller
 * aborts) and one timer, which is cleared as soon as the call settles. The signal is
 * made when the callee first reads `context.signal` (a getter: forward it as
 * `context.signal`, not by spreading the context), so a callee that ignores it costs no
 * more than the timer.
 *
 * A call whose signal aborted before it settled rejects with that signal's reason: a
 * `TimeoutError` when the limit passed, whatever the callee returned. In cooperative mode a
 * callee still running `graceMs` after the limit is abandoned: the call rejects with the
 * `TimeoutError` then, and the grace timer (started only when the limit passes) is
 * cleared as soon as the call settles.
 */
export class TimeoutPolicy implements Policy {
  /** Its name in telemetry, logs and metrics (`options.name`, default `"timeout"`). */
  readonly name: string;
  /** The limit (ms). */
  readonly timeoutMs: number;
  /** The mode given at construction. */
  readonly mode: TimeoutMode;
  /** How long a cooperative call waits for its callee after the limit (ms; `Infinity`: however long). */
  readonly graceMs: number;
  private readonly clock: Clock;
  private readonly events: Emitter<TimeoutEvents>;
  private readonly limit: Limit;

  constructor(timeoutMs: number, options: TimeoutOptions = {}) {
    checkKeys(WHERE, options, ["mode", "graceMs", "clock", "onListenerError", "name", "telemetry"]);
    this.timeoutMs = positive(WHERE, "ms", timeoutMs);
    // A longer timer would fire after 1 ms in Node: refuse it rather than time out at once.
    if (timeoutMs > MAX_TIMER_MS)
      throw new InvalidOptionError(WHERE, "ms", timeoutMs, `a finite number > 0 and <= ${MAX_TIMER_MS} (about 24.8 days)`);
    this.mode = oneOf(WHERE, "mode", orDefault(options.mode, "cooperative"), MODES);
    this.graceMs = nonNegativeOrInfinity(WHERE, "graceMs", orDefault(options.graceMs, DEFAULT_GRACE_MS));
    this.clock = clockOption(WHERE, options.clock);
    this.name = nonEmptyString(WHERE, "name", orDefault(options.name, "timeout"));
    this.events = new Emitter<TimeoutEvents>(options.onListenerError, {
      source: "timeout",
      name: this.name,
      telemetry: telemetryOption(WHERE, options.telemetry),
    });
    this.limit = {
      timeoutMs: this.timeoutMs,
      mode: this.mode,
      graceMs: this.graceMs,
      clock: this.clock,
      events: this.events,
      deadlines: lists.get(this.clock, this.timeoutMs),
    };
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof TimeoutEvents>(event: K, listener: (payload: TimeoutEvents[K]) => void): () => void {
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

  /** Runs `fn` under the limit; `fn` receives the call's signal and the caller's attempt. */
  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    const outer = options?.signal;
    if (outer?.aborted) return Promise.reject(abortReason(outer));
    const call = new TimedCall(options?.attempt ?? 1, outer, this.limit);
    try {
      this.limit.deadlines.add(call);
      if (outer !== undefined) outer.addEventListener("abort", call, { once: true });
      const pending = fn(call.context);
      if (isPromiseLike(pending)) return call.race(pending, this.mode === "aggressive");
      call.end();
      return call.aborted ? Promise.reject(call.reason) : Promise.resolve(pending);
    } catch (error) {
      call.end();
      return Promise.reject(call.aborted ? call.reason : error);
    }
  }
}

/** Where one shared executor, not a closure per call, leaves a new promise's resolvers for its call to take. */
const made = { resolve: ignore as (value: unknown) => void, reject: ignore as (reason: unknown) => void };

function capture(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  made.resolve = resolve;
  made.reject = reject;
}

/**
 * One call under a timeout. Its signal is made on first read; until then an abort is
 * only recorded (and handed to the signal if it is read later). It listens to the
 * caller's signal as an `EventListener` object, so the relay needs no closure.
 */
class TimedCall implements Deadline<TimedCall> {
  /** What the callee receives. */
  readonly context: TimeoutContext;
  aborted = false;
  reason: unknown = undefined;
  deadline = 0;
  prev: TimedCall | undefined = undefined;
  next: TimedCall | undefined = undefined;
  linked = false;
  /** Settle the call's promise (see {@link race}). */
  resolve: ((value: unknown) => void) | undefined = undefined;
  reject: ((reason: unknown) => void) | undefined = undefined;
  private controller: AbortController | undefined;
  /** Aggressive: give up as soon as the call aborts. Cooperative: only when the grace passes. */
  private giveUpOnAbort = false;
  /** The aborter of the grace period's sleep, once the limit passed in cooperative mode. */
  private grace: AbortController | undefined;
  private ended = false;

  constructor(
    attempt: number,
    private readonly outer: AbortSignal | undefined,
    /** Its policy's limit. */
    readonly limit: Limit,
  ) {
    this.context = new TimeoutContext(attempt, this);
  }

  /** The call's signal, made now if it was not yet. */
  signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Aborts the call (once): the signal if made, and the race if aggressive. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    if (this.giveUpOnAbort) this.giveUp();
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    if (this.outer !== undefined) this.abort(abortReason(this.outer));
  }

  /**
   * The call's promise: it settles as `pending` does (rejecting with the call's reason if it
   * aborted first), or rejects when the call gives up on `pending`: at the abort if
   * `onAbort`, else when the grace period ends. The call's own promise, not an async
   * function awaiting a race, so that racing costs no more than awaiting did.
   */
  race<T>(pending: PromiseLike<T>, onAbort: boolean): Promise<T> {
    this.giveUpOnAbort = onAbort;
    const promise = new Promise<unknown>(capture) as Promise<T>;
    this.resolve = made.resolve;
    this.reject = made.reject;
    made.resolve = made.reject = ignore;
    try {
      pending.then(
        (value) => this.settle(value),
        (error: unknown) => this.fail(error),
      );
    } catch (error) {
      // A thenable whose `then` throws: rejected, as awaiting it would be.
      this.fail(error);
    }
    return promise;
  }

  /** `pending` fulfilled. */
  private settle(value: unknown): void {
    if (this.ended) return;
    this.end();
    if (this.aborted) this.reject?.(this.reason);
    else this.resolve?.(value);
  }

  /** `pending` rejected; after the call gave up, the late error is dropped. */
  private fail(error: unknown): void {
    if (this.ended) return;
    this.end();
    this.reject?.(this.aborted ? this.reason : error);
  }

  /** Stops waiting for the callee: rejects with the call's reason. */
  private giveUp(): void {
    if (this.ended) return;
    this.end();
    this.reject?.(this.reason);
  }

  /**
   * The limit passed in cooperative mode: waits up to `ms` more for the callee, then
   * gives up with the call's reason. On a clock's sleep, so a real one keeps the process
   * alive (the caller is waiting); cleared by {@link end} when the call settles.
   */
  startGrace(clock: Clock, ms: number): void {
    if (this.ended || this.resolve === undefined || ms === Infinity) return;
    if (ms === 0) return this.giveUp();
    this.grace = new AbortController();
    clock.sleep(ms, this.grace.signal).then(() => this.giveUp(), ignore);
  }

  /** The call settled or was given up: clears its timers and stops listening to the caller. */
  end(): void {
    this.ended = true;
    this.limit.deadlines.remove(this);
    this.grace?.abort();
    if (this.outer !== undefined) this.outer.removeEventListener("abort", this);
  }
}

/**
 * The context a timeout hands its callee. `signal` is a getter that makes the
 * `AbortController` on first read (Node's cost several microseconds each), so a callee
 * that never reads it pays nothing for it. Being a getter, it is not copied by
 * `{ ...context }`: forward it as `context.signal`.
 */
class TimeoutContext implements ExecutionContext {
  constructor(
    readonly attempt: number,
    private readonly call: TimedCall,
  ) {}

  get signal(): AbortSignal {
    return this.call.signal();
  }
}

/** The limit passed: aborts the call with a `TimeoutError`, reports it, and (cooperative) starts the grace period. */
function expire(call: TimedCall): void {
  if (call.aborted) return;
  const limit = call.limit;
  const { timeoutMs, mode, events } = limit;
  call.abort(new TimeoutError(timeoutMs));
  if (events.has("timeout")) events.emit("timeout", { timeoutMs, mode });
  if (mode === "cooperative") call.startGrace(limit.clock, limit.graceMs);
}

/** The calls in flight of every policy, by clock and limit (see {@link DeadlineLists}). */
const lists = new DeadlineLists<TimedCall>(expire);

function ignore(): void {}

/**
 * A timeout policy: `timeout(5_000)` (cooperative, waiting up to `graceMs` = 1,000 ms after
 * the limit for the callee to settle) or `timeout(5_000, { mode: "aggressive" })`.
 * @param ms the limit, > 0.
 */
export function timeout(ms: number, options?: TimeoutOptions): TimeoutPolicy {
  return new TimeoutPolicy(ms, options);
}
