/**
 * Ported from dynamic-api-rate-limiter's tests (package `api_ratelimiter`; the index these
 * were read from does not name the repository): the two DynamicRateLimiter test files
 * (on_success / on_429 / on_backoff / snapshot), the two DynamicAPIClient test files (success,
 * 429 then success, 503 as a configured back-off) and the EnterpriseClient test file (one
 * metrics event per request, the circuit opening after failures). The clients run against a
 * real node:http server on 127.0.0.1 instead of the suite's DummySession.
 *
 * API mapping (docs/migrating-from-python.md, "dynamic-api-rate-limiter"):
 * - `DynamicRateLimiter(initial_rate, min_rate, max_rate, ...)` => `new AdaptiveRateLimiter({ initialRatePerSec,
 *   minRatePerSec, maxRatePerSec })`; `decrease_factor=f` => `decrease: f` (the option the law applies
 *   when too few answers came to measure, docs/adaptive-rate-limiting.md); `increase_step` has none.
 * - `limiter.on_429(retry_after=s)` => `limiter.onBackoff({ retryAfterMs: s * 1000 })` or its alias `on429`;
 *   `on_success()` => `onSuccess()`; `acquire()` => `await acquire()` (a permit).
 * - `limiter.snapshot()` / `rate_snapshot` => `limiter.snapshot()` (`current_rate` => `ratePerSec`,
 *   `cooldown_until` => `cooldownUntil`).
 * - `DynamicAPIClient(base_url, limiter, max_retries_on_backoff, backoff_status_codes, session)` =>
 *   `new ApiClient({ baseUrl, rateConfig: { ratePerSec, backoffStatuses }, maxRetriesOnBackoff })`; its limiter
 *   is `client.limiter` (the suite's DummyLimiter counters => `snapshot().successes` / `backoffs`).
 * - `EnterpriseClient(integration, tenant_id, base_url, rate_config, circuit_breaker_config=
 *   CircuitBreakerConfig(failure_threshold, open_interval), metrics_handler)` => `new EnterpriseClient({
 *   integration, tenantId, baseUrl, rateConfig, circuitBreaker: { failureThreshold, openIntervalMs }, onMetrics })`;
 *   `get_api_rate_config("notion")` => `apiRateConfig("notion")`.
 * Python's monkeypatched `time.monotonic` / `time.sleep` are a ManualClock; a client whose
 * request waits on a cooldown runs on one too, driven while its real requests complete.
 */
import { describe, expect, it } from "vitest";
import { AdaptiveRateLimiter, CircuitOpenError, ManualClock } from "../../src/index.js";
import { ApiClient, EnterpriseClient, apiRateConfig, type RequestMetricsEvent } from "../../src/http/index.js";
import { reply, sequence, serverForFile } from "../http/server.js";
import { drive } from "./helpers.js";

const server = serverForFile();

/** Runs `p` while advancing `clock` by `stepMs` after each turn of the event loop (real I/O runs in between), at most `maxSteps` times. */
async function driveIO<T>(clock: ManualClock, p: Promise<T>, stepMs = 50, maxSteps = 5_000): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < maxSteps && !done; i++) {
    await new Promise((r) => setImmediate(r));
    await clock.advanceAsync(stepMs);
  }
  return p;
}

