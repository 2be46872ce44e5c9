/**
 * The keyed limiters' extras on a manual clock: option validation, blockMs, penalty /
 * reward / get / set / delete, spread "even", and leases (sizes, expiry, returns, and that
 * several leasing limiters on one store never admit more than the limit together).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/clock.js";
import { InvalidOptionError } from "../../src/core/errors.js";
import { FixedWindow, SlidingWindow, TokenBucket } from "../../src/limit/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { AsyncStore, rejects } from "./helpers.js";

const shared = (): { clock: ManualClock; store: MemoryStore } => {
  const clock = new ManualClock(1_000_000);
  return { clock, store: new MemoryStore({ clock, sweepIntervalMs: 0 }) };
};

describe("options", () => {
  it("blockMs, spread and lease are validated, naming the option and what is allowed", () => {
    for (const blockMs of [-1, Number.NaN, Infinity, "5"]) {
      rejects(() => new FixedWindow({ limit: 1, windowMs: 1, blockMs: blockMs as number }), "blockMs", blockMs, "a finite number >= 0");
      rejects(() => new TokenBucket({ ratePerSec: 1, blockMs: blockMs as number }), "blockMs", blockMs, "a finite number >= 0");
    }
    rejects(() => new FixedWindow({ limit: 1, windowMs: 1, spread: "odd" as never }), "spread", "odd", 'one of "none", "even"');
    rejects(() => new TokenBucket({ ratePerSec: 1, lease: 5 as never }), "lease", 5, "an object { units, maxHoldMs }");
    for (const units of [0, 1.5, -2, "3", undefined]) {
      rejects(
        () => new TokenBucket({ ratePerSec: 1, lease: { units: units as number, maxHoldMs: 100 } }),
        "lease.units",
        units,
        "an integer >= 1",
      );
    }
    for (const maxHoldMs of [0, -1, Infinity, Number.NaN, undefined]) {
      rejects(
        () => new FixedWindow({ limit: 1, windowMs: 1, lease: { units: 2, maxHoldMs: maxHoldMs as number } }),
        "lease.maxHoldMs",
        maxHoldMs,
        "a finite number > 0",
      );
    }
    rejects(
      () => new FixedWindow({ limit: 1, windowMs: 1, lease: { units: 2, maxHoldMs: 5, unit: 1 } as never }),
      "lease.unit",
      1,
      "one of the known options (units, maxHoldMs)",
    );
    const limiter = new FixedWindow({ limit: 3, windowMs: 1_000, blockMs: 0, spread: "none", lease: { units: 2, maxHoldMs: 50 } });
    expect({ blockMs: limiter.blockMs, spread: limiter.spread, lease: limiter.lease }).toEqual({
      blockMs: 0,
      spread: "none",
      lease: { units: 2, maxHoldMs: 50 },
    });
  });

  it("penalty, reward and set reject bad units and keys without touching the key", async () => {
    const { clock, store } = shared();
    const limiter = new FixedWindow({ name: "adm", limit: 5, windowMs: 1_000, clock, store });
    for (const units of [-1, 1.5, Number.NaN, "2"]) {
      await expect(limiter.penalty("k", units as number)).rejects.toThrow('option "units" must be an integer >= 0');
      await expect(limiter.reward("k", units as number)).rejects.toThrow('option "units" must be an integer >= 0');
      await expect(limiter.set("k", units as number)).rejects.toThrow('option "used" must be an integer >= 0');
    }
    await expect(limiter.get("")).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(limiter.penalty(42 as never)).rejects.toThrow('option "key" must be a non-empty string');
    expect(await limiter.get("k")).toEqual({ used: 0, remaining: 5, limit: 5, retryAfterMs: 0 });
  });
});

describe("blockMs", () => {
  it("FixedWindow: a refusal closes the key for blockMs from then, past its window's end; each refusal starts it again", async () => {
    const { clock, store } = shared();
    const login = new FixedWindow({ name: "login", limit: 2, windowMs: 100, blockMs: 1_000, clock, store });
    await login.tryAcquire("ip");
    await login.tryAcquire("ip");
    expect(await login.tryAcquire("ip")).toMatchObject({ allowed: false, retryAfterMs: 1_000 });
    clock.advance(400);
    expect(await login.get("ip")).toMatchObject({ remaining: 0, retryAfterMs: 600 });
    expect(await login.tryAcquire("ip")).toMatchObject({ allowed: false, retryAfterMs: 1_000 });
    clock.advance(999);
    expect((await login.tryAcquire("other")).allowed).toBe(true);
    expect(await login.get("ip")).toMatchObject({ remaining: 0, retryAfterMs: 1 });
    clock.advance(1);
    expect(await login.tryAcquire("ip")).toMatchObject({ allowed: true, remaining: 1 });
  });

  it("TokenBucket: a refusal pauses the refill for blockMs, then it refills at its rate", async () => {
    const { clock, store } = shared();
    const bucket = new TokenBucket({ name: "tb", capacity: 2, ratePerSec: 10, blockMs: 500, clock, store });
    await bucket.tryAcquire("k", 2);
    expect(await bucket.tryAcquire("k")).toMatchObject({ allowed: false, retryAfterMs: 600 });
    clock.advance(500);
    expect(await bucket.get("k")).toMatchObject({ remaining: 0, retryAfterMs: 100 });
    clock.advance(100);
    expect(await bucket.tryAcquire("k")).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("a take whose cost is over the limit is a refused take too: it closes the key, on any store", async () => {
    for (const store of [shared().store, new AsyncStore()]) {
      const clock = new ManualClock(1_000_000);
      const login = new FixedWindow({ name: "over", limit: 2, windowMs: 100, blockMs: 1_000, clock, store });
      const bucket = new TokenBucket({ name: "over-tb", capacity: 2, ratePerSec: 10, blockMs: 500, clock, store });
      await expect(login.tryAcquire("ip", 3)).rejects.toMatchObject({ retryAfterMs: Infinity });
      // A bucket's block pauses its refill: an empty one stays empty for blockMs.
      await bucket.tryAcquire("ip", 2);
      await expect(bucket.acquire("ip", { cost: 3 })).rejects.toMatchObject({ retryAfterMs: Infinity });
      expect(await login.tryAcquire("ip")).toMatchObject({ allowed: false, retryAfterMs: 1_000 });
      expect(await bucket.get("ip")).toMatchObject({ remaining: 0, retryAfterMs: 600 });
      // Without blockMs nothing is written: the key stays full.
      const plain = new FixedWindow({ name: "plain", limit: 2, windowMs: 100, clock, store });
      await expect(plain.tryAcquire("ip", 3)).rejects.toMatchObject({ retryAfterMs: Infinity });
      expect(await plain.get("ip")).toMatchObject({ used: 0, remaining: 2 });
    }
  });

  it("a waiting acquire() is admitted once the block is over (waiting is not a refusal)", async () => {
    const { clock, store } = shared();
    const login = new FixedWindow({ name: "wait", limit: 1, windowMs: 100, blockMs: 300, clock, store });
    await login.tryAcquire("ip");
    await login.tryAcquire("ip");
    let done = false;
    const waiting = login.acquire("ip").then(() => (done = true));
    await clock.advanceAsync(299);
    expect(done).toBe(false);
    await clock.advanceAsync(1);
    await waiting;
    expect(done).toBe(true);
  });
});

describe("penalty, reward, get, set, delete", () => {
  it("TokenBucket: a penalty can take the bucket below empty, which then takes longer to refill", async () => {
    const { clock, store } = shared();
    const bucket = new TokenBucket({ name: "pen", capacity: 3, ratePerSec: 1, clock, store });
    expect(await bucket.penalty("k", 5)).toEqual({ used: 3, remaining: 0, limit: 3, retryAfterMs: 3_000 });
    clock.advance(2_999);
    expect((await bucket.tryAcquire("k")).allowed).toBe(false);
    clock.advance(1);
    expect(await bucket.reward("k", 10)).toMatchObject({ used: 0, remaining: 3 });
    expect(await bucket.set("k", 3)).toMatchObject({ used: 3, remaining: 0, retryAfterMs: 1_000 });
    await bucket.delete("k");
    expect(await bucket.get("k")).toMatchObject({ used: 0, remaining: 3 });
  });

  it("FixedWindow: units owed past the limit are kept until the window ends, and rewards pay them off first", async () => {
    const { clock, store } = shared();
    const window = new FixedWindow({ name: "owed", limit: 3, windowMs: 1_000, clock, store });
    expect(await window.penalty("k", 5)).toEqual({ used: 3, remaining: 0, limit: 3, retryAfterMs: 1_000 });
    expect(await window.reward("k", 2)).toMatchObject({ used: 3, remaining: 0 });
    expect(await window.reward("k", 1)).toMatchObject({ used: 2, remaining: 1 });
    await window.penalty("k", 4);
    clock.advance(1_000);
    expect(await window.get("k")).toMatchObject({ used: 0, remaining: 3 });
  });

  it("FixedWindow: set starts a fresh window from now; reward never goes below zero", async () => {
    const { clock, store } = shared();
    const window = new FixedWindow({ name: "set", limit: 4, windowMs: 1_000, clock, store });
    await window.tryAcquire("k", 3);
    clock.advance(900);
    expect(await window.set("k", 2)).toEqual({ used: 2, remaining: 2, limit: 4, retryAfterMs: 0 });
    clock.advance(500);
    expect(await window.reward("k", 9)).toMatchObject({ used: 0, remaining: 4 });
    expect(await window.penalty("k", 0)).toMatchObject({ used: 0, remaining: 4 });
  });
});

describe("a key freed while acquire() calls wait on it", () => {
  it("reward, set, delete and reset let its waiters in at once, not at the end of their wait", async () => {
    for (const free of ["reward", "set", "delete", "reset"] as const) {
      const { clock, store } = shared();
      const window = new FixedWindow({ name: `free-${free}`, limit: 1, windowMs: 3_600_000, clock, store });
      await window.acquire("k");
      let admitted = false;
      const waiting = window.acquire("k").then(() => (admitted = true));
      await clock.advanceAsync(10);
      expect(admitted).toBe(false);
      if (free === "reward") await window.reward("k");
      else if (free === "set") await window.set("k", 0);
      else await window[free]("k");
      await clock.advanceAsync(1);
      expect(admitted, free).toBe(true);
      expect(window.waiting("k")).toBe(0);
      await waiting;
    }
  });

  it("a reset of a sliding window wakes its waiters too; other keys' waiters keep waiting", async () => {
    const { clock, store } = shared();
    const window = new SlidingWindow({ name: "slide", limit: 1, windowMs: 60_000, clock, store });
    await window.acquire("a");
    await window.acquire("b");
    let aDone = false;
    const a = window.acquire("a").then(() => (aDone = true));
    let bDone = false;
    const b = window.acquire("b").then(() => (bDone = true));
    await clock.advanceAsync(5);
    await window.reset("a");
    await clock.advanceAsync(1);
    expect(aDone).toBe(true);
    expect(bDone).toBe(false);
    await a;
    await clock.advanceAsync(60_000);
    await b;
  });
});

describe('spread: "even"', () => {
  it("each acquire() waits resetAfterMs / (remaining + 2) after its admission; the first of a window does not", async () => {
    const { clock, store } = shared();
    const even = new FixedWindow({ name: "even", limit: 4, windowMs: 800, spread: "even", clock, store });
    const at: number[] = [];
    const start = clock.now();
    const run = (async () => {
      for (let i = 0; i < 4; i++) {
        await even.acquire("k");
        at.push(clock.now() - start);
      }
    })();
    for (let i = 0; i < 20 && at.length < 4; i++) await clock.advanceAsync(50);
    await run;
    // 800/4 after the second, 600/3 after the third, 400/2 after the fourth: windowMs / limit apart.
    expect(at).toEqual([0, 200, 400, 600]);
  });

  it("an abort during the spread's wait rejects with the signal's reason", async () => {
    const { clock, store } = shared();
    const even = new FixedWindow({ name: "even-abort", limit: 4, windowMs: 800, spread: "even", clock, store });
    await even.acquire("k");
    const controller = new AbortController();
    const second = even.acquire("k", { signal: controller.signal });
    controller.abort(new Error("gone"));
    await expect(second).rejects.toThrow("gone");
  });
});

/** Time between calls: bursts (0), trickles, and pauses long enough for a bucket to refill. */
const gap = fc.oneof(
  { weight: 5, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 50 }) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 1_500 }) },
);

