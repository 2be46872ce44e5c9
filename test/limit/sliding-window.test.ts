import { describe, expect, it } from "vitest";
import { SlidingCounterDecision, SlidingLogDecision, SlidingWindow } from "../../src/limit/index.js";
import { manual } from "./helpers.js";

describe("SlidingWindow (exact)", () => {
  it("is exact by default: no burst at any boundary", async () => {
    const { clock, store } = manual();
    const limiter = new SlidingWindow({ limit: 3, windowMs: 1000, clock, store });
    expect(limiter.precision).toBe("exact");
    for (const t of [900, 950, 999]) {
      clock.set(t);
      expect((await limiter.tryAcquire()).allowed).toBe(true);
    }
    clock.set(1000);
    expect(await limiter.tryAcquire()).toEqual({ allowed: false, remaining: 0, limit: 3, retryAfterMs: 900, resetAfterMs: 999 });
    clock.set(1899);
    expect((await limiter.tryAcquire()).allowed).toBe(false);
    clock.set(1900);
    expect(await limiter.tryAcquire()).toMatchObject({ allowed: true, remaining: 0, resetAfterMs: 1000 });
  });

  it("waits for enough of the oldest admissions to leave when the cost is larger than one", async () => {
    const { clock, store } = manual();
    const limiter = new SlidingWindow({ limit: 4, windowMs: 1000, clock, store });
    await limiter.tryAcquire("k", 1);
    clock.set(100);
    await limiter.tryAcquire("k", 1);
    clock.set(200);
    await limiter.tryAcquire("k", 2);
    clock.set(300);
    // 4 used; a cost of 2 needs the admissions at 0 and 100 gone: at 1100.
    expect(await limiter.tryAcquire("k", 2)).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 800, resetAfterMs: 900 });
    clock.set(1000);
    expect(await limiter.tryAcquire("k", 2)).toMatchObject({ allowed: false, remaining: 1, retryAfterMs: 100 });
    clock.set(1100);
    expect(await limiter.tryAcquire("k", 2)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("keeps a log of at most limit entries, admissions in the same millisecond sharing one", () => {
    const d = new SlidingLogDecision(5, 1000);
    const s = d.init();
    d.step(s, { cost: 1, peek: false }, 10);
    d.step(s, { cost: 2, peek: false }, 10);
    d.step(s, { cost: 1, peek: false }, 20);
    expect(s).toEqual({ used: 4, head: 0, log: [10, 3, 20, 1] });
    expect(d.step(s, { cost: 1, peek: true }, 30)).toMatchObject({ allowed: true, remaining: 0 });
    expect(s.used).toBe(4);
    d.step(s, { cost: 1, peek: false }, 1010);
    expect(s).toEqual({ used: 2, head: 2, log: [10, 3, 20, 1, 1010, 1] });
    expect(d.isIdle(s, 2009)).toBe(false);
    expect(d.isIdle(s, 2010)).toBe(true);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    d.step(s, { cost: 0, peek: false }, 5000);
    expect(s).toEqual({ used: 0, head: 0, log: [] });
  });

  it("compacts its log once half of it has left the window, so a hot key costs amortised O(1)", () => {
    const d = new SlidingLogDecision(1_000_000, 100);
    const s = d.init();
    for (let t = 0; t < 10_000; t++) d.step(s, { cost: 1, peek: false }, t);
    expect(s.used).toBe(100);
    expect(s.log.length - s.head).toBe(200);
    expect(s.log.length).toBeLessThanOrEqual(400 + 128);
  });
});

describe("SlidingWindow (approximate)", () => {
  it("weights the previous window's count by how much of it the sliding window still covers", async () => {
    const { clock, store } = manual();
    const limiter = new SlidingWindow({ limit: 10, windowMs: 1000, precision: "approximate", clock, store });
    clock.set(900);
    expect((await limiter.tryAcquire("k", 10)).allowed).toBe(true);
    clock.set(1000);
    // Estimate 10 × (1 − 0) + 0 = 10: full; 9 of room opens once the weight is 0.9, at 1100.
    expect(await limiter.tryAcquire("k")).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 100, resetAfterMs: 1000 });
    clock.set(1100);
    expect(await limiter.tryAcquire("k")).toMatchObject({ allowed: true, remaining: 0 });
    clock.set(1500);
    expect(await limiter.tryAcquire("k", 4)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await limiter.tryAcquire("k", 1)).toMatchObject({ allowed: false, retryAfterMs: 100 });
  });

  it("never admits more than limit in one aligned window, and waits for the next when the current one is full", async () => {
    const { clock, store } = manual();
    const limiter = new SlidingWindow({ limit: 4, windowMs: 1000, precision: "approximate", clock, store });
    expect((await limiter.tryAcquire("k", 4)).allowed).toBe(true);
    clock.set(999);
    // The current window holds 4: the earliest is the next window, once 4 × (1 − x) + 1 <= 4 (x = 0.25).
    expect(await limiter.tryAcquire("k")).toMatchObject({ allowed: false, retryAfterMs: 251 });
    clock.set(1250);
    expect((await limiter.tryAcquire("k")).allowed).toBe(true);
  });

  it("keeps O(1) state: the window start and two counts; idle once both have faded", () => {
    const d = new SlidingCounterDecision(5, 100);
    const s = d.init(250);
    expect(s).toEqual({ start: 200, current: 0, previous: 0 });
    d.step(s, { cost: 3, peek: false }, 250);
    d.step(s, { cost: 1, peek: false }, 310);
    expect(s).toEqual({ start: 300, current: 1, previous: 3 });
    expect(d.isIdle(s, 499)).toBe(false);
    expect(d.isIdle(s, 500)).toBe(true);
    d.step(s, { cost: 1, peek: false }, 720);
    expect(s).toEqual({ start: 700, current: 1, previous: 0 });
  });
});
