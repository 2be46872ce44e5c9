import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { RateLimitExceededError, ResilienceError } from "../../src/core/errors.js";
import type { Policy } from "../../src/core/policy.js";
import { FixedWindow, type RateLimiterEvents, SlidingWindow, TokenBucket } from "../../src/limit/index.js";
import { AsyncStore, manual, settle, track } from "./helpers.js";

describe("acquire", () => {
  it("admits at once when units are free, and waits for them otherwise", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 10, capacity: 1, clock, store });
    expect(await limiter.acquire("k")).toMatchObject({ allowed: true, remaining: 0 });
    const second = track(limiter.acquire("k"));
    await clock.advanceAsync(99);
    expect(second.state).toBe("pending");
    await clock.advanceAsync(1);
    expect(second.state).toBe("resolved");
    expect(second.value).toMatchObject({ allowed: true });
    expect(clock.pendingSleeps).toBe(0);
    expect(limiter.waiting("k")).toBe(0);
  });

  it("is FIFO per key with mixed costs: a large request is not starved by small ones", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 5, capacity: 5, clock, store });
    await limiter.tryAcquire("k", 5);
    const order: string[] = [];
    const big = limiter.acquire("k", { cost: 5 }).then(() => order.push(`big@${clock.now()}`));
    const small = [1, 2, 3].map((i) => limiter.acquire("k", { cost: 1 }).then(() => order.push(`small${i}@${clock.now()}`)));
    expect(limiter.waiting("k")).toBe(4);
    await clock.advanceAsync(600);
    // Three tokens are free, but the large request is first in line: nobody passes it.
    expect(order).toEqual([]);
    expect(await limiter.tryAcquire("k")).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 400 });
    await clock.advanceAsync(1000);
    await Promise.all([big, ...small]);
    expect(order).toEqual(["big@1000", "small1@1200", "small2@1400", "small3@1600"]);
    // Other keys never wait behind this one.
    expect((await limiter.tryAcquire("other")).allowed).toBe(true);
  });

  it("keeps one sleep per waiting key, however many wait", async () => {
    const { clock, store } = manual();
    const limiter = new SlidingWindow({ limit: 1, windowMs: 100, clock, store });
    await limiter.tryAcquire("a");
    await limiter.tryAcquire("b");
    const all = [...Array.from({ length: 5 }, () => limiter.acquire("a")), ...Array.from({ length: 5 }, () => limiter.acquire("b"))];
    expect(clock.pendingSleeps).toBe(2);
    await clock.advanceAsync(500);
    await Promise.all(all);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("rejects at once when the wait would exceed maxWaitMs, and leaves nothing behind", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 1, capacity: 1, clock, store });
    await limiter.acquire("k");
    const error = await limiter.acquire("k", { maxWaitMs: 500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitExceededError);
    expect(error).toMatchObject({ retryAfterMs: 1000, limiter: "tokenBucket", key: "k" });
    expect((error as Error).message).toContain("maxWaitMs 500");
    expect(clock.pendingSleeps).toBe(0);
    expect(limiter.waiting("k")).toBe(0);
    const within = track(limiter.acquire("k", { maxWaitMs: 1000 }));
    await clock.advanceAsync(1000);
    expect(within.value).toMatchObject({ allowed: true });
  });

  it("counts the queue ahead when checking maxWaitMs", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 10, capacity: 10, clock, store });
    await limiter.tryAcquire("k", 10);
    const first = track(limiter.acquire("k", { cost: 5 }));
    // Behind 5 queued units, 1 more needs 600 ms.
    await expect(limiter.acquire("k", { cost: 1, maxWaitMs: 599 })).rejects.toMatchObject({ retryAfterMs: 600 });
    const second = track(limiter.acquire("k", { cost: 1, maxWaitMs: 600 }));
    await clock.advanceAsync(600);
    expect([first.state, second.state]).toEqual(["resolved", "resolved"]);
  });

  it("rejects a queued waiter as soon as it is known that its turn comes after its deadline", async () => {
    const { clock, store } = manual();
    const limiter = new SlidingWindow({ limit: 2, windowMs: 1000, clock, store });
    await limiter.tryAcquire("k", 2);
    const head = track(limiter.acquire("k", { cost: 1 }));
    // Looks possible by 1000, but once the head takes 1 at 1000 the second needs 2 free: at 2000.
    const late = track(limiter.acquire("k", { cost: 2, maxWaitMs: 1000 }));
    await clock.advanceAsync(1000);
    expect(head.state).toBe("resolved");
    expect(late.state).toBe("rejected");
    expect(late.error).toMatchObject({ name: "RateLimitExceededError", retryAfterMs: 1000 });
    expect(clock.pendingSleeps).toBe(0);
  });

  it("an abort removes the head at once and lets the next one go", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 1, capacity: 3, clock, store });
    await limiter.tryAcquire("k", 3);
    const controller = new AbortController();
    const big = track(limiter.acquire("k", { cost: 3, signal: controller.signal }));
    const small = track(limiter.acquire("k", { cost: 1 }));
    await clock.advanceAsync(1000);
    expect([big.state, small.state]).toEqual(["pending", "pending"]);
    controller.abort(new Error("user left"));
    await settle();
    expect(big.state).toBe("rejected");
    expect((big.error as Error).message).toBe("user left");
    expect(small.state).toBe("resolved");
    expect(clock.now()).toBe(1000);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("an abort of a waiter further back removes it and keeps the order of the rest", async () => {
    const { clock, store } = manual();
    const limiter = new FixedWindow({ limit: 1, windowMs: 100, clock, store });
    await limiter.tryAcquire("k");
    const controller = new AbortController();
    const order: string[] = [];
    const a = limiter.acquire("k").then(() => order.push(`a@${clock.now()}`));
    const b = track(limiter.acquire("k", { signal: controller.signal }));
    const c = limiter.acquire("k").then(() => order.push(`c@${clock.now()}`));
    controller.abort();
    await settle();
    expect(b.state).toBe("rejected");
    expect((b.error as Error).name).toBe("AbortError");
    expect(limiter.waiting("k")).toBe(2);
    await clock.advanceAsync(300);
    await Promise.all([a, c]);
    expect(order).toEqual(["a@100", "c@200"]);
  });

  it("rejects at once with an already-aborted signal and takes nothing", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 1, capacity: 1, clock, store });
    await expect(limiter.acquire("k", { signal: AbortSignal.abort(new Error("gone")) })).rejects.toThrow("gone");
    expect((await limiter.tryAcquire("k")).allowed).toBe(true);
  });

  it("a cost above the limit can never be admitted: RateLimitExceededError with retryAfterMs Infinity, at once", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ name: "api", ratePerSec: 1, capacity: 3, clock, store });
    const rejected: RateLimiterEvents["rejected"][] = [];
    limiter.on("rejected", (e) => rejected.push(e));
    for (const attempt of [limiter.acquire("k", { cost: 4 }), limiter.tryAcquire("k", 4)]) {
      const error = await attempt.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RateLimitExceededError);
      expect(error).toMatchObject({ retryAfterMs: Infinity, limiter: "api", key: "k" });
      expect((error as Error).message).toBe('Rate limiter "api": a cost of 4 can never be admitted (the limit is 3)');
    }
    expect(rejected).toEqual([
      { limiter: "api", key: "k", cost: 4, retryAfterMs: Infinity },
      { limiter: "api", key: "k", cost: 4, retryAfterMs: Infinity },
    ]);
    expect(clock.pendingSleeps).toBe(0);
    expect((await limiter.tryAcquire("k", 3)).allowed).toBe(true);
  });

  it("close() rejects every waiter and stops every sleep", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 1, capacity: 1, clock, store });
    await limiter.tryAcquire("a");
    await limiter.tryAcquire("b");
    const waiting = [track(limiter.acquire("a")), track(limiter.acquire("b")), track(limiter.acquire("b"))];
    await limiter.close();
    await settle();
    expect(waiting.map((w) => w.state)).toEqual(["rejected", "rejected", "rejected"]);
    expect(waiting[0]?.error).toBeInstanceOf(ResilienceError);
    expect((waiting[0]?.error as Error).message).toBe('Rate limiter "tokenBucket" was closed');
    expect(clock.pendingSleeps).toBe(0);
  });

  it("waits on the real clock without leaving a timer behind", async () => {
    const limiter = new TokenBucket({ ratePerSec: 200, capacity: 1, clock: systemClock });
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    await limiter.acquire("k");
    const started = Date.now();
    await limiter.acquire("k");
    expect(Date.now() - started).toBeGreaterThanOrEqual(3);
    const controller = new AbortController();
    const long = limiter.acquire("k", { cost: 1, signal: controller.signal });
    const longer = limiter.acquire("k", { cost: 1, signal: controller.signal });
    controller.abort();
    await expect(long).rejects.toMatchObject({ name: "AbortError" });
    await expect(longer).rejects.toMatchObject({ name: "AbortError" });
    await settle();
    await limiter.close();
    expect(timers()).toBe(before);
  });
});