describe("leases", () => {
  it("answers from the lease without asking the store, and takes a new one when it is spent", async () => {
    const clock = new ManualClock(0);
    const store = new AsyncStore();
    const limiter = new FixedWindow({ name: "lease", limit: 100, windowMs: 60_000, lease: { units: 4, maxHoldMs: 10_000 }, clock, store });
    for (let i = 0; i < 4; i++) expect((await limiter.tryAcquire("k")).allowed).toBe(true);
    expect(store.applied).toBe(1);
    expect(limiter.leased("k")).toBe(0);
    // Spent well within half its hold: the next lease is twice the size (up to units: 4).
    expect((await limiter.tryAcquire("k")).allowed).toBe(true);
    expect(store.applied).toBe(2);
    expect(limiter.leased("k")).toBe(3);
    await limiter.close();
  });

  it("concurrent calls share one lease request; a refused one refuses them all without more round trips", async () => {
    const clock = new ManualClock(0);
    const store = new AsyncStore();
    const limiter = new FixedWindow({ name: "burst", limit: 10, windowMs: 60_000, lease: { units: 8, maxHoldMs: 10_000 }, clock, store });
    const answers = await Promise.all(Array.from({ length: 32 }, () => limiter.tryAcquire("k")));
    expect(answers.filter((d) => d.allowed)).toHaveLength(10);
    expect(store.applied).toBeLessThan(10);
    await limiter.close();
  });

  it("unspent units go back before the hold ends, and a window lease never outlives its window", async () => {
    const { clock, store } = shared();
    const bucket = new TokenBucket({ name: "tbh", capacity: 100, ratePerSec: 0.001, lease: { units: 8, maxHoldMs: 1_000 }, clock, store });
    await bucket.tryAcquire("k");
    expect(bucket.leased("k")).toBe(7);
    expect(await bucket.get("k")).toMatchObject({ used: 8 });
    await clock.advanceAsync(960);
    expect(bucket.leased("k")).toBe(0);
    expect(await bucket.get("k")).toMatchObject({ used: 1 });

    const window = new FixedWindow({ name: "fwh", limit: 100, windowMs: 500, lease: { units: 8, maxHoldMs: 10_000 }, clock, store });
    await window.tryAcquire("k");
    expect(window.leased("k")).toBe(7);
    await clock.advanceAsync(500);
    expect(window.leased("k")).toBe(0);
    // A fresh window: the 7 units of the old one are not carried into it.
    expect(await window.get("k")).toMatchObject({ used: 0 });
    await bucket.close();
    await window.close();
  });

  it("a cost over the limit is refused once, with one rejected event", async () => {
    const { clock, store } = shared();
    const bucket = new TokenBucket({ name: "lease-over", capacity: 4, ratePerSec: 4, lease: { units: 2, maxHoldMs: 500 }, clock, store });
    const rejected: number[] = [];
    bucket.on("rejected", (e) => rejected.push(e.cost));
    await expect(bucket.acquire("k", { cost: 5 })).rejects.toMatchObject({ retryAfterMs: Infinity });
    await expect(bucket.tryAcquire("k", 5)).rejects.toMatchObject({ retryAfterMs: Infinity });
    expect(rejected).toEqual([5, 5]);
  });

  it("reset() and delete() drop this process's lease on the key", async () => {
    const { clock, store } = shared();
    const limiter = new FixedWindow({ name: "drop", limit: 10, windowMs: 60_000, lease: { units: 4, maxHoldMs: 10_000 }, clock, store });
    await limiter.tryAcquire("k");
    expect(limiter.leased("k")).toBe(3);
    await limiter.delete("k");
    expect(limiter.leased("k")).toBe(0);
    expect(await limiter.get("k")).toMatchObject({ used: 0 });
  });

  it("a token bucket shared by leasing limiters never admits more than capacity + rate × t in any span t", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 3 }), gap), { minLength: 1, maxLength: 150 }),
        fc.constantFrom(50, 300, 2_000),
        async (steps, maxHoldMs) => {
          const { clock, store } = shared();
          const options = { name: "fleet", capacity: 10, ratePerSec: 10, lease: { units: 6, maxHoldMs }, clock, store };
          const fleet = [new TokenBucket(options), new TokenBucket(options), new TokenBucket(options)];
          const admitted: [number, number][] = [];
          for (const [who, cost, dt] of steps) {
            await clock.advanceAsync(dt);
            if ((await (fleet[who] as TokenBucket).tryAcquire("k", cost)).allowed) admitted.push([clock.now(), cost]);
          }
          for (const limiter of fleet) await limiter.close();
          for (let i = 0; i < admitted.length; i++) {
            let sum = 0;
            for (let j = i; j < admitted.length; j++) {
              sum += (admitted[j] as [number, number])[1];
              const span = (admitted[j] as [number, number])[0] - (admitted[i] as [number, number])[0];
              expect(sum).toBeLessThanOrEqual(10 + (10 * span) / 1000 + 1e-9);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("a fixed window shared by leasing limiters never admits more than its limit in a window, and admits all of it under demand", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 20 })), {
          minLength: 1,
          maxLength: 150,
        }),
        async (steps) => {
          const { clock, store } = shared();
          const options = { name: "fleetfw", limit: 25, windowMs: 1_000_000, lease: { units: 8, maxHoldMs: 500 }, clock, store };
          const fleet = [new FixedWindow(options), new FixedWindow(options), new FixedWindow(options), new FixedWindow(options)];
          let total = 0;
          for (const [who, cost, dt] of steps) {
            await clock.advanceAsync(dt);
            if ((await (fleet[who] as FixedWindow).tryAcquire("k", cost)).allowed) total += cost;
          }
          expect(total).toBeLessThanOrEqual(25);
          // Then every limiter asks until refused: with the leases given back or spent, all 25 go.
          for (let round = 0; round < 100; round++) {
            let any = false;
            for (const limiter of fleet) {
              if ((await limiter.tryAcquire("k")).allowed) {
                total++;
                any = true;
              }
            }
            if (!any) break;
          }
          expect(total).toBe(25);
          for (const limiter of fleet) await limiter.close();
          // Every unit leased was spent, returned or expired, once.
          for (const limiter of fleet) {
            const stats = limiter.leaseStats();
            expect(stats?.held).toBe(0);
            expect((stats?.spent ?? 0) + (stats?.returned ?? 0) + (stats?.expired ?? 0)).toBe(stats?.granted);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
