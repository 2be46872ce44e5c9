/**
 * BreakerAdmin (src/redis/breaker-admin.ts) and its live FleetBreakers view (src/redis/fleet-view.ts), in process, against
 * a real redis-server: what the `breakwater` command and its dashboard are built on.
 */
import { describe, expect, it } from "vitest";
import {
  AdaptiveRateLimiter,
  type BreakerRecord,
  CircuitBreaker,
  CircuitBreakers,
  consecutiveFailures,
  exponential,
  failureRatio,
  InvalidOptionError,
  type StateChangeEvent,
  TokenBucket,
} from "../../src/index.js";
import { AmbiguousBreakerError, BreakerAdmin, BreakerNotFoundError, describeRecord, nameOfKey } from "../../src/redis/index.js";
import { redisSuite, sleep } from "../setup/redis-suite.js";
import { viewOf } from "../../src/dashboard/snapshot.js";

const suite = redisSuite("adm");
const ns = suite.ns;

const boom = (): never => {
  throw new Error("down");
};

describe("BreakerAdmin", () => {
  it("validates its options", () => {
    expect(() => new BreakerAdmin({ client: suite.admin, namespace: "{x}" })).toThrow(/namespace/);
    expect(() => new BreakerAdmin({ client: suite.admin, metaTtlMs: 0 })).toThrow(InvalidOptionError);
    expect(() => new BreakerAdmin({ client: suite.admin, nmespace: "x" } as never)).toThrow(/nmespace/);
    expect(() => new BreakerAdmin({ client: {} })).toThrow(/client/);
  });

  it("lists only its namespace's breakers, a namespace with glob characters matching literally", async () => {
    const namespace = `${ns()}[a]*`;
    const breakers = new CircuitBreakers({ store: suite.store({ namespace }), namespace, defaults: { trip: consecutiveFailures(2) } });
    await breakers.execute("one", boom).catch(() => undefined);
    await breakers.get("one").flush();
    // A sibling namespace the glob would match if the brackets and star were not escaped.
    const sibling = new CircuitBreakers({
      store: suite.store({ namespace: `${namespace.replace("[a]*", "a")}x` }),
      namespace: `${namespace.replace("[a]*", "a")}x`,
    });
    await sibling.execute("two", () => 1);
    await sibling.get("two").flush();
    // Limiters on the same store are not breakers.
    const s = suite.store({ namespace });
    await new TokenBucket({ name: "api", ratePerSec: 10, capacity: 10, store: s }).tryAcquire("user-1");
    const adaptive = new AdaptiveRateLimiter({ name: "notion", store: s });
    adaptive.onBackoff({ status: 429 });
    for (let i = 0; i < 500 && (await suite.admin.exists(`${namespace}:{adaptive:notion}`)) === 0; i++) await sleep(2);
    expect((await suite.admin.keys("*")).filter((k) => k.startsWith(namespace)).sort()).toEqual([
      `${namespace}:limit:api:{user-1}`,
      `${namespace}:{adaptive:notion}`,
      `${namespace}:{one}`,
    ]);
    const list = await new BreakerAdmin({ client: suite.admin, namespace }).list();
    expect(list.map((b) => [b.name, b.key, b.failures])).toEqual([["one", `${namespace}:{one}`, 1]]);
  });

  it("finds a service by name, by lone-breaker name, or by full key; ambiguous names must use the key", async () => {
    const namespace = ns();
    const s = suite.store({ namespace });
    const registry = new CircuitBreakers({ store: s, namespace });
    await registry.execute("geo", () => 1);
    const lone = new CircuitBreaker({ name: "geo", store: s });
    lone.recordSuccess();
    const onlyLone = new CircuitBreaker({ name: "maps", store: s });
    onlyLone.recordSuccess();
    await Promise.all([registry.get("geo").flush(), lone.flush(), onlyLone.flush()]);
    const admin = new BreakerAdmin({ client: suite.admin, namespace });
    await expect(admin.get("geo")).rejects.toBeInstanceOf(AmbiguousBreakerError);
    expect((await admin.get(`${namespace}:{geo}`)).name).toBe("geo");
    expect((await admin.get("breaker:geo")).key).toBe(`${namespace}:{breaker:geo}`);
    expect((await admin.get("maps")).key).toBe(`${namespace}:{breaker:maps}`);
    const missing = await admin.get("nope").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(BreakerNotFoundError);
    expect((missing as BreakerNotFoundError).known).toEqual(["breaker:geo", "breaker:maps", "geo"]);
    // A registry left on its default namespace under the store's: listed as "breakwater:cart", found as "cart".
    const nested = new CircuitBreakers({ store: s });
    await nested.execute("cart", () => 1);
    await nested.get("cart").flush();
    expect((await admin.list()).map((b) => b.name)).toContain("breakwater:cart");
    expect((await admin.get("cart")).key).toBe(`${namespace}:breakwater:{cart}`);
  });

  it("isolate and reset are the store's own transitions: a mirror hears them as remote state changes", async () => {
    const namespace = ns();
    const events: StateChangeEvent[] = [];
    const b = new CircuitBreaker({ name: "pay", store: suite.store({ namespace }), onStateChange: (e) => events.push(e) });
    const admin = new BreakerAdmin({ client: suite.admin, namespace, metaTtlMs: 120_000 });
    // A breaker writes nothing until its first call: no record, nothing to find.
    await b.flush();
    await expect(admin.isolate("pay")).rejects.toBeInstanceOf(BreakerNotFoundError);
    b.recordFailure("once");
    await b.flush();
    const isolated = await admin.isolate("pay");
    expect(isolated.transition).toMatchObject({ from: "closed", to: "open", reason: "isolated" });
    expect(isolated.breaker).toMatchObject({ state: "open", isolated: true, nextProbeAt: null, nextProbeInMs: null });
    expect(await suite.admin.pttl(`${namespace}:{breaker:pay}`)).toBeGreaterThan(110_000);
    for (let i = 0; i < 200 && b.isAvailable(); i++) await sleep(2);
    expect(b.isAvailable()).toBe(false);
    expect((await admin.isolate("pay")).transition).toBeNull();
    await admin.reset("pay");
    for (let i = 0; i < 200 && !b.isAvailable(); i++) await sleep(2);
    expect(b.isAvailable()).toBe(true);
    expect(events.map((e) => `${e.from}->${e.to}:${e.origin}`)).toEqual(["closed->open:remote", "open->closed:remote"]);
  });
});