describe("dynamic-api-rate-limiter: DynamicRateLimiter", () => {
  it("test_on_success_increases_rate_up_to_max: the rate grows while requests succeed, never past max_rate", async () => {
    const clock = new ManualClock();
    const limiter = new AdaptiveRateLimiter({ clock, initialRatePerSec: 1, minRatePerSec: 0.5, maxRatePerSec: 2 });
    expect(limiter.snapshot().ratePerSec).toBe(1);
    limiter.onSuccess();
    // DynamicRateLimiter adds increase_step (0.5) per success: 1.5, then 2.0, then stays at 2.0.
    // Ours grows with time, not per success (slow start doubles every doublingMs, and never
    // above twice what was sent in the last second): one success changes nothing yet.
    // docs/adaptive-rate-limiting.md, the control-law table; increase_step: docs/migrating-from-python.md,
    // dynamic-api-rate-limiter.
    expect(limiter.snapshot().ratePerSec).toBe(1);
    let highest = 0;
    for (let i = 0; i < 20; i++) {
      const permit = await drive(clock, limiter.acquire(), 10, 1_000);
      limiter.onSuccess(undefined, permit);
      highest = Math.max(highest, limiter.snapshot().ratePerSec);
      await clock.advanceAsync(500);
    }
    expect(limiter.snapshot().ratePerSec).toBe(2);
    expect(highest).toBeLessThanOrEqual(2);
  });

  it("test_on_429_reduces_rate_and_sets_cooldown: decrease_factor=0.5 halves 10 to 5; acquire waits the 5 s Retry-After", async () => {
    const clock = new ManualClock();
    const limiter = new AdaptiveRateLimiter({ clock, initialRatePerSec: 10, minRatePerSec: 1, maxRatePerSec: 20, decrease: 0.5 });
    expect(limiter.snapshot().ratePerSec).toBe(10);
    limiter.on429({ retryAfterMs: 5_000 });
    expect(limiter.snapshot().ratePerSec).toBe(5);
    expect(limiter.snapshot().cooldownUntil).toBeGreaterThan(clock.now());
    const before = clock.now();
    let got = false;
    const permit = limiter.acquire().then((p) => {
      got = true;
      return p;
    });
    for (let i = 0; i < 100 && !got; i++) await clock.advanceAsync(100);
    await permit;
    expect(clock.now() - before).toBeGreaterThanOrEqual(5_000);
  });

  it("test_on_backoff_alias_calls_on_429: the two names do the same", () => {
    const make = (): AdaptiveRateLimiter =>
      new AdaptiveRateLimiter({ clock: new ManualClock(), initialRatePerSec: 5, minRatePerSec: 1, maxRatePerSec: 10, decrease: 0.5 });
    const a = make();
    const b = make();
    a.onBackoff({ retryAfterMs: 7_500 });
    b.on429({ retryAfterMs: 7_500 });
    expect(b.snapshot()).toEqual(a.snapshot());
    expect(a.snapshot().lastBackoff).toMatchObject({ status: 429, retryAfterMs: 7_500 });
  });

  it("test_dynamic_rate_limiter_on_success_increases_rate: snapshot after >= before, <= max", () => {
    const limiter = new AdaptiveRateLimiter({ clock: new ManualClock(), initialRatePerSec: 5, minRatePerSec: 0.1, maxRatePerSec: 10 });
    const before = limiter.snapshot();
    limiter.onSuccess();
    const after = limiter.snapshot();
    expect(after.ratePerSec).toBeGreaterThanOrEqual(before.ratePerSec);
    expect(after.ratePerSec).toBeLessThanOrEqual(10);
  });

  it("test_dynamic_rate_limiter_on_429_decreases_rate_and_sets_cooldown: snapshot", () => {
    const clock = new ManualClock();
    const limiter = new AdaptiveRateLimiter({ clock, initialRatePerSec: 5, minRatePerSec: 0.1, maxRatePerSec: 10, decrease: 0.5 });
    const before = limiter.snapshot();
    limiter.on429({ retryAfterMs: 1_000 });
    const after = limiter.snapshot();
    expect(after.ratePerSec).toBeLessThanOrEqual(before.ratePerSec);
    expect(after.ratePerSec).toBeGreaterThanOrEqual(0.1);
    expect(after.cooldownUntil).toBeGreaterThan(0);
  });

  it("test_dynamic_rate_limiter_snapshot_is_stable_dict: a fixed set of fields", () => {
    const snap = new AdaptiveRateLimiter({ clock: new ManualClock(), initialRatePerSec: 3 }).snapshot();
    // The library's snapshot is exactly {current_rate, tokens, cooldown_until}, all floats, with
    // cooldown_until 0.0 when no cooldown is in force. Ours has no `tokens`, and its cooldownUntil
    // is null when none is in force (the AdaptiveSnapshot type). docs/migrating-from-python.md,
    // the rate_snapshot row.
    expect(Object.keys(snap).sort()).toEqual(
      [
        "backoffs",
        "concurrencyCap",
        "cooldownMs",
        "cooldownUntil",
        "epoch",
        "inFlight",
        "lastBackoff",
        "queued",
        "ratePerSec",
        "source",
        "successes",
      ].sort(),
    );
    expect(snap.ratePerSec).toBe(3);
    expect(snap.cooldownUntil).toBeNull();
  });
});

