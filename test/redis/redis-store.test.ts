import { describe, expect, it } from "vitest";
import {
  BreakerDecision,
  CircuitBreaker,
  CircuitBreakers,
  CircuitOpenError,
  consecutiveFailures,
  constant,
  InvalidOptionError,
  ManualClock,
  type StateChangeEvent,
} from "../../src/index.js";
import { BREAKER_SCRIPT, type RedisAdapter, RedisStore, type RedisStoreEvents, toAdapter } from "../../src/redis/index.js";
import { encodeParams } from "../../src/redis/codec.js";
import { connect, type TestClient } from "../setup/clients.js";
import { startRedis } from "../setup/redis.js";
import { quiet, redisSuite, sleep } from "../setup/redis-suite.js";

const suite = redisSuite("t");
const ns = suite.ns;
const evalCalls = suite.evalCalls;

async function client(kind: "ioredis" | "node-redis" = "ioredis"): Promise<TestClient> {
  const c = await connect(kind, { server: suite.server });
  suite.track(c);
  return c;
}

async function store(options: Omit<ConstructorParameters<typeof RedisStore>[0], "client"> & { kind?: "ioredis" | "node-redis" } = {}) {
  const { kind, ...rest } = options;
  const s = new RedisStore({ client: (await client(kind)).client, logger: quiet, ...rest });
  suite.track(s);
  return s;
}

const boom = (): never => {
  throw new Error("boom");
};

describe("RedisStore: options", () => {
  it("validates its options at construction", async () => {
    const c = (await client()).client;
    expect(() => new RedisStore({ client: c, nmespace: "x" } as never)).toThrow(InvalidOptionError);
    expect(() => new RedisStore({ client: c, onRedisError: "retry" } as never)).toThrow(/onRedisError/);
    expect(() => new RedisStore({ client: c, namespace: "{app}" })).toThrow(/namespace/);
    expect(() => new RedisStore({ client: c, metaTtlMs: 0 })).toThrow(/metaTtlMs/);
    expect(() => new RedisStore({ client: c, batchAcrossKeys: "yes" as never })).toThrow(
      /"batchAcrossKeys" must be true or false; got "yes"/,
    );
    expect(() => new RedisStore({ client: {} })).toThrow(/client/);
    expect(() => new RedisStore(undefined as never)).toThrow(/client/);
  });

  it("refuses decisions it has no Lua twin for", async () => {
    const s = await store({ namespace: ns() });
    const fake = { kind: "nope", params: {}, evictable: true, init: () => 0, step: () => 0, isIdle: () => true };
    await expect(s.apply(fake, "k", 1, 0)).rejects.toThrow(/no Lua twin for decision kind "nope"/);
  });
});

describe("RedisStore: keys", () => {
  it("keeps every key under the namespace, one hash tag per breaker, each with a TTL", async () => {
    const namespace = ns();
    const s = await store({ namespace, metaTtlMs: 60_000 });
    const breakers = new CircuitBreakers({ store: s, namespace, defaults: { trip: consecutiveFailures(1), recovery: 5_000 } });
    await breakers.execute("payments", boom).catch(() => undefined);
    await breakers.execute("search", () => 1);
    await breakers.get("payments").flush();
    await breakers.get("search").flush();
    const keys = (await suite.admin.keys(`${namespace}:*`)).sort();
    expect(keys).toEqual([`${namespace}:{payments}`, `${namespace}:{search}`]);
    const openTtl = await suite.admin.pttl(`${namespace}:{payments}`);
    const closedTtl = await suite.admin.pttl(`${namespace}:{search}`);
    expect(closedTtl).toBeGreaterThan(55_000);
    expect(closedTtl).toBeLessThanOrEqual(60_000);
    expect(openTtl).toBeGreaterThan(60_000); // the open interval on top
    expect(openTtl).toBeLessThanOrEqual(65_000);
    expect(s.redisKey("breaker:x")).toBe(`${namespace}:{breaker:x}`);
  });

  it("reloads its script after SCRIPT FLUSH (NOSCRIPT), running each input once", async () => {
    const s = await store({ namespace: ns() });
    const b = new CircuitBreaker({ name: "flush", store: s, trip: consecutiveFailures(3) });
    await b.flush();
    await suite.admin.script("FLUSH");
    await b.execute(boom).catch(() => undefined);
    await b.execute(boom).catch(() => undefined);
    await b.flush();
    expect(b.status().failures).toBe(2);
    expect(b.state).toBe("closed");
  });
});

