/**
 * Ported from bottleneck test/group.js and test/general.js ("Counts and statuses", "High
 * water limit", "Weight", "Reservoir Refresh", "Reservoir Increase") (SGrondin/bottleneck,
 * installed at node_modules/bottleneck/test), on a ManualClock.
 *
 * API mapping, besides test/peers/bottleneck.test.ts's (maxConcurrent -> bulkhead, minTime ->
 * TokenBucket({ ratePerSec: 1000 / minTime, capacity: 1 }), reservoir refresh -> FixedWindow):
 * - Group({ minTime }).key(k).schedule(fn) -> one keyed TokenBucket: execute(fn, { key: k });
 *   a limiter's id -> storeKey(k) (`limit:<name>:{k}`); deleteKey(k) -> delete(k); the
 *   Group's idle cleanup (`timeout`) -> the store dropping idle keys (`sweep`).
 * - reservoirIncreaseAmount per reservoirIncreaseInterval up to reservoirIncreaseMaximum ->
 *   TokenBucket({ ratePerSec: amount * 1000 / interval, capacity: maximum }); a reservoir
 *   starting below its maximum -> set(key, capacity - reservoir).
 * - currentReservoir() -> get(key).remaining; incrementReservoir(n) -> reward(key, n);
 *   updateSettings({ reservoir: n }) -> set(key, limit - n); a job's weight -> cost.
 * - check() -> get(key).retryAfterMs === 0; queued() -> waiting(key).
 * Each case keeps the peer's assertion, translated, except where Breakwater deliberately
 * differs: there a comment names what bottleneck asserts and the page that says so.
 */
import { describe, expect, it } from "vitest";
import { BulkheadRejectedError, FixedWindow, MemoryStore, TokenBucket, bulkhead, pipeline } from "../../src/index.js";
import { manualStore } from "./helpers.js";

describe("bottleneck group.js (Group -> one keyed limiter)", () => {
  /** A Group({ minTime: 100 }): a bucket of one token refilled every 100 ms, per key. */
  function group() {
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({ ratePerSec: 10, capacity: 1, clock, store });
    const results: unknown[][] = [];
    const job =
      (...result: unknown[]) =>
      async () => {
        results.push(result);
        await clock.sleep(50);
      };
    return { clock, store, limiter, results, job };
  }

  it("Should create limiters (one per key, each with its own pace)", async () => {
    const { clock, limiter, results, job } = group();
    const ps = [limiter.execute(job(1, 2), { key: "A" }), limiter.execute(job(3), { key: "A" }), limiter.execute(job(4), { key: "A" })];
    const later = [
      clock.sleep(20).then(() => limiter.execute(job(5), { key: "B" })),
      clock.sleep(40).then(() => Promise.all([limiter.execute(job(6), { key: "C" }), limiter.execute(job(7), { key: "C" })])),
    ];
    await clock.advanceAsync(400);
    await Promise.all([...ps, ...later]);
    expect(results).toEqual([[1, 2], [5], [6], [3], [7], [4]]);
  });

  it("Should pass error on failure (the other keys go on)", async () => {
    const { clock, limiter, results, job } = group();
    const ps = [limiter.execute(job(1, 2), { key: "A" }), limiter.execute(job(3), { key: "A" }), limiter.execute(job(4), { key: "A" })];
    const failed = limiter
      .execute(() => Promise.reject(new Error("SOMETHING BLEW UP!!")), { key: "B" })
      .catch((e: Error) => results.push(["CAUGHT", e.message]));
    const later = clock.sleep(40).then(() => Promise.all([limiter.execute(job(6), { key: "C" }), limiter.execute(job(7), { key: "C" })]));
    await clock.advanceAsync(400);
    await Promise.all([...ps, failed, later]);
    expect(results).toEqual([[1, 2], ["CAUGHT", "SOMETHING BLEW UP!!"], [6], [3], [7], [4]]);
  });

  it("Should set up the limiter IDs (default and custom): the name and the key in the store key", () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const byDefault = new TokenBucket({ ratePerSec: 10, capacity: 1, store });
    const custom = new TokenBucket({ name: "custom-id", ratePerSec: 10, capacity: 1, store });
    expect(["A", "B", "XYZ"].map((k) => byDefault.storeKey(k))).toEqual([
      "limit:tokenBucket:{A}",
      "limit:tokenBucket:{B}",
      "limit:tokenBucket:{XYZ}",
    ]);
    expect(["A", "B", "XYZ"].map((k) => custom.storeKey(k))).toEqual([
      "limit:custom-id:{A}",
      "limit:custom-id:{B}",
      "limit:custom-id:{XYZ}",
    ]);
  });

  it("Should support keys() and deleteKey(): a deleted key leaves the store", async () => {
    // bottleneck's deleteKey resolves true, then false for a key already gone; ours resolves nothing, and keys() has no equivalent (the store's size stands in).
    const { clock } = manualStore();
    const store = new MemoryStore({ sweepIntervalMs: 0, clock });
    const limiter = new TokenBucket({ ratePerSec: 10, capacity: 1, clock, store });
    expect(await limiter.execute(() => 1, { key: "AAA" })).toBe(1);
    expect(await limiter.execute(() => 2, { key: "BBB" })).toBe(2);
    expect(store.size).toBe(2);
    expect(await limiter.delete("AAA")).toBeUndefined();
    expect(store.size).toBe(1);
    await limiter.delete("AAA");
    expect(store.size).toBe(1);
  });

  it("Should call autocleanup: an idle key is dropped once its state is back to full", async () => {
    const { clock, store, limiter } = group();
    await limiter.execute(() => undefined, { key: "test-key" });
    expect(store.size).toBe(1);
    clock.advance(50);
    expect(store.sweep(clock.now())).toBe(0);
    clock.advance(50);
    expect(store.sweep(clock.now())).toBe(1);
    expect(store.size).toBe(0);
  });
});

