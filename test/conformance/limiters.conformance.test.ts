/**
 * The store conformance suite for limiters: every scenario runs the public limiters
 * (TokenBucket, SlidingWindow exact and approximate, FixedWindow, AdaptiveRateLimiter)
 * with each store as their `store` option — MemoryStore and RedisStore on ioredis,
 * node-redis and both on a three-master cluster — all at once, and every store must
 * produce the same log, which must also be the expected one.
 *
 * Time: Redis decides with its server's TIME, so these scenarios use the real clock and
 * are written so that their outcome does not depend on exact milliseconds: long windows
 * and slow refills where nothing must change during a step, short ones (≤ 200 ms) waited
 * out with a margin of at least 100 ms, and times logged as ranges. Exact agreement of
 * the algorithms, at chosen times, is the twins suite's job (twins.conformance.test.ts).
 */
import { describe, expect, it } from "vitest";
import {
  AdaptiveRateLimiter,
  type AdaptivePermit,
  type BackoffSignal,
  FixedWindow,
  type KeyUsage,
  type RateLimitDecision,
  RateLimitExceededError,
  type RateLimiter,
  SlidingWindow,
  type Store,
  TokenBucket,
} from "../../src/index.js";
import { backendsForFile } from "./backends.js";

const backends = backendsForFile();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A time as a range that does not depend on the exact ms: "0", "<=N" (at most N) or ">N". */
function within(ms: number, ...bounds: number[]): string {
  if (ms === 0) return "0";
  if (ms === Infinity) return "forever";
  for (const b of bounds) if (ms <= b) return `<=${b}`;
  return `>${bounds[bounds.length - 1] ?? 0}`;
}

/** One decision as a log line: whether it was allowed, what remains, and when to retry (as a range). */
function line(d: RateLimitDecision, ...bounds: number[]): string {
  return `${d.allowed ? "allowed" : "refused"} remaining=${d.remaining}/${d.limit} retry=${within(d.retryAfterMs, ...bounds)}`;
}

async function tries(limiter: RateLimiter, key: string, costs: readonly number[], ...bounds: number[]): Promise<string[]> {
  const out: string[] = [];
  for (const cost of costs) out.push(line(await limiter.tryAcquire(key, cost), ...bounds));
  return out;
}

interface Scenario {
  readonly name: string;
  run(store: Store): Promise<string[]>;
  readonly expected: readonly string[];
}

const HOUR = 3_600_000;

