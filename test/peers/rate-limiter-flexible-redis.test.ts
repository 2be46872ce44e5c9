/**
 * Ported from rate-limiter-flexible test/RateLimiterRedis.ioredis.test.js and
 * test/RateLimiterRedis.redis.test.js (animir/node-rate-limiter-flexible; the cases of
 * test/RateLimiterRedis.test.js are the same on redis-mock), run here on a real redis-server
 * through ioredis and node-redis, as both peer files do. Each process of a fleet is a
 * RedisStore on its own connection with the same namespace.
 *
 * RateLimiterRedis({ storeClient, points, duration, keyPrefix, blockDuration, execEvenly })
 * -> new FixedWindow({ name: keyPrefix, limit: points, windowMs: duration * 1000, blockMs:
 * blockDuration * 1000, spread: "even", store: new RedisStore({ client }) }). consume ->
 * tryAcquire (a refusal resolves allowed: false; a cost above the limit rejects with
 * RateLimitExceededError); get / penalty / reward / set / delete -> the same methods, whose
 * KeyUsage.used is the peer's consumedPoints; `redis.get(getKey(k))` -> `get(k).used` (our
 * record is packed doubles, not a counter); insuranceLimiter -> onRedisError "local";
 * rejectIfRedisNotReady -> onRedisError "deny". Real waits are scaled down (windows of
 * 100–300 ms instead of seconds). Each case keeps the peer's assertion, translated, except
 * where Breakwater deliberately differs: there a comment names what the peer asserts and the
 * page that says so.
 */
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { FixedWindow, type FixedWindowOptions, RateLimitExceededError } from "../../src/index.js";
import { RedisStore, type RedisStoreOptions } from "../../src/redis/index.js";
import { connect } from "../setup/clients.js";
import { quiet, redisSuite, sleep } from "../setup/redis-suite.js";

const suite = redisSuite("rlf");

type Kind = "ioredis" | "node-redis";

/** A RedisStore on a connection of its own (one "process"); closed after the file. */
async function processStore(
  kind: Kind,
  namespace: string,
  options: Omit<RedisStoreOptions, "client" | "namespace"> = {},
): Promise<RedisStore> {
  const c = suite.track(await connect(kind, { server: suite.server }));
  return suite.track(new RedisStore({ client: c.client, logger: quiet, namespace, ...options }));
}

/** consume(): the peer's resolve/reject as { ok, msBeforeNext, remainingPoints }. */
async function consume(
  limiter: FixedWindow,
  key: string,
  points = 1,
): Promise<{ ok: boolean; msBeforeNext: number; remainingPoints: number }> {
  try {
    const d = await limiter.tryAcquire(key, points);
    return { ok: d.allowed, msBeforeNext: d.allowed ? d.resetAfterMs : d.retryAfterMs, remainingPoints: d.remaining };
  } catch (e) {
    if (e instanceof RateLimitExceededError) return { ok: false, msBeforeNext: e.retryAfterMs, remainingPoints: 0 };
    throw e;
  }
}

