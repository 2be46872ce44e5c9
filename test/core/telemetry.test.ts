import { Registry } from "prom-client";
import { describe, expect, it, vi } from "vitest";
import {
  AdaptiveRateLimiter,
  bulkhead,
  type BulkheadPolicy,
  CircuitBreaker,
  CircuitBreakers,
  consecutiveFailures,
  constant,
  Emitter,
  fallback,
  InvalidOptionError,
  type Logger,
  logEvents,
  logTelemetry,
  ManualClock,
  noTelemetry,
  RetryPolicy,
  type Telemetry,
  type TelemetryEvent,
  TelemetryStream,
  timeout,
  TokenBucket,
} from "../../src/index.js";
import { ApiClient, EnterpriseClient, type RequestMetricsEvent } from "../../src/http/index.js";
import { instrumentPrometheus } from "../../src/prometheus/index.js";
import { parseExposition, valueOf } from "../observe/exposition.js";
import { reply, serverForFile } from "../http/server.js";

const server = serverForFile();

/** A sink that keeps every event, as `source.event name`. */
function recorder(): Telemetry & { events: TelemetryEvent[]; seen(): string[] } {
  const events: TelemetryEvent[] = [];
  return { events, report: (e) => void events.push(e), seen: () => events.map((e) => `${e.source}.${e.event} ${e.name}`) };
}

/** Fills a one-slot bulkhead, has it refuse a second call, then frees the slot. */
async function refuseOne(gate: BulkheadPolicy): Promise<void> {
  let release = (): void => undefined;
  const busy = gate.execute(() => new Promise<void>((resolve) => (release = resolve)));
  await gate.execute(() => "no room").catch(() => undefined);
  release();
  await busy;
}

function lines(): Logger & { calls: { level: string; fields: Record<string, unknown>; message: string | undefined }[] } {
  const calls: { level: string; fields: Record<string, unknown>; message: string | undefined }[] = [];
  const at =
    (level: string) =>
    (fields: object, message?: string): void =>
      void calls.push({ level, fields: fields as Record<string, unknown>, message });
  return { calls, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

describe("the telemetry port: every policy reports through the one it is handed", () => {
  it("a breaker reports its events with their payloads", async () => {
    const telemetry = recorder();
    const breaker = new CircuitBreaker({ name: "payments", trip: consecutiveFailures(1), recovery: 1_000, telemetry });
    await breaker.execute(() => "ok");
    await breaker.execute(() => Promise.reject(new Error("down"))).catch(() => undefined);
    await breaker.execute(() => "refused").catch(() => undefined);
    expect(telemetry.seen()).toEqual([
      "breaker.success payments",
      "breaker.failure payments",
      "breaker.stateChange payments",
      "breaker.rejected payments",
    ]);
    expect(telemetry.events[2]?.payload).toMatchObject({ name: "payments", from: "closed", to: "open", scope: "fleet" });
  });

  it("a registry hands its telemetry to every service's breaker", async () => {
    const telemetry = recorder();
    const breakers = new CircuitBreakers({ defaults: { trip: consecutiveFailures(1) }, telemetry });
    await breakers.execute("a", () => Promise.reject(new Error("x"))).catch(() => undefined);
    await breakers.execute("b", () => "ok");
    expect(telemetry.seen()).toEqual(["breaker.failure a", "breaker.stateChange a", "breaker.success b"]);
  });

  it("retry, limiters, the adaptive limiter, timeout, bulkhead and fallback report under their names", async () => {
    const clock = new ManualClock();
    const telemetry = recorder();
    let n = 0;
    await new RetryPolicy({ maxAttempts: 2, backoff: constant(0), clock, telemetry }).execute(() =>
      ++n === 1 ? Promise.reject(new Error("once")) : "ok",
    );
    const bucket = new TokenBucket({ name: "per-user", ratePerSec: 1, capacity: 1, clock, telemetry });
    await bucket.tryAcquire("alice");
    await bucket.tryAcquire("alice");
    const adaptive = new AdaptiveRateLimiter({ name: "notion", clock, telemetry });
    await adaptive.onBackoff({ status: 429, retryAfterMs: 1_000 });
    const limit = timeout(10, { clock, telemetry, mode: "aggressive" });
    const late = limit.execute(() => new Promise(() => undefined)).catch((e: unknown) => e);
    await clock.advanceAsync(10);
    await late;
    const gate = bulkhead({ name: "pool", maxConcurrent: 1, telemetry });
    await refuseOne(gate);
    await fallback("cached", { telemetry }).execute(() => Promise.reject(new Error("down")));
    const seen = telemetry.seen();
    expect(seen).toEqual(
      expect.arrayContaining([
        "retry.retry retry",
        "retry.success retry",
        "limiter.acquired per-user",
        "limiter.rejected per-user",
        "adaptive.backoff notion",
        "adaptive.cooldown notion",
        "timeout.timeout timeout",
        "bulkhead.rejected pool",
        "fallback.fallback fallback",
      ]),
    );
    expect(telemetry.events.find((e) => e.source === "bulkhead")?.payload).toEqual({ running: 1, queued: 0 });
    expect(telemetry.events.find((e) => e.source === "timeout")?.payload).toEqual({ timeoutMs: 10, mode: "aggressive" });
  });

  it("an ApiClient reports its requests and its limiter's events", async () => {
    const telemetry = recorder();
    const client = new ApiClient({ baseUrl: server.url, name: "upstream", telemetry });
    server.handle(reply(204));
    await client.request("GET", "/a");
    expect(telemetry.seen()).toEqual(["adaptive.acquired upstream", "http.request upstream"]);
    expect(telemetry.events[1]?.payload).toMatchObject({ method: "GET", path: "/a", status: 204, attempts: 1, outcome: "ok" });
  });

  it("an EnterpriseClient reports each request once, and its limiter's and breaker's events", async () => {
    const telemetry = recorder();
    const client = new EnterpriseClient({ integration: "crm", baseUrl: server.url, telemetry, circuitBreaker: { failureThreshold: 1 } });
    server.handle(reply(503));
    await client.request("GET", "/x").catch(() => undefined);
    const requests = telemetry.events.filter((e) => e.source === "http");
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ name: "crm", event: "request", payload: { status: 503 } });
    expect(telemetry.seen()).toEqual(expect.arrayContaining(["breaker.failure crm", "breaker.stateChange crm"]));
    client.close();
  });
});

