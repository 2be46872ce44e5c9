import { abortReason } from "../core/abort.js";
import { type Clock, MAX_TIMER_MS, systemClock } from "../core/clock.js";
import { InvalidOptionError, TimeoutError } from "../core/errors.js";
import { Emitter, type ListenerErrorHandler } from "../core/events.js";
import type { ExecuteOptions, ExecutionContext, Operation, Policy } from "../core/policy.js";
import { checkKeys, oneOf, orDefault, positive } from "../core/validate.js";
import { clockOption } from "./clock-option.js";
import { isPromiseLike } from "../store/store.js";

/** How a timeout treats a callee that runs past the limit. */
export type TimeoutMode = "cooperative" | "aggressive";

/** Options of {@link timeout}. */
export interface TimeoutOptions {
  /**
   * `cooperative` (default): aborts the signal handed to the callee and waits for it to
   * settle, then rejects with `TimeoutError`. `aggressive`: also stops waiting at once.
   */
  readonly mode?: TimeoutMode;
  /** Default `systemClock`. */
  readonly clock?: Clock;
  /** Where listener errors go. Default: a process warning. */
  readonly onListenerError?: ListenerErrorHandler;
}

/** The events of a {@link TimeoutPolicy}. */
export interface TimeoutEvents {
  /** The limit passed before the callee settled. */
  timeout: { readonly timeoutMs: number; readonly mode: TimeoutMode };
}

const WHERE = "timeout()";
const MODES: readonly TimeoutMode[] = ["cooperative", "aggressive"];

/** What arms one call's limit: a real timer, or an aborter of a `clock.sleep`. */
type Alarm = ReturnType<typeof setTimeout> | AbortController;

/**
 * Limits how long a call may run. Each call gets its own `AbortSignal` (aborted with a
 * `TimeoutError` when the limit passes, or with the caller's reason when the caller
 * aborts) and one timer, which is cleared as soon as the call settles. The signal is
 * made when the callee first reads `context.signal` (a getter: forward it as
 * `context.signal`, not by spreading the context), so a callee that ignores it costs no
 * more than the timer.
 *
 * A call whose signal aborted before it settled rejects with that signal's reason: a
 * `TimeoutError` when the limit passed, whatever the callee returned.
 */
export class TimeoutPolicy implements Policy {
  /** The limit (ms). */
  readonly timeoutMs: number;
  /** The mode given at construction. */
  readonly mode: TimeoutMode;
  private readonly clock: Clock;
  private readonly events: Emitter<TimeoutEvents>;

  constructor(timeoutMs: number, options: TimeoutOptions = {}) {
    checkKeys(WHERE, options, ["mode", "clock", "onListenerError"]);
    this.timeoutMs = positive(WHERE, "ms", timeoutMs);
    // A longer timer would fire after 1 ms in Node: refuse it rather than time out at once.
    if (timeoutMs > MAX_TIMER_MS)
      throw new InvalidOptionError(WHERE, "ms", timeoutMs, `a finite number > 0 and <= ${MAX_TIMER_MS} (about 24.8 days)`);
    this.mode = oneOf(WHERE, "mode", orDefault(options.mode, "cooperative"), MODES);
    this.clock = clockOption(WHERE, options.clock);
    this.events = new Emitter<TimeoutEvents>(options.onListenerError);
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof TimeoutEvents>(event: K, listener: (payload: TimeoutEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** Runs `fn` under the limit; `fn` receives the call's signal and the caller's attempt. */
  async execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    const outer = options?.signal;
    if (outer?.aborted) throw abortReason(outer);
    const call = new TimedCall(options?.attempt ?? 1, outer);
    const alarm = this.arm(call);
    if (outer !== undefined) outer.addEventListener("abort", call, { once: true });
    try {
      const pending = fn(call.context);
      const value = await (this.mode === "aggressive" && isPromiseLike(pending) ? call.race(pending) : pending);
      if (call.aborted) throw call.reason;
      return value;
    } catch (error) {
      throw call.aborted ? call.reason : error;
    } finally {
      disarm(alarm);
      if (outer !== undefined) outer.removeEventListener("abort", call);
    }
  }

  /**
   * Starts the call's timer; with `systemClock` a real one calling a shared function, not
   * a fresh closure. It is ref'ed (the caller awaits the call, and a callee that holds no
   * handle of its own must still time out rather than let the process exit) and cleared
   * when the call settles.
   */
  private arm(call: TimedCall): Alarm {
    if (this.clock === systemClock) return setTimeout(expire, this.timeoutMs, call, this.timeoutMs, this.mode, this.events);
    const stop = new AbortController();
    this.clock.sleep(this.timeoutMs, stop.signal).then(() => expire(call, this.timeoutMs, this.mode, this.events), ignore);
    return stop;
  }
}

/**
 * One call under a timeout. Its signal is made on first read; until then an abort is
 * only recorded (and handed to the signal if it is read later). It listens to the
 * caller's signal as an `EventListener` object, so the relay needs no closure.
 */
class TimedCall {
  /** What the callee receives. */
  readonly context: TimeoutContext;
  aborted = false;
  reason: unknown = undefined;
  private controller: AbortController | undefined;
  private rejectRace: ((reason: unknown) => void) | undefined;

  constructor(
    attempt: number,
    private readonly outer: AbortSignal | undefined,
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
    this.rejectRace?.(reason);
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    if (this.outer !== undefined) this.abort(abortReason(this.outer));
  }

  /** Settles with `pending`, or rejects at once when the call aborts. */
  race<T>(pending: PromiseLike<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.rejectRace = reject;
      pending.then(resolve, reject);
    });
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

/** The limit passed: aborts the call with a `TimeoutError` and reports it. */
function expire(call: TimedCall, timeoutMs: number, mode: TimeoutMode, events: Emitter<TimeoutEvents>): void {
  if (call.aborted) return;
  call.abort(new TimeoutError(timeoutMs));
  if (events.has("timeout")) events.emit("timeout", { timeoutMs, mode });
}

function disarm(alarm: Alarm): void {
  if (alarm instanceof AbortController) alarm.abort();
  else clearTimeout(alarm);
}

function ignore(): void {}

/**
 * A timeout policy: `timeout(5_000)` (cooperative) or `timeout(5_000, { mode: "aggressive" })`.
 * @param ms the limit, > 0.
 */
export function timeout(ms: number, options?: TimeoutOptions): TimeoutPolicy {
  return new TimeoutPolicy(ms, options);
}