describe("dynamic-api-rate-limiter: DynamicAPIClient", () => {
  const fast = { ratePerSec: 1000, burst: 10 };

  it("test_dynamic_api_client_success_path / test_client_success_path_calls_on_success", async () => {
    const client = new ApiClient({ baseUrl: server.url, rateConfig: fast, maxRetriesOnBackoff: 3 });
    const res = await client.request("GET", "/test");
    expect(res.status).toBe(200);
    expect(server.requests).toHaveLength(1);
    expect(client.limiter.snapshot()).toMatchObject({ successes: 1, backoffs: 0 });
  });

  it("test_dynamic_api_client_retries_on_429_then_succeeds: Retry-After 0", async () => {
    const clock = new ManualClock();
    const client = new ApiClient({ baseUrl: server.url, rateConfig: { ...fast, backoffStatuses: [429] }, maxRetriesOnBackoff: 3, clock });
    server.handle(sequence(reply(429, { "retry-after": "0" }), reply(200, {}, '{"ok":true}')));
    const res = await driveIO(clock, client.request("GET", "/test"));
    expect(res.status).toBe(200);
    expect(server.requests).toHaveLength(2);
  });

  it("test_client_429_triggers_backoff_and_retries: Retry-After 3 is one back-off of 3 s, then one success", async () => {
    const clock = new ManualClock();
    const client = new ApiClient({ baseUrl: server.url, rateConfig: fast, maxRetriesOnBackoff: 5, clock });
    server.handle(sequence(reply(429, { "retry-after": "3" }), reply(200)));
    const start = clock.now();
    const res = await driveIO(clock, client.request("GET", "/foo"));
    expect(res.status).toBe(200);
    expect(client.limiter.snapshot()).toMatchObject({ backoffs: 1, successes: 1, lastBackoff: { status: 429, retryAfterMs: 3_000 } });
    expect(server.requests).toHaveLength(2);
    expect(clock.now() - start).toBeGreaterThanOrEqual(3_000);
  });

  it("test_client_503_triggers_backoff_when_configured: backoff_status_codes=(429, 502, 503)", async () => {
    const clock = new ManualClock();
    const client = new ApiClient({
      baseUrl: server.url,
      rateConfig: { ...fast, backoffStatuses: [429, 502, 503] },
      maxRetriesOnBackoff: 5,
      clock,
    });
    server.handle(sequence(reply(503), reply(200)));
    const res = await driveIO(clock, client.request("GET", "/foo"));
    expect(res.status).toBe(200);
    expect(client.limiter.snapshot()).toMatchObject({ backoffs: 1, successes: 1 });
    expect(server.requests).toHaveLength(2);
  });
});

describe("dynamic-api-rate-limiter: EnterpriseClient", () => {
  it("test_enterprise_client_emits_metrics_on_success: one event per request", async () => {
    const events: RequestMetricsEvent[] = [];
    server.handle(reply(200, { "content-type": "application/json" }, '{"ok":true}'));
    const client = new EnterpriseClient({
      integration: "notion",
      tenantId: "tenant-123",
      baseUrl: server.url,
      rateConfig: apiRateConfig("notion"),
      onMetrics: (e) => events.push(e),
    });
    const res = await client.request("GET", "/v1/databases", { timeoutMs: 5_000 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
    expect(events).toHaveLength(1);
    const event = events[0]!;
    expect(event).toMatchObject({ integration: "notion", tenantId: "tenant-123", statusCode: 200 });
    expect(typeof event.elapsedMs).toBe("number");
    expect(event.rateSnapshot).toBeDefined();
  });

  it("test_circuit_breaker_opens_after_failures: two 500s are returned, the third call is refused before any request", async () => {
    const events: RequestMetricsEvent[] = [];
    server.handle(reply(500));
    const client = new EnterpriseClient({
      integration: "notion",
      baseUrl: server.url,
      rateConfig: apiRateConfig("notion"),
      circuitBreaker: { failureThreshold: 2, openIntervalMs: 60_000 },
      onMetrics: (e) => events.push(e),
    });
    expect((await client.request("GET", "/v1/databases", { timeoutMs: 5_000 })).status).toBe(500);
    expect((await client.request("GET", "/v1/databases", { timeoutMs: 5_000 })).status).toBe(500);
    expect(events).toHaveLength(2);
    await expect(client.request("GET", "/v1/databases", { timeoutMs: 5_000 })).rejects.toBeInstanceOf(CircuitOpenError);
    expect(server.requests).toHaveLength(2);
  });
});
