/**
 * RedisStore for limiters: key layout and TTLs, script reload, reads, and what callers see
 * when Redis goes away (`onRedisError`: local, allow, deny) — never a Redis error, never an
 * unhandled rejection.
 */
import { describe, expect, it } from "vitest";
import {
  AdaptiveRateLimiter,
  FixedWindow,
  FixedWindowDecision,
  SlidingLogDecision,
  SlidingWindow,
  TokenBucket,
  TokenBucketDecision,
} from "../../src/index.js";
import { type RedisAdapter, RedisStore, type RedisStoreOptions } from "../../src/redis/index.js";
import { connect, type TestClient } from "../setup/clients.js";
import { type RedisServer, startRedis } from "../setup/redis.js";
import { quiet, redisSuite, sleep } from "../setup/redis-suite.js";

const suite = redisSuite("lim");
const ns = suite.ns;
const evalCalls = suite.evalCalls;

async function store(
  options: Omit<RedisStoreOptions, "client"> = {},
  target: RedisServer = suite.server,
  kind: "ioredis" | "node-redis" = "ioredis",
): Promise<RedisStore> {
  const c: TestClient = await connect(kind, { server: target });
  suite.track(c);
  const s = new RedisStore({ client: c.client, logger: quiet, ...options });
  suite.track(s);
  return s;
}

describe("RedisStore for limiters: keys", () => {
  it("one key per limiter key, under the namespace, hash-tagged by the key, with a TTL of its window or refill time", async () => {
    const namespace = ns();
    const s = await store({ namespace });
    const bucket = new TokenBucket({ name: "tb", capacity: 10, ratePerSec: 1, store: s });
    const fixed = new FixedWindow({ name: "fw", limit: 5, windowMs: 60_000, store: s });
    const exact = new SlidingWindow({ name: "sw", limit: 5, windowMs: 30_000, store: s });
    const approx = new SlidingWindow({ name: "sc", limit: 5, windowMs: 30_000, precision: "approximate", store: s });
    const adaptive = new AdaptiveRateLimiter({ name: "ad", forgetAfterMs: 120_000, store: s });
    await bucket.tryAcquire("alice", 3);
    await fixed.tryAcquire("alice");
    await exact.tryAcquire("alice");
    await exact.tryAcquire("alice");
    await approx.tryAcquire("alice");
    adaptive.release(await adaptive.acquire());
    const keys = (await suite.admin.keys(`${namespace}:*`)).sort();
    expect(keys).toEqual([
      `${namespace}:limit:fw:{alice}`,
      `${namespace}:limit:sc:{alice}`,
      `${namespace}:limit:sw:{alice}`,
      `${namespace}:limit:tb:{alice}`,
      `${namespace}:{adaptive:ad}`,
    ]);
    const ttl = async (k: string): Promise<number> => suite.admin.pttl(`${namespace}:${k}`);
    // Three tokens refill in 3 s; a window lasts its windowMs; the approximate window's
    // count weighs on the next window too; the adaptive record is forgotten when idle.
    expect(await ttl("limit:tb:{alice}")).toBeGreaterThan(2_500);
    expect(await ttl("limit:tb:{alice}")).toBeLessThanOrEqual(3_000);
    expect(await ttl("limit:fw:{alice}")).toBeGreaterThan(55_000);
    expect(await ttl("limit:fw:{alice}")).toBeLessThanOrEqual(60_000);
    expect(await ttl("limit:sw:{alice}")).toBeGreaterThan(25_000);
    expect(await ttl("limit:sw:{alice}")).toBeLessThanOrEqual(30_000);
    expect(await ttl("limit:sc:{alice}")).toBeGreaterThan(30_000);
    expect(await ttl("limit:sc:{alice}")).toBeLessThanOrEqual(60_000);
    expect(await ttl("{adaptive:ad}")).toBeGreaterThan(115_000);
    expect(await ttl("{adaptive:ad}")).toBeLessThanOrEqual(120_000);
    // reset() deletes the key: the bucket is full again.
    await bucket.reset("alice");
    expect(await suite.admin.exists(`${namespace}:limit:tb:{alice}`)).toBe(0);
    expect((await bucket.tryAcquire("alice")).remaining).toBe(9);
  });

  it("store.read answers the decision's state; a key holding another decision's state starts afresh", async () => {
    const s = await store({ namespace: ns() });
    const bucket = new TokenBucketDecision(5, 1);
    expect(await s.read(bucket, "k", 0)).toBeUndefined();
    await s.apply(bucket, "k", { cost: 2, peek: false }, 0);
    const state = await s.read(bucket, "k", 0);
    expect(state?.tokens).toBe(3);
    const log = new SlidingLogDecision(4, 60_000);
    expect(await s.apply(log, "k", { cost: 4, peek: false }, 0)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await s.read(log, "k", 0)).toMatchObject({ used: 4, head: 0 });
    const fixed = new FixedWindowDecision(3, 60_000);
    expect(await s.apply(fixed, "k", { cost: 1, peek: false }, 0)).toMatchObject({ allowed: true, remaining: 2 });
  });

  it("reloads its scripts after SCRIPT FLUSH (NOSCRIPT), each decision applied once", async () => {
    const s = await store({ namespace: ns() });
    const limiter = new FixedWindow({ name: "flush", limit: 3, windowMs: 60_000, store: s });
    expect((await limiter.tryAcquire()).remaining).toBe(2);
    await suite.admin.script("FLUSH");
    expect((await limiter.tryAcquire()).remaining).toBe(1);
    expect((await limiter.tryAcquire()).remaining).toBe(0);
    expect((await limiter.tryAcquire()).allowed).toBe(false);
  });
});

