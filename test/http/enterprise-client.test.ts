import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../src/breaker/circuit-breaker.js";
import { CircuitBreakers } from "../../src/breaker/circuit-breakers.js";
import { consecutiveFailures } from "../../src/breaker/trip.js";
import { ManualClock } from "../../src/core/clock.js";
import { BackoffExhaustedError, CircuitOpenError, InvalidOptionError, TimeoutError } from "../../src/core/errors.js";
import { EnterpriseClient, type EnterpriseClientOptions, type RequestMetricsEvent } from "../../src/http/enterprise-client.js";
import { MemoryStore } from "../../src/store/memory.js";
import { delayed, hang, hangUp, reply, sequence, failure, serverForFile, type TestServer, until } from "./server.js";

const server = serverForFile();

interface LogLine {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** A pino-style logger that records every line. */
function recordingLogger(): {
  lines: LogLine[];
  debug: (o: Record<string, unknown>, m: string) => void;
  info: (o: Record<string, unknown>, m: string) => void;
  warn: (o: Record<string, unknown>, m: string) => void;
  error: (o: Record<string, unknown>, m: string) => void;
} {
  const lines: LogLine[] = [];
  return {
    lines,
    debug: (obj, msg) => lines.push({ level: "debug", obj, msg }),
    info: (obj, msg) => lines.push({ level: "info", obj, msg }),
    warn: (obj, msg) => lines.push({ level: "warn", obj, msg }),
    error: (obj, msg) => lines.push({ level: "error", obj, msg }),
  };
}

/** A client with a fast rate, recording metrics and logs. */
function setup(options: Partial<EnterpriseClientOptions> = {}): {
  client: EnterpriseClient;
  events: RequestMetricsEvent[];
  logs: LogLine[];
} {
  const events: RequestMetricsEvent[] = [];
  const logger = recordingLogger();
  const client = new EnterpriseClient({
    integration: "notion",
    tenantId: "acme",
    baseUrl: server.url,
    rateConfig: { ratePerSec: 1000, burst: 10, maxRetriesOnBackoff: 1 },
    onMetrics: (e) => events.push(e),
    logger,
    context: { region: "eu", job: 7 },
    ...options,
  });
  return { client, events, logs: logger.lines };
}

const METRIC_FIELDS = [
  "attempts",
  "circuitState",
  "context",
  "elapsedMs",
  "error",
  "integration",
  "method",
  "outcome",
  "path",
  "rateSnapshot",
  "statusCode",
  "tenantId",
];

describe("EnterpriseClient: the limiter", () => {
  it("is keyed by integration and tenant", () => {
    const { client } = setup();
    expect(client.client.limiter.key).toBe("adaptive:notion:acme");
    expect(client.client.limiter.name).toBe("notion");
    expect(new EnterpriseClient({ integration: "slack", baseUrl: server.url }).client.limiter.key).toBe("adaptive:slack:default");
  });

  it("shares a cooldown between clients of one tenant, not across tenants", async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const a = setup({ store, maxRetriesOnBackoff: 0 }).client;
    const sameTenant = setup({ store }).client;
    const otherTenant = setup({ store, tenantId: "globex" }).client;
    server.handle(reply(429, { "retry-after": "30" }));
    expect(await failure(a.request("GET", "/x"))).toBeInstanceOf(BackoffExhaustedError);
    expect(sameTenant.rateSnapshot().cooldownUntil).not.toBeNull();
    expect(otherTenant.rateSnapshot().cooldownUntil).toBeNull();
    server.handle(reply(200));
    expect((await otherTenant.request("GET", "/y")).status).toBe(200);
  });
});