describe("RedisStore: the breaker's mirror", () => {
  it("a closed breaker sends outcomes in batches, not one round trip per call", async () => {
    const s = await store({ namespace: ns() });
    const b = new CircuitBreaker({ name: "batch", store: s, trip: consecutiveFailures(5) });
    await b.flush();
    const before = await evalCalls();
    const calls = Array.from({ length: 2_000 }, () => b.execute(async () => 1));
    await Promise.all(calls);
    await b.flush();
    const used = (await evalCalls()) - before;
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(50);
  });

  it("a transition in one process reaches another's mirror, flagged remote", async () => {
    const namespace = ns();
    const events: StateChangeEvent[] = [];
    const a = new CircuitBreaker({ name: "svc", store: await store({ namespace }), trip: consecutiveFailures(2), recovery: 10_000 });
    const b = new CircuitBreaker({
      name: "svc",
      store: await store({ namespace }),
      trip: consecutiveFailures(2),
      recovery: 10_000,
      onStateChange: (e) => events.push(e),
    });
    await a.flush();
    await b.flush();
    await a.execute(boom).catch(() => undefined);
    await a.execute(boom).catch(() => undefined);
    await a.flush();
    const seenWithin = await until(() => !b.isAvailable(), 1_000);
    expect(seenWithin).toBeLessThan(100);
    expect(events.map((e) => `${e.from}->${e.to}:${e.origin}`)).toEqual(["closed->open:remote"]);
    const error = await b.execute(() => 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).retryAfterMs).toBeGreaterThan(9_000);
    expect((error as CircuitOpenError).lastFailure?.reason).toBe("boom");
  });

  it("uses the server's clock: a breaker clock minutes off changes nothing", async () => {
    const namespace = ns();
    const clock = new ManualClock(5_000); // far from the server's TIME
    const b = new CircuitBreaker({ name: "skew", store: await store({ namespace }), clock, trip: consecutiveFailures(1), recovery: 200 });
    await b.flush();
    await b.execute(boom).catch(() => undefined);
    await b.flush();
    expect(b.state).toBe("open");
    expect(b.isAvailable()).toBe(false);
    expect(b.lastFailure()?.at).toBeGreaterThanOrEqual(4_990);
    expect(b.lastFailure()?.at).toBeLessThan(5_100);
    expect(b.status().retryAfterMs).toBeGreaterThan(100);
    // Real time passes on the server; the manual clock stands still, so the mirror still
    // rejects locally, while a manual success sent to the store counts as the probe.
    await sleep(250);
    b.recordSuccess();
    await b.flush();
    expect(b.state).toBe("closed");
  });

  it("half-open trial permits are exact across stores: 60 calls from 3 processes, 2 trials", async () => {
    const namespace = ns();
    const options = { name: "trial", trip: consecutiveFailures(1), recovery: 100, halfOpen: { maxCalls: 2 } } as const;
    const breakers = [
      new CircuitBreaker({ ...options, store: await store({ namespace }) }),
      new CircuitBreaker({ ...options, store: await store({ namespace, kind: "node-redis" }) }),
      new CircuitBreaker({ ...options, store: await store({ namespace }) }),
    ];
    await Promise.all(breakers.map((b) => b.flush()));
    await breakers[0]?.execute(boom).catch(() => undefined);
    await breakers[0]?.flush();
    await sleep(150);
    let ran = 0;
    let open!: () => void;
    const gate = { promise: new Promise<void>((resolve) => (open = resolve)), resolve: () => open() };
    const calls = breakers.flatMap((b) =>
      Array.from({ length: 20 }, () =>
        b.execute(async () => {
          ran++;
          await gate.promise;
          return 1;
        }),
      ),
    );
    const settled = Promise.allSettled(calls);
    await sleep(100);
    gate.resolve();
    const results = await settled;
    expect(ran).toBe(2);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    await Promise.all(breakers.map((b) => b.flush()));
    expect(breakers.map((b) => b.state)).toEqual(["closed", "closed", "closed"]);
  });

  it("isolate() and reset() act for every process", async () => {
    const namespace = ns();
    const a = new CircuitBreaker({ name: "iso", store: await store({ namespace }) });
    const b = new CircuitBreaker({ name: "iso", store: await store({ namespace }) });
    await a.flush();
    await b.flush();
    const handle = a.isolate();
    await a.flush();
    await until(() => b.state === "open", 1_000);
    expect(b.status()).toMatchObject({ state: "open", isolated: true });
    await expect(b.execute(() => 1)).rejects.toMatchObject({ retryAfterMs: Infinity });
    handle.dispose();
    await a.flush();
    await until(() => b.state === "closed", 1_000);
    expect(await b.execute(() => 2)).toBe(2);
  });

  it("store.read, generic apply and delete work on the same record", async () => {
    const namespace = ns();
    const s = await store({ namespace });
    const decision = new BreakerDecision({
      trip: consecutiveFailures(1),
      recovery: constant(1_000),
      maxCalls: 1,
      successesToClose: 1,
      trialTimeoutMs: 60_000,
    });
    expect(await s.read(decision, "raw", 0)).toBeUndefined();
    expect(await s.apply(decision, "raw", { type: "acquire" }, 0)).toEqual({ allowed: true, epoch: 0, transition: undefined });
    const t = await s.apply(decision, "raw", { type: "failure", epoch: 0, reason: "r", random: 0.5 }, 0);
    expect(t).toMatchObject({ from: "closed", to: "open", reason: "trip rule consecutiveFailures reached: r" });
    expect(await s.read(decision, "raw", 0)).toMatchObject({ state: "open", epoch: 1, openForMs: 1_000 });
    await s.delete("raw");
    expect(await s.read(decision, "raw", 0)).toBeUndefined();
  });
});

