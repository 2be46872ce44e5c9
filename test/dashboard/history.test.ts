import { describe, expect, it } from "vitest";
import { AdaptiveRateLimiter, CircuitBreaker, InvalidOptionError, ManualClock, TokenBucket } from "../../src/index.js";
import { dashboardHandler, runDashboard } from "../../src/dashboard/index.js";
import { RateHistory } from "../../src/dashboard/history.js";

describe("RateHistory", () => {
  it("keeps at most one sample per interval and only the last `capacity`, oldest first", () => {
    const h = new RateHistory(3, 1_000);
    expect(h.view()).toEqual({ intervalMs: 1_000, spanMs: 3_000, at: [], ratePerSec: [], cooldownMs: [] });
    expect(h.record(0, 10, 0)).toBe(true);
    expect(h.record(999, 11, 0)).toBe(false);
    expect(h.record(1_000, 12.34567, 250.4)).toBe(true);
    expect(h.view()).toMatchObject({ at: [0, 1_000], ratePerSec: [10, 12.346], cooldownMs: [0, 250] });
    for (let t = 2_000; t <= 9_000; t += 1_000) h.record(t, t / 1_000, 0);
    expect(h.size).toBe(3);
    expect(h.view()).toMatchObject({ at: [7_000, 8_000, 9_000], ratePerSec: [7, 8, 9], cooldownMs: [0, 0, 0] });
  });

  it("keeps a non-finite rate or cooldown as 0, and records again after the clock was set back", () => {
    const h = new RateHistory(4, 1_000);
    h.record(5_000, NaN, Infinity);
    h.record(6_000, Infinity, -5);
    expect(h.record(100, 1, 0)).toBe(true);
    expect(h.view()).toMatchObject({ at: [5_000, 6_000, 100], ratePerSec: [0, 0, 1], cooldownMs: [0, 0, 0] });
  });
});

describe("dashboard: each adaptive limiter's history", () => {
  it("is sampled once per historyIntervalMs on the dashboard's clock and bounded to historyMs", async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const limiter = new AdaptiveRateLimiter({ name: "notion", clock, initialRatePerSec: 3 });
    const bucket = new TokenBucket({ name: "per-user", ratePerSec: 5, capacity: 10, clock });
    const handler = dashboardHandler({ sources: [bucket, limiter], clock, historyMs: 5_000, historyIntervalMs: 1_000 });
    try {
      // One sample at creation; more snapshots within the interval add none.
      let s = await handler.snapshot();
      expect(s.at).toBe(1_700_000_000_000);
      expect(s.limiters[0]!.history).toBeNull();
      expect(s.limiters[1]!.history).toEqual({
        intervalMs: 1_000,
        spanMs: 5_000,
        at: [1_700_000_000_000],
        ratePerSec: [3],
        cooldownMs: [0],
      });
      clock.advance(500);
      expect((await handler.snapshot()).limiters[1]!.history!.at).toHaveLength(1);
      // A cooldown shows in the samples taken while it lasts.
      limiter.onBackoff({ status: 429, retryAfterMs: 2_000 });
      for (let i = 0; i < 9; i++) {
        clock.advance(1_000);
        s = await handler.snapshot();
      }
      const history = s.limiters[1]!.history!;
      expect(history.at).toEqual([5_500, 6_500, 7_500, 8_500, 9_500].map((ms) => 1_700_000_000_000 + ms));
      expect(history.ratePerSec).toHaveLength(5);
      expect(history.cooldownMs).toEqual([0, 0, 0, 0, 0]);
      expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    } finally {
      handler.close();
    }
  });

  it("records the cooldown left at each sample", async () => {
    const clock = new ManualClock(1_000_000);
    const limiter = new AdaptiveRateLimiter({ name: "stripe", clock, initialRatePerSec: 10 });
    const handler = dashboardHandler({ sources: [limiter], clock, historyIntervalMs: 1_000 });
    try {
      limiter.onBackoff({ status: 429, retryAfterMs: 2_500 });
      clock.advance(1_000);
      await handler.snapshot();
      clock.advance(1_000);
      await handler.snapshot();
      clock.advance(1_000);
      const history = (await handler.snapshot()).limiters[0]!.history!;
      expect(history.at).toEqual([1_000_000, 1_001_000, 1_002_000, 1_003_000]);
      expect(history.cooldownMs).toEqual([0, 1_500, 500, 0]);
      // The default span: five minutes of one-second samples.
      expect(history.spanMs).toBe(300_000);
    } finally {
      handler.close();
    }
  });

  it("keeps none with historyMs 0", async () => {
    const limiter = new AdaptiveRateLimiter({ name: "a", clock: new ManualClock() });
    const handler = dashboardHandler({ sources: [limiter], historyMs: 0 });
    expect((await handler.snapshot()).limiters[0]!.history).toBeNull();
    handler.close();
  });

  it("validates historyMs, historyIntervalMs and clock, naming the option and what is allowed", async () => {
    const sources = [new CircuitBreaker({ name: "a" })];
    expect(() => dashboardHandler({ sources, historyMs: -1 })).toThrow(/"historyMs" must be an integer >= 0; got -1/);
    expect(() => dashboardHandler({ sources, historyMs: 1.5 })).toThrow(/historyMs/);
    expect(() => dashboardHandler({ sources, historyIntervalMs: 5 })).toThrow(/"historyIntervalMs" must be an integer >= 10; got 5/);
    expect(() => dashboardHandler({ sources, historyMs: 10_000_001, historyIntervalMs: 1_000 })).toThrow(
      /"historyMs" must be at most 10000 × historyIntervalMs \(1000\); got 10000001/,
    );
    expect(() => dashboardHandler({ sources, clock: { now: () => 0 } as never })).toThrow(InvalidOptionError);
    expect(() => dashboardHandler({ sources, clock: { now: () => 0 } as never })).toThrow(/clock/);
    await expect(runDashboard({ sources, port: 0, historyIntervalMs: 0 })).rejects.toThrow(/historyIntervalMs/);
  });
});
