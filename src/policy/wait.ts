import { abortReason } from "../core/abort.js";
import { type Clock, systemClock } from "../core/clock.js";

/** The longest delay `setTimeout` honours. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Waits `ms` on `clock`, or rejects with the signal's reason as soon as it aborts (the
 * timer is then cleared). With the real clock the timer is ref'ed, unlike
 * `systemClock.sleep`'s: a caller is awaiting this wait, so the process must not exit in
 * the middle of it (a script would end with an unsettled promise). It lives no longer
 * than the wait. A wait longer than a timer can hold (about 24.8 days: a month-long window,
 * a far Retry-After) is made of several timers, one at a time.
 */
export function wait(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (clock !== systemClock) return clock.sleep(ms, signal);
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  // Node fires a timer longer than 2^31 - 1 ms after 1 ms instead: wait in chunks.
  if (ms > MAX_TIMER_MS) return wait(clock, MAX_TIMER_MS, signal).then(() => wait(clock, ms - MAX_TIMER_MS, signal));
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
