import { afterEach, describe, expect, it, vi } from "vitest";
import {
  AdaptiveRateLimiter,
  CircuitBreaker,
  CircuitBreakers,
  consecutiveFailures,
  constant,
  InvalidOptionError,
  type Logger,
  logEvents,
  ManualClock,
  RetryPolicy,
  TokenBucket,
} from "../../src/index.js";
import { EnterpriseClient } from "../../src/http/index.js";

const boom = (): never => {
  throw new Error("boom");
};

interface Line {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly message: string | undefined;
}

function recorder(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: object, message?: string) =>
    lines.push({ level, fields: fields as Record<string, unknown>, message });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("logEvents", () => {
  it("logs state changes at warn and rejections at debug, with structured fields", async () => {
    const clock = new ManualClock(1_000);
    const breaker = new CircuitBreaker({ name: "payments", clock, trip: consecutiveFailures(1), recovery: 2_000 });
    const log = recorder();
    logEvents(breaker, log);
    await breaker.execute(boom).catch(() => undefined);
    await breaker.execute(() => "refused").catch(() => undefined);

    const changes = log.lines.filter((l) => l.fields.event === "breaker.stateChange");
    expect(changes).toEqual([
      {
        level: "warn",
        fields: {
          event: "breaker.stateChange",
          name: "payments",
          from: "closed",
          to: "open",
          reason: "trip rule consecutiveFailures reached: boom",
          at: 1_000,
        },
        message: expect.stringContaining("circuit payments: closed -> open"),
      },
    ]);
    const rejections = log.lines.filter((l) => l.fields.event === "breaker.rejected");
    expect(rejections).toEqual([
      {
        level: "debug",
        fields: { event: "breaker.rejected", name: "payments", state: "open", retryAfterMs: 2_000 },
        message: expect.stringContaining("retry in 2000 ms"),
      },
    ]);
    expect(log.lines.filter((l) => l.fields.event === "breaker.failure")).toEqual([
      {
        level: "debug",
        fields: { event: "breaker.failure", name: "payments", reason: "boom" },
        message: "circuit payments counted a failure: boom",
      },
    ]);
  });

  it("follows every service of a registry, also those created later, until unsubscribed", async () => {
    const breakers = new CircuitBreakers({ defaults: { trip: consecutiveFailures(1) } });
    breakers.get("email");
    const log = recorder();
    const off = logEvents(breakers, log, { levels: { "breaker.failure": "off", "breaker.rejected": "off" } });
    await breakers.execute("email", boom).catch(() => undefined);
    await breakers.execute("sms", boom).catch(() => undefined);
    expect(log.lines.map((l) => `${l.level} ${String(l.fields.name)} ${String(l.fields.to)}`)).toEqual([
      "warn email open",
      "warn sms open",
    ]);
    off();
    breakers.get("email").reset();
    await breakers.execute("push", boom).catch(() => undefined);
    expect(log.lines).toHaveLength(2);
  });

  it("takes per-event levels, and says so when one is wrong", async () => {
    const breaker = new CircuitBreaker({ name: "a", trip: consecutiveFailures(1) });
    const log = recorder();
    logEvents(breaker, log, { levels: { "breaker.stateChange": "error" } });
    breaker.isolate();
    expect(log.lines.map((l) => l.level)).toEqual(["error"]);
    expect(() => logEvents(breaker, log, { levels: { "breaker.stateChange": "loud" as never } })).toThrow(/levels.breaker.stateChange/);
    expect(() => logEvents(breaker, log, { levels: { "breaker.opened": "warn" } as never })).toThrow(InvalidOptionError);
    expect(() => logEvents(breaker, log, { level: "warn" } as never)).toThrow(InvalidOptionError);
    expect(() => logEvents(breaker, { info: () => undefined } as never)).toThrow(/logger/);
    expect(() => logEvents({} as never, log)).toThrow(/target/);
  });

  it("works with console: fields first, then the message", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const debug = vi.spyOn(console, "debug").mockImplementation(() => undefined);
    const breaker = new CircuitBreaker({ name: "console-demo", trip: consecutiveFailures(1) });
    logEvents(breaker, console);
    await breaker.execute(boom).catch(() => undefined);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toMatchObject({ event: "breaker.stateChange", name: "console-demo", from: "closed", to: "open" });
    expect(warn.mock.calls[0]?.[1]).toMatch(/circuit console-demo: closed -> open/);
    expect(debug.mock.calls[0]?.[0]).toMatchObject({ event: "breaker.failure", reason: "boom" });
  });

  it("a throwing logger never breaks a call nor raises a warning", async () => {
    const warning = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    const explode = () => {
      throw new Error("logger down");
    };
    const breaker = new CircuitBreaker({ name: "x", trip: consecutiveFailures(1), recovery: 0 });
    logEvents(breaker, { debug: explode, info: explode, warn: explode, error: explode });
    await expect(breaker.execute(boom)).rejects.toThrow("boom");
    await expect(breaker.execute(() => "ok")).resolves.toBe("ok");
    expect(breaker.state).toBe("closed");
    expect(warning).not.toHaveBeenCalled();
  });
});