const scenarios: Scenario[] = [
  {
    name: "TokenBucket: a burst up to capacity, then refusals until a refill; keys are separate; reset() refills",
    async run(store) {
      const limiter = new TokenBucket({ name: "tb", capacity: 5, ratePerSec: 5 / 3_600, store });
      const log = await tries(limiter, "a", [1, 1, 3, 1, 0], 1_000, HOUR);
      log.push("--", ...(await tries(limiter, "b", [4, 2], 1_000, HOUR)));
      await limiter.reset("a");
      log.push("--", ...(await tries(limiter, "a", [5], 1_000, HOUR)));
      return log;
    },
    expected: [
      "allowed remaining=4/5 retry=0",
      "allowed remaining=3/5 retry=0",
      "allowed remaining=0/5 retry=0",
      "refused remaining=0/5 retry=<=3600000",
      "allowed remaining=0/5 retry=0",
      "--",
      "allowed remaining=1/5 retry=0",
      "refused remaining=1/5 retry=<=3600000",
      "--",
      "allowed remaining=0/5 retry=0",
    ],
  },
  {
    name: "TokenBucket: waiting acquire() calls are admitted in FIFO order at the refill rate",
    async run(store) {
      const limiter = new TokenBucket({ name: "tbwait", capacity: 1, ratePerSec: 20, store });
      const order: number[] = [];
      const started = Date.now();
      await Promise.all([0, 1, 2, 3].map((i) => limiter.acquire("k").then(() => order.push(i))));
      const elapsed = Date.now() - started;
      return [`order ${order.join(",")}`, `took ${elapsed >= 120 ? ">=120" : "<120"} ms`];
    },
    expected: ["order 0,1,2,3", "took >=120 ms"],
  },
  {
    name: "SlidingWindow exact: never more than limit units in the window; a refused acquire() rejects when the wait is too long",
    async run(store) {
      const limiter = new SlidingWindow({ name: "exact", limit: 4, windowMs: 60_000, store });
      const log = await tries(limiter, "a", [1, 2, 1, 1], 1_000, 60_000);
      const refused = await limiter.acquire("a", { maxWaitMs: 100 }).then(
        () => "admitted",
        (e: unknown) => (e instanceof RateLimitExceededError ? `rejected retry=${within(e.retryAfterMs, 1_000, 60_000)}` : String(e)),
      );
      log.push(refused);
      const short = new SlidingWindow({ name: "exact-short", limit: 2, windowMs: 150, store });
      log.push("--", ...(await tries(short, "s", [1, 1, 1], 150, 1_000)));
      await sleep(300);
      log.push(...(await tries(short, "s", [2], 150, 1_000)));
      return log;
    },
    expected: [
      "allowed remaining=3/4 retry=0",
      "allowed remaining=1/4 retry=0",
      "allowed remaining=0/4 retry=0",
      "refused remaining=0/4 retry=<=60000",
      "rejected retry=<=60000",
      "--",
      "allowed remaining=1/2 retry=0",
      "allowed remaining=0/2 retry=0",
      "refused remaining=0/2 retry=<=150",
      "allowed remaining=0/2 retry=0",
    ],
  },
  {
    name: "SlidingWindow approximate: counts within the window; refuses past the limit",
    async run(store) {
      const limiter = new SlidingWindow({ name: "approx", limit: 4, windowMs: HOUR, precision: "approximate", store });
      const log = await tries(limiter, "a", [1, 2, 1, 1, 0], 1_000, 2 * HOUR);
      log.push("--", ...(await tries(limiter, "b", [4, 1], 1_000, 2 * HOUR)));
      return log;
    },
    expected: [
      "allowed remaining=3/4 retry=0",
      "allowed remaining=1/4 retry=0",
      "allowed remaining=0/4 retry=0",
      "refused remaining=0/4 retry=<=7200000",
      "allowed remaining=0/4 retry=0",
      "--",
      "allowed remaining=0/4 retry=0",
      "refused remaining=0/4 retry=<=7200000",
    ],
  },
  {
    name: "FixedWindow: limit units per window; the count starts again when the window closes",
    async run(store) {
      const limiter = new FixedWindow({ name: "fixed", limit: 3, windowMs: 150, store });
      const log = await tries(limiter, "a", [1, 2, 1], 150, 1_000);
      await sleep(300);
      log.push(...(await tries(limiter, "a", [1], 150, 1_000)));
      const long = new FixedWindow({ name: "fixed-long", limit: 10, windowMs: 60_000, store });
      log.push("--", ...(await tries(long, "a", [10, 1], 1_000, 60_000)));
      return log;
    },
    expected: [
      "allowed remaining=2/3 retry=0",
      "allowed remaining=0/3 retry=0",
      "refused remaining=0/3 retry=<=150",
      "allowed remaining=2/3 retry=0",
      "--",
      "allowed remaining=0/10 retry=0",
      "refused remaining=0/10 retry=<=60000",
    ],
  },
  {
    name: "AdaptiveRateLimiter: a 429 seen by one limiter lowers the rate and opens a cooldown for another on the same key",
    async run(store) {
      const options = { name: "shared", initialRatePerSec: 50, minRatePerSec: 1, burst: 2, store };
      const a = new AdaptiveRateLimiter(options);
      const b = new AdaptiveRateLimiter(options);
      const log: string[] = [];
      const p1 = await a.acquire();
      const p2 = await a.acquire();
      log.push(`a permits epoch ${p1.epoch},${p2.epoch}`);
      await backedOff(a, { status: 429, retryAfterMs: 300, permit: p1 });
      const refused = await b.acquire({ maxWaitMs: 0 }).then(
        (p: AdaptivePermit) => `b admitted epoch ${p.epoch}`,
        (e: unknown) => (e instanceof RateLimitExceededError ? `b refused retry=${within(e.retryAfterMs, 300, 1_000)}` : String(e)),
      );
      log.push(refused);
      const s = b.snapshot();
      log.push(
        `b sees rate=${s.ratePerSec} epoch=${s.epoch} backoffs=${s.backoffs} last=${s.lastBackoff?.status} cooldown=${s.cooldownUntil !== null}`,
      );
      // The second permit was issued before the cut: its 429 does not cut again.
      const late = await backedOff(a, { status: 429, permit: p2 });
      log.push(`stale 429 congestion=${late}`);
      await sleep(400);
      const p3 = await b.acquire({ maxWaitMs: 0 });
      log.push(`b admitted epoch ${p3.epoch}`);
      // Sent before a's next command on the same connection, so a's acquire sees it.
      b.onSuccess({ status: 200 }, p3);
      log.push(`a sees successes=${(await snapshotAfterAcquire(a)).successes}`);
      return log;
    },
    expected: [
      "a permits epoch 0,0",
      "b refused retry=<=300",
      "b sees rate=35 epoch=1 backoffs=1 last=429 cooldown=true",
      "stale 429 congestion=false",
      "b admitted epoch 1",
      "a sees successes=1",
    ],
  },
];

