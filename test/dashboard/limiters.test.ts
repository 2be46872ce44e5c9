import { describe, expect, it } from "vitest";
import {
  AdaptiveRateLimiter,
  CircuitBreakers,
  consecutiveFailures,
  FixedWindow,
  ManualClock,
  RetryPolicy,
  SlidingWindow,
  TokenBucket,
} from "../../src/index.js";
import { ApiClient, EnterpriseClient } from "../../src/http/index.js";
import { dashboardHandler } from "../../src/dashboard/index.js";

describe("dashboard: rate limiters", () => {
  it("shows every keyed limiter's rate and what its default key has left, without taking anything", async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const bucket = new TokenBucket({ name: "per-user", ratePerSec: 5, capacity: 10, clock });
    const sliding = new SlidingWindow({ name: "search", limit: 100, windowMs: 60_000, clock });
    const fixed = new FixedWindow({ name: "exports", limit: 3, windowMs: 1_000, clock });
    const handler = dashboardHandler({ sources: [bucket, sliding, fixed] });
    let acquired = 0;
    bucket.on("acquired", () => acquired++);
    await bucket.tryAcquire("default", 4);
    for (let i = 0; i < 3; i++) await fixed.tryAcquire();

    const { limiters, breakers } = await handler.snapshot();
    expect(breakers).toEqual([]);
    expect(limiters).toEqual([
      expect.objectContaining({
        name: "per-user",
        kind: "keyed",
        algorithm: "TokenBucket",
        ratePerSec: 5,
        limit: 10,
        windowMs: null,
        remaining: 6,
        cooldownMs: 0,
        queued: 0,
        store: "memory",
      }),
      expect.objectContaining({
        name: "search",
        algorithm: "SlidingWindow",
        ratePerSec: 100 / 60,
        limit: 100,
        windowMs: 60_000,
        remaining: 100,
      }),
      expect.objectContaining({ name: "exports", algorithm: "FixedWindow", ratePerSec: 3, limit: 3, windowMs: 1_000, remaining: 0 }),
    ]);
    // Looking took nothing and emitted nothing.
    expect(acquired).toBe(1);
    expect((await bucket.tryAcquire("default", 6)).allowed).toBe(true);
    expect((await handler.snapshot()).limiters[0]?.remaining).toBe(0);
    handler.close();
  });

  it("shows an adaptive limiter's current rate and cooldown, and counts its waiters", async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const limiter = new AdaptiveRateLimiter({ name: "notion", clock, initialRatePerSec: 3 });
    const handler = dashboardHandler({ sources: [limiter] });
    limiter.onBackoff({ status: 429, retryAfterMs: 5_000 });
    const waiting = limiter.acquire();
    clock.advance(1_000);
    const [view] = (await handler.snapshot()).limiters;
    expect(view).toMatchObject({
      name: "notion",
      kind: "adaptive",
      algorithm: "AdaptiveRateLimiter",
      ratePerSec: limiter.snapshot().ratePerSec,
      remaining: null,
      cooldownMs: 4_000,
      queued: 1,
      inFlight: 0,
      backoffs: 1,
      lastBackoff: { status: 429, retryAfterMs: 5_000 },
    });
    await clock.advanceAsync(4_000);
    await waiting;
    expect((await handler.snapshot()).limiters[0]).toMatchObject({ cooldownMs: 0, queued: 0, inFlight: 1 });
    handler.close();
  });

  it("shows an HTTP client's limiter and (EnterpriseClient) breaker; a breaker given twice is shown once", async () => {
    const clock = new ManualClock();
    const breakers = new CircuitBreakers({ clock, defaults: { trip: consecutiveFailures(1) } });
    const enterprise = new EnterpriseClient({
      integration: "hubspot",
      baseUrl: "https://api.hubapi.com",
      clock,
      circuitBreaker: breakers,
      fetch: async () => new Response(null, { status: 500 }),
    });
    const api = new ApiClient({ baseUrl: "https://api.example.com", clock, fetch: async () => new Response("{}") });
    const handler = dashboardHandler({ sources: [breakers, enterprise, api] });
    await enterprise.request("GET", "/");
    const s = await handler.snapshot();
    expect(s.breakers.map((b) => `${b.name} ${b.state}`)).toEqual(["hubspot open"]);
    expect(s.limiters.map((l) => `${l.kind} ${l.name}`)).toEqual(["adaptive hubspot", "adaptive api.example.com"]);
    handler.close();
  });

  it("refuses a source it cannot show, naming what it accepts", () => {
    expect(() => dashboardHandler({ sources: [new RetryPolicy({ maxAttempts: 2 }) as never] })).toThrow(/sources\[0\].*rate limiter/s);
  });
});