describe("RedisStore for limiters: batches", () => {
  it("concurrent calls on one key share script calls, in order, and stay exact", async () => {
    const s = await store({ namespace: ns() });
    const limiter = new FixedWindow({ name: "batch", limit: 150, windowMs: 60_000, store: s });
    await limiter.tryAcquire("warm", 0);
    const before = await evalCalls();
    const decisions = await Promise.all(Array.from({ length: 200 }, () => limiter.tryAcquire("hot")));
    const used = (await evalCalls()) - before;
    expect(decisions.filter((d) => d.allowed)).toHaveLength(150);
    // In arrival order: the first 150 admitted, remaining counting down.
    expect(decisions.slice(0, 150).map((d) => d.remaining)).toEqual(Array.from({ length: 150 }, (_, i) => 149 - i));
    expect(decisions.slice(150).every((d) => !d.allowed && d.retryAfterMs > 55_000)).toBe(true);
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(20);
  });
});

describe("RedisStore for limiters: batches over many keys", () => {
  for (const kind of ["ioredis", "node-redis"] as const) {
    it(`${kind}: concurrent calls on different keys share script calls and stay exact, each key in arrival order`, async () => {
      const s = await store({ namespace: ns() }, suite.server, kind);
      const bucket = new TokenBucket({ name: "many", capacity: 2, ratePerSec: 0.001, store: s });
      const window = new FixedWindow({ name: "many-fw", limit: 1, windowMs: 60_000, store: s });
      await bucket.tryAcquire("warm", 0);
      const before = await evalCalls();
      // 100 keys, 3 rounds of calls on each, interleaved; a fixed window's calls in between (another script).
      const calls: { limiter: "bucket" | "window"; key: string; decision: Promise<{ allowed: boolean; remaining: number }> }[] = [];
      for (let round = 0; round < 3; round++) {
        for (let k = 0; k < 100; k++) {
          calls.push({ limiter: "bucket", key: `user-${k}`, decision: bucket.tryAcquire(`user-${k}`) });
          if (k % 10 === 0) calls.push({ limiter: "window", key: `user-${k}`, decision: window.tryAcquire(`user-${k}`) });
        }
      }
      const answered = await Promise.all(calls.map(async (c) => ({ ...c, decision: await c.decision })));
      const used = (await evalCalls()) - before;
      // Each key in arrival order: the bucket's two tokens, then a refusal; the window's one unit, then refusals.
      for (let k = 0; k < 100; k++) {
        const bucketRemaining = answered
          .filter((c) => c.limiter === "bucket" && c.key === `user-${k}`)
          .map((c) => (c.decision.allowed ? c.decision.remaining : -1));
        expect(bucketRemaining).toEqual([1, 0, -1]);
        if (k % 10 === 0) {
          const windowAllowed = answered.filter((c) => c.limiter === "window" && c.key === `user-${k}`).map((c) => c.decision.allowed);
          expect(windowAllowed).toEqual([true, false, false]);
        }
      }
      // 330 calls: one script per twin in flight, the rest batched behind it.
      expect(used).toBeGreaterThan(1);
      expect(used).toBeLessThan(20);
    });
  }

  it("two limiters of one name and kind share a key's state; their interleaved calls are applied in arrival order", async () => {
    const s = await store({ namespace: ns() });
    const a = new TokenBucket({ name: "same", capacity: 3, ratePerSec: 0.001, store: s });
    const b = new TokenBucket({ name: "same", capacity: 3, ratePerSec: 0.001, store: s });
    const decisions = await Promise.all([a, b, a, b, a, b, a].map((limiter) => limiter.tryAcquire("k")));
    expect(decisions.map((d) => (d.allowed ? d.remaining : -1))).toEqual([2, 1, 0, -1, -1, -1, -1]);
  });

  it("batchAcrossKeys: false sends each key's calls apart, with the same outcomes", async () => {
    const s = await store({ namespace: ns(), batchAcrossKeys: false });
    const bucket = new TokenBucket({ name: "apart", capacity: 2, ratePerSec: 0.001, store: s });
    await bucket.tryAcquire("warm", 0);
    const before = await evalCalls();
    const keys = Array.from({ length: 100 }, (_, k) => `user-${k}`);
    const decisions = await Promise.all([...keys, ...keys, ...keys].map((key) => bucket.tryAcquire(key)));
    const used = (await evalCalls()) - before;
    expect(decisions.slice(0, 100).every((d) => d.allowed && d.remaining === 1)).toBe(true);
    expect(decisions.slice(100, 200).every((d) => d.allowed && d.remaining === 0)).toBe(true);
    expect(decisions.slice(200).every((d) => !d.allowed)).toBe(true);
    // At least one script per key (its later calls may share one).
    expect(used).toBeGreaterThanOrEqual(100);
  });
});

