/**
 * Ported from rate-limiter-flexible test/RateLimiterMemory.test.js and
 * test/RateLimiterQueue.test.js (animir/node-rate-limiter-flexible), with follow-ups on a block
 * given units back and on the same administration on a TokenBucket.
 * Each case keeps the peer's assertion, translated to Breakwater's API, except where Breakwater
 * deliberately differs: there the case asserts Breakwater's documented behaviour, and a comment
 * names what rate-limiter-flexible asserts and where our docs state the difference.
 *
 * RateLimiterMemory({ points, duration }) is a fixed window opened by the key's first consume:
 * FixedWindow({ limit: points, windowMs: duration * 1000 }). consume -> tryAcquire;
 * msBeforeNext -> retryAfterMs (refused) / resetAfterMs (admitted); removeTokens -> acquire.
 */
import { describe, expect, it } from "vitest";
import { FixedWindow, RateLimitExceededError, TokenBucket } from "../../src/index.js";
import { manualStore } from "./helpers.js";

function rl(points: number, durationSec: number, extra: { blockMs?: number; spread?: "even" } = {}) {
  const { clock, store } = manualStore(1_000_000);
  const limiter = new FixedWindow({ limit: points, windowMs: durationSec * 1000, clock, store, ...extra });
  return { clock, limiter };
}

/** consume(): a refusal as rate-limiter-flexible reports it: { msBeforeNext } or the rejection. */
async function consume(limiter: FixedWindow, key: string, points = 1): Promise<{ ok: boolean; msBeforeNext: number }> {
  try {
    const d = await limiter.tryAcquire(key, points);
    return { ok: d.allowed, msBeforeNext: d.allowed ? d.resetAfterMs : d.retryAfterMs };
  } catch (e) {
    if (e instanceof RateLimitExceededError) return { ok: false, msBeforeNext: e.retryAfterMs };
    throw e;
  }
}

describe("rate-limiter-flexible RateLimiterMemory (fixed window)", () => {
  it("consume 1 point", async () => {
    const { limiter } = rl(2, 5);
    expect((await consume(limiter, "consume1")).ok).toBe(true);
    expect((await limiter.get("consume1")).used).toBe(1);
  });

  it("can not consume more than maximum points", async () => {
    const { limiter } = rl(1, 5);
    const r = await consume(limiter, "consume2", 2);
    expect(r.ok).toBe(false);
    expect(r.msBeforeNext >= 0).toBe(true);
  });

  it("execute evenly over duration (spread: even)", async () => {
    const { limiter, clock } = rl(2, 5, { spread: "even" });
    await limiter.acquire("consumeEvenly");
    const t0 = clock.now();
    let at = -1;
    const second = limiter.acquire("consumeEvenly").then(() => (at = clock.now()));
    await clock.advanceAsync(2400);
    expect(at).toBe(-1);
    await clock.advanceAsync(200);
    await second;
    const diff = at - t0;
    expect(diff > 2400 && diff < 2600).toBe(true);
  });

  it("makes penalty", async () => {
    const { limiter } = rl(3, 5);
    await consume(limiter, "penalty1");
    await limiter.penalty("penalty1");
    expect((await limiter.get("penalty1")).used).toBe(2);
  });

  it("reward points", async () => {
    const { limiter } = rl(1, 5);
    await consume(limiter, "reward1");
    await limiter.reward("reward1");
    expect((await limiter.get("reward1")).used).toBe(0);
  });

  it("blocks key for block duration when consumed more than points (cost > limit)", async () => {
    const { limiter } = rl(1, 1, { blockMs: 2000 });
    const r = await consume(limiter, "block", 2);
    expect(r.ok).toBe(false);
    expect(r.msBeforeNext > 1000).toBe(true);
  });

  it("blocks key for block duration when consumed more than points (one over the limit)", async () => {
    const { limiter } = rl(1, 1, { blockMs: 2000 });
    expect((await consume(limiter, "block")).ok).toBe(true);
    const r = await consume(limiter, "block");
    expect(r.ok).toBe(false);
    expect(r.msBeforeNext > 1000 && r.msBeforeNext <= 2000).toBe(true);
  });

  it("blocks the key again on each refused attempt during a block", async () => {
    // rate-limiter-flexible asserts a refusal during a block does not extend it (msBeforeNext < 1000 here); ours starts it again: docs/rate-limiting.md, "Blocking, penalties and administration" (blockMs).
    const { limiter, clock } = rl(1, 1, { blockMs: 2000 });
    await consume(limiter, "donotblocktwice");
    await consume(limiter, "donotblocktwice");
    clock.advance(1001);
    const r = await consume(limiter, "donotblocktwice");
    expect(r.ok).toBe(false);
    expect(r.msBeforeNext).toBe(2000);
  });

  it("block expires in blockDuration seconds", async () => {
    const { limiter, clock } = rl(1, 1, { blockMs: 2000 });
    await consume(limiter, "blockexpires");
    await consume(limiter, "blockexpires");
    clock.advance(2000);
    expect((await consume(limiter, "blockexpires")).ok).toBe(true);
    expect((await limiter.get("blockexpires")).used).toBe(1);
  });

  it("get by key", async () => {
    const { limiter } = rl(2, 5);
    await consume(limiter, "get");
    expect((await limiter.get("get")).remaining).toBe(1);
  });

  it("get of a key never set: nothing used (peer resolves null)", async () => {
    const { limiter } = rl(2, 5);
    expect(await limiter.get("nokey")).toMatchObject({ used: 0, remaining: 2 });
  });

  it("delete forgets the key", async () => {
    const { limiter } = rl(2, 5);
    await consume(limiter, "deletekey");
    await consume(limiter, "deletekey");
    await limiter.delete("deletekey");
    expect((await consume(limiter, "deletekey")).ok).toBe(true);
  });

  it("set points by key above the limit: used is the limit", async () => {
    // rate-limiter-flexible asserts consumedPoints 12 of 10; our used is at most the limit: docs/rate-limiting.md, "Blocking, penalties and administration" (get).
    const { limiter } = rl(10, 1);
    await limiter.set("set", 12);
    expect(await limiter.get("set")).toMatchObject({ used: 10, remaining: 0 });
  });

  it("penalty past the limit: get() reports used as the limit", async () => {
    // rate-limiter-flexible counts 6 consumed of 3; our used is at most the limit: docs/rate-limiting.md, "Blocking, penalties and administration" (get).
    const { limiter } = rl(3, 5);
    await consume(limiter, "p");
    await limiter.penalty("p", 5);
    expect(await limiter.get("p")).toMatchObject({ used: 3, remaining: 0 });
  });

  it("set points by key within the limit", async () => {
    const { limiter } = rl(10, 1);
    await limiter.set("set", 7);
    expect(await limiter.get("set")).toMatchObject({ used: 7, remaining: 3 });
  });

  it("a reward during a block gives the unit back and reopens the key (follow-up)", async () => {
    // rate-limiter-flexible keeps the key refused after a reward of 1 (its block counts the refused attempt too); ours reopens: docs/rate-limiting.md, "Blocking, penalties and administration" (reward).
    const { limiter, clock } = rl(1, 1, { blockMs: 5000 });
    await consume(limiter, "rb");
    expect((await consume(limiter, "rb")).ok).toBe(false);
    clock.advance(100);
    expect(await limiter.get("rb")).toMatchObject({ used: 1, remaining: 0, retryAfterMs: 4900 });
    expect(await limiter.reward("rb")).toMatchObject({ used: 0, remaining: 1, retryAfterMs: 0 });
    expect((await consume(limiter, "rb")).ok).toBe(true);
    expect((await consume(limiter, "rb")).ok).toBe(false);
  });
});

