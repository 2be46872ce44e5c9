/**
 * Ported from bottleneck test/cluster.js ("Cluster-only": the cases on keys, TTLs, Groups,
 * deleted keys, missing data, the reservoir increase across missed intervals, connection
 * failures and shared settings) (SGrondin/bottleneck, installed at
 * node_modules/bottleneck/test), on a real redis-server through ioredis. Each bottleneck
 * limiter with `datastore: "ioredis"` is a process of the fleet here: a RedisStore on its own
 * connection, in the same namespace.
 *
 * API mapping, besides test/peers/bottleneck-group.test.ts's: a limiter's `id` -> the
 * limiter's `name` (its Redis key is `<namespace>:limit:<name>:{<key>}`); Group({ minTime,
 * datastore }).key(k) -> one keyed TokenBucket({ ratePerSec: 1000 / minTime, capacity: 1,
 * store }); the Group's `timeout` (key TTL) -> the TTL every limiter key carries (until its
 * state is back to initial); deleteKey(k) -> delete(k); `clearDatastore` -> nothing is stored
 * but per-key state. Real waits stay under 200 ms each.
 * Each case keeps the peer's assertion, translated, except where Breakwater deliberately
 * differs: there a comment names what bottleneck asserts and the page that says so.
 */
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { FixedWindow, TokenBucket } from "../../src/index.js";
import { RedisStore } from "../../src/redis/index.js";
import { quiet, redisSuite, sleep } from "../setup/redis-suite.js";

const suite = redisSuite("bn");

/** Two processes of one fleet: two RedisStores on connections of their own, one namespace. */
function fleet(): { namespace: string; p1: RedisStore; p2: RedisStore } {
  const namespace = suite.ns();
  return { namespace, p1: suite.store({ namespace }), p2: suite.store({ namespace }) };
}

