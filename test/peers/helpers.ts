/**
 * Helpers shared by the cases ported from the peers' own test suites (test/peers/*.test.ts).
 * Time is a ManualClock everywhere: no case sleeps in real time.
 */
import { ManualClock, MemoryStore } from "../../src/index.js";

/** Lets queued callbacks and promise reactions run (one turn of the event loop). */
export function flush(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Runs `p` while advancing a manual clock `stepMs` at a time until it settles (at most `maxSteps` steps). */
export async function drive<T>(clock: ManualClock, p: Promise<T>, stepMs = 1, maxSteps = 100_000): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < maxSteps && !done; i++) await clock.advanceAsync(stepMs);
  return p;
}

/** A function that counts its calls and hands `impl` the call's number (1 for the first). */
export function counter<T>(impl: (n: number) => T): { fn: () => T; calls: () => number } {
  let n = 0;
  return { fn: () => impl(++n), calls: () => n };
}

/** A promise settled from outside. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A manual clock and a memory store on it (no sweep timer), for limiters. */
export function manualStore(startMs = 0): { clock: ManualClock; store: MemoryStore } {
  const clock = new ManualClock(startMs);
  return { clock, store: new MemoryStore({ sweepIntervalMs: 0, clock }) };
}

/** Uniform numbers in [0, 1) from a fixed linear congruential sequence: jitter cases repeat exactly. */
export function lcg(start = 1): () => number {
  let x = start >>> 0;
  return () => {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    return x / 2 ** 32;
  };
}
