import { describe, expect, it } from "vitest";
import { TokenBucket, TokenBucketDecision } from "../../src/limit/index.js";
import { manual } from "./helpers.js";

describe("TokenBucket", () => {
  it("starts full, admits a burst of capacity, then refuses with the time to the next token", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 4, capacity: 3, clock, store });
    const burst = [await limiter.tryAcquire("u"), await limiter.tryAcquire("u"), await limiter.tryAcquire("u")];
    expect(burst.map((d) => [d.allowed, d.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
    ]);
    expect(burst[2]).toEqual({ allowed: true, remaining: 0, limit: 3, retryAfterMs: 0, resetAfterMs: 750 });
    expect(await limiter.tryAcquire("u")).toEqual({ allowed: false, remaining: 0, limit: 3, retryAfterMs: 250, resetAfterMs: 750 });
  });

  it("refills continuously at ratePerSec and never beyond capacity", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 4, capacity: 3, clock, store });
    for (let i = 0; i < 3; i++) await limiter.tryAcquire();
    clock.advance(249);
    expect((await limiter.tryAcquire()).allowed).toBe(false);
    clock.advance(1);
    expect(await limiter.tryAcquire()).toMatchObject({ allowed: true, remaining: 0 });
    clock.advance(3_600_000);
    const after = [];
    for (let i = 0; i < 4; i++) after.push((await limiter.tryAcquire()).allowed);
    expect(after).toEqual([true, true, true, false]);
  });

  it("takes the whole cost or nothing, and a refusal takes nothing", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 10, capacity: 10, clock, store });
    expect(await limiter.tryAcquire("k", 7)).toMatchObject({ allowed: true, remaining: 3 });
    expect(await limiter.tryAcquire("k", 5)).toMatchObject({ allowed: false, remaining: 3, retryAfterMs: 200 });
    expect(await limiter.tryAcquire("k", 3)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("peeks with cost 0: reports what is left and takes nothing", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 1, capacity: 2, clock, store });
    await limiter.tryAcquire("k");
    expect(await limiter.tryAcquire("k", 0)).toEqual({ allowed: true, remaining: 1, limit: 2, retryAfterMs: 0, resetAfterMs: 1000 });
    expect(await limiter.tryAcquire("k", 0)).toMatchObject({ remaining: 1 });
  });

  it("accepts { limit, windowMs }: limit per windowMs is a bucket of limit tokens refilled over the window", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ limit: 6, windowMs: 60_000, clock, store });
    for (let i = 0; i < 6; i++) expect((await limiter.tryAcquire()).allowed).toBe(true);
    expect(await limiter.tryAcquire()).toMatchObject({ allowed: false, limit: 6, retryAfterMs: 10_000, resetAfterMs: 60_000 });
    expect(limiter.policy).toBe("6;w=60");
  });

  it("keeps one bucket per key", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 1, capacity: 1, clock, store });
    expect((await limiter.tryAcquire("alice")).allowed).toBe(true);
    expect((await limiter.tryAcquire("alice")).allowed).toBe(false);
    expect((await limiter.tryAcquire("bob")).allowed).toBe(true);
    expect((await limiter.tryAcquire()).allowed).toBe(true);
  });

  it("defaults capacity to one second of tokens, rounded up", () => {
    expect(new TokenBucket({ ratePerSec: 2.5 }).limit).toBe(3);
    expect(new TokenBucket({ ratePerSec: 0.1 }).limit).toBe(1);
  });

  it("is a plain decision over { tokens, at }: idle exactly when full again", () => {
    const d = new TokenBucketDecision(2, 1);
    const s = d.init(0);
    expect(s).toEqual({ tokens: 2, at: 0 });
    expect(JSON.parse(JSON.stringify(d.params))).toEqual({ capacity: 2, ratePerSec: 1 });
    d.step(s, { cost: 2, peek: false }, 0);
    expect(d.isIdle(s, 1999)).toBe(false);
    expect(d.isIdle(s, 2000)).toBe(true);
    expect(d.step(s, { cost: 1, peek: true }, 500)).toMatchObject({ allowed: false, retryAfterMs: 500 });
    expect(s).toEqual({ tokens: 0, at: 0 });
  });
});
