/** The outcome of a promise, captured at once so that a rejection is never unhandled. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** A settled-or-not view of `promise`: `done` flips when it settles. */
export interface Tracked<T> {
  readonly outcome: Promise<Outcome<T>>;
  readonly done: () => boolean;
}

/** Starts watching `promise` now. */
export function track<T>(promise: Promise<T>): Tracked<T> {
  let settled = false;
  const outcome = promise.then(
    (value): Outcome<T> => {
      settled = true;
      return { ok: true, value };
    },
    (error: unknown): Outcome<T> => {
      settled = true;
      return { ok: false, error };
    },
  );
  return { outcome, done: () => settled };
}

/** The error `promise` rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown> | Tracked<unknown>): Promise<unknown> {
  const outcome = await ("outcome" in promise ? promise.outcome : track(promise).outcome);
  if (outcome.ok) throw new Error(`expected a rejection, got ${String(outcome.value)}`);
  return outcome.error;
}

/** Lets queued promise callbacks run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
