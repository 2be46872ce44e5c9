import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  AdaptiveRateLimiter,
  CircuitBreakers,
  consecutiveFailures,
  FixedWindow,
  ManualClock,
  SlidingWindow,
  TokenBucket,
} from "../../src/index.js";
import { ApiClient, EnterpriseClient } from "../../src/http/index.js";
import { instrumentOpenTelemetry } from "../../src/otel/index.js";
import { instrumentPrometheus } from "../../src/prometheus/index.js";
import { parseExposition, valueOf } from "./exposition.js";
import { inMemoryMeter, pointOf } from "./otel-reader.js";

function setup() {
  const registry = new Registry();
  const metrics = instrumentPrometheus({ registry });
  const clock = new ManualClock(1_000_000);
  const scrape = async () => parseExposition(await registry.metrics());
  return { registry, metrics, clock, scrape };
}

/** A fetch that answers `statuses` in turn, each after `ms` on `clock`. */
function scriptedFetch(clock: ManualClock, ms: number, statuses: number[], headers: Record<string, string> = {}) {
  let i = 0;
  return async (): Promise<Response> => {
    clock.advance(ms);
    const status = statuses[Math.min(i++, statuses.length - 1)] as number;
    return new Response(status === 204 ? null : "{}", { status, headers });
  };
}

describe("instrumentPrometheus: keyed rate limiters", () => {
  it("counts refusals and records waits per limiter, keys summed and never labels", async () => {
    const { metrics, clock, scrape } = setup();
    const limiter = new TokenBucket({ name: "api-per-user", ratePerSec: 10, capacity: 2, clock });
    metrics.observe(limiter);

    expect((await limiter.tryAcquire("alice")).allowed).toBe(true);
    expect((await limiter.tryAcquire("alice")).allowed).toBe(true);
    expect((await limiter.tryAcquire("alice")).allowed).toBe(false);
    expect((await limiter.tryAcquire("bob")).allowed).toBe(true);
    expect(await limiter.tryAcquire("bob", 3).catch(() => "never")).toBe("never");
    // alice's next token comes in 100 ms: acquire waits for it.
    const waited = limiter.acquire("alice");
    clock.advance(100);
    expect((await waited).allowed).toBe(true);

    const s = await scrape();
    expect(valueOf(s, "rate_limit_rejected_total", { limiter: "api-per-user" })).toBe(2);
    expect(valueOf(s, "rate_limit_wait_seconds_count", { limiter: "api-per-user" })).toBe(4);
    expect(valueOf(s, "rate_limit_wait_seconds_sum", { limiter: "api-per-user" })).toBeCloseTo(0.1, 6);
    expect(valueOf(s, "rate_limit_wait_seconds_bucket", { limiter: "api-per-user", le: "0" })).toBe(3);
    expect(valueOf(s, "rate_limit_wait_seconds_bucket", { limiter: "api-per-user", le: "0.05" })).toBe(3);
    expect(valueOf(s, "rate_limit_wait_seconds_bucket", { limiter: "api-per-user", le: "0.1" })).toBe(4);
    const labelNames = new Set(s.filter((x) => x.name.startsWith("rate_limit_")).flatMap((x) => Object.keys(x.labels)));
    expect([...labelNames].sort()).toEqual(["le", "limiter"]);
    expect(JSON.stringify(s)).not.toMatch(/alice|bob/);
  });

  it("observes SlidingWindow and FixedWindow alike, each under its name", async () => {
    const { metrics, clock, scrape } = setup();
    const sliding = new SlidingWindow({ name: "search", limit: 1, windowMs: 1_000, clock });
    const fixed = new FixedWindow({ name: "export", limit: 1, windowMs: 1_000, clock });
    metrics.observe(sliding);
    metrics.observe(fixed);
    for (let i = 0; i < 3; i++) await sliding.tryAcquire();
    for (let i = 0; i < 2; i++) await fixed.tryAcquire();
    await expect(fixed.acquire("default", { maxWaitMs: 10 })).rejects.toThrow(/Rate limit exceeded/);
    const s = await scrape();
    expect(valueOf(s, "rate_limit_rejected_total", { limiter: "search" })).toBe(2);
    expect(valueOf(s, "rate_limit_rejected_total", { limiter: "export" })).toBe(2);
    expect(valueOf(s, "rate_limit_wait_seconds_count", { limiter: "search" })).toBe(1);
    expect(valueOf(s, "rate_limit_wait_seconds_count", { limiter: "export" })).toBe(1);
  });

  it("stops counting once unsubscribed, and keeps the totals", async () => {
    const { metrics, clock, scrape } = setup();
    const limiter = new TokenBucket({ name: "t", ratePerSec: 1, capacity: 1, clock });
    const off = metrics.observe(limiter, { name: "renamed" });
    await limiter.tryAcquire();
    await limiter.tryAcquire();
    off();
    await limiter.tryAcquire();
    const s = await scrape();
    expect(valueOf(s, "rate_limit_rejected_total", { limiter: "renamed" })).toBe(1);
    expect(valueOf(s, "rate_limit_rejected_total", { limiter: "t" })).toBeUndefined();
    expect((limiter as unknown as { events: { has(e: string): boolean } }).events.has("acquired")).toBe(false);
  });
});