describe("events", () => {
  it("reports acquired (with the wait) and rejected, and unsubscribes", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ name: "api", ratePerSec: 10, capacity: 1, clock, store });
    const seen: unknown[] = [];
    const off = limiter.on("acquired", (e) => seen.push(["acquired", e]));
    limiter.on("rejected", (e) => seen.push(["rejected", e]));
    await limiter.tryAcquire("u");
    await limiter.tryAcquire("u");
    const waited = limiter.acquire("u", { cost: 1 });
    await clock.advanceAsync(100);
    await waited;
    await expect(limiter.acquire("u", { maxWaitMs: 0 })).rejects.toBeInstanceOf(RateLimitExceededError);
    off();
    clock.advance(100);
    await limiter.tryAcquire("u");
    expect(seen).toEqual([
      ["acquired", { limiter: "api", key: "u", cost: 1, waitedMs: 0 }],
      ["rejected", { limiter: "api", key: "u", cost: 1, retryAfterMs: 100 }],
      ["acquired", { limiter: "api", key: "u", cost: 1, waitedMs: 100 }],
      ["rejected", { limiter: "api", key: "u", cost: 1, retryAfterMs: 100 }],
    ]);
  });

  it("a throwing listener never breaks the call", async () => {
    const errors: unknown[] = [];
    const { clock, store } = manual();
    const limiter = new FixedWindow({ limit: 1, windowMs: 10, clock, store, onListenerError: (e) => errors.push(e) });
    limiter.on("acquired", () => {
      throw new Error("listener bug");
    });
    await expect(limiter.tryAcquire()).resolves.toMatchObject({ allowed: true });
    expect(errors).toHaveLength(1);
  });
});

