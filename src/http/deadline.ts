import type { Clock } from "../core/clock.js";
import { TimeoutError } from "../core/errors.js";

/**
 * One request's time limit on the injected clock, joined with the caller's signal: the
 * `signal` aborts with a `TimeoutError` when `timeoutMs` passes, or with the caller's
 * reason when the caller aborts. `dispose()` clears the timer and the listener; call it
 * when the request settles, so nothing is left behind.
 */
export interface Deadline {
  /** Aborts on timeout or when the caller aborts; undefined when there is neither. */
  readonly signal: AbortSignal | undefined;
  /** True once the time limit has passed. */
  readonly expired: boolean;
  /** Clears the timer and detaches from the caller's signal. Idempotent. */
  dispose(): void;
}

const NONE: Deadline = Object.freeze({ signal: undefined, expired: false, dispose: () => undefined });

/** Arms a deadline; `timeoutMs` Infinity means none (and then costs nothing). */
export function deadline(clock: Clock, timeoutMs: number, callerSignal: AbortSignal | undefined): Deadline {
  if (!Number.isFinite(timeoutMs))
    return callerSignal === undefined ? NONE : { signal: callerSignal, expired: false, dispose: () => undefined };
  const controller = new AbortController();
  const timer = new AbortController();
  let expired = false;
  clock.sleep(timeoutMs, timer.signal).then(
    () => {
      expired = true;
      controller.abort(new TimeoutError(timeoutMs));
    },
    () => undefined,
  );
  const onCallerAbort = (): void => controller.abort(callerSignal?.reason);
  if (callerSignal !== undefined) {
    if (callerSignal.aborted) onCallerAbort();
    else callerSignal.addEventListener("abort", onCallerAbort, { once: true });
  }
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    dispose() {
      timer.abort();
      callerSignal?.removeEventListener("abort", onCallerAbort);
    },
  };
}
