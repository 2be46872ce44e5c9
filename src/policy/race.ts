import { abortReason } from "../core/abort.js";
import { isPromiseLike } from "../store/store.js";

/**
 * Settles with `pending`, or rejects with the signal's reason as soon as `signal` aborts,
 * whichever comes first. A value that is not a promise is returned as is (nothing to
 * race); the listener is removed when `pending` settles, and a late rejection of
 * `pending` is handled, so it never surfaces as an unhandled rejection.
 */
export function raceAbort<T>(pending: T | PromiseLike<T>, signal: AbortSignal): T | Promise<T> {
  if (!isPromiseLike(pending)) return pending;
  return new Promise<T>((resolve, reject) => {
    const race = new AbortRace(signal, reject);
    pending.then(
      (value) => {
        race.detach();
        resolve(value);
      },
      (error: unknown) => {
        race.detach();
        reject(error);
      },
    );
  });
}

/** The abort side of a race: an `EventListener` object, so it needs no closure of its own. */
class AbortRace {
  constructor(
    private readonly signal: AbortSignal,
    private readonly reject: (reason: unknown) => void,
  ) {
    if (signal.aborted) reject(abortReason(signal));
    else signal.addEventListener("abort", this, { once: true });
  }

  handleEvent(): void {
    this.reject(abortReason(this.signal));
  }

  detach(): void {
    this.signal.removeEventListener("abort", this);
  }
}
