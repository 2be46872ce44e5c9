import { describe, expect, it } from "vitest";
import { FixedWindow, FixedWindowDecision } from "../../src/limit/index.js";
import { manual } from "./helpers.js";

describe("FixedWindow", () => {
  it("admits limit units per window; the window opens with the first admission", async () => {
    const { clock, store } = manual(500);
    const limiter = new FixedWindow({ limit: 2, windowMs: 1000, clock, store });
    expect(await limiter.tryAcquire()).toEqual({ allowed: true, remaining: 1, limit: 2, retryAfterMs: 0, resetAfterMs: 1000 });
    clock.advance(300);
    expect(await limiter.tryAcquire()).toMatchObject({ allowed: true, remaining: 0, resetAfterMs: 700 });
    expect(await limiter.tryAcquire()).toEqual({ allowed: false, remaining: 0, limit: 2, retryAfterMs: 700, resetAfterMs: 700 });
    clock.advance(700);
    expect(await limiter.tryAcquire()).toMatchObject({ allowed: true, remaining: 1, resetAfterMs: 1000 });
  });

  it("lets up to 2 × limit through around a window boundary (its documented error bound)", async () => {
    const { clock, store } = manual();
    const limiter = new FixedWindow({ limit: 3, windowMs: 1000, clock, store });
    await limiter.tryAcquire("k");
    clock.set(999);
    expect((await limiter.tryAcquire("k", 2)).allowed).toBe(true);
    clock.set(1000);
    expect((await limiter.tryAcquire("k", 3)).allowed).toBe(true);
  });

  it("counts costs and refuses without counting", async () => {
    const { clock, store } = manual();
    const limiter = new FixedWindow({ limit: 5, windowMs: 1000, clock, store });
    expect((await limiter.tryAcquire("k", 4)).allowed).toBe(true);
    expect(await limiter.tryAcquire("k", 2)).toMatchObject({ allowed: false, remaining: 1 });
    expect(await limiter.tryAcquire("k", 1)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("is idle once its window has closed, and a refusal or a peek never opens a window", () => {
    const d = new FixedWindowDecision(1, 100);
    const s = d.init(0);
    expect(d.isIdle(s, 0)).toBe(true);
    d.step(s, { cost: 1, peek: false }, 10);
    expect(d.isIdle(s, 109)).toBe(false);
    expect(d.isIdle(s, 110)).toBe(true);
    d.step(s, { cost: 1, peek: true }, 200);
    expect(s).toEqual({ start: 10, count: 1 });
  });
});