describe("execute (a limiter is a Policy)", () => {
  it("acquires, then runs the function with the caller's context", async () => {
    const { clock, store } = manual();
    const limiter: Policy = new TokenBucket({ ratePerSec: 1, capacity: 1, clock, store });
    const controller = new AbortController();
    const seen: unknown[] = [];
    expect(await limiter.execute((ctx) => (seen.push(ctx.signal, ctx.attempt), "first"), { signal: controller.signal })).toBe("first");
    expect(seen).toEqual([controller.signal, 1]);
    const second = track(limiter.execute(async () => "second"));
    await clock.advanceAsync(999);
    expect(second.state).toBe("pending");
    await clock.advanceAsync(1);
    expect(second.value).toBe("second");
  });

  it("takes key, cost and maxWaitMs from its options, and never runs the function when refused", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 1, capacity: 2, clock, store, maxWaitMs: 0 });
    let runs = 0;
    await limiter.execute(() => runs++, { key: "a", cost: 2 });
    await expect(limiter.execute(() => runs++, { key: "a" })).rejects.toBeInstanceOf(RateLimitExceededError);
    await limiter.execute(() => runs++, { key: "b", cost: 2 });
    const waited = track(limiter.execute(() => runs++, { key: "a", maxWaitMs: 1000 }));
    await clock.advanceAsync(1000);
    expect(waited.state).toBe("resolved");
    expect(runs).toBe(3);
  });

  it("a call admitted after its signal aborted (another call admitted in the same turn did it) never starts", async () => {
    const { clock, store } = manual();
    const limiter = new FixedWindow({ limit: 2, windowMs: 100, clock, store });
    const controller = new AbortController();
    const reason = new Error("stop the batch");
    const started: number[] = [];
    const job =
      (n: number, abort = false) =>
      () => {
        started.push(n);
        if (abort) controller.abort(reason);
        return n;
      };
    const { signal } = controller;
    await Promise.all([limiter.execute(job(0), { signal }), limiter.execute(job(1), { signal })]);
    // The next window lets jobs 2 and 3 in together; job 2 aborts the batch before job 3 starts.
    const second = track(limiter.execute(job(2, true), { signal }));
    const third = track(limiter.execute(job(3), { signal }));
    await clock.advanceAsync(100);
    expect(second.value).toBe(2);
    expect(third.state).toBe("rejected");
    expect(third.error).toBe(reason);
    expect(started).toEqual([0, 1, 2]);
  });

  it("composes like any policy: an outer wrapper sees the limiter's rejection", async () => {
    const { clock, store } = manual();
    const limiter = new SlidingWindow({ limit: 1, windowMs: 1000, clock, store, maxWaitMs: 0 });
    const outer: Policy = {
      execute: async (fn, options) => {
        try {
          return await limiter.execute(fn, options);
        } catch (error) {
          if (error instanceof RateLimitExceededError) return `limited, retry in ${error.retryAfterMs}` as never;
          throw error;
        }
      },
    };
    expect(await outer.execute(() => "ok")).toBe("ok");
    expect(await outer.execute(() => "ok")).toBe("limited, retry in 1000");
  });
});