/** Records a back-off and resolves once the limiter has the store's answer: whether it cut the rate. */
function backedOff(limiter: AdaptiveRateLimiter, signal: BackoffSignal): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const off = limiter.on("backoff", (e) => {
      off();
      resolve(e.congestion);
    });
    limiter.onBackoff(signal);
  });
}

/** A snapshot refreshed from the shared state (a store that answers asynchronously is read through an acquire). */
async function snapshotAfterAcquire(limiter: AdaptiveRateLimiter) {
  const permit = await limiter.acquire();
  limiter.release(permit);
  return limiter.snapshot();
}

/** A key's usage as a log line. */
function usageLine(u: KeyUsage, ...bounds: number[]): string {
  return `used=${u.used} remaining=${u.remaining}/${u.limit} retry=${within(u.retryAfterMs, ...bounds)}`;
}

/** Two limiters on one key (as two processes would be) take turns until both are refused; the units each admitted. */
async function drain(a: RateLimiter, b: RateLimiter, key: string, rounds: number): Promise<[number, number]> {
  const admitted: [number, number] = [0, 0];
  for (let i = 0; i < rounds; i++) {
    const [da, db] = [await a.tryAcquire(key), await b.tryAcquire(key)];
    if (da.allowed) admitted[0]++;
    if (db.allowed) admitted[1]++;
    if (!da.allowed && !db.allowed) break;
  }
  return admitted;
}