describe("EnterpriseClient: the circuit breaker", () => {
  it("opens after failureThreshold 5xx answers and then rejects before any HTTP request", async () => {
    const { client, events } = setup({ circuitBreaker: { failureThreshold: 2, openIntervalMs: 60_000 } });
    server.handle(reply(500, {}, "boom"));
    const first = await client.request("GET", "/a");
    expect(first.status).toBe(500);
    expect(await first.text()).toBe("boom");
    expect((await client.request("GET", "/a")).status).toBe(500);
    expect(client.breaker.state).toBe("open");
    const error = await failure(client.request("GET", "/a"));
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ service: "notion" });
    expect((error as CircuitOpenError).retryAfterMs).toBeGreaterThan(59_000);
    expect(server.requests).toHaveLength(2);
    expect(events.map((e) => [e.statusCode, e.outcome, e.attempts, e.circuitState])).toEqual([
      [500, "server-error", 1, "closed"],
      [500, "server-error", 1, "open"],
      [null, "circuit-open", 0, "open"],
    ]);
  });

  it("half-opens after openIntervalMs and a good probe closes it", async () => {
    const clock = new ManualClock(0);
    const { client, logs } = setup({ clock, circuitBreaker: { failureThreshold: 1, openIntervalMs: 1000 } });
    server.handle(hangUp);
    expect(await failure(client.request("GET", "/a"))).toBeInstanceOf(TypeError);
    expect(client.breaker.state).toBe("open");
    await clock.advanceAsync(999);
    expect(await failure(client.request("GET", "/a"))).toBeInstanceOf(CircuitOpenError);
    expect(server.requests).toHaveLength(1);
    await clock.advanceAsync(1);
    server.handle(reply(200));
    expect((await client.request("GET", "/a")).status).toBe(200);
    expect(client.breaker.state).toBe("closed");
    expect(server.requests).toHaveLength(2);
    expect(logs.filter((l) => l.msg === "circuit state changed").map((l) => [l.level, l.obj.from, l.obj.to])).toEqual([
      ["warn", "closed", "open"],
      ["warn", "open", "half-open"],
      ["info", "half-open", "closed"],
    ]);
  });

  it("counts 5xx, network errors, timeouts and 5xx back-offs that ran out; not other 4xx or 429", async () => {
    const { client } = setup({ circuitBreaker: { failureThreshold: 100, openIntervalMs: 1000 } });
    const failures = (): number => client.breaker.status().failures;
    const counts: [string, number][] = [];
    const step = async (label: string, handler: Parameters<TestServer["handle"]>[0], timeoutMs = 10_000): Promise<void> => {
      server.handle(handler);
      await client.request("GET", "/x", { timeoutMs }).catch(() => undefined);
      counts.push([label, failures()]);
    };
    await step("404", reply(404));
    await step("400", reply(400));
    await step("403", reply(403));
    await step("422", reply(422));
    await step("429 exhausted", reply(429, { "retry-after": "0" }));
    await step("500", reply(500));
    await step("502", reply(502));
    await step("network", hangUp);
    await step("timeout", delayed(400), 100);
    await step("503 exhausted", reply(503, { "retry-after": "0" }));
    await step("200", reply(200));
    expect(counts).toEqual([
      ["404", 0],
      ["400", 0],
      ["403", 0],
      ["422", 0],
      ["429 exhausted", 0],
      ["500", 1],
      ["502", 2],
      ["network", 3],
      ["timeout", 4],
      ["503 exhausted", 5],
      ["200", 0],
    ]);
    expect(server.requests).toHaveLength(13);
  });

  it("a 429 that outlasted the retries is neither a failure nor a success: a run of failures goes on through it", async () => {
    const { client } = setup({ circuitBreaker: { failureThreshold: 2, openIntervalMs: 60_000 } });
    for (const status of [503, 429, 503]) {
      server.handle(reply(status, { "retry-after": "0" }));
      await client.request("GET", "/x").catch(() => undefined);
    }
    expect(client.breaker.state).toBe("open");
    expect(client.breaker.status().totals).toMatchObject({ failures: 2, ignored: 1, successes: 0 });
  });

  it("does not count a request the caller aborted", async () => {
    const { client } = setup({ circuitBreaker: { failureThreshold: 1, openIntervalMs: 1000 } });
    server.handle(hang);
    const controller = new AbortController();
    const pending = failure(client.request("GET", "/x", { signal: controller.signal }));
    await until(() => server.open.length === 1);
    const reason = new Error("cancelled");
    controller.abort(reason);
    expect(await pending).toBe(reason);
    expect(client.breaker.state).toBe("closed");
  });

  it("uses a CircuitBreaker it is given", async () => {
    const breaker = new CircuitBreaker({ name: "shared", trip: consecutiveFailures(1), recovery: 60_000 });
    const { client } = setup({ circuitBreaker: breaker });
    expect(client.breaker).toBe(breaker);
    const handle = breaker.isolate();
    const error = await failure(client.request("GET", "/x"));
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ service: "shared", retryAfterMs: Number.POSITIVE_INFINITY });
    expect(server.requests).toHaveLength(0);
    handle.dispose();
    expect((await client.request("GET", "/x")).status).toBe(200);
    server.handle(reply(503));
    await failure(client.request("GET", "/x"));
    expect(breaker.state).toBe("open");
  });

  it("uses the integration's breaker of a CircuitBreakers it is given", async () => {
    const breakers = new CircuitBreakers({
      defaults: { trip: consecutiveFailures(1), recovery: 60_000 },
      services: { notion: { trip: consecutiveFailures(2) } },
    });
    const { client } = setup({ circuitBreaker: breakers });
    expect(client.breaker).toBe(breakers.get("notion"));
    server.handle(reply(500));
    await client.request("GET", "/x");
    expect(breakers.isAvailable("notion")).toBe(true);
    await client.request("GET", "/x");
    expect(breakers.isAvailable("notion")).toBe(false);
    expect(await failure(client.request("GET", "/x"))).toBeInstanceOf(CircuitOpenError);
    expect(server.requests).toHaveLength(2);
    expect(breakers.isAvailable("slack")).toBe(true);
  });

  it("defaults to 5 consecutive failures and a 30 s open interval", async () => {
    const clock = new ManualClock(0);
    const { client } = setup({ clock, circuitBreaker: undefined });
    server.handle(reply(500));
    for (let i = 0; i < 4; i++) await client.request("GET", "/x");
    expect(client.breaker.state).toBe("closed");
    await client.request("GET", "/x");
    expect(client.breaker.state).toBe("open");
    expect(await failure(client.request("GET", "/x"))).toMatchObject({ retryAfterMs: 30_000 });
  });
});