describe("keys and stores", () => {
  it("uses the key 'default' when none is given", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 1, capacity: 1, clock, store });
    await limiter.tryAcquire();
    expect((await limiter.tryAcquire("default")).allowed).toBe(false);
    expect(limiter.waiting()).toBe(0);
  });

  it("namespaces keys in a shared store as limit:<name>:{<key>}, so limiters of one name share a limit", async () => {
    const { clock, store } = manual();
    const a = new FixedWindow({ name: "api", limit: 2, windowMs: 1000, clock, store });
    const b = new FixedWindow({ name: "api", limit: 2, windowMs: 1000, clock, store });
    const other = new FixedWindow({ name: "uploads", limit: 2, windowMs: 1000, clock, store });
    expect(a.storeKey("alice")).toBe("limit:api:{alice}");
    await a.tryAcquire("alice");
    await b.tryAcquire("alice");
    expect((await a.tryAcquire("alice")).allowed).toBe(false);
    expect((await other.tryAcquire("alice")).allowed).toBe(true);
    expect(store.size).toBe(2);
  });

  it("uses the key as it is in its private store, where nothing else lives", () => {
    expect(new TokenBucket({ ratePerSec: 1 }).storeKey("alice")).toBe("alice");
  });

  it("reset(key) makes the key full again", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 1, capacity: 1, clock, store });
    await limiter.tryAcquire("k");
    await limiter.reset("k");
    expect((await limiter.tryAcquire("k")).allowed).toBe(true);
  });

  it("works the same on a store that answers with promises, FIFO included", async () => {
    const { clock } = manual();
    const store = new AsyncStore();
    const limiter = new TokenBucket({ name: "remote", ratePerSec: 10, capacity: 2, clock, store });
    expect(await limiter.tryAcquire("k", 2)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await limiter.tryAcquire("k")).toMatchObject({ allowed: false, retryAfterMs: 100 });
    const order: number[] = [];
    const waits = [2, 1, 1].map((cost, i) => limiter.acquire("k", { cost }).then(() => order.push(i)));
    await settle();
    expect(await limiter.tryAcquire("k")).toMatchObject({ allowed: false });
    await clock.advanceAsync(400);
    await Promise.all(waits);
    expect(order).toEqual([0, 1, 2]);
    await expect(limiter.acquire("k", { maxWaitMs: 50 })).rejects.toMatchObject({ retryAfterMs: 100 });
    expect(store.inner.read(new TokenBucket({ ratePerSec: 10, capacity: 2 })["decision" as never], "limit:remote:{k}")).toBeDefined();
  });
});