for (const kind of ["ioredis", "node-redis"] as const) {
  describe(`rate-limiter-flexible RateLimiterRedis (fixed window) on ${kind}`, () => {
    async function rl(points: number, durationMs: number, extra: Omit<FixedWindowOptions, "limit" | "windowMs"> = {}) {
      const namespace = suite.ns();
      const store = await processStore(kind, namespace);
      const limiter = new FixedWindow({ name: "rlflx", limit: points, windowMs: durationMs, store, ...extra });
      return { namespace, store, limiter };
    }

    it("consume 1 point (and another process sees it)", async () => {
      const { namespace, limiter } = await rl(2, 5_000);
      expect((await consume(limiter, "consume1")).ok).toBe(true);
      expect((await limiter.get("consume1")).used).toBe(1);
      const other = new FixedWindow({ name: "rlflx", limit: 2, windowMs: 5_000, store: await processStore(kind, namespace) });
      expect((await other.get("consume1")).used).toBe(1);
    });

    it("consume more than one point at once (points consumed > 1)", async () => {
      const { limiter } = await rl(5, 5_000);
      expect(await limiter.tryAcquire("multi", 3)).toMatchObject({ allowed: true, remaining: 2 });
      expect(await limiter.tryAcquire("multi", 3)).toMatchObject({ allowed: false, remaining: 2 });
      expect((await limiter.get("multi")).used).toBe(3);
    });

    it("rejected when consume more than maximum points", async () => {
      const { limiter } = await rl(1, 5_000);
      const r = await consume(limiter, "consume2", 2);
      expect(r.ok).toBe(false);
      expect(r.msBeforeNext >= 0).toBe(true);
    });

    it("execute evenly over duration (spread: even; 2 points per 300 ms: the second waits about half)", async () => {
      const { limiter } = await rl(2, 300, { spread: "even" });
      await limiter.acquire("consumeEvenly");
      const t0 = Date.now();
      await limiter.acquire("consumeEvenly");
      const diff = Date.now() - t0;
      // The peer: 5 s, the second after 2400-2600 ms; here 300 ms, about 150 ms.
      expect(diff).toBeGreaterThanOrEqual(120);
      expect(diff).toBeLessThan(300);
    });

    it("makes penalty", async () => {
      const { limiter } = await rl(3, 5_000);
      await consume(limiter, "penalty1");
      await limiter.penalty("penalty1");
      expect((await limiter.get("penalty1")).used).toBe(2);
    });

    it("reward points", async () => {
      const { limiter } = await rl(1, 5_000);
      await consume(limiter, "reward");
      await limiter.reward("reward");
      expect((await limiter.get("reward")).used).toBe(0);
    });

    it("use keyPrefix from options (the name is in the Redis key)", async () => {
      const { namespace, store } = await rl(1, 5_000);
      const limiter = new FixedWindow({ name: "test", limit: 1, windowMs: 5_000, store });
      expect(limiter.storeKey("key")).toBe("limit:test:{key}");
      await limiter.tryAcquire("key");
      expect(await suite.admin.exists(`${namespace}:limit:test:{key}`)).toBe(1);
    });

    it("blocks key for block duration when consumed more than points (one over the limit)", async () => {
      const { limiter } = await rl(1, 1_000, { blockMs: 2_000 });
      expect((await consume(limiter, "block")).ok).toBe(true);
      const r = await consume(limiter, "block");
      expect(r.ok).toBe(false);
      expect(r.msBeforeNext > 1_000 && r.msBeforeNext <= 2_000).toBe(true);
    });

    it("blocks key for block duration when consumed more than points (a cost above the limit)", async () => {
      const { limiter } = await rl(1, 1_000, { blockMs: 2_000 });
      const r = await consume(limiter, "blockcost", 2);
      expect(r.ok).toBe(false);
      expect(r.msBeforeNext > 1_000).toBe(true);
      // The peer's key is now blocked for blockDuration: a consume of 1 is refused.
      const next = await consume(limiter, "blockcost");
      expect(next.ok).toBe(false);
      expect(next.msBeforeNext > 1_000).toBe(true);
    });

    it("block expires in blockDuration (100 ms window, 150 ms block)", async () => {
      const { limiter } = await rl(1, 100, { blockMs: 150 });
      await consume(limiter, "blockexpires");
      expect((await consume(limiter, "blockexpires")).ok).toBe(false);
      await sleep(170);
      expect((await consume(limiter, "blockexpires")).ok).toBe(true);
      expect((await limiter.get("blockexpires")).used).toBe(1);
    });

    it("get points", async () => {
      const { limiter } = await rl(2, 1_000);
      await consume(limiter, "get");
      expect(await limiter.get("get")).toMatchObject({ used: 1, remaining: 1 });
    });

    it("get of a key never set: nothing used, and no key written", async () => {
      // rate-limiter-flexible resolves null; our get always resolves a KeyUsage: docs/rate-limiting.md, "Blocking, penalties and administration" (get).
      const { namespace, limiter } = await rl(2, 1_000);
      expect(await limiter.get("getnull")).toMatchObject({ used: 0, remaining: 2, retryAfterMs: 0 });
      expect(await suite.admin.exists(`${namespace}:limit:rlflx:{getnull}`)).toBe(0);
    });

    it("delete key: the Redis key is gone and the key is full again", async () => {
      // rate-limiter-flexible resolves true (false for a key that was not there); our delete resolves nothing.
      const { namespace, limiter } = await rl(2, 1_000);
      await consume(limiter, "deletetrue");
      await consume(limiter, "deletetrue");
      expect(await limiter.delete("deletetrue")).toBeUndefined();
      expect(await suite.admin.exists(`${namespace}:limit:rlflx:{deletetrue}`)).toBe(0);
      expect(await limiter.get("deletetrue")).toMatchObject({ used: 0, remaining: 2 });
      expect(await limiter.delete("deletefalse")).toBeUndefined();
    });

    it("set points by key above the limit: used is the limit", async () => {
      // rate-limiter-flexible asserts consumedPoints 12 of 1; our used is at most the limit: docs/rate-limiting.md, "Blocking, penalties and administration" (get).
      const { limiter } = await rl(1, 1_000);
      await limiter.set("set", 12);
      expect(await limiter.get("set")).toMatchObject({ used: 1, remaining: 0 });
      expect((await consume(limiter, "set")).ok).toBe(false);
    });

    it("penalty, reward and get from two processes act on one count", async () => {
      const { namespace, limiter } = await rl(5, 5_000);
      const other = new FixedWindow({ name: "rlflx", limit: 5, windowMs: 5_000, store: await processStore(kind, namespace) });
      await consume(limiter, "shared", 2);
      await other.penalty("shared", 2);
      expect((await limiter.get("shared")).used).toBe(4);
      await limiter.reward("shared", 3);
      expect((await other.get("shared")).used).toBe(1);
    });
  });
}