describe("FleetBreakers (the dashboard's view of the fleet)", () => {
  it("sees new breakers, hears transitions by pub/sub before the next refresh, and acts for the fleet", async () => {
    const namespace = ns();
    const registry = new CircuitBreakers({
      store: suite.store({ namespace }),
      namespace,
      defaults: { trip: consecutiveFailures(1), recovery: 60_000 },
    });
    await registry.execute("a", () => 1);
    await registry.get("a").flush();
    const problems: unknown[] = [];
    const fleet = new BreakerAdmin({ client: suite.admin, namespace }).fleet({ refreshMs: 60_000, onError: (e) => problems.push(e) });
    suite.track(fleet);
    const created: string[] = [];
    fleet.onCreate((name) => created.push(name));
    await fleet.start();
    expect(fleet.names()).toEqual(["a"]);
    expect(created).toEqual(["a"]);
    const changes: StateChangeEvent[] = [];
    fleet.get("a").on("stateChange", (e) => changes.push(e));

    // refreshMs is a minute: only the published transition can bring this in time.
    await registry.execute("a", boom).catch(() => undefined);
    await registry.get("a").flush();
    for (let i = 0; i < 100 && fleet.get("a").state !== "open"; i++) await sleep(2);
    expect(fleet.get("a").state).toBe("open");
    expect(changes.map((e) => `${e.from}->${e.to}`)).toEqual(["closed->open"]);
    const status = fleet.get("a").status();
    expect(status).toMatchObject({
      name: "a",
      state: "open",
      store: "redis",
      failures: 1,
      retryPhase: "fixed",
      attempt: 1,
      lastFailure: { reason: "down" },
    });
    expect(status.retryAfterMs).toBeGreaterThan(55_000);
    // Per-process call totals are not in Redis: the dashboard shows none rather than zeros.
    expect(viewOf(fleet.get("a")).totals).toBeNull();
    expect(viewOf(registry.get("a")).totals).not.toBeNull();

    fleet.get("a").reset();
    for (let i = 0; i < 100 && registry.get("a").state !== "closed"; i++) await sleep(2);
    expect(registry.get("a").state).toBe("closed");

    await registry.execute("b", () => 1);
    await registry.get("b").flush();
    await fleet.refresh();
    expect(fleet.names()).toEqual(["a", "b"]);
    expect(() => fleet.get("zzz")).toThrow(BreakerNotFoundError);

    await suite.admin.del(`${namespace}:{b}`); // expired, as an idle record does
    await fleet.refresh();
    expect(fleet.names()).toEqual(["a"]);
    expect(problems).toEqual([]);
  });
});

