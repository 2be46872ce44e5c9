import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  CircuitBreakers,
  consecutiveFailures,
  constant,
  InvalidOptionError,
  ManualClock,
  RetryPolicy,
} from "../../src/index.js";
import { instrumentPrometheus, METRICS } from "../../src/prometheus/index.js";
import { parseExposition, valueOf } from "./exposition.js";

const boom = (): never => {
  throw new Error("boom");
};

async function scrape(registry: Registry) {
  return parseExposition(await registry.metrics());
}

function setup(prefix?: string) {
  const registry = new Registry();
  const metrics = instrumentPrometheus(prefix === undefined ? { registry } : { registry, prefix });
  const clock = new ManualClock();
  return { registry, metrics, clock };
}

describe("instrumentPrometheus: circuit breaker", () => {
  it("exports state, totals and transitions through a scripted open, probe and close", async () => {
    const { registry, metrics, clock } = setup();
    const breaker = new CircuitBreaker({ name: "payments", clock, trip: consecutiveFailures(2), recovery: 1_000 });
    metrics.observe(breaker);

    await breaker.execute(() => "ok");
    let s = await scrape(registry);
    expect(valueOf(s, "circuit_breaker_state", { name: "payments", state: "closed" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_state", { name: "payments", state: "open" })).toBe(0);
    expect(valueOf(s, "circuit_breaker_state", { name: "payments", state: "half-open" })).toBe(0);
    expect(valueOf(s, "circuit_breaker_successes_total", { name: "payments" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_failures_total", { name: "payments" })).toBe(0);

    await breaker.execute(boom).catch(() => undefined);
    await breaker.execute(boom).catch(() => undefined);
    await breaker.execute(() => "refused").catch(() => undefined);
    await breaker.execute(() => "refused").catch(() => undefined);
    s = await scrape(registry);
    expect(valueOf(s, "circuit_breaker_state", { name: "payments", state: "open" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_state", { name: "payments", state: "closed" })).toBe(0);
    expect(valueOf(s, "circuit_breaker_failures_total", { name: "payments" })).toBe(2);
    expect(valueOf(s, "circuit_breaker_rejections_total", { name: "payments" })).toBe(2);
    expect(valueOf(s, "circuit_breaker_state_changes_total", { name: "payments", state: "open" })).toBe(1);

    clock.advance(1_000);
    await breaker.execute(() => "probe");
    s = await scrape(registry);
    expect(breaker.state).toBe("closed");
    expect(valueOf(s, "circuit_breaker_state", { name: "payments", state: "closed" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_state_changes_total", { name: "payments", state: "half-open" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_state_changes_total", { name: "payments", state: "closed" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_successes_total", { name: "payments" })).toBe(2);
  });

  it("reports an isolated breaker as open", async () => {
    const { registry, metrics } = setup();
    const breaker = new CircuitBreaker({ name: "ledger" });
    metrics.observe(breaker);
    breaker.isolate();
    const s = await scrape(registry);
    expect(valueOf(s, "circuit_breaker_state", { name: "ledger", state: "open" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_state_changes_total", { name: "ledger", state: "open" })).toBe(1);
  });

  it("unsubscribing removes the listeners and the pulled series; event counters keep their totals", async () => {
    const { registry, metrics } = setup();
    const breaker = new CircuitBreaker({ name: "search", trip: consecutiveFailures(1) });
    const off = metrics.observe(breaker);
    await breaker.execute(boom).catch(() => undefined);
    off();
    off();
    breaker.reset();
    const s = await scrape(registry);
    expect(valueOf(s, "circuit_breaker_state", { name: "search", state: "open" })).toBeUndefined();
    expect(valueOf(s, "circuit_breaker_failures_total", { name: "search" })).toBeUndefined();
    expect(valueOf(s, "circuit_breaker_state_changes_total", { name: "search", state: "open" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_state_changes_total", { name: "search", state: "closed" })).toBeUndefined();
  });

  it("counts a breaker observed twice (directly and through its registry) once", async () => {
    const { registry, metrics } = setup();
    const breakers = new CircuitBreakers({ defaults: { trip: consecutiveFailures(1) } });
    const inventory = breakers.get("inventory");
    const offDirect = metrics.observe(inventory);
    const offRegistry = metrics.observe(breakers);
    await breakers.execute("inventory", boom).catch(() => undefined);
    let s = await scrape(registry);
    expect(valueOf(s, "circuit_breaker_state_changes_total", { name: "inventory", state: "open" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_failures_total", { name: "inventory" })).toBe(1);
    offRegistry();
    s = await scrape(registry);
    expect(valueOf(s, "circuit_breaker_failures_total", { name: "inventory" })).toBe(1);
    offDirect();
    s = await scrape(registry);
    expect(valueOf(s, "circuit_breaker_failures_total", { name: "inventory" })).toBeUndefined();
  });
});

describe("instrumentPrometheus: CircuitBreakers registry", () => {
  it("exports every service, including those created after observe, until unsubscribed", async () => {
    const { registry, metrics } = setup();
    const breakers = new CircuitBreakers({ defaults: { trip: consecutiveFailures(1) }, services: { email: {} } });
    const off = metrics.observe(breakers);
    await breakers.execute("sms", boom).catch(() => undefined);
    await breakers.execute("email", () => "sent");
    let s = await scrape(registry);
    expect(valueOf(s, "circuit_breaker_state", { name: "email", state: "closed" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_state", { name: "sms", state: "open" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_successes_total", { name: "email" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_failures_total", { name: "sms" })).toBe(1);

    off();
    breakers.get("push");
    s = await scrape(registry);
    expect(s.filter((x) => x.name === "circuit_breaker_state")).toEqual([]);
    expect(valueOf(s, "circuit_breaker_state_changes_total", { name: "sms", state: "open" })).toBe(1);
  });
});

describe("instrumentPrometheus: options", () => {
  it("creates every metric of the catalogue on the registry, with the prefix", async () => {
    const { registry, metrics } = setup("shop_");
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
    expect(names).toEqual(
      Object.values(METRICS)
        .map((m) => `shop_${m.name}`)
        .sort(),
    );
    expect([...metrics.names].sort()).toEqual(names);
  });

  it("keeps the catalogue's metric names exactly", () => {
    expect(Object.values(METRICS).map((m) => m.name)).toEqual(
      expect.arrayContaining([
        "circuit_breaker_state",
        "circuit_breaker_failures_total",
        "circuit_breaker_successes_total",
        "circuit_breaker_state_changes_total",
        "retry_attempts",
        "retry_attempts_total",
        "rate_limit_rejected_total",
      ]),
    );
  });

  it("rejects unknown options, a bad prefix, a non-registry and a second instrumentation of one registry", () => {
    const registry = new Registry();
    expect(() => instrumentPrometheus({ registry, prefx: "x" } as never)).toThrow(InvalidOptionError);
    expect(() => instrumentPrometheus({ registry, prefix: "9bad-" })).toThrow(/prefix/);
    expect(() => instrumentPrometheus({ registry: {} as never })).toThrow(/registry/);
    instrumentPrometheus({ registry });
    expect(() => instrumentPrometheus({ registry })).toThrow(/one instrumentPrometheus per registry/);
    expect(() => instrumentPrometheus({ registry, prefix: "other_" })).not.toThrow();
  });

  it("rejects a target it cannot observe, naming what it accepts", () => {
    const { metrics } = setup();
    expect(() => metrics.observe({} as never)).toThrow(/CircuitBreaker/);
  });

  it("close() stops observing and removes the metrics from the registry", async () => {
    const { registry, metrics } = setup();
    const breaker = new CircuitBreaker({ name: "a" });
    metrics.observe(breaker);
    metrics.close();
    expect(await registry.getMetricsAsJSON()).toEqual([]);
    expect(() => instrumentPrometheus({ registry })).not.toThrow();
  });
});

describe("instrumentPrometheus: retry policy", () => {
  it("records attempts per call in retry_attempts and retries in retry_attempts_total", async () => {
    const { registry, metrics } = setup();
    const policy = new RetryPolicy({ maxAttempts: 3, backoff: constant(0) });
    metrics.observe(policy, { name: "fetch-orders" });
    await policy.execute(() => "first try");
    let n = 0;
    await policy.execute(() => (++n < 3 ? boom() : "third try"));
    await policy.execute(boom).catch(() => undefined);
    const s = await scrape(registry);
    const labels = { name: "fetch-orders" };
    expect(valueOf(s, "retry_attempts_count", labels)).toBe(3);
    expect(valueOf(s, "retry_attempts_sum", labels)).toBe(1 + 3 + 3);
    expect(valueOf(s, "retry_attempts_bucket", { ...labels, le: "1" })).toBe(1);
    expect(valueOf(s, "retry_attempts_bucket", { ...labels, le: "2" })).toBe(1);
    expect(valueOf(s, "retry_attempts_bucket", { ...labels, le: "3" })).toBe(3);
    expect(valueOf(s, "retry_attempts_total", labels)).toBe(4);
  });

  it('labels a policy without a name "retry", and rejects a bad name option', async () => {
    const { registry, metrics } = setup();
    const policy = new RetryPolicy({ maxAttempts: 2, backoff: constant(0) });
    metrics.observe(policy);
    await policy.execute(boom).catch(() => undefined);
    expect(valueOf(await scrape(registry), "retry_attempts_total", { name: "retry" })).toBe(1);
    expect(() => metrics.observe(policy, { name: "" })).toThrow(/name/);
    expect(() => metrics.observe(policy, { label: "x" } as never)).toThrow(InvalidOptionError);
  });

  it("records nothing for a call aborted before its first attempt", async () => {
    const { registry, metrics } = setup();
    const policy = new RetryPolicy({ maxAttempts: 2, backoff: constant(0) });
    metrics.observe(policy);
    await policy.execute(() => "never", { signal: AbortSignal.abort() }).catch(() => undefined);
    expect(valueOf(await scrape(registry), "retry_attempts_count", { name: "retry" })).toBeUndefined();
  });
});