describe("bottleneck general.js: maxConcurrent and minTime together", () => {
  function scheduler(maxConcurrent: number, minTime: number) {
    const { clock, store } = manualStore();
    const p = pipeline(
      bulkhead({ maxConcurrent, maxQueue: 1_000 }),
      new TokenBucket({ ratePerSec: 1000 / minTime, capacity: 1, clock, store }),
    );
    const starts: Array<[number, number]> = [];
    const job = (id: number, ms: number) => async () => {
      starts.push([id, clock.now()]);
      if (ms > 0) await clock.sleep(ms);
      return id;
    };
    return { clock, p, starts, job };
  }

  it("maxConcurrent 1, minTime 100, a 500 ms job first: the next jobs start at 500, 600, 700 (minTime between starts)", async () => {
    const { clock, p, starts, job } = scheduler(1, 100);
    const all = Promise.all([p.execute(job(1, 500)), p.execute(job(2, 0)), p.execute(job(3, 0)), p.execute(job(4, 0))]);
    await clock.advanceAsync(1_000);
    expect(await all).toEqual([1, 2, 3, 4]);
    expect(starts).toEqual([
      [1, 0],
      [2, 500],
      [3, 600],
      [4, 700],
    ]);
  });

  it("maxConcurrent 2, minTime 100, 250 ms jobs: starts at 0, 100, then as slots free (250, 350)", async () => {
    const { clock, p, starts, job } = scheduler(2, 100);
    const all = Promise.all([1, 2, 3, 4].map((i) => p.execute(job(i, 250))));
    await clock.advanceAsync(1_000);
    await all;
    expect(starts).toEqual([
      [1, 0],
      [2, 100],
      [3, 250],
      [4, 350],
    ]);
  });

  it("Should check() and return the queued count", async () => {
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({ ratePerSec: 10, capacity: 1, clock, store });
    const check = async (): Promise<boolean> => (await limiter.get("k")).retryAfterMs === 0;
    const starts: Array<[number, number]> = [];
    const job = (id: number) => () => starts.push([id, clock.now()]);
    expect(await check()).toBe(true);
    expect(limiter.waiting("k")).toBe(0);
    const ps = [limiter.execute(job(1), { key: "k" })];
    await ps[0];
    expect(limiter.waiting("k")).toBe(0);
    expect(await check()).toBe(false);
    for (const id of [2, 3, 4]) {
      ps.push(limiter.execute(job(id), { key: "k" }));
      expect(limiter.waiting("k")).toBe(id - 1);
    }
    await clock.advanceAsync(500);
    await Promise.all(ps);
    expect(limiter.waiting("k")).toBe(0);
    expect(starts).toEqual([
      [1, 0],
      [2, 100],
      [3, 200],
      [4, 300],
    ]);
  });

  it("Should support highWater set to 0 (only the running job; the others are refused)", async () => {
    // bottleneck drops them silently (rejectOnDrop: false); our bulkhead rejects each with BulkheadRejectedError: docs/bulkhead.md, opening paragraph.
    const { clock } = manualStore();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 0 });
    const ran: number[] = [];
    const ps = [1, 2, 3, 4].map((i) =>
      b
        .execute(async () => {
          ran.push(i);
          await clock.sleep(50);
          return i;
        })
        .catch((e: unknown) => e),
    );
    await clock.advanceAsync(100);
    const out = await Promise.all(ps);
    expect(ran).toEqual([1]);
    expect(out[0]).toBe(1);
    expect(out.slice(1).every((e) => e instanceof BulkheadRejectedError)).toBe(true);
  });
});