describe("instrumentPrometheus: adaptive rate limiter", () => {
  it("exports its current rate and cooldown, read at each scrape, and its waits and refusals", async () => {
    const { metrics, clock, scrape } = setup();
    const limiter = new AdaptiveRateLimiter({ name: "notion", clock, initialRatePerSec: 4, minRatePerSec: 1, maxRatePerSec: 4, burst: 1 });
    metrics.observe(limiter);

    const first = await limiter.acquire();
    limiter.onSuccess(null, first);
    let s = await scrape();
    expect(valueOf(s, "adaptive_rate_limit_rate", { limiter: "notion" })).toBe(4);
    expect(valueOf(s, "adaptive_rate_limit_cooldown_seconds", { limiter: "notion" })).toBe(0);

    const second = limiter.acquire();
    await clock.advanceAsync(250);
    limiter.onBackoff({ status: 429, retryAfterMs: 2_000, permit: await second });
    await expect(limiter.acquire({ maxWaitMs: 100 })).rejects.toThrow();
    s = await scrape();
    const rate = limiter.snapshot().ratePerSec;
    expect(rate).toBeLessThan(4);
    expect(valueOf(s, "adaptive_rate_limit_rate", { limiter: "notion" })).toBe(rate);
    expect(valueOf(s, "adaptive_rate_limit_cooldown_seconds", { limiter: "notion" })).toBe(2);
    expect(valueOf(s, "rate_limit_rejected_total", { limiter: "notion" })).toBe(1);
    expect(valueOf(s, "rate_limit_wait_seconds_count", { limiter: "notion" })).toBe(2);
    expect(valueOf(s, "rate_limit_wait_seconds_sum", { limiter: "notion" })).toBeCloseTo(0.25, 6);

    clock.advance(1_500);
    s = await scrape();
    expect(valueOf(s, "adaptive_rate_limit_cooldown_seconds", { limiter: "notion" })).toBe(0.5);
    clock.advance(600);
    s = await scrape();
    expect(valueOf(s, "adaptive_rate_limit_cooldown_seconds", { limiter: "notion" })).toBe(0);
  });

  it("adds up the rates of limiters sharing a name (one per tenant) and takes the longest cooldown", async () => {
    const { metrics, clock, scrape } = setup();
    const a = new AdaptiveRateLimiter({ name: "hubspot", key: "adaptive:hubspot:a", clock, initialRatePerSec: 3 });
    const b = new AdaptiveRateLimiter({ name: "hubspot", key: "adaptive:hubspot:b", clock, initialRatePerSec: 5 });
    metrics.observe(a);
    metrics.observe(b);
    b.onBackoff({ status: 429, retryAfterMs: 4_000 });
    const s = await scrape();
    expect(s.filter((x) => x.name === "adaptive_rate_limit_rate")).toHaveLength(1);
    expect(valueOf(s, "adaptive_rate_limit_rate", { limiter: "hubspot" })).toBe(a.snapshot().ratePerSec + b.snapshot().ratePerSec);
    expect(valueOf(s, "adaptive_rate_limit_cooldown_seconds", { limiter: "hubspot" })).toBe(4);
  });
});

