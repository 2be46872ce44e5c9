/**
 * Ported from rate-limiter-flexible test/RateLimiterQueue.test.js (the cases not in
 * test/peers/rate-limiter-flexible.test.ts: a bounded queue, and queues per key)
 * (animir/node-rate-limiter-flexible), on a ManualClock.
 *
 * API mapping: new RateLimiterQueue(new RateLimiterMemory({ points, duration })) ->
 * new FixedWindow({ limit: points, windowMs: duration * 1000 }); removeTokens(n, key) ->
 * acquire(key, { cost: n }); getTokensRemaining(key) -> get(key).remaining; maxQueueSize -> no
 * bound on the number of waiters: maxWaitMs bounds the wait instead.
 * Each case keeps the peer's assertion, translated, except where Breakwater deliberately
 * differs: there a comment names what the peer asserts and the page that says so.
 */
import { describe, expect, it } from "vitest";
import { FixedWindow, RateLimitExceededError } from "../../src/index.js";
import { manualStore } from "./helpers.js";

function queue(points: number, durationSec: number, maxWaitMs?: number) {
  const { clock, store } = manualStore();
  const limiter = new FixedWindow({
    limit: points,
    windowMs: durationSec * 1000,
    clock,
    store,
    ...(maxWaitMs === undefined ? {} : { maxWaitMs }),
  });
  return { clock, limiter };
}

describe("rate-limiter-flexible RateLimiterQueue (more)", () => {
  it("return error if queue length reaches maximum (ours: a wait beyond maxWaitMs is refused)", async () => {
    // The peer's maxQueueSize: 1 rejects the third removeTokens at once with RateLimiterQueueError. Ours
    // bounds the wait, not the queue (docs/rate-limiting.md, "tryAcquire and acquire": maxWaitMs): with 1
    // point a second and maxWaitMs 1000, the third caller's turn (2 s) is past its deadline; only the head of
    // a key's queue is tried ("Fairness: FIFO per key"), so that is known, and the call refused, when the
    // second caller is admitted at 1 s, not at once.
    const { clock, limiter } = queue(1, 1, 1_000);
    await limiter.acquire("q");
    const second = limiter.acquire("q");
    let refusedAt = -1;
    const third = limiter.acquire("q").catch((e: unknown) => {
      refusedAt = clock.now();
      return e;
    });
    await clock.advanceAsync(999);
    expect(refusedAt).toBe(-1);
    await clock.advanceAsync(1);
    expect((await second).allowed).toBe(true);
    expect(await third).toBeInstanceOf(RateLimitExceededError);
    expect(refusedAt).toBe(1_000);
  });

  it("queues are per key: a key's waiting callers do not hold another key", async () => {
    const { clock, limiter } = queue(1, 1);
    await limiter.acquire("key1");
    let waited = false;
    const p = limiter.acquire("key1").then(() => (waited = true));
    expect((await limiter.acquire("key2")).remaining).toBe(0);
    expect(waited).toBe(false);
    expect([limiter.waiting("key1"), limiter.waiting("key2")]).toEqual([1, 0]);
    await clock.advanceAsync(1_000);
    await p;
    expect(waited).toBe(true);
  });

  it("getTokensRemaining works with a key (and a key never used has every token)", async () => {
    const { limiter } = queue(2, 1);
    await limiter.acquire("key1");
    expect((await limiter.get("key1")).remaining).toBe(1);
    expect((await limiter.get("key2")).remaining).toBe(2);
  });
});