const parity: Scenario[] = [
  {
    name: "FixedWindow blockMs: a refused key stays refused past its window's end; other keys are not affected",
    async run(store) {
      const login = new FixedWindow({ name: "login", limit: 3, windowMs: 150, blockMs: 1_000, store });
      const log = await tries(login, "ip", [1, 1, 1, 1], 100, 1_000, 3_000);
      log.push(...(await tries(login, "other", [1], 100, 1_000, 3_000)));
      await sleep(250);
      // Its window closed 100 ms ago; the block has ~750 ms to go (get() only looks).
      log.push(usageLine(await login.get("ip"), 100, 1_000, 3_000));
      await sleep(1_000);
      log.push(...(await tries(login, "ip", [1], 100, 1_000, 3_000)));
      return log;
    },
    expected: [
      "allowed remaining=2/3 retry=0",
      "allowed remaining=1/3 retry=0",
      "allowed remaining=0/3 retry=0",
      "refused remaining=0/3 retry=<=1000",
      "allowed remaining=2/3 retry=0",
      "used=3 remaining=0/3 retry=<=1000",
      "allowed remaining=2/3 retry=0",
    ],
  },
  {
    name: "TokenBucket blockMs: a refused key's refill pauses for blockMs",
    async run(store) {
      const bucket = new TokenBucket({ name: "tbblock", capacity: 2, ratePerSec: 20, blockMs: 1_000, store });
      const log = await tries(bucket, "ip", [1, 1, 1], 100, 1_100, 3_000);
      await sleep(250);
      // Without the block, 5 tokens' worth of refill would have come by now.
      log.push(usageLine(await bucket.get("ip"), 100, 1_100, 3_000));
      await sleep(1_000);
      log.push(...(await tries(bucket, "ip", [1], 100, 1_100, 3_000)));
      return log;
    },
    expected: [
      "allowed remaining=1/2 retry=0",
      "allowed remaining=0/2 retry=0",
      "refused remaining=0/2 retry=<=1100",
      "used=2 remaining=0/2 retry=<=1100",
      // 250 ms of refill after the pause: full again.
      "allowed remaining=1/2 retry=0",
    ],
  },
  ...(["FixedWindow", "TokenBucket"] as const).map((kind): Scenario => ({
    name: `${kind} blockMs: units given back reopen a blocked key (the block is its units, not a flag)`,
    async run(store) {
      const limiter =
        kind === "FixedWindow"
          ? new FixedWindow({ name: "block-reward-fw", limit: 2, windowMs: 150, blockMs: 1_000, store })
          : new TokenBucket({ name: "block-reward-tb", capacity: 2, ratePerSec: 2 / 0.15, blockMs: 1_000, store });
      const log = await tries(limiter, "ip", [1, 1, 1], 150, 1_150, 3_000);
      log.push(usageLine(await limiter.reward("ip", 1), 150, 1_150, 3_000));
      log.push(...(await tries(limiter, "ip", [1, 1], 150, 1_150, 3_000)));
      return log;
    },
    expected: [
      "allowed remaining=1/2 retry=0",
      "allowed remaining=0/2 retry=0",
      "refused remaining=0/2 retry=<=1150",
      "used=1 remaining=1/2 retry=0",
      "allowed remaining=0/2 retry=0",
      "refused remaining=0/2 retry=<=1150",
    ],
  })),
  ...(["FixedWindow", "TokenBucket"] as const).map((kind): Scenario => ({
    name: `${kind}: get, penalty, reward, set and delete`,
    async run(store) {
      const limiter =
        kind === "FixedWindow"
          ? new FixedWindow({ name: "admin-fw", limit: 5, windowMs: HOUR, store })
          : new TokenBucket({ name: "admin-tb", capacity: 5, ratePerSec: 5 / 3_600, store });
      const log = [usageLine(await limiter.get("u"), 1_000, HOUR)];
      log.push(usageLine(await limiter.penalty("u", 2), 1_000, HOUR));
      log.push(...(await tries(limiter, "u", [3, 1], 1_000, HOUR)));
      log.push(usageLine(await limiter.reward("u", 1), 1_000, HOUR));
      log.push(usageLine(await limiter.penalty("u", 4), 1_000, HOUR));
      log.push(...(await tries(limiter, "u", [1], 1_000, HOUR)));
      log.push(usageLine(await limiter.set("u", 1), 1_000, HOUR));
      log.push(...(await tries(limiter, "u", [4, 1], 1_000, HOUR)));
      await limiter.delete("u");
      log.push(usageLine(await limiter.get("u"), 1_000, HOUR));
      return log;
    },
    expected: [
      "used=0 remaining=5/5 retry=0",
      "used=2 remaining=3/5 retry=0",
      "allowed remaining=0/5 retry=0",
      "refused remaining=0/5 retry=<=3600000",
      "used=4 remaining=1/5 retry=0",
      "used=5 remaining=0/5 retry=<=3600000",
      "refused remaining=0/5 retry=<=3600000",
      "used=1 remaining=4/5 retry=0",
      "allowed remaining=0/5 retry=0",
      "refused remaining=0/5 retry=<=3600000",
      "used=0 remaining=5/5 retry=0",
    ],
  })),
  {
    name: 'FixedWindow spread: "even": acquire() spreads what a window has left over the time left',
    async run(store) {
      const limiter = new FixedWindow({ name: "even", limit: 4, windowMs: 600, spread: "even", store });
      const started = Date.now();
      const at: number[] = [];
      for (let i = 0; i < 4; i++) {
        await limiter.acquire("k");
        at.push(Date.now() - started);
      }
      return [
        `first ${(at[0] as number) < 100 ? "<100" : ">=100"} ms`,
        `gaps ${at
          .slice(1)
          .map((t, i) => (t - (at[i] as number) >= 130 ? ">=130" : "<130"))
          .join(",")}`,
      ];
    },
    expected: ["first <100 ms", "gaps >=130,>=130,>=130"],
  },
  ...(["FixedWindow", "TokenBucket"] as const).map((kind): Scenario => ({
    name: `${kind} with a lease: two limiters on one key lease units, never admit more than the limit together, and give back on close()`,
    async run(store) {
      const make = (): RateLimiter & { get(key: string): Promise<KeyUsage>; leased(key: string): number; close(): Promise<void> } =>
        kind === "FixedWindow"
          ? new FixedWindow({ name: "leased-fw", limit: 40, windowMs: HOUR, lease: { units: 8, maxHoldMs: 60_000 }, store })
          : new TokenBucket({ name: "leased-tb", capacity: 40, ratePerSec: 40 / 3_600, lease: { units: 8, maxHoldMs: 60_000 }, store });
      const [a, b] = [make(), make()];
      const log: string[] = [];
      await a.tryAcquire("k");
      await b.tryAcquire("k");
      log.push(`held a=${a.leased("k")} b=${b.leased("k")}`, usageLine(await a.get("k"), 1_000, HOUR));
      await b.close();
      log.push(`after close b=${b.leased("k")}`, usageLine(await a.get("k"), 1_000, HOUR));
      const c = make();
      const [byA, byC] = await drain(a, c, "k", 100);
      log.push(`drained a=${byA} c=${byC} total=${2 + byA + byC}`, usageLine(await a.get("k"), 1_000, HOUR));
      return log;
    },
    expected: [
      // Each took a lease of 8 (at most half of what was left) and spent 1 of it.
      "held a=7 b=7",
      "used=16 remaining=24/40 retry=0",
      "after close b=0",
      "used=9 remaining=31/40 retry=0",
      "drained a=19 c=19 total=40",
      "used=40 remaining=0/40 retry=<=3600000",
    ],
  })),
];

describe("Store conformance: limiter scenarios", () => {
  for (const scenario of [...scenarios, ...parity]) {
    it(scenario.name, async () => {
      const logs = await Promise.all(backends.all.map((b) => scenario.run(b.store())));
      const byBackend = Object.fromEntries(backends.all.map((b, i) => [b.name, logs[i]]));
      expect(byBackend).toEqual(Object.fromEntries(backends.all.map((b) => [b.name, scenario.expected])));
    });
  }
});