describe("RedisStore: when Redis goes away", () => {
  it("local: callers never see a Redis error; the breaker decides in process, then resyncs", async () => {
    const own = await startRedis({ ignoreEnv: true });
    const c = await connect("ioredis", { server: own });
    const s = new RedisStore({ client: c.client, namespace: ns(), commandTimeoutMs: 200, retryIntervalMs: 50, logger: quiet });
    const seen: (keyof RedisStoreEvents)[] = [];
    s.on("error", () => seen.push("error"));
    s.on("unavailable", () => seen.push("unavailable"));
    s.on("available", () => seen.push("available"));
    const b = new CircuitBreaker({ name: "down", store: s, trip: consecutiveFailures(2), recovery: 60_000 });
    try {
      await b.flush();
      await own.kill();
      expect(await b.execute(() => "still served")).toBe("still served");
      await b.execute(boom).catch((e: Error) => expect(e.message).toBe("boom"));
      await b.execute(boom).catch((e: Error) => expect(e.message).toBe("boom"));
      await b.flush();
      expect(b.state).toBe("open"); // decided locally
      expect(s.available).toBe(false);
      await own.restart();
      await until(() => s.available, 5_000);
      await b.flush();
      expect(b.state).toBe("closed"); // Redis never saw the failures: its state wins
      expect(seen).toContain("unavailable");
      expect(seen).toContain("available");
    } finally {
      await s.close();
      await c.close();
      await own.stop();
    }
  });

  it("local: the transitions decided in process while Redis is away are reported once each", async () => {
    const own = await startRedis({ ignoreEnv: true });
    const c = await connect("ioredis", { server: own });
    const s = new RedisStore({ client: c.client, namespace: ns(), commandTimeoutMs: 200, retryIntervalMs: 60_000, logger: quiet });
    const clock = new ManualClock();
    const changes: string[] = [];
    const b = new CircuitBreaker({ name: "once", store: s, clock, trip: consecutiveFailures(1), recovery: 1_000 });
    b.on("stateChange", (e) => changes.push(`${e.from}->${e.to} ${e.origin}`));
    try {
      await b.flush();
      await own.kill();
      await b.execute(boom).catch(() => undefined);
      await b.flush();
      expect(b.state).toBe("open");
      clock.advance(1_000);
      // The probe's permit comes from the in-process fallback, with the transition it caused.
      expect(await b.execute(() => "probe")).toBe("probe");
      await b.flush();
      expect(b.state).toBe("closed");
      expect(changes).toEqual(["closed->open local", "open->half-open local", "half-open->closed local"]);
    } finally {
      await s.close();
      await c.close();
      await own.stop();
    }
  });

  it("deny rejects the calls that ask the store; allow lets them through", async () => {
    const own = await startRedis({ ignoreEnv: true });
    const c = await connect("node-redis", { server: own });
    const deny = new RedisStore({
      client: c.client,
      namespace: "deny",
      onRedisError: "deny",
      commandTimeoutMs: 200,
      retryIntervalMs: 5_000,
      logger: quiet,
    });
    const allow = new RedisStore({
      client: c.client,
      namespace: "allow",
      onRedisError: "allow",
      commandTimeoutMs: 200,
      retryIntervalMs: 5_000,
      logger: quiet,
    });
    const d = new CircuitBreaker({ name: "d", store: deny, trip: consecutiveFailures(1) });
    const a = new CircuitBreaker({ name: "a", store: allow, trip: consecutiveFailures(1) });
    try {
      await d.flush();
      await a.flush();
      await own.kill();
      await d.execute(boom).catch(() => undefined);
      await a.execute(boom).catch(() => undefined);
      await d.flush();
      await a.flush();
      expect(d.isAvailable()).toBe(false);
      await expect(d.execute(() => 1)).rejects.toBeInstanceOf(CircuitOpenError);
      expect(a.isAvailable()).toBe(true);
      expect(await a.execute(() => 1)).toBe(1);
    } finally {
      await deny.close();
      await allow.close();
      await c.close();
      await own.stop();
    }
  });
});