describe("logEvents: retry policy", () => {
  it("logs each retry at debug and the give-up at warn, with the error described", async () => {
    const policy = new RetryPolicy({ maxAttempts: 2, backoff: constant(0) });
    const log = recorder();
    logEvents(policy, log, { name: "orders" });
    await policy.execute(boom).catch(() => undefined);
    expect(log.lines).toEqual([
      {
        level: "debug",
        fields: { event: "retry.retry", name: "orders", attempt: 1, delayMs: 0, error: "boom" },
        message: "retry orders: attempt 1 failed, next in 0 ms",
      },
      {
        level: "warn",
        fields: { event: "retry.giveUp", name: "orders", attempts: 2, reason: "exhausted", error: expect.stringContaining("boom") },
        message: "retry orders: gave up after 2 attempt(s) (exhausted)",
      },
    ]);
  });
});

describe("logEvents: limiters and HTTP clients", () => {
  it("logs a limiter's refusals at debug, with the key in the fields", async () => {
    const clock = new ManualClock();
    const limiter = new TokenBucket({ name: "per-user", ratePerSec: 2, capacity: 1, clock });
    const log = recorder();
    const off = logEvents(limiter, log);
    await limiter.tryAcquire("alice");
    await limiter.tryAcquire("alice");
    expect(log.lines).toEqual([
      {
        level: "debug",
        fields: { event: "limiter.rejected", name: "per-user", key: "alice", cost: 1, retryAfterMs: 500 },
        message: "rate limiter per-user refused a request (retry in 500 ms)",
      },
    ]);
    off();
    await limiter.tryAcquire("alice");
    expect(log.lines).toHaveLength(1);
  });

  it("logs an adaptive limiter's cooldown at warn, the back-off at info and rate changes at debug", () => {
    const clock = new ManualClock(10_000);
    const limiter = new AdaptiveRateLimiter({ name: "notion", clock, initialRatePerSec: 4 });
    const log = recorder();
    logEvents(limiter, log);
    limiter.onBackoff({ status: 429, retryAfterMs: 2_000 });
    const byEvent = Object.fromEntries(log.lines.map((l) => [String(l.fields.event), l]));
    expect(byEvent["adaptive.cooldown"]).toEqual({
      level: "warn",
      fields: { event: "adaptive.cooldown", name: "notion", cooldownMs: 2_000, until: 12_000, reason: "retry-after" },
      message: "rate limiter notion: cooling down for 2000 ms (retry-after)",
    });
    expect(byEvent["adaptive.backoff"]).toMatchObject({
      level: "info",
      fields: { name: "notion", status: 429, retryAfterMs: 2_000, congestion: true },
    });
    expect(byEvent["adaptive.rateChange"]).toMatchObject({ level: "debug", fields: { name: "notion", from: 4, reason: "backoff" } });
  });

  it("logs an HTTP client's requests (failures at warn) and its breaker's state changes", async () => {
    const clock = new ManualClock();
    const statuses = [200, 500];
    const client = new EnterpriseClient({
      integration: "hubspot",
      baseUrl: "https://api.hubapi.com",
      clock,
      circuitBreaker: { failureThreshold: 1 },
      rateConfig: { ratePerSec: 100, burst: 10 },
      fetch: async () => {
        clock.advance(30);
        return new Response(null, { status: statuses.shift() ?? 200 });
      },
    });
    const log = recorder();
    logEvents(client, log, { levels: { "adaptive.rateChange": "off" } });
    await client.request("get", "/contacts");
    await client.request("GET", "/deals");
    expect(log.lines.map((l) => `${l.level} ${String(l.fields.event)}`)).toEqual([
      "debug http.request",
      "debug breaker.failure",
      "warn breaker.stateChange",
      "warn http.failure",
    ]);
    expect(log.lines[0]).toEqual({
      level: "debug",
      fields: {
        event: "http.request",
        integration: "hubspot",
        method: "GET",
        path: "/contacts",
        status: 200,
        durationMs: 30,
        attempts: 1,
        outcome: "ok",
      },
      message: "hubspot GET /contacts: 200 in 30 ms",
    });
    expect(log.lines[3]?.fields).toMatchObject({ event: "http.failure", status: 500, outcome: "server-error" });
  });
});