describe("EnterpriseClient: metrics", () => {
  it("emits exactly one event per request, with every field", async () => {
    const { client, events } = setup();
    server.handle(reply(201));
    await client.request("post", "/pages", { json: { a: 1 } });
    expect(events).toHaveLength(1);
    const event = events[0]!;
    expect(Object.keys(event).sort()).toEqual(METRIC_FIELDS);
    expect(event).toMatchObject({
      integration: "notion",
      tenantId: "acme",
      method: "POST",
      path: "/pages",
      statusCode: 201,
      attempts: 1,
      circuitState: "closed",
      context: { region: "eu", job: 7 },
      error: null,
      outcome: "ok",
    });
    expect(event.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(event.elapsedMs).toBeLessThan(5000);
    expect(event.rateSnapshot).toMatchObject({ successes: 1, backoffs: 0, inFlight: 0, cooldownUntil: null, lastBackoff: null });
    expect(Object.keys(event.rateSnapshot)).toEqual(
      expect.arrayContaining(["ratePerSec", "cooldownUntil", "inFlight", "successes", "backoffs", "lastBackoff", "source"]),
    );
  });

  it("reports attempts, the last status and the error when back-offs run out", async () => {
    const { client, events } = setup();
    server.handle(reply(429, { "retry-after": "0.01" }));
    const error = await failure(client.request("GET", "/busy"));
    expect(error).toBeInstanceOf(BackoffExhaustedError);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      statusCode: 429,
      attempts: 2,
      outcome: "backoff-exhausted",
      error: { name: "BackoffExhaustedError" },
      rateSnapshot: { backoffs: 2, lastBackoff: { status: 429, retryAfterMs: 10 } },
    });
  });

  it("counts the attempts of a request that succeeded after a back-off", async () => {
    const { client, events } = setup();
    server.handle(sequence(reply(503, { "retry-after": "0" }), reply(200)));
    await client.request("GET", "/x");
    expect(events).toMatchObject([{ statusCode: 200, attempts: 2, outcome: "ok", error: null }]);
  });

  it("reports network errors, timeouts and open circuits with their error", async () => {
    const { client, events } = setup({ circuitBreaker: { failureThreshold: 2, openIntervalMs: 60_000 } });
    server.handle(hangUp);
    await failure(client.request("GET", "/net"));
    server.handle(delayed(400));
    expect(await failure(client.request("GET", "/slow", { timeoutMs: 100 }))).toBeInstanceOf(TimeoutError);
    await failure(client.request("DELETE", "/gone"));
    await until(() => server.requests.length === 2);
    expect(server.requests.map((r) => r.url)).toEqual(["/net", "/slow"]);
    expect(events.map((e) => [e.method, e.path, e.statusCode, e.attempts, e.outcome, e.error?.name, e.circuitState])).toEqual([
      ["GET", "/net", null, 1, "error", "TypeError", "closed"],
      ["GET", "/slow", null, 1, "timeout", "TimeoutError", "open"],
      ["DELETE", "/gone", null, 0, "circuit-open", "CircuitOpenError", "open"],
    ]);
    expect(events.every((e) => Object.keys(e).sort().join() === METRIC_FIELDS.join())).toBe(true);
  });

  it("reports a request refused for bad arguments (no HTTP request, no failure counted)", async () => {
    const { client, events } = setup();
    expect(await failure(client.request("GET", "https://elsewhere.example/"))).toBeInstanceOf(InvalidOptionError);
    expect(events).toMatchObject([{ attempts: 0, statusCode: null, outcome: "error", error: { name: "InvalidOptionError" } }]);
    expect(server.requests).toHaveLength(0);
    expect(client.breaker.status().failures).toBe(0);
  });

  it("one event per request under concurrency", async () => {
    const { client, events } = setup();
    server.handle(delayed(5));
    await Promise.all(Array.from({ length: 12 }, (_, i) => client.request("GET", `/p/${i}`)));
    expect(events).toHaveLength(12);
    expect(new Set(events.map((e) => e.path)).size).toBe(12);
  });

  it("a throwing metrics handler never breaks a request (and is logged)", async () => {
    let calls = 0;
    const { client, logs } = setup({
      onMetrics: () => {
        calls++;
        throw new Error("metrics backend down");
      },
    });
    const res = await client.request("GET", "/x");
    expect(res.status).toBe(200);
    expect(calls).toBe(1);
    expect(logs.filter((l) => l.msg === "metrics handler threw; event dropped")).toMatchObject([
      { level: "error", obj: { err: { message: "metrics backend down" } } },
    ]);
    server.handle(reply(503));
    expect(await failure(client.request("GET", "/x"))).toBeInstanceOf(BackoffExhaustedError);
    expect(calls).toBe(2);
  });

  it("an async metrics handler that rejects never breaks a request (and is logged)", async () => {
    const { client, logs } = setup({ onMetrics: async () => Promise.reject(new Error("async backend down")) });
    expect((await client.request("GET", "/x")).status).toBe(200);
    await until(() => logs.some((l) => l.msg === "metrics handler threw; event dropped"));
    expect(logs.find((l) => l.msg === "metrics handler threw; event dropped")).toMatchObject({
      obj: { err: { message: "async backend down" } },
    });
  });
});

