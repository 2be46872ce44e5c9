/**
 * Ported from bottleneck test/general.js, priority.js, promises.js (SGrondin/bottleneck,
 * installed at node_modules/bottleneck/test). Bottleneck's scheduler maps to Breakwater as:
 * maxConcurrent -> bulkhead({ maxConcurrent, maxQueue }); minTime -> TokenBucket({ ratePerSec:
 * 1000 / minTime, capacity: 1 }) awaited with acquire(); reservoir refresh -> FixedWindow.
 * Each case keeps the peer's assertion, translated to Breakwater's API, except where Breakwater
 * deliberately differs: there the case asserts Breakwater's documented behaviour, and a comment
 * names what bottleneck asserts and where our docs state the difference.
 */
import { describe, expect, it } from "vitest";
import {
  BulkheadRejectedError,
  FixedWindow,
  ManualClock,
  TimeoutError,
  TokenBucket,
  bulkhead,
  pipeline,
  timeout,
} from "../../src/index.js";
import { manualStore } from "./helpers.js";

function scheduler(opts: { maxConcurrent?: number; minTime?: number; highWater?: number }) {
  const { clock, store } = manualStore();
  const policies = [];
  if (opts.maxConcurrent !== undefined)
    policies.push(bulkhead({ maxConcurrent: opts.maxConcurrent, maxQueue: opts.highWater ?? 1_000_000 }));
  if (opts.minTime !== undefined && opts.minTime > 0)
    policies.push(new TokenBucket({ ratePerSec: 1000 / opts.minTime, capacity: 1, clock, store }));
  const p = pipeline(...policies);
  const results: Array<{ id: number; at: number }> = [];
  const job =
    (id: number, ms = 0) =>
    async () => {
      if (ms > 0) await clock.sleep(ms);
      results.push({ id, at: clock.now() });
      return id;
    };
  return { clock, p, results, job };
}