describe("bottleneck cluster.js (Redis)", () => {
  it("Should support Groups and expire Redis keys (minTime 50 per key; the keys expire once idle)", async () => {
    const { namespace, p1 } = fleet();
    const group = new TokenBucket({ name: "group", ratePerSec: 20, capacity: 1, store: p1 });
    const t0 = Date.now();
    const results: Record<string, number> = {};
    const job = (key: string, x: string) => group.execute(() => void (results[x] = Date.now() - t0), { key });
    await Promise.all([job("one", "a"), job("one", "b"), job("one", "c"), job("two", "d"), job("two", "e"), job("three", "f")]);
    const r = results as Record<"a" | "b" | "c" | "d" | "e" | "f", number>;
    expect(Object.keys(results)).toHaveLength(6);
    expect(r.a < r.b && r.b < r.c).toBe(true);
    expect(r.b - r.a).toBeGreaterThanOrEqual(40);
    expect(r.c - r.b).toBeGreaterThanOrEqual(40);
    expect(r.d < r.e).toBe(true);
    expect(r.e - r.d).toBeGreaterThanOrEqual(40);
    // The peer allows 10 ms between keys; a loaded 2-core machine gets 25.
    expect(Math.abs(r.a - r.d)).toBeLessThanOrEqual(25);
    expect(Math.abs(r.d - r.f)).toBeLessThanOrEqual(25);
    expect(Math.abs(r.b - r.e)).toBeLessThanOrEqual(25);
    // Each key's TTL is its bucket's refill time (50 ms): idle, they are gone.
    await sleep(120);
    const keys = ["one", "two", "three"].map((k) => `${namespace}:limit:group:{${k}}`);
    expect(await suite.admin.exists(...keys)).toBe(0);
  });

  it("Should have a default key TTL when using Groups (and standalone limiters): every key has one", async () => {
    // bottleneck gives a Group's keys a TTL of its timeout (5 min) and a standalone limiter's none (ttl < 0); every Breakwater key has the TTL of its own state: docs/redis.md, "Keys, TTLs and metaTtlMs".
    const { namespace, p1 } = fleet();
    const window = new FixedWindow({ name: "standalone", limit: 5, windowMs: 300_000, store: p1 });
    await window.tryAcquire("one");
    const ttl = await suite.admin.pttl(`${namespace}:limit:standalone:{one}`);
    expect(ttl).toBeGreaterThan(290_000);
    expect(ttl).toBeLessThanOrEqual(300_000);
  });

  it("Should use the limiter ID to build Redis keys", async () => {
    const { namespace, p1 } = fleet();
    const id = `id-${Math.floor(Math.random() * 1e9)}`;
    const limiter = new FixedWindow({ name: id, limit: 5, windowMs: 60_000, store: p1 });
    await Promise.all(["a", "b"].map((k) => limiter.tryAcquire(k)));
    const keys = await suite.admin.keys(`${namespace}:*`);
    expect(keys).toHaveLength(2);
    keys.forEach((k) => expect(k.indexOf(id)).toBeGreaterThan(0));
    expect(await suite.admin.del(...keys)).toBe(2);
  });

  it("Should not fail when Redis data is missing (a deleted key starts afresh)", async () => {
    const { namespace, p1 } = fleet();
    const limiter = new FixedWindow({ name: "missing", limit: 3, windowMs: 60_000, store: p1 });
    expect((await limiter.tryAcquire("k", 2)).remaining).toBe(1);
    expect(await suite.admin.del(`${namespace}:limit:missing:{k}`)).toBe(1);
    expect(await suite.admin.exists(`${namespace}:limit:missing:{k}`)).toBe(0);
    expect(await limiter.tryAcquire("k")).toMatchObject({ allowed: true, remaining: 2 });
    expect(await suite.admin.exists(`${namespace}:limit:missing:{k}`)).toBe(1);
  });

  it("Should delete Redis key when manually deleting a group key (another process then starts afresh)", async () => {
    const { namespace, p1, p2 } = fleet();
    const group1 = new TokenBucket({ name: "g", ratePerSec: 20, capacity: 1, store: p1 });
    const group2 = new TokenBucket({ name: "g", ratePerSec: 20, capacity: 1, store: p2 });
    expect(await group1.execute(() => 1, { key: "deleted" })).toBe(1);
    expect((await group2.tryAcquire("deleted")).allowed).toBe(false);
    await group1.delete("deleted");
    expect(await suite.admin.exists(`${namespace}:limit:g:{deleted}`)).toBe(0);
    expect((await group2.tryAcquire("deleted")).allowed).toBe(true);
  });

  it("Should delete Redis keys from a group even when the local limiter is not present", async () => {
    const { namespace, p1, p2 } = fleet();
    const group1 = new TokenBucket({ name: "g", ratePerSec: 20, capacity: 1, store: p1 });
    const group2 = new TokenBucket({ name: "g", ratePerSec: 20, capacity: 1, store: p2 });
    await group1.execute(() => 1, { key: "deleted-cluster-wide" });
    expect(await suite.admin.exists(`${namespace}:limit:g:{deleted-cluster-wide}`)).toBe(1);
    await group2.delete("deleted-cluster-wide");
    expect(await suite.admin.exists(`${namespace}:limit:g:{deleted-cluster-wide}`)).toBe(0);
  });

  it("Should compute reservoir increased based on number of missed intervals (at most the capacity)", async () => {
    // bottleneck's reservoir has no bound here (2 + 30 missed intervals x 2 = 62); our bucket refills up to its capacity: docs/rate-limiting.md, "The algorithms" (TokenBucket).
    const { p1, p2 } = fleet();
    const first = new TokenBucket({ name: "missed", ratePerSec: 20, capacity: 6, store: p1 });
    const second = new TokenBucket({ name: "missed", ratePerSec: 20, capacity: 6, store: p2 });
    await first.set("r", 4);
    expect((await first.get("r")).remaining).toBe(2);
    await sleep(160);
    // 2 + 20 a second for 160 ms or more, as the server's clock counts it, read by another process.
    const later = (await second.get("r")).remaining;
    expect(later).toBeGreaterThanOrEqual(5);
    expect(later).toBeLessThanOrEqual(6);
    await sleep(100);
    expect((await second.get("r")).remaining).toBe(6);
  });

  it("Should safely handle connection failures (an error event; calls answered by the fallback)", async () => {
    // bottleneck's ready() rejects and the limiter emits "error"; ours emits "error" and "unavailable" and answers from its in-process store: docs/redis.md, "When Redis is unreachable: onRedisError".
    const client = new Redis({ host: "127.0.0.1", port: 1, retryStrategy: () => null, maxRetriesPerRequest: 0, lazyConnect: true });
    client.on("error", () => undefined);
    const store = suite.track(new RedisStore({ client, logger: quiet, commandTimeoutMs: 200, retryIntervalMs: 5_000 }));
    const errors: unknown[] = [];
    store.on("error", ({ error }) => errors.push(error));
    const unavailable = new Promise<void>((resolve) => store.on("unavailable", () => resolve()));
    const limiter = new FixedWindow({ name: "down", limit: 2, windowMs: 60_000, store });
    expect(await limiter.tryAcquire("k")).toMatchObject({ allowed: true, remaining: 1 });
    await unavailable;
    expect(errors.length).toBeGreaterThan(0);
    expect(store.available).toBe(false);
  });

  it("Should use shared settings: each process applies the limit it was built with to the shared count", async () => {
    // bottleneck stores the first limiter's settings in Redis and a second limiter with the same id uses them (maxConcurrent 2: both its jobs run together); Breakwater stores only the count, and each process applies its own limit to it.
    const { p1, p2 } = fleet();
    const first = new FixedWindow({ name: "shared", limit: 2, windowMs: 60_000, store: p1 });
    const second = new FixedWindow({ name: "shared", limit: 1, windowMs: 60_000, store: p2 });
    expect((await second.tryAcquire("k")).allowed).toBe(true);
    expect((await second.tryAcquire("k")).allowed).toBe(false);
    expect((await first.tryAcquire("k")).allowed).toBe(true);
    expect((await first.tryAcquire("k")).allowed).toBe(false);
  });
});