describe("RedisStore: a breaker batch that reaches Redis after its deadline", () => {
  it("the script does nothing past the deadline it is given (ARGV[6]) and answers stale", async () => {
    const namespace = ns();
    const s = await store({ namespace });
    const decision = new BreakerDecision({
      trip: consecutiveFailures(1),
      recovery: constant(1_000),
      maxCalls: 1,
      successesToClose: 1,
      trialTimeoutMs: 60_000,
    });
    const key = s.redisKey("late");
    const args = (deadline: string): string[] => [
      encodeParams(decision),
      JSON.stringify([["f", 0, 1, "r", 0.5]]),
      "60000",
      `${namespace}:transitions`,
      "o",
      deadline,
    ];
    expect(await s.adapter.evalScript(BREAKER_SCRIPT, [key], args("1"))).toBe("stale");
    expect(await suite.admin.exists(key)).toBe(0);
    // No deadline (0, or missing as older callers send): applied.
    expect(await s.adapter.evalScript(BREAKER_SCRIPT, [key], args("0"))).toContain('"state":"open"');
  });

  it("a batch that timed out and is sent later (a replay on reconnect) is not counted twice", async () => {
    const namespace = ns();
    const real = toAdapter((await client()).client);
    let delayMs = 0;
    const late: Promise<unknown>[] = [];
    const adapter: RedisAdapter = {
      ...real,
      kind: "delayed",
      evalScript(script, keys, args) {
        if (delayMs === 0) return real.evalScript(script, keys, args);
        // Held back past the timeout, then sent: what a client's offline queue does on reconnect.
        const sent = sleep(delayMs).then(() => real.evalScript(script, keys, args));
        late.push(sent);
        return sent;
      },
    };
    const s = new RedisStore({ client: adapter, namespace, commandTimeoutMs: 100, retryIntervalMs: 60_000, logger: quiet });
    suite.track(s);
    const b = new CircuitBreaker({ name: "late", store: s, trip: consecutiveFailures(100) });
    await b.execute(boom).catch(() => undefined);
    await b.flush(); // on Redis: one failure, and the store has learnt the server's clock
    const key = s.redisKey(b.key);
    const before = await suite.admin.get(key);
    expect(before).not.toBeNull();
    delayMs = 300;
    await b.execute(boom).catch(() => undefined);
    await b.flush(); // times out: decided in process
    expect(b.status().failures).toBe(2);
    expect(late.length).toBeGreaterThan(0);
    expect(await Promise.all(late)).toEqual(late.map(() => "stale"));
    expect(await suite.admin.get(key)).toBe(before); // Redis did not count the late batch
  });
});

/** Polls `check` every 2 ms; resolves with the ms it took, or throws after `limitMs`. */
async function until(check: () => boolean, limitMs: number): Promise<number> {
  const start = Date.now();
  for (let i = 0; i < 10_000; i++) {
    if (check()) return Date.now() - start;
    if (Date.now() - start > limitMs) break;
    await sleep(2);
  }
  throw new Error(`condition not met within ${limitMs} ms`);
}
