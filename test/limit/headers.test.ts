import { describe, expect, it } from "vitest";
import { rateLimitHeaders, SlidingWindow, TokenBucket } from "../../src/limit/index.js";
import { manual } from "./helpers.js";

describe("rateLimitHeaders", () => {
  it("describes an admitted request: limit, remaining, seconds to full reset, and the policy when given", () => {
    expect(
      rateLimitHeaders({ allowed: true, remaining: 7, limit: 10, retryAfterMs: 0, resetAfterMs: 1_001 }, { policy: "10;w=60" }),
    ).toEqual({
      "RateLimit-Limit": "10",
      "RateLimit-Remaining": "7",
      "RateLimit-Reset": "2",
      "RateLimit-Policy": "10;w=60",
    });
  });

  it("adds Retry-After in whole seconds, rounded up, when refused", () => {
    expect(rateLimitHeaders({ allowed: false, remaining: 0, limit: 10, retryAfterMs: 1, resetAfterMs: 59_000 })).toEqual({
      "RateLimit-Limit": "10",
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": "59",
      "Retry-After": "1",
    });
    expect(rateLimitHeaders({ allowed: false, remaining: 0, limit: 10, retryAfterMs: 2_000, resetAfterMs: 0 })["Retry-After"]).toBe("2");
  });

  it("a wait a hair over a whole second from floating point reads as that second, not the next", async () => {
    const { clock, store } = manual();
    const hourly = new TokenBucket({ limit: 1, windowMs: 3_600_000, clock, store });
    await hourly.tryAcquire("k");
    const refused = await hourly.tryAcquire("k");
    expect(refused.retryAfterMs).toBeGreaterThan(3_600_000); // 3,600,000.0000000005
    expect(rateLimitHeaders(refused)).toMatchObject({ "Retry-After": "3600", "RateLimit-Reset": "3600" });
    expect(rateLimitHeaders({ allowed: false, remaining: 0, limit: 1, retryAfterMs: 1_000.5, resetAfterMs: 1_000.5 })).toMatchObject({
      "Retry-After": "2",
    });
  });

  it("leaves Retry-After out when the request can never be admitted, and never shows negative or fractional counts", () => {
    const h = rateLimitHeaders({ allowed: false, remaining: -0.5, limit: 3, retryAfterMs: Infinity, resetAfterMs: -5 });
    expect(h).toEqual({ "RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "0" });
  });

  it("fits a real limiter's decisions and policy", async () => {
    const { clock, store } = manual();
    const limiter = new SlidingWindow({ limit: 2, windowMs: 60_000, clock, store });
    await limiter.tryAcquire("k");
    clock.advance(30_000);
    await limiter.tryAcquire("k");
    const refused = await limiter.tryAcquire("k");
    expect(rateLimitHeaders(refused, { policy: limiter.policy })).toEqual({
      "RateLimit-Limit": "2",
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": "60",
      "RateLimit-Policy": "2;w=60",
      "Retry-After": "30",
    });
    expect(new TokenBucket({ ratePerSec: 10, capacity: 50 }).policy).toBe("50;w=5");
  });
});
