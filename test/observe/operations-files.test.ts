import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  AdaptiveRateLimiter,
  bulkhead,
  CircuitBreakers,
  consecutiveFailures,
  constant,
  fallback,
  ManualClock,
  RetryPolicy,
  timeout,
  TokenBucket,
} from "../../src/index.js";
import { EnterpriseClient } from "../../src/http/index.js";
import { instrumentPrometheus, METRICS } from "../../src/prometheus/index.js";
import { parseExposition } from "./exposition.js";

const root = join(import.meta.dirname, "..", "..", "observability");

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function alerts(): Rule[] {
  const doc = parse(readFileSync(join(root, "alerts.yaml"), "utf8")) as { groups: { name: string; rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

function dashboard(): { panels: Panel[]; templating: { list: { definition?: string }[] }; annotations: { list: { expr?: string }[] } } {
  return JSON.parse(readFileSync(join(root, "grafana-dashboard.json"), "utf8"));
}

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "inf",
  "nan",
]);

/** The metric names a PromQL expression reads (functions, labels, keywords and template variables left out). */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "")
    .replace(/\$[a-zA-Z_]\w*/g, "");
  const names: string[] = [];
  for (const m of bare.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()/g)) {
    const id = m[1] as string;
    if (!KEYWORDS.has(id.toLowerCase()) && !/^\d/.test(id)) names.push(id);
  }
  return names;
}

function namesInAlerts(): Set<string> {
  return new Set(alerts().flatMap((r) => metricNamesIn(r.expr)));
}

function namesInDashboard(): Set<string> {
  const d = dashboard();
  const exprs = [
    ...d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...d.annotations.list.flatMap((a) => (a.expr ? [a.expr] : [])),
  ];
  const names = new Set(exprs.flatMap(metricNamesIn));
  for (const v of d.templating.list) {
    const m = /label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(v.definition ?? "");
    if (m) names.add(m[1] as string);
  }
  return names;
}

/**
 * Every series name the exposition holds after observing every kind of target (breakers,
 * retry, limiter, adaptive limiter, HTTP client, timeout, bulkhead, fallback) and driving each once: only names with a
 * sample count, so a metric declared but never fed would be caught.
 */
async function exportedNames(): Promise<Set<string>> {
  const registry = new Registry();
  const metrics = instrumentPrometheus({ registry });
  const breakers = new CircuitBreakers({ defaults: { trip: consecutiveFailures(1) } });
  const retry = new RetryPolicy({ maxAttempts: 2, backoff: constant(0) });
  const limiter = new TokenBucket({ name: "bucket", ratePerSec: 1, capacity: 1 });
  const adaptive = new AdaptiveRateLimiter({ name: "adaptive" });
  const client = new EnterpriseClient({ integration: "api", baseUrl: "https://api.example.com", fetch: async () => new Response("{}") });
  const clock = new ManualClock();
  const limit = timeout(10, { name: "slow", clock, mode: "aggressive" });
  const gate = bulkhead({ name: "pool", maxConcurrent: 1 });
  const spare = fallback("cached", { name: "cache" });
  for (const target of [breakers, retry, limiter, adaptive, client, limit, gate, spare]) metrics.observe(target);
  await breakers.execute("svc", () => "ok");
  await breakers.execute("svc", () => Promise.reject(new Error("down"))).catch(() => undefined);
  await breakers.execute("svc", () => "refused").catch(() => undefined);
  let attempts = 0;
  await retry.execute(() => (++attempts === 1 ? Promise.reject(new Error("once")) : "ok"));
  await limiter.tryAcquire();
  await limiter.tryAcquire();
  await client.request("GET", "/");
  const late = limit.execute(() => new Promise(() => undefined)).catch(() => undefined);
  await clock.advanceAsync(10);
  await late;
  let release = (): void => undefined;
  const busy = gate.execute(() => new Promise<void>((resolve) => (release = resolve)));
  await gate.execute(() => "refused").catch(() => undefined);
  release();
  await busy;
  await spare.execute(() => Promise.reject(new Error("down")));
  const names = new Set(parseExposition(await registry.metrics()).map((s) => s.name));
  metrics.close();
  return names;
}

