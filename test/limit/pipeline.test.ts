import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { constant } from "../../src/backoff/index.js";
import { CircuitBreaker, consecutiveFailures } from "../../src/breaker/index.js";
import { CircuitOpenError, RateLimitExceededError, RetryError } from "../../src/core/errors.js";
import type { ExecuteOptions, Operation, Policy } from "../../src/core/policy.js";
import { FixedWindow, SlidingWindow, TokenBucket } from "../../src/limit/index.js";
import { fallback, pipeline, timeout } from "../../src/policy/index.js";
import { RetryPolicy } from "../../src/retry/index.js";
import { manual, settle, track } from "./helpers.js";

const boom = (): never => {
  throw new Error("boom");
};

describe("limiters in pipeline() (acquire, then run)", () => {
  it("pipeline(retry, limiter, breaker, timeout): every attempt takes a permit; a refusal is retried after its Retry-After", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 1, capacity: 2, clock, store, maxWaitMs: 0 });
    const retry = new RetryPolicy({ clock, maxAttempts: 4, backoff: constant(10) });
    const stack = pipeline(retry, limiter, new CircuitBreaker({ clock }), timeout(5_000, { clock }));
    const seen: [number, number][] = [];
    const call = track(
      stack.execute(({ attempt }) => {
        seen.push([attempt, clock.now()]);
        if (attempt < 4) throw new Error("flaky");
        return "ok";
      }),
    );
    await clock.advanceAsync(5_000);
    expect(call.state).toBe("resolved");
    expect(call.value).toBe("ok");
    // Attempts 1 and 2 spend the two tokens; attempt 3 is refused by the limiter (not run)
    // and retried when the next token is due (1 s after the first, not after the 10 ms backoff).
    expect(seen).toEqual([
      [1, 0],
      [2, 10],
      [4, 1_000],
    ]);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("pipeline(limiter, retry, breaker): one permit per call, however many attempts", async () => {
    const { clock, store } = manual();
    const limiter = new FixedWindow({ limit: 2, windowMs: 1_000, clock, store, maxWaitMs: 0 });
    const stack = pipeline(
      limiter,
      new RetryPolicy({ clock, maxAttempts: 3, backoff: constant(0) }),
      new CircuitBreaker({ clock, trip: consecutiveFailures(10) }),
    );
    let runs = 0;
    for (let i = 0; i < 2; i++) {
      const error = await stack.execute(() => (runs++, boom())).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryError);
    }
    expect(runs).toBe(6);
    const refused = await stack.execute(() => runs++).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitExceededError);
    expect(refused).toMatchObject({ retryAfterMs: 1_000 });
    expect(runs).toBe(6);
  });

  it("an outer limiter waits its turn (FIFO) and hands the caller's signal down; an abort leaves the queue at once", async () => {
    const { clock, store } = manual();
    const limiter = new SlidingWindow({ limit: 1, windowMs: 1_000, clock, store });
    const stack = pipeline(limiter, new CircuitBreaker({ clock }), timeout(10_000, { clock }));
    const order: string[] = [];
    const first = track(stack.execute(() => order.push(`a@${clock.now()}`)));
    const controller = new AbortController();
    const second = track(stack.execute(() => order.push(`b@${clock.now()}`), { signal: controller.signal }));
    const third = track(stack.execute(() => order.push(`c@${clock.now()}`)));
    await settle();
    expect(limiter.waiting()).toBe(2);
    controller.abort(new Error("caller left"));
    await settle();
    expect(second.state).toBe("rejected");
    expect((second.error as Error).message).toBe("caller left");
    expect(limiter.waiting()).toBe(1);
    await clock.advanceAsync(1_000);
    expect([first.state, third.state]).toEqual(["resolved", "resolved"]);
    expect(order).toEqual(["a@0", "c@1000"]);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("pipeline(fallback, limiter, breaker): a refusal becomes the fallback value; an open circuit too", async () => {
    const { clock, store } = manual();
    const breaker = new CircuitBreaker({ clock, trip: consecutiveFailures(1), recovery: 60_000 });
    const limiter = new TokenBucket({ ratePerSec: 1, capacity: 1, clock, store, maxWaitMs: 0 });
    const stack = pipeline(
      fallback((error) => (error instanceof RateLimitExceededError ? "slow down" : "unavailable"), {
        on: [RateLimitExceededError, CircuitOpenError],
      }),
      limiter,
      breaker,
    );
    expect(await stack.execute(() => "ok")).toBe("ok");
    expect(await stack.execute(() => "ok")).toBe("slow down");
    await clock.advanceAsync(1_000);
    await expect(stack.execute(boom)).rejects.toThrow("boom");
    await clock.advanceAsync(1_000);
    expect(await stack.execute(() => "ok")).toBe("unavailable");
  });

  it("a per-key limiter in a pipeline: a small policy that forwards the context and names the key", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 1, capacity: 1, clock, store, maxWaitMs: 0 });
    const breaker = new CircuitBreaker({ clock });
    // The pipeline hands policies { signal, attempt } only: the key comes from the call site.
    const perUser = (user: string): Policy => ({
      execute: <T>(fn: Operation<T>, context?: ExecuteOptions) =>
        limiter.execute(fn, { signal: context?.signal, attempt: context?.attempt, key: user }),
    });
    const stack = (user: string) => pipeline(perUser(user), breaker);
    expect(await stack("alice").execute(() => 1)).toBe(1);
    expect(await stack("bob").execute(() => 2)).toBe(2);
    await expect(stack("alice").execute(() => 3)).rejects.toMatchObject({ name: "RateLimitExceededError", key: "alice" });
  });
});