describe("the one request event of EnterpriseClient", () => {
  it("feeds on('request'), onMetrics and the logger with the same figures (onMetrics and logs keep statusCode and elapsedMs)", async () => {
    const clock = new ManualClock(1_000);
    const metrics: RequestMetricsEvent[] = [];
    const logger = lines();
    const client = new EnterpriseClient({
      integration: "crm",
      tenantId: "acme",
      baseUrl: server.url,
      clock,
      onMetrics: (e) => void metrics.push(e),
      logger,
      context: { region: "eu" },
    });
    const events: unknown[] = [];
    client.on("request", (e) => void events.push(e));
    server.handle(reply(201));
    await client.request("post", "/items");
    expect(events).toEqual([
      { integration: "crm", method: "POST", path: "/items", status: 201, durationMs: 0, attempts: 1, outcome: "ok", error: undefined },
    ]);
    // The figures onMetrics and the log line share, under their long-standing names.
    const figures = { method: "POST", path: "/items", statusCode: 201, elapsedMs: 0, attempts: 1, outcome: "ok" };
    expect(metrics).toEqual([
      expect.objectContaining({
        ...figures,
        integration: "crm",
        tenantId: "acme",
        error: null,
        circuitState: "closed",
        context: { region: "eu" },
      }),
    ]);
    expect(logger.calls).toEqual([
      {
        level: "info",
        fields: { integration: "crm", tenantId: "acme", context: { region: "eu" }, ...figures },
        message: "upstream request completed",
      },
    ]);
    client.close();
  });
});

