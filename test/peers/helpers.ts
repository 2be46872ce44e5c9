/**
 * Helpers shared by the cases ported from the peers' own test suites (test/peers/*.test.ts).
 * Time is a ManualClock everywhere: no case sleeps in real time.
 */
import { ManualClock, MemoryStore } from "../../src/index.js";
import type { Handler } from "../http/server.js";

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

/** What {@link settleOn} reads of an HTTP client's limiter. */
interface QueueView {
  snapshot(): { readonly queued: number; readonly cooldownMs: number; readonly inFlight: number };
}

/**
 * Settles an HTTP client's request whose waits (cooldowns, pacing, the time limit) run on
 * `clock`, while its exchanges run in real time against a real server: whenever a request
 * waits in the limiter's queue the clock jumps to the end of the cooldown (or 1 ms, for
 * pacing); with nothing in flight and a sleep pending on the clock, it moves 1 ms; otherwise
 * one real millisecond passes. At most `maxSteps` steps.
 */
export async function settleOn<T>(limiter: QueueView, clock: ManualClock, p: Promise<T>, maxSteps = 2_000): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < maxSteps && !done; i++) {
    const { queued, cooldownMs, inFlight } = limiter.snapshot();
    if (queued > 0) await clock.advanceAsync(Math.max(1, cooldownMs));
    else if (inFlight === 0 && clock.pendingSleeps > 0) await clock.advanceAsync(1);
    else await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return p;
}

/** Wraps a test-server handler to note the clock's reading when each request arrives. */
export function stamped(clock: ManualClock, handler: Handler): { handler: Handler; times: number[] } {
  const times: number[] = [];
  return {
    times,
    handler: (req, res, raw) => {
      times.push(clock.now());
      handler(req, res, raw);
    },
  };
}

/** The waits between consecutive readings. */
export function gaps(times: readonly number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

/** opossum's test function: resolves `x`, or rejects when `x` is negative. */
export const passFail = async (x: number): Promise<number> => {
  if (x < 0) throw new Error(`${x} is < 0`);
  return x;
};

/** opossum's error with an HTTP status, for its error-filter cases. */
export class StatusError extends Error {
  constructor(readonly statusCode: number) {
    super(`Failed with ${statusCode} status code`);
  }
}
