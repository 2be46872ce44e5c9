/**
 * Ported from rate-limiter-flexible test/RateLimiterAbstract.test.js, test/RateLimiterRes.test.js
 * and the blockDuration cases of test/RateLimiterMemory.test.js on a cost above the limit
 * (animir/node-rate-limiter-flexible), in memory on a ManualClock.
 *
 * getKey(key) with keyPrefix -> limiter.storeKey(key) (`limit:<name>:{key}` in a store given as
 * an option; the key as it is in the limiter's private store, as the peer's empty keyPrefix);
 * RateLimiterRes { msBeforeNext, remainingPoints, consumedPoints } -> the RateLimitDecision
 * { retryAfterMs (refused) / resetAfterMs (admitted), remaining, limit - remaining }, a plain
 * object, so JSON.stringify is its toJSON; the peer README's headers -> rateLimitHeaders.
 */
import { describe, expect, it } from "vitest";
import { FixedWindow, MemoryStore, RateLimitExceededError, TokenBucket, rateLimitHeaders } from "../../src/index.js";
import { manualStore } from "./helpers.js";

describe("rate-limiter-flexible RateLimiterAbstract (keys)", () => {
  it("do not prefix key, if keyPrefix is empty string (a private store holds the key as it is)", async () => {
    const limiter = new FixedWindow({ limit: 1, windowMs: 1_000, store: undefined });
    expect(limiter.storeKey("test1")).toBe("test1");
    await limiter.close();
  });

  it("use keyPrefix from options (a shared store: limit:<name>:{key})", () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const limiter = new FixedWindow({ name: "test", limit: 1, windowMs: 1_000, store });
    expect(limiter.storeKey("key")).toBe("limit:test:{key}");
  });
});

describe("rate-limiter-flexible RateLimiterRes (the decision)", () => {
  it("msBeforeNext, remainingPoints and consumedPoints read off the decision, which is plain JSON", async () => {
    const { clock, store } = manualStore();
    const limiter = new FixedWindow({ limit: 5, windowMs: 1_000, clock, store });
    const admitted = await limiter.tryAcquire("res", 4);
    expect({
      msBeforeNext: admitted.resetAfterMs,
      remainingPoints: admitted.remaining,
      consumedPoints: admitted.limit - admitted.remaining,
    }).toEqual({
      msBeforeNext: 1_000,
      remainingPoints: 1,
      consumedPoints: 4,
    });
    clock.advance(123);
    const refused = await limiter.tryAcquire("res", 2);
    expect(refused.retryAfterMs).toBe(877);
    expect(JSON.parse(JSON.stringify(refused))).toEqual({ allowed: false, remaining: 1, limit: 5, retryAfterMs: 877, resetAfterMs: 877 });
  });

  it("headers from a refused decision (the peer README's Retry-After / X-RateLimit-*)", async () => {
    // The peer's README sends X-RateLimit-Reset as an absolute date; ours sends the IETF draft's RateLimit-Reset, seconds from now: docs/rate-limiting.md, "Response headers: rateLimitHeaders".
    const { clock, store } = manualStore();
    const limiter = new FixedWindow({ limit: 2, windowMs: 60_000, clock, store });
    await limiter.tryAcquire("h", 2);
    clock.advance(500);
    const refused = await limiter.tryAcquire("h");
    expect(rateLimitHeaders(refused, { policy: limiter.policy })).toEqual({
      "RateLimit-Limit": "2",
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": "60",
      "RateLimit-Policy": "2;w=60",
      "Retry-After": "60",
    });
  });
});

describe("rate-limiter-flexible blockDuration on a cost above the limit (RateLimiterMemory.test.js)", () => {
  it("FixedWindow: consume(2) of 1 point with blockDuration blocks the key; the block expires in blockDuration", async () => {
    const { clock, store } = manualStore();
    const limiter = new FixedWindow({ limit: 1, windowMs: 1_000, blockMs: 2_000, clock, store });
    await expect(limiter.tryAcquire("block", 2)).rejects.toBeInstanceOf(RateLimitExceededError);
    // The peer: the key is now blocked for 2 s (msBeforeNext > 1000), and consumes again after it.
    const during = await limiter.tryAcquire("block");
    expect(during.allowed).toBe(false);
    expect(during.retryAfterMs > 1_000).toBe(true);
    clock.advance(2_000);
    expect((await limiter.tryAcquire("block")).allowed).toBe(true);
    expect((await limiter.get("block")).used).toBe(1);
  });

  it("TokenBucket: the same with a cost above the capacity: the refill pauses for blockMs (follow-up)", async () => {
    // A bucket's block pauses its refill and keeps the tokens it holds (docs/rate-limiting.md, "Blocking, penalties and administration", blockMs): the token left is spent, then the key waits the block out.
    const { clock, store } = manualStore();
    const bucket = new TokenBucket({ capacity: 1, ratePerSec: 1, blockMs: 2_000, clock, store });
    await expect(bucket.tryAcquire("block", 2)).rejects.toBeInstanceOf(RateLimitExceededError);
    expect((await bucket.tryAcquire("block")).allowed).toBe(true);
    // get() does not refuse (a refused take would start a block of its own): the wait is the pause plus a token's refill.
    expect((await bucket.get("block")).retryAfterMs).toBe(3_000);
  });
});