describe("bottleneck general.js / promises.js", () => {
  it("Should support promises (maxConcurrent 1, minTime 100): 3 jobs in order, 200 ms", async () => {
    const { clock, p, results, job } = scheduler({ maxConcurrent: 1, minTime: 100 });
    const all = Promise.all([1, 2, 3].map((i) => p.execute(job(i))));
    await clock.advanceAsync(1000);
    expect(await all).toEqual([1, 2, 3]);
    expect(results).toEqual([
      { id: 1, at: 0 },
      { id: 2, at: 100 },
      { id: 3, at: 200 },
    ]);
  });

  it("Should pass error on failure", async () => {
    const { p } = scheduler({ maxConcurrent: 1 });
    await expect(
      p.execute(async () => {
        throw new Error("fail");
      }),
    ).rejects.toThrow("fail");
  });

  it("Should allow non-Promise returns", async () => {
    const { p } = scheduler({ maxConcurrent: 1 });
    expect(await p.execute(() => "x")).toBe("x");
  });

  it("Should automatically wrap an exception in a rejected promise", async () => {
    const { p } = scheduler({ maxConcurrent: 1 });
    await expect(
      p.execute(() => {
        throw new Error("I will reject");
      }),
    ).rejects.toThrow("I will reject");
  });

  it("maxConcurrent 1 + minTime 100 with a 50 ms job first: 5 jobs take 400 ms", async () => {
    const { clock, p, results, job } = scheduler({ maxConcurrent: 1, minTime: 100 });
    const all = Promise.all([p.execute(job(1, 50)), ...[2, 3, 4, 5].map((i) => p.execute(job(i)))]);
    await clock.advanceAsync(1000);
    await all;
    expect(results.map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    expect(results[results.length - 1]?.at).toBe(400);
  });

  it("Should return the running counts (maxConcurrent 5)", async () => {
    const { clock, results, job } = scheduler({});
    const b = bulkhead({ maxConcurrent: 5, maxQueue: 100 });
    const ps = [b.execute(job(1, 100)), b.execute(job(2, 200)), b.execute(job(3, 100))];
    expect(b.running).toBe(3);
    await clock.advanceAsync(125);
    expect(b.running).toBe(1);
    await clock.advanceAsync(100);
    expect(b.running).toBe(0);
    await Promise.all(ps);
    expect(results.map((r) => r.id)).toEqual([1, 3, 2]);
  });

  it("Should support highWater set to 1 (the newcomer is rejected; the oldest queued job runs)", async () => {
    // bottleneck asserts jobs 1 and 4 run (its default LEAK strategy drops the oldest queued job); our bulkhead rejects the newcomer at once: docs/bulkhead.md, opening paragraph.
    const { clock, p, results, job } = scheduler({ maxConcurrent: 1, highWater: 1 });
    const ps = [1, 2, 3, 4].map((i) => p.execute(job(i, 50)).catch((e: unknown) => e));
    await clock.advanceAsync(200);
    const out = await Promise.all(ps);
    expect(results).toEqual([
      { id: 1, at: 50 },
      { id: 2, at: 100 },
    ]);
    expect(out.slice(0, 2)).toEqual([1, 2]);
    expect(out[2]).toBeInstanceOf(BulkheadRejectedError);
    expect(out[3]).toBeInstanceOf(BulkheadRejectedError);
  });

  it("Expiration: should cancel jobs (timeout inside the concurrency cap frees the slot)", async () => {
    const clock = new ManualClock();
    const b = bulkhead({ maxConcurrent: 2 });
    const slow = b.execute(() => clock.sleep(150).then(() => 1));
    const expiring = b.execute(({ signal }) =>
      timeout(50, { clock, mode: "aggressive" }).execute(() => clock.sleep(75, signal).then(() => 2)),
    );
    expiring.catch(() => {});
    await clock.advanceAsync(50);
    const e = await expiring.catch((x) => x);
    expect(e).toBeInstanceOf(TimeoutError);
    expect(b.running).toBe(1);
    await clock.advanceAsync(100);
    expect(await slow).toBe(1);
    expect(b.running).toBe(0);
  });
});

describe("bottleneck reservoir (general.js 'Reservoir Refresh')", () => {
  /** Runs jobs of the given weights through a window of `limit` per 150 ms for `forMs`; each job's [weight or id, start time]. */
  async function reservoir(limit: number, jobs: Array<{ id: number; cost: number }>, forMs: number) {
    const { clock, store } = manualStore();
    const r = new FixedWindow({ limit, windowMs: 150, clock, store });
    const starts: Array<[number, number]> = [];
    const ps = jobs.map(({ id, cost }) => r.execute(async () => starts.push([id, clock.now()]), { cost }));
    await clock.advanceAsync(forMs);
    await Promise.all(ps);
    return { starts, remaining: (await r.get()).remaining };
  }

  it("Should allow staggered X by Y type usage (reservoir 2 refreshed to 2 every 150 ms)", async () => {
    const { starts, remaining } = await reservoir(
      2,
      [1, 2, 3, 4].map((id) => ({ id, cost: 1 })),
      150,
    );
    expect(starts).toEqual([
      [1, 0],
      [2, 0],
      [3, 150],
      [4, 150],
    ]);
    expect(remaining).toBe(0);
  });

  it("weights as costs: jobs of weight 1..5 against a window of 5 per 150 ms run in order", async () => {
    const { starts } = await reservoir(
      5,
      [1, 2, 3, 4, 5].map((w) => ({ id: w, cost: w })),
      1000,
    );
    // 1+2 at 0; 3 at 150; 4 at 300; 5 at 450 (FIFO: no job passes a heavier one ahead of it)
    expect(starts).toEqual([
      [1, 0],
      [2, 0],
      [3, 150],
      [4, 300],
      [5, 450],
    ]);
  });

  it("Should not add jobs with a weight above the capacity (rejects at once)", async () => {
    const clock = new ManualClock();
    const r = new FixedWindow({ limit: 2, windowMs: 150, clock });
    await expect(r.execute(async () => 3, { cost: 3 })).rejects.toMatchObject({ retryAfterMs: Infinity });
    await r.close();
  });
});