describe("instrumentPrometheus: HTTP clients", () => {
  it("ApiClient: counts requests by status and records their duration; its limiter is observed too", async () => {
    const { metrics, clock, scrape } = setup();
    const client = new ApiClient({
      baseUrl: "https://api.example.com",
      name: "example",
      clock,
      rateConfig: { ratePerSec: 100, burst: 10 },
      fetch: scriptedFetch(clock, 120, [200, 404, 500]),
    });
    metrics.observe(client);
    await client.request("GET", "/a");
    await client.request("GET", "/b");
    await client.request("GET", "/c");
    await client.request("GET", "/d");
    const s = await scrape();
    expect(valueOf(s, "http_client_requests_total", { integration: "example", status: "200" })).toBe(1);
    expect(valueOf(s, "http_client_requests_total", { integration: "example", status: "404" })).toBe(1);
    expect(valueOf(s, "http_client_requests_total", { integration: "example", status: "500" })).toBe(2);
    expect(valueOf(s, "http_client_request_duration_seconds_count", { integration: "example" })).toBe(4);
    expect(valueOf(s, "http_client_request_duration_seconds_sum", { integration: "example" })).toBeCloseTo(0.48, 6);
    expect(valueOf(s, "http_client_request_duration_seconds_bucket", { integration: "example", le: "0.1" })).toBe(0);
    expect(valueOf(s, "http_client_request_duration_seconds_bucket", { integration: "example", le: "0.25" })).toBe(4);
    expect(valueOf(s, "adaptive_rate_limit_rate", { limiter: "example" })).toBe(client.limiter.snapshot().ratePerSec);
    expect(valueOf(s, "rate_limit_wait_seconds_count", { limiter: "example" })).toBe(4);
  });

  it("ApiClient: labels a request without a response by its outcome, and a back-off that outlasts the retries by its status", async () => {
    const { metrics, clock, scrape } = setup();
    let calls = 0;
    const client = new ApiClient({
      baseUrl: "https://flaky.example.com",
      clock,
      maxRetriesOnBackoff: 0,
      rateConfig: { ratePerSec: 100, burst: 10 },
      fetch: async () => {
        if (++calls === 1) throw new TypeError("fetch failed");
        return new Response(null, { status: 429 });
      },
    });
    metrics.observe(client);
    await expect(client.request("GET", "/")).rejects.toThrow("fetch failed");
    await expect(client.request("GET", "/")).rejects.toThrow();
    const s = await scrape();
    expect(valueOf(s, "http_client_requests_total", { integration: "flaky.example.com", status: "error" })).toBe(1);
    expect(valueOf(s, "http_client_requests_total", { integration: "flaky.example.com", status: "429" })).toBe(1);
  });

  it("EnterpriseClient: one count per request (an open circuit included), its breaker and limiter under the integration's name", async () => {
    const { metrics, clock, scrape } = setup();
    const breakers = new CircuitBreakers({ clock, defaults: { trip: consecutiveFailures(2), recovery: 10_000 } });
    const client = new EnterpriseClient({
      integration: "hubspot",
      tenantId: "acme",
      baseUrl: "https://api.hubapi.com",
      clock,
      circuitBreaker: breakers,
      rateConfig: { ratePerSec: 100, burst: 10 },
      fetch: scriptedFetch(clock, 50, [200, 500, 502]),
    });
    metrics.observe(client);
    metrics.observe(breakers); // the same breaker, through its registry: counted once
    await client.request("GET", "/ok");
    await client.request("GET", "/down");
    await client.request("GET", "/down");
    await expect(client.request("GET", "/refused")).rejects.toThrow(/open/i);
    const s = await scrape();
    expect(valueOf(s, "http_client_requests_total", { integration: "hubspot", status: "200" })).toBe(1);
    expect(valueOf(s, "http_client_requests_total", { integration: "hubspot", status: "500" })).toBe(1);
    expect(valueOf(s, "http_client_requests_total", { integration: "hubspot", status: "502" })).toBe(1);
    expect(valueOf(s, "http_client_requests_total", { integration: "hubspot", status: "circuit-open" })).toBe(1);
    expect(valueOf(s, "http_client_request_duration_seconds_count", { integration: "hubspot" })).toBe(4);
    expect(valueOf(s, "circuit_breaker_state", { name: "hubspot", state: "open" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_failures_total", { name: "hubspot" })).toBe(2);
    expect(valueOf(s, "circuit_breaker_rejections_total", { name: "hubspot" })).toBe(1);
    expect(valueOf(s, "circuit_breaker_state_changes_total", { name: "hubspot", state: "open" })).toBe(1);
    expect(valueOf(s, "adaptive_rate_limit_rate", { limiter: "hubspot" })).toBe(client.rateSnapshot().ratePerSec);
    expect(JSON.stringify(s)).not.toContain("acme");
  });

  it("a client nobody observes emits nothing; unsubscribing removes every listener", async () => {
    const { metrics, clock } = setup();
    const client = new ApiClient({ baseUrl: "https://x.example.com", clock, fetch: scriptedFetch(clock, 1, [200]) });
    const has = (target: object, event: string) => (target as { events: { has(e: string): boolean } }).events.has(event);
    expect(has(client, "request")).toBe(false);
    const off = metrics.observe(client);
    expect(has(client, "request")).toBe(true);
    expect(has(client.limiter, "acquired")).toBe(true);
    off();
    expect(has(client, "request")).toBe(false);
    expect(has(client.limiter, "acquired")).toBe(false);
  });
});

describe("instrumentOpenTelemetry: limiters and HTTP clients", () => {
  it("records the same instruments through an in-memory reader", async () => {
    const { meter, collect, shutdown } = inMemoryMeter();
    const metrics = instrumentOpenTelemetry({ meter });
    const clock = new ManualClock(5_000);
    const bucket = new TokenBucket({ name: "per-user", ratePerSec: 1, capacity: 1, clock });
    const adaptive = new AdaptiveRateLimiter({ name: "stripe", clock, initialRatePerSec: 8 });
    const client = new EnterpriseClient({
      integration: "notion",
      baseUrl: "https://api.notion.com",
      clock,
      rateConfig: { ratePerSec: 100, burst: 10 },
      fetch: scriptedFetch(clock, 200, [200, 429], { "retry-after": "3" }),
      maxRetriesOnBackoff: 0,
    });
    metrics.observe(bucket);
    metrics.observe(adaptive);
    metrics.observe(client);

    await bucket.tryAcquire("u1");
    await bucket.tryAcquire("u1");
    await client.request("GET", "/pages");
    await expect(client.request("GET", "/pages")).rejects.toThrow();
    adaptive.onBackoff({ status: 503, retryAfterMs: 1_500 });

    const points = await collect();
    expect(pointOf(points, "rate_limit_rejected_total", { limiter: "per-user" })).toBe(1);
    expect(pointOf(points, "rate_limit_wait_seconds", { limiter: "per-user" })).toMatchObject({ count: 1, sum: 0 });
    expect(pointOf(points, "adaptive_rate_limit_rate", { limiter: "stripe" })).toBe(adaptive.snapshot().ratePerSec);
    expect(pointOf(points, "adaptive_rate_limit_cooldown_seconds", { limiter: "stripe" })).toBe(1.5);
    expect(pointOf(points, "http_client_requests_total", { integration: "notion", status: "200" })).toBe(1);
    expect(pointOf(points, "http_client_requests_total", { integration: "notion", status: "429" })).toBe(1);
    expect(pointOf(points, "http_client_request_duration_seconds", { integration: "notion" })).toMatchObject({ count: 2 });
    // Retry-After: 3 s, minus nothing: the clock has not moved since the 429.
    expect(pointOf(points, "adaptive_rate_limit_cooldown_seconds", { limiter: "notion" })).toBe(3);
    expect(pointOf(points, "circuit_breaker_state", { name: "notion", state: "closed" })).toBe(1);
    const units = Object.fromEntries(points.map((p) => [p.name, p.unit]));
    expect(units).toMatchObject({
      rate_limit_wait_seconds: "s",
      adaptive_rate_limit_rate: "{request}/s",
      http_client_request_duration_seconds: "s",
    });
    await shutdown();
  });
});

describe("instrumentPrometheus: histograms kept in process", () => {
  it("print exactly as a prom-client Histogram with the same buckets and observations", async () => {
    const { Histogram } = await import("prom-client");
    const { BucketHistogram } = await import("../../src/prometheus/bucket-histogram.js");
    const buckets = [0, 0.001, 0.005, 0.5, 60];
    const theirs = new Registry();
    const reference = new Histogram({ name: "wait_seconds", help: "Waits.", labelNames: ["limiter"], buckets, registers: [theirs] });
    const ours = new Registry();
    const histogram = new BucketHistogram("wait_seconds", "Waits.", ["limiter"], buckets);
    ours.registerMetric(histogram as never);
    const a = histogram.bind({ limiter: "a" });
    const b = histogram.bind({ limiter: "b" });
    histogram.bind({ limiter: "never-observed" });
    for (const v of [0, 0, 0.001, 0.0015, 0.5, 0.75, 60, 61]) {
      a(v);
      reference.observe({ limiter: "a" }, v);
    }
    b(0.004);
    reference.observe({ limiter: "b" }, 0.004);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // prom-client adds `exemplar: null` to each value; the rest is the same.
    const plain = async (r: Registry) =>
      (await r.getMetricsAsJSON()).map((m) => ({
        ...m,
        values: m.values.map((v) => ({ labels: v.labels, value: v.value, metricName: (v as { metricName?: string }).metricName })),
      }));
    expect(await plain(ours)).toEqual(await plain(theirs));
    ours.resetMetrics();
    theirs.resetMetrics();
    a(0.002);
    reference.observe({ limiter: "a" }, 0.002);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