describe("attach, wants and failures", () => {
  it("an event no listener and no sink wants is not built: has() stays false", () => {
    const emitter = new Emitter<{ tick: { n: number }; tock: { n: number } }>(undefined, {
      source: "clock",
      name: "c",
      telemetry: { report: () => undefined, wants: (_s, e) => e === "tock" },
    });
    expect(emitter.has("tick")).toBe(false);
    expect(emitter.has("tock")).toBe(true);
    const quiet = new Emitter<{ tick: { n: number } }>(undefined, { source: "clock", name: "c", telemetry: noTelemetry });
    expect(quiet.has("tick")).toBe(false);
  });

  it("a sink attached twice (directly and through a registry) gets each event once, until both detach", async () => {
    const sink = recorder();
    const breakers = new CircuitBreakers({ defaults: { trip: consecutiveFailures(1) } });
    const breaker = breakers.get("svc");
    const viaRegistry = breakers.attach(sink);
    const direct = breaker.attach(sink);
    await breaker.execute(() => "ok");
    expect(sink.seen()).toEqual(["breaker.success svc"]);
    direct();
    await breaker.execute(() => "ok");
    expect(sink.events).toHaveLength(2);
    viaRegistry();
    await breaker.execute(() => "ok");
    expect(sink.events).toHaveLength(2);
  });

  it("attach renames a policy's own events when asked", async () => {
    const sink = recorder();
    const bucket = new TokenBucket({ ratePerSec: 1, capacity: 1 });
    bucket.attach(sink, { name: "renamed" });
    await bucket.tryAcquire();
    expect(sink.seen()).toEqual(["limiter.acquired renamed"]);
  });

  it("a sink that throws goes to onListenerError; the call is unaffected", async () => {
    const onListenerError = vi.fn();
    const telemetry: Telemetry = {
      report: () => {
        throw new Error("sink down");
      },
    };
    const breaker = new CircuitBreaker({ name: "b", telemetry, onListenerError });
    await expect(breaker.execute(() => 42)).resolves.toBe(42);
    expect(onListenerError).toHaveBeenCalledWith(expect.objectContaining({ message: "sink down" }), "success");
  });

  it("a bad telemetry option or attach argument names the option and what is allowed", () => {
    expect(() => new CircuitBreaker({ telemetry: {} as Telemetry })).toThrow(InvalidOptionError);
    expect(() => new CircuitBreaker({ telemetry: {} as Telemetry })).toThrow(/option "telemetry" must be a Telemetry/);
    expect(() => timeout(10, { telemetry: "log" as unknown as Telemetry })).toThrow(/telemetry/);
    expect(() => new TokenBucket({ ratePerSec: 1, capacity: 1 }).attach(null as unknown as Telemetry)).toThrow(/telemetry/);
    expect(() => new TokenBucket({ ratePerSec: 1, capacity: 1 }).attach(recorder(), { name: "" })).toThrow(/name/);
    expect(() => bulkhead({ maxConcurrent: 1, name: "" })).toThrow(/name/);
  });
});

describe("consumers of the stream", () => {
  it("a TelemetryStream fans out to its subscribers; logTelemetry and Prometheus read it", async () => {
    const stream = new TelemetryStream();
    const logger = lines();
    const registry = new Registry();
    const metrics = instrumentPrometheus({ registry });
    const offLogs = stream.subscribe(logTelemetry(logger, { levels: { "fallback.fallback": "info" } }));
    stream.subscribe(metrics.telemetry);
    const spare = fallback(0, { name: "cache", telemetry: stream });
    const gate = bulkhead({ name: "pool", maxConcurrent: 1, telemetry: stream });
    await spare.execute(() => Promise.reject(new Error("down")));
    await refuseOne(gate);
    expect(logger.calls.map((c) => [c.level, c.fields.event, c.fields.name])).toEqual([
      ["info", "fallback.fallback", "cache"],
      ["debug", "bulkhead.rejected", "pool"],
    ]);
    const samples = parseExposition(await registry.metrics());
    expect(valueOf(samples, "fallback_total", { name: "cache" })).toBe(1);
    expect(valueOf(samples, "bulkhead_rejected_total", { name: "pool" })).toBe(1);
    offLogs();
    await spare.execute(() => Promise.reject(new Error("again")));
    expect(logger.calls).toHaveLength(2);
    expect(valueOf(parseExposition(await registry.metrics()), "fallback_total", { name: "cache" })).toBe(2);
    metrics.close();
  });

  it("logEvents and observe accept a timeout, a bulkhead and a fallback", async () => {
    const clock = new ManualClock();
    const limit = timeout(5, { name: "slow", clock, mode: "aggressive" });
    const logger = lines();
    const registry = new Registry();
    const metrics = instrumentPrometheus({ registry });
    const stopLogs = logEvents(limit, logger, { levels: { "timeout.timeout": "warn" } });
    const stopMetrics = metrics.observe(limit);
    const late = limit.execute(() => new Promise(() => undefined)).catch(() => undefined);
    await clock.advanceAsync(5);
    await late;
    expect(logger.calls).toEqual([
      {
        level: "warn",
        fields: { event: "timeout.timeout", name: "slow", timeoutMs: 5, mode: "aggressive" },
        message: "timeout slow: a call ran past 5 ms (aggressive)",
      },
    ]);
    expect(valueOf(parseExposition(await registry.metrics()), "timeout_total", { name: "slow" })).toBe(1);
    stopLogs();
    stopMetrics();
    metrics.close();
  });
});