describe("describeRecord and nameOfKey", () => {
  const record = (over: Partial<BreakerRecord>): BreakerRecord => ({
    state: "closed",
    isolated: false,
    epoch: 0,
    openedAt: -1,
    nextProbeAt: 0,
    attempt: 0,
    openForMs: 0,
    trials: 0,
    trialSuccesses: 0,
    halfOpenAt: -1,
    trip: { consecutive: 0 },
    lastFailure: null,
    outcomes: 0,
    failers: {},
    views: {},
    ...over,
  });

  it("reads the trip rule and recovery schedule from the stored params", () => {
    const params = JSON.stringify({
      trip: JSON.stringify(failureRatio(0.5, { windowCalls: 4 }).spec),
      recovery: JSON.stringify(exponential({ initialMs: 100, maxMs: 400 }).spec),
      maxCalls: 2,
      successesToClose: 2,
      trialTimeoutMs: 60_000,
    });
    const r = record({
      state: "open",
      attempt: 3,
      openedAt: 1_000,
      nextProbeAt: 1_400,
      trip: { ring: [1, 1, 0, 0], next: 2, filled: 2, failures: 2 },
      lastFailure: { reason: "x", at: 1_000 },
    });
    const s = describeRecord("n:{svc}", "svc", params, r, 1_100);
    expect(s).toMatchObject({
      failures: 2,
      trip: { kind: "failureRatio", windowCalls: 4 },
      retryPhase: "capped",
      attempt: 3,
      nextProbeAt: 1_400,
      nextProbeInMs: 300,
      openedAt: 1_000,
      halfOpen: { maxCalls: 2 },
    });
    // Params it cannot read (another version's) degrade to unknowns, never throw.
    expect(describeRecord("n:{svc}", "svc", "not json", r, 1_100)).toMatchObject({
      failures: 0,
      trip: null,
      retryPhase: null,
      state: "open",
    });
  });

  it("reads a half-open record as CircuitBreaker.status() does (0 failures), Infinity from its stored form, and the own views still open", () => {
    const params = JSON.stringify({
      trip: JSON.stringify(consecutiveFailures(3).spec),
      recovery: JSON.stringify(exponential({ initialMs: 100, maxMs: 400 }).spec),
      maxCalls: "inf",
      quorum: 2,
    });
    const r = record({
      state: "half-open",
      attempt: 1,
      openedAt: 1_000,
      trip: { consecutive: 3 },
      views: { b: 2_000, a: 1_500, old: 900 },
    });
    expect(describeRecord("n:{svc}", "svc", params, r, 1_200)).toMatchObject({
      state: "half-open",
      failures: 0,
      trip: { kind: "consecutiveFailures", threshold: 3 },
      nextProbeAt: null,
      nextProbeInMs: null,
      retryPhase: "exponential",
      halfOpen: { maxCalls: Infinity },
      quorum: 2,
      ownViewsOpen: ["a", "b"],
    });
  });

  it("names keys by their hash tag", () => {
    expect(nameOfKey("shop:{payments}", "shop")).toBe("payments");
    expect(nameOfKey("shop:{breaker:geo}", "shop")).toBe("breaker:geo");
    expect(nameOfKey("shop:eu:{search}", "shop")).toBe("eu:search");
  });
});