describe("RedisStore for limiters: when a command hangs", () => {
  it("a command that takes longer than commandTimeoutMs is answered by the fallback, and reported", async () => {
    const never = new Promise<never>(() => undefined);
    const adapter: RedisAdapter = {
      kind: "hanging",
      evalScript: () => never,
      ping: () => never,
      get: () => never,
      del: () => never,
      scan: () => never,
      subscribe: () => never,
      onError: () => () => undefined,
    };
    const s = new RedisStore({ client: adapter, commandTimeoutMs: 100, retryIntervalMs: 60_000, logger: quiet });
    const errors: string[] = [];
    s.on("error", (e) => errors.push(e.operation));
    const limiter = new TokenBucket({ name: "hang", capacity: 2, ratePerSec: 0.001, store: s });
    const started = Date.now();
    const first = await limiter.tryAcquire("k");
    const waited = Date.now() - started;
    expect(first).toMatchObject({ allowed: true, remaining: 1 });
    expect(waited).toBeGreaterThanOrEqual(90);
    expect(waited).toBeLessThan(400);
    expect(errors).toEqual(["tokenBucket"]);
    expect(s.available).toBe(false);
    // Known down: answered at once, in process.
    expect(await limiter.tryAcquire("k")).toMatchObject({ allowed: true, remaining: 0 });
    expect((await limiter.tryAcquire("k")).allowed).toBe(false);
    await s.close();
  });
});