describe("observability/alerts.yaml", () => {
  it("parses, and holds the three resilience rules (CircuitBreakerOpen, HighRetryRate, RateLimitingActive) as they are, plus the adaptive limiter's cooldown", () => {
    const rules = alerts();
    expect(rules.map((r) => r.alert)).toEqual([
      "CircuitBreakerOpen",
      "HighRetryRate",
      "RateLimitingActive",
      "AdaptiveRateLimiterCooldown",
      "BulkheadRejecting",
    ]);
    const byName = Object.fromEntries(rules.map((r) => [r.alert, r]));
    expect(byName.CircuitBreakerOpen).toMatchObject({
      expr: 'circuit_breaker_state{state="open"} == 1',
      for: "1m",
      labels: { severity: "warning" },
    });
    expect(byName.HighRetryRate).toMatchObject({ expr: "rate(retry_attempts_total[5m]) > 10", for: "5m", labels: { severity: "warning" } });
    expect(byName.RateLimitingActive).toMatchObject({
      expr: "rate(rate_limit_rejected_total[5m]) > 0",
      for: "1m",
      labels: { severity: "info" },
    });
    expect(byName.AdaptiveRateLimiterCooldown?.expr).toContain("adaptive_rate_limit_cooldown_seconds");
    expect(byName.BulkheadRejecting).toMatchObject({ expr: "rate(bulkhead_rejected_total[5m]) > 0", for: "5m" });
    for (const r of rules) {
      expect(r.for).toMatch(/^\d+[smh]$/);
      expect(r.annotations.summary).toBeTruthy();
    }
  });

  it("names only metrics we export", async () => {
    const exported = await exportedNames();
    const named = namesInAlerts();
    expect(named.size).toBeGreaterThanOrEqual(4);
    expect([...named].filter((n) => !exported.has(n))).toEqual([]);
  });
});

describe("observability/grafana-dashboard.json", () => {
  it("parses as a dashboard whose panels each query Prometheus", () => {
    const d = dashboard();
    const charts = d.panels.filter((p) => p.type !== "row");
    expect(charts.length).toBeGreaterThanOrEqual(10);
    for (const p of charts) expect(p.targets?.length, p.title).toBeGreaterThan(0);
  });

  it("every metric of the catalogue has samples once every kind of target is observed", async () => {
    const exported = await exportedNames();
    const missing = Object.values(METRICS)
      .map((m) => (m.kind === "histogram" ? `${m.name}_count` : m.name))
      .filter((n) => !exported.has(n));
    expect(missing).toEqual([]);
  });

  it("names only metrics we export, and charts every one of them", async () => {
    const exported = await exportedNames();
    const named = namesInDashboard();
    expect([...named].filter((n) => !exported.has(n))).toEqual([]);
    const charted = new Set([...named].map((n) => n.replace(/_(bucket|sum|count)$/, "")));
    expect(
      Object.values(METRICS)
        .map((m) => m.name)
        .filter((n) => !charted.has(n)),
    ).toEqual([]);
  });
});

describe("metricNamesIn", () => {
  it("finds metric names and leaves functions, labels, ranges, keywords and variables out", () => {
    expect(
      metricNamesIn('histogram_quantile(0.99, sum by (le, name) (rate(retry_attempts_bucket{name=~"$x"}[$__rate_interval])))'),
    ).toEqual(["retry_attempts_bucket"]);
    expect(metricNamesIn('a_total / on (name) b_total{state="open"} > bool 0 or vector(0)')).toEqual(["a_total", "b_total"]);
    expect(metricNamesIn("max_over_time(adaptive_rate_limit_cooldown_seconds[2m]) > 0")).toEqual(["adaptive_rate_limit_cooldown_seconds"]);
  });
});
