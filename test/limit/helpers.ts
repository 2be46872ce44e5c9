import { expect } from "vitest";
import { ManualClock } from "../../src/core/clock.js";
import { InvalidOptionError, RateLimitExceededError } from "../../src/core/errors.js";
import type { AdaptiveParams } from "../../src/limit/adaptive-decision.js";
import type { AdaptivePermit, AdaptiveRateLimiter } from "../../src/limit/adaptive.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { BoundState, Decision, Store } from "../../src/store/store.js";

/** A store that answers every call with a promise, like a remote one, backed by a MemoryStore. */
export class AsyncStore implements Store {
  readonly name = "async-memory";
  readonly synchronous = false;
  /** How many times `apply` was called. */
  applied = 0;
  readonly inner = new MemoryStore({ sweepIntervalMs: 0 });

  async apply<S, I, O>(decision: Decision<S, I, O>, key: string, input: I, now: number): Promise<O> {
    this.applied++;
    // Copy the input the way a remote store would serialise it, then answer later.
    const copy = { ...(input as object) } as I;
    await Promise.resolve();
    return this.inner.apply(decision, key, copy, now);
  }

  bind<S, I, O>(decision: Decision<S, I, O>, key: string): BoundState<S, I, O> {
    return {
      apply: (input, now) => this.apply(decision, key, input, now),
      read: () => this.read(decision as Decision<S, unknown, unknown>, key),
    };
  }

  async read<S>(decision: Decision<S, unknown, unknown>, key: string): Promise<S | undefined> {
    return this.inner.read(decision, key);
  }

  async delete(key: string): Promise<void> {
    this.inner.delete(key);
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}

/** A manual clock starting at 0 and a store without a sweep timer, for deterministic tests. */
export function manual(startMs = 0): { clock: ManualClock; store: MemoryStore } {
  const clock = new ManualClock(startMs);
  return { clock, store: new MemoryStore({ sweepIntervalMs: 0, clock }) };
}

/** Lets promise callbacks (and one macrotask turn) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Records the settlement of a promise without an unhandled rejection. */
export function track<T>(promise: Promise<T>): {
  readonly state: "pending" | "resolved" | "rejected";
  readonly value: T | undefined;
  readonly error: unknown;
} {
  const out = { state: "pending" as "pending" | "resolved" | "rejected", value: undefined as T | undefined, error: undefined as unknown };
  promise.then(
    (value) => {
      out.state = "resolved";
      out.value = value;
    },
    (error: unknown) => {
      out.state = "rejected";
      out.error = error;
    },
  );
  return out;
}

/** `make()` throws an InvalidOptionError naming `option`, its `value` and what is `allowed`. */
export function rejects(make: () => unknown, option: string, value: unknown, allowed: string): void {
  let error: unknown;
  try {
    make();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidOptionError);
  expect(error).toMatchObject({ option });
  if (!Number.isNaN(value)) expect((error as InvalidOptionError).value).toEqual(value);
  expect((error as Error).message).toContain(`option "${option}" must be ${allowed}`);
}

/**
 * The next permit of an adaptive limiter, moving the clock exactly as far as the limiter
 * asks: a zero-wait acquire fails with the wait it needs, so the clock jumps straight to it.
 */
export async function nextPermit(limiter: AdaptiveRateLimiter, clock: ManualClock): Promise<AdaptivePermit> {
  for (let i = 0; i < 100; i++) {
    try {
      return await limiter.acquire({ maxWaitMs: 0 });
    } catch (error) {
      if (!(error instanceof RateLimitExceededError)) throw error;
      clock.advance(error.retryAfterMs);
    }
  }
  throw new Error("no permit after 100 tries");
}

/** The adaptive limiter's defaults, as the shell passes them to its decision. */
export const ADAPTIVE_DEFAULTS: AdaptiveParams = {
  initialRate: 20,
  minRate: 0.5,
  maxRate: 10_000,
  burst: 1,
  decrease: 0.7,
  headroom: 0.05,
  holdMs: 500,
  holdPerCooldown: 2,
  doublingMs: 700,
  probeGain: 0.5,
  cooldownMultiplier: 2,
  cooldownCapMs: 150,
  maxCooldownMs: 60_000,
  forgetAfterMs: 600_000,
};