describe("RedisStore for limiters: when Redis goes away", () => {
  it("local (default): every call is answered in process, then Redis again; no error reaches a caller", async () => {
    const own = await startRedis({ ignoreEnv: true });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    const s = await store({ namespace: ns(), commandTimeoutMs: 200, retryIntervalMs: 50 }, own);
    const events: string[] = [];
    s.on("unavailable", () => events.push("unavailable"));
    s.on("available", () => events.push("available"));
    const limiter = new TokenBucket({ name: "down", capacity: 3, ratePerSec: 0.001, store: s });
    const adaptive = new AdaptiveRateLimiter({ name: "down", initialRatePerSec: 100, burst: 5, store: s });
    try {
      expect((await limiter.tryAcquire("k", 3)).allowed).toBe(true);
      await own.kill();
      // Redis is gone: the in-process fallback starts from a full bucket.
      const during = await Promise.all([
        limiter.tryAcquire("k"),
        limiter.tryAcquire("k"),
        limiter.tryAcquire("k"),
        limiter.tryAcquire("k"),
      ]);
      expect(during.map((d) => d.allowed)).toEqual([true, true, true, false]);
      const permit = await adaptive.acquire();
      adaptive.onBackoff({ status: 429, retryAfterMs: 10, permit });
      await expect(limiter.acquire("k", { maxWaitMs: 10 })).rejects.toMatchObject({ name: "RateLimitExceededError" });
      expect(s.available).toBe(false);
      await own.restart();
      for (let i = 0; i < 250 && !s.available; i++) await sleep(20);
      expect(s.available).toBe(true);
      // Back on Redis (which restarted empty): a full bucket again, shared.
      expect((await limiter.tryAcquire("k")).remaining).toBe(2);
      expect(events).toEqual(["unavailable", "available"]);
      await sleep(20);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      adaptive.close();
      await own.stop();
    }
  });

  it("a logger that throws breaks nothing: calls on every key are answered while Redis is away", async () => {
    const own = await startRedis({ ignoreEnv: true });
    const s = await store({ namespace: ns(), commandTimeoutMs: 200, retryIntervalMs: 50, logger: { warn: boom } }, own);
    const limiter = new TokenBucket({ name: "loud", capacity: 2, ratePerSec: 0.001, store: s });
    try {
      expect((await limiter.tryAcquire("a")).allowed).toBe(true);
      await own.kill();
      const during = await Promise.all(["a", "b", "c", "a", "b", "c"].map((key) => limiter.tryAcquire(key)));
      expect(during).toHaveLength(6);
      expect(s.available).toBe(false);
      const later = await Promise.all(["d", "e"].map((key) => limiter.tryAcquire(key)));
      expect(later.every((d) => d.allowed)).toBe(true);
      await own.restart();
      for (let i = 0; i < 250 && !s.available; i++) await sleep(20);
      expect(s.available).toBe(true);
      expect((await limiter.tryAcquire("f")).remaining).toBe(1);
    } finally {
      await own.stop();
    }
  });

  it("allow admits every call and deny refuses them for retryIntervalMs, while Redis is away", async () => {
    const own = await startRedis({ ignoreEnv: true });
    const allow = await store(
      { namespace: "allow", onRedisError: "allow", commandTimeoutMs: 200, retryIntervalMs: 5_000 },
      own,
      "node-redis",
    );
    const deny = await store({ namespace: "deny", onRedisError: "deny", commandTimeoutMs: 200, retryIntervalMs: 5_000 }, own, "node-redis");
    const a = new FixedWindow({ name: "a", limit: 1, windowMs: 60_000, store: allow });
    const d = new FixedWindow({ name: "d", limit: 1, windowMs: 60_000, store: deny });
    const ad = new AdaptiveRateLimiter({ name: "ad", store: deny });
    try {
      await own.kill();
      const allowed = await Promise.all([a.tryAcquire(), a.tryAcquire(), a.tryAcquire()]);
      expect(allowed.map((x) => x.allowed)).toEqual([true, true, true]);
      const denied = await d.tryAcquire();
      expect(denied).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 5_000 });
      await expect(d.acquire("default", { maxWaitMs: 100 })).rejects.toMatchObject({ name: "RateLimitExceededError", retryAfterMs: 5_000 });
      await expect(ad.acquire({ maxWaitMs: 100 })).rejects.toMatchObject({ name: "RateLimitExceededError", retryAfterMs: 5_000 });
    } finally {
      await own.stop();
    }
  });

  it("leases while Redis is away: held units are spent until they expire; a new lease is a plain call's answer, never held", async () => {
    const own = await startRedis({ ignoreEnv: true });
    const options = { commandTimeoutMs: 200, retryIntervalMs: 5_000 };
    const lease = { units: 4, maxHoldMs: 60_000 };
    const stores = {
      local: await store({ namespace: "lease-local", onRedisError: "local", ...options }, own),
      allow: await store({ namespace: "lease-allow", onRedisError: "allow", ...options }, own),
      deny: await store({ namespace: "lease-deny", onRedisError: "deny", ...options }, own, "node-redis"),
    };
    const limiters = Object.fromEntries(
      Object.entries(stores).map(([mode, s]) => [mode, new FixedWindow({ name: "lease", limit: 100, windowMs: 60_000, store: s, lease })]),
    ) as Record<keyof typeof stores, FixedWindow>;
    try {
      for (const limiter of Object.values(limiters)) {
        expect((await limiter.tryAcquire("k")).allowed).toBe(true);
        expect(limiter.leased("k")).toBe(3);
      }
      await own.kill();
      for (const [mode, limiter] of Object.entries(limiters)) {
        // The 3 units held are spent without Redis, in every mode.
        const held = await Promise.all([limiter.tryAcquire("k"), limiter.tryAcquire("k"), limiter.tryAcquire("k")]);
        expect({ mode, held: held.map((d) => d.allowed) }).toEqual({ mode, held: [true, true, true] });
        // Then a new lease: the fallback's answer for this call alone; nothing is held.
        const next = await limiter.tryAcquire("k");
        expect({ mode, allowed: next.allowed, leased: limiter.leased("k") }).toEqual({ mode, allowed: mode !== "deny", leased: 0 });
        expect(limiter.leaseStats()).toEqual({ granted: 4, spent: 4, returned: 0, expired: 0, held: 0 });
      }
      // The in-process fallback was charged one unit per call, not a lease.
      expect(await limiters.local.get("k")).toMatchObject({ used: 1 });
    } finally {
      for (const limiter of Object.values(limiters)) await limiter.close();
      await own.stop();
    }
  });
});

function boom(): never {
  throw new Error("logger down");
}