describe("limiters in pipeline(): the hot path", () => {
  let timers: MockInstance<typeof setTimeout>;
  beforeEach(() => {
    timers = vi.spyOn(globalThis, "setTimeout");
  });
  afterEach(() => {
    timers.mockRestore();
  });

  it("an admitted call through pipeline(retry, limiter, breaker) creates no timer", async () => {
    const limiter = new TokenBucket({ ratePerSec: 1_000, capacity: 1_000 });
    const stack = pipeline(new RetryPolicy(), limiter, new CircuitBreaker());
    for (let i = 0; i < 100; i++) expect(await stack.execute(async () => i)).toBe(i);
    expect(timers).not.toHaveBeenCalled();
    await limiter.close();
  });
});

describe("a cost above the limit, on every algorithm and every path", () => {
  const { clock, store } = manual();
  const limiters = [
    new TokenBucket({ name: "tb", ratePerSec: 1, capacity: 3, clock, store }),
    new FixedWindow({ name: "fw", limit: 3, windowMs: 1_000, clock, store }),
    new SlidingWindow({ name: "swe", limit: 3, windowMs: 1_000, clock, store }),
    new SlidingWindow({ name: "swa", limit: 3, windowMs: 1_000, clock, store, precision: "approximate" }),
  ];
  for (const limiter of limiters) {
    it(`${limiter.name}: tryAcquire, acquire and execute reject at once, never wait, never retry`, async () => {
      let runs = 0;
      const retry = new RetryPolicy({ clock, maxAttempts: 5, backoff: constant(1) });
      const calls = [
        limiter.tryAcquire("k", 4),
        limiter.acquire("k", { cost: 4 }),
        limiter.execute(() => runs++, { key: "k", cost: 4 }),
        retry.execute(() => limiter.execute(() => runs++, { key: "k", cost: 4 })),
      ];
      for (const call of calls) {
        const error = await call.catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RateLimitExceededError);
        expect(error).toMatchObject({ retryAfterMs: Infinity, key: "k" });
        expect((error as Error).message).toContain("can never be admitted");
      }
      expect(runs).toBe(0);
      expect(limiter.waiting("k")).toBe(0);
      expect(clock.pendingSleeps).toBe(0);
      expect((await limiter.tryAcquire("k", 3)).allowed).toBe(true);
    });
  }
});