describe("rate-limiter-flexible RateLimiterQueue (acquire waits in FIFO)", () => {
  it("remove 1 token works and 1 remaining", async () => {
    const { limiter } = rl(2, 1);
    expect((await limiter.acquire("q")).remaining).toBe(1);
  });

  it("remove all tokens works and 0 remaining", async () => {
    const { limiter } = rl(2, 1);
    expect((await limiter.acquire("q", { cost: 2 })).remaining).toBe(0);
  });

  it("return error if try to remove more tokens than allowed", async () => {
    const { limiter } = rl(2, 1);
    await expect(limiter.acquire("q", { cost: 3 })).rejects.toBeInstanceOf(RateLimitExceededError);
  });

  it("queues 1 request and fire it after 1 second", async () => {
    const { limiter, clock } = rl(1, 1);
    const t0 = clock.now();
    await limiter.acquire("q");
    let at = -1;
    let remaining = -1;
    const p = limiter.acquire("q").then((d) => {
      at = clock.now();
      remaining = d.remaining;
    });
    await clock.advanceAsync(999);
    expect(at).toBe(-1);
    await clock.advanceAsync(1);
    await p;
    expect(remaining).toBe(0);
    expect(at - t0 >= 1000).toBe(true);
  });

  it("respects order of queued callbacks", async () => {
    const { limiter, clock } = rl(1, 1);
    const order: number[] = [];
    const ps = [0, 1, 2, 3].map((i) => limiter.acquire("q").then(() => order.push(i)));
    await clock.advanceAsync(3000);
    await Promise.all(ps);
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it("getTokensRemaining works", async () => {
    const { limiter } = rl(2, 1);
    await limiter.acquire("q");
    expect((await limiter.get("q")).remaining).toBe(1);
  });
});

describe("rate-limiter-flexible administration on a TokenBucket (follow-up)", () => {
  it("units owed past the capacity (penalty, set) make the key wait longer; used stays at most the capacity; reward gives back", async () => {
    // rate-limiter-flexible's consumedPoints counts owed units (set 5 of 2 reads 5); our used is at most the limit and they lengthen retryAfterMs: docs/rate-limiting.md, "Blocking, penalties and administration" (get).
    const { clock, store } = manualStore();
    const b = new TokenBucket({ ratePerSec: 1, capacity: 2, clock, store });
    await b.tryAcquire("k", 2);
    await b.penalty("k", 2);
    expect(await b.get("k")).toMatchObject({ used: 2, remaining: 0, retryAfterMs: 3000 });
    await b.reward("k", 2);
    expect((await b.get("k")).retryAfterMs).toBe(1000);
    await b.set("s", 5);
    expect(await b.get("s")).toMatchObject({ used: 2, remaining: 0, retryAfterMs: 4000 });
  });
});