describe("EnterpriseClient: logs", () => {
  it("logs a completed request at info, with integration, tenant, context and the request's fields", async () => {
    const { client, logs } = setup();
    await client.request("get", "/pages/1");
    expect(logs).toHaveLength(1);
    const line = logs[0]!;
    expect(line).toMatchObject({
      level: "info",
      msg: "upstream request completed",
      obj: {
        integration: "notion",
        tenantId: "acme",
        context: { region: "eu", job: 7 },
        method: "GET",
        path: "/pages/1",
        statusCode: 200,
        attempts: 1,
        outcome: "ok",
      },
    });
    expect(typeof line.obj.elapsedMs).toBe("number");
  });

  it("logs a 4xx as completed and a 5xx as failed", async () => {
    const { client, logs } = setup();
    server.handle(reply(404));
    await client.request("GET", "/missing");
    server.handle(reply(500));
    await client.request("GET", "/broken");
    expect(logs.map((l) => [l.level, l.msg, l.obj.statusCode, l.obj.outcome])).toEqual([
      ["info", "upstream request completed", 404, "ok"],
      ["error", "upstream request failed", 500, "server-error"],
    ]);
  });

  it("logs each back-off at warn, then the exhausted request at error with the error", async () => {
    const { client, logs } = setup();
    server.handle(reply(429, { "retry-after": "0.01" }));
    await failure(client.request("GET", "/busy"));
    const lines = logs.filter((l) => l.level !== "debug");
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ["warn", "upstream asked to back off"],
      ["warn", "upstream asked to back off"],
      ["error", "upstream request failed"],
    ]);
    expect(lines[0]!.obj).toMatchObject({
      integration: "notion",
      tenantId: "acme",
      method: "GET",
      path: "/busy",
      status: 429,
      retryAfterMs: 10,
      attempt: 1,
      willRetry: true,
    });
    expect(lines[1]!.obj).toMatchObject({ attempt: 2, willRetry: false });
    expect(lines[2]!.obj).toMatchObject({
      statusCode: 429,
      attempts: 2,
      outcome: "backoff-exhausted",
      err: { name: "BackoffExhaustedError" },
    });
  });

  it("logs circuit state changes and rejected requests", async () => {
    const { client, logs } = setup({ circuitBreaker: { failureThreshold: 1, openIntervalMs: 60_000 } });
    server.handle(hangUp);
    await failure(client.request("GET", "/x"));
    await failure(client.request("GET", "/x"));
    expect(logs.map((l) => [l.level, l.msg])).toEqual([
      ["warn", "circuit state changed"],
      ["error", "upstream request failed"],
      ["warn", "circuit open; request rejected"],
    ]);
    expect(logs[0]!.obj).toMatchObject({ integration: "notion", tenantId: "acme", from: "closed", to: "open" });
    expect(logs[1]!.obj).toMatchObject({ outcome: "error", err: { name: "TypeError" } });
    expect(logs[2]!.obj).toMatchObject({ outcome: "circuit-open", attempts: 0, statusCode: null });
    expect(logs[2]!.obj.retryAfterMs).toBeGreaterThan(59_000);
  });

  it("logs rate changes at debug", async () => {
    const { client, logs } = setup();
    server.handle(reply(429, { "retry-after": "0" }));
    await failure(client.request("GET", "/x"));
    expect(logs.filter((l) => l.level === "debug")).toMatchObject([
      { msg: "rate changed", obj: { integration: "notion", reason: "backoff" } },
    ]);
  });

  it("a throwing logger never breaks a request, and metrics still flow", async () => {
    const explode = (): never => {
      throw new Error("log sink full");
    };
    const { client, events } = setup({ logger: { debug: explode, info: explode, warn: explode, error: explode } });
    expect((await client.request("GET", "/x")).status).toBe(200);
    server.handle(reply(429, { "retry-after": "0" }));
    expect(await failure(client.request("GET", "/x"))).toBeInstanceOf(BackoffExhaustedError);
    expect(events).toHaveLength(2);
  });

  it("works without a logger or a metrics handler", async () => {
    const client = new EnterpriseClient({ integration: "notion", baseUrl: server.url });
    expect((await client.request("GET", "/x")).status).toBe(200);
  });

  it("close() stops logging breaker and limiter events", async () => {
    const { client, logs } = setup({ circuitBreaker: { failureThreshold: 1, openIntervalMs: 60_000 } });
    client.close();
    client.breaker.recordFailure("by hand");
    expect(client.breaker.state).toBe("open");
    expect(logs.filter((l) => l.msg === "circuit state changed")).toHaveLength(0);
  });
});