describe("bottleneck general.js: reservoir", () => {
  it("Should auto-increase the reservoir up to a maximum (3, +5 per 150 ms, at most 6; weights 1..5)", async () => {
    // bottleneck adds 5 every 150 ms, at once: jobs start at 0, 0, 150, 300, 450, leaving 1. Our bucket refills continuously (33.3 a second): at 0, 0, 90, 210, 360, and 3 left at 450: docs/rate-limiting.md, "The algorithms" (TokenBucket: "tokens refill continuously").
    const { clock, store } = manualStore();
    const reservoir = new TokenBucket({ ratePerSec: (5 * 1000) / 150, capacity: 6, clock, store });
    await reservoir.set("r", 3);
    expect((await reservoir.get("r")).remaining).toBe(3);
    const starts: Array<[number, number]> = [];
    const ps = [1, 2, 3, 4, 5].map((w) => reservoir.execute(() => starts.push([w, clock.now()]), { key: "r", cost: w }));
    await clock.advanceAsync(450);
    await Promise.all(ps);
    expect(starts.map(([w]) => w)).toEqual([1, 2, 3, 4, 5]);
    const at = starts.map(([, t]) => t);
    [0, 0, 90, 210, 360].forEach((t, i) => expect(Math.abs((at[i] as number) - t)).toBeLessThanOrEqual(1));
    expect((await reservoir.get("r")).remaining).toBe(3);
  });

  it("Should allow staggered X by Y type usage (increase: 2, +2 per 150 ms)", async () => {
    // bottleneck starts jobs 3 and 4 together at 150; our bucket refills continuously, one token per 75 ms: docs/rate-limiting.md, "The algorithms" (TokenBucket).
    const { clock, store } = manualStore();
    const reservoir = new TokenBucket({ ratePerSec: (2 * 1000) / 150, capacity: 2, clock, store });
    const starts: Array<[number, number]> = [];
    const ps = [1, 2, 3, 4].map((id) => reservoir.execute(() => starts.push([id, clock.now()]), { key: "r" }));
    await clock.advanceAsync(150);
    await Promise.all(ps);
    expect(starts).toEqual([
      [1, 0],
      [2, 0],
      [3, 75],
      [4, 150],
    ]);
    expect((await reservoir.get("r")).remaining).toBe(0);
  });

  it("Should overflow at the correct rate: incrementReservoir and a new reservoir start queued jobs at once", async () => {
    const { clock, store } = manualStore();
    // A reservoir of 3 that is never refreshed: a window far longer than the case.
    const reservoir = new FixedWindow({ limit: 3, windowMs: 3_600_000, clock, store });
    const starts: Array<[number, number]> = [];
    const job = (id: number) => () => starts.push([id, clock.now()]);
    const p1 = reservoir.execute(job(1), { key: "r", cost: 1 });
    const p2 = reservoir.execute(job(2), { key: "r", cost: 2 });
    const p3 = reservoir.execute(job(3), { key: "r", cost: 1 });
    const p4 = reservoir.execute(job(4), { key: "r", cost: 1 });
    await Promise.all([p1, p2]);
    expect(reservoir.waiting("r")).toBe(2);
    expect((await reservoir.get("r")).remaining).toBe(0);
    clock.advance(100);
    // incrementReservoir(1): job 3 starts now, job 4 still waits.
    expect((await reservoir.reward("r", 1)).remaining).toBe(1);
    await clock.advanceAsync(10);
    expect(starts).toEqual([
      [1, 0],
      [2, 0],
      [3, 100],
    ]);
    expect(reservoir.waiting("r")).toBe(1);
    // updateSettings({ reservoir: 1 }): job 4 starts now.
    await reservoir.set("r", 2);
    await clock.advanceAsync(10);
    expect(starts[3]).toEqual([4, 110]);
    await Promise.all([p3, p4]);
    expect((await reservoir.get("r")).remaining).toBe(0);
  });
  it("a key deleted (the reservoir set back to full) lets its waiting jobs in at once (follow-up)", async () => {
    const { clock, store } = manualStore();
    const reservoir = new FixedWindow({ limit: 1, windowMs: 3_600_000, clock, store });
    await reservoir.acquire("r");
    let at = -1;
    const waiting = reservoir.acquire("r").then(() => (at = clock.now()));
    await clock.advanceAsync(100);
    await reservoir.delete("r");
    await clock.advanceAsync(10);
    expect(at).toBe(100);
    await waiting;
  });
});