describe("rate-limiter-flexible RateLimiterRedis: a closed client", () => {
  /** A RedisStore whose ioredis client was connected, then disconnected (the peer's redisClientClosed). */
  async function closedStore(options: Omit<RedisStoreOptions, "client"> = {}): Promise<RedisStore> {
    const client = new Redis({ host: suite.server.host, port: suite.server.port, retryStrategy: () => null });
    client.on("error", () => undefined);
    await client.ping();
    client.disconnect();
    return suite.track(new RedisStore({ client, logger: quiet, commandTimeoutMs: 200, retryIntervalMs: 5_000, ...options }));
  }

  it("consume on a closed client resolves from the in-process fallback (onRedisError: local)", async () => {
    // rate-limiter-flexible rejects with the client's Error ("throws error on RedisClient error"); ours never passes a Redis error to the caller: docs/redis.md, "When Redis is unreachable: onRedisError".
    const store = await closedStore({ namespace: suite.ns() });
    const limiter = new FixedWindow({ name: "rlflx", limit: 2, windowMs: 1_000, store });
    expect(await limiter.tryAcquire("rediserror")).toMatchObject({ allowed: true, remaining: 1 });
  });

  it("consume using the insurance limiter when the client is closed: the local store, same limit", async () => {
    // rate-limiter-flexible's insuranceLimiter has options of its own (2 points per 2 s: remaining 1, msBeforeNext > 1000); ours is an in-process store with the limiter's own limit: docs/redis.md, "When Redis is unreachable" ("local").
    const store = await closedStore({ namespace: suite.ns() });
    const limiter = new FixedWindow({ name: "rlflx", limit: 1, windowMs: 1_000, store });
    expect(await limiter.tryAcquire("rediserror2")).toMatchObject({ allowed: true, remaining: 0 });
    expect((await limiter.tryAcquire("rediserror2")).allowed).toBe(false);
  });

  it("penalty and reward using the insurance limiter when the client is closed", async () => {
    const store = await closedStore({ namespace: suite.ns() });
    const limiter = new FixedWindow({ name: "rlflx", limit: 2, windowMs: 1_000, store });
    expect((await limiter.penalty("rediserror3")).used).toBe(1);
    await limiter.tryAcquire("rediserror3");
    expect((await limiter.reward("rediserror3")).used).toBe(1);
  });

  it("rejectIfRedisNotReady: a closed client refuses with onRedisError: deny", async () => {
    // rate-limiter-flexible rejects with Error("Redis connection is not ready"); ours refuses with retryAfterMs = retryIntervalMs: docs/redis.md, "When Redis is unreachable" ("deny").
    const store = await closedStore({ namespace: suite.ns(), onRedisError: "deny" });
    const limiter = new FixedWindow({ name: "rlflx", limit: 2, windowMs: 1_000, store });
    expect(await limiter.tryAcquire("notready")).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 5_000 });
  });
});