describe("EnterpriseClient: options", () => {
  const bad: [Record<string, unknown>, string][] = [
    [{ integration: "" }, "integration"],
    [{ integration: undefined }, "integration"],
    [{ tenantId: "" }, "tenantId"],
    [{ baseUrl: "nope" }, "baseUrl"],
    [{ circuitBreaker: { failureThreshold: 0 } }, "circuitBreaker.failureThreshold"],
    [{ circuitBreaker: { failureThreshold: 1.5 } }, "circuitBreaker.failureThreshold"],
    [{ circuitBreaker: { openIntervalMs: 0 } }, "circuitBreaker.openIntervalMs"],
    [{ circuitBreaker: { openIntervalMs: Number.POSITIVE_INFINITY } }, "circuitBreaker.openIntervalMs"],
    [{ circuitBreaker: { threshold: 3 } }, "circuitBreaker.threshold"],
    [{ circuitBreaker: "on" }, "circuitBreaker"],
    [{ onMetrics: "yes" }, "onMetrics"],
    [{ logger: {} }, "logger"],
    [{ logger: { info: () => undefined } }, "logger"],
    [{ context: [1, 2] }, "context"],
    [{ context: "eu" }, "context"],
    [{ timeoutMs: 0 }, "timeoutMs"],
    [{ maxRetriesOnBackoff: -1 }, "maxRetriesOnBackoff"],
    [{ rateConfig: { ratePerSec: -1 } }, "ratePerSec"],
    [{ tenant: "acme" }, "tenant"],
    [{ fetch: 42 }, "fetch"],
    [{ defaultHeaders: { "a b": "c" } }, "defaultHeaders"],
    [{ clock: {} }, "clock"],
    [{ store: { apply: 1 } }, "store"],
  ];
  it.each(bad)("%o throws InvalidOptionError naming %s", (options, option) => {
    const all = { integration: "notion", baseUrl: server.url, ...options } as unknown as EnterpriseClientOptions;
    expect(() => new EnterpriseClient(all)).toThrow(expect.objectContaining({ name: "InvalidOptionError", option }));
  });

  it("accepts console as a logger", () => {
    expect(() => new EnterpriseClient({ integration: "notion", baseUrl: server.url, logger: console })).not.toThrow();
  });
});
