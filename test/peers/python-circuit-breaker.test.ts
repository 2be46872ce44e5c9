/**
 * Ported from the test suite of the Python library "circuit-breaker" (the hybrid
 * fixed/exponential breaker, package `circuit_breaker`, version 1.0.0): its
 * tests/test_circuit_breaker.py (class TestCircuitBreaker). The index this was read from
 * does not name the repository; it is not fabfuel/circuitbreaker (package `circuitbreaker`,
 * the `@circuit` decorator), which has no fixed/exponential phases.
 *
 * API mapping (docs/migrating-from-python.md, "circuit-breaker"):
 * - `CircuitBreaker(failure_threshold=n, ...)` => `new CircuitBreaker({ trip: consecutiveFailures(n), ... })`.
 * - `base_interval_minutes=b, fixed_interval_retries=F, max_exponential_retries=E, jitter_enabled=J`
 *   => `recovery: fixedThenExponential({ intervalMs: b * 60_000, fixedAttempts: F, exponentialAttempts: E, jitter })`,
 *   `jitter: "equal"` for `J=True`, `"none"` for `J=False`.
 * - `cb.call(fn, *args)` => `breaker.execute(() => fn(...args))` or `breaker.protect(fn)(...args)`.
 * - `get_status_info()` => `breaker.status()`; `consecutive_circuit_breaks` => `status().attempt`
 *   (1 for the first open, +1 per failed probe, 0 once closed); `failure_count` => `status().failures`;
 *   `_get_current_recovery_timeout_minutes()` with `consecutive_circuit_breaks = n` => `backoff.delay(n)`.
 * - Python's tests set `cb.state = HALF_OPEN` and patch `time.time`; here the breaker is driven
 *   to that state through its own calls on a ManualClock.
 *
 * The library's exponential phase multiplies by the interval's own number of minutes
 * (`base * base^k`: 5 min, 25 min, 125 min): `fixedThenExponential`'s `factor` defaults to 2,
 * so the cases on the schedule's shape pass `factor: b`, as docs/migrating-from-python.md does.
 */
import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  CircuitOpenError,
  InvalidOptionError,
  ManualClock,
  consecutiveFailures,
  fixedThenExponential,
  type Backoff,
} from "../../src/index.js";
import { deferred, lcg } from "./helpers.js";

const MIN = 60_000;

class ValueError extends Error {}
class CustomError extends Error {}

const failing = (): never => {
  throw new ValueError("Test failure");
};

/** `CircuitBreaker(failure_threshold, base_interval_minutes, fixed, exponential, jitter)` on a manual clock. */
function breakerOf(
  clock: ManualClock,
  o: { threshold?: number; baseMin?: number; fixed?: number; exp?: number; jitter?: boolean; factor?: number } = {},
): CircuitBreaker {
  const baseMin = o.baseMin ?? 5;
  return new CircuitBreaker({
    name: "external-api",
    clock,
    trip: consecutiveFailures(o.threshold ?? 5),
    recovery: fixedThenExponential({
      intervalMs: baseMin * MIN,
      fixedAttempts: o.fixed ?? 3,
      exponentialAttempts: o.exp ?? 5,
      factor: o.factor ?? baseMin,
      jitter: o.jitter === false ? "none" : "equal",
    }),
  });
}

/** The library's `_get_current_recovery_timeout_minutes()` for a break count, jitter off, growth by the base. */
function schedule(baseMin: number, fixed: number, exp: number): Backoff {
  return fixedThenExponential({ intervalMs: baseMin * MIN, fixedAttempts: fixed, exponentialAttempts: exp, factor: Math.max(1, baseMin) });
}

describe("circuit-breaker tests/test_circuit_breaker.py: calls and states", () => {
  it("test_circuit_breaker_initialization: closed, no failures, no breaks; the schedule's defaults are 3 fixed and 5 exponential", () => {
    const clock = new ManualClock();
    const cb = new CircuitBreaker({ clock, recovery: fixedThenExponential({ intervalMs: 5 * MIN }) });
    expect(cb.state).toBe("closed");
    expect(cb.status()).toMatchObject({ failures: 0, attempt: 0 });
    expect(fixedThenExponential({ intervalMs: 5 * MIN }).spec).toMatchObject({ fixedAttempts: 3, exponentialAttempts: 5 });
    // failure_threshold defaults to 5 in both: the fifth failure in a row opens.
    expect(new CircuitBreaker().status().state).toBe("closed");
  });

  it("test_successful_call and test_successful_call_with_arguments", async () => {
    const cb = breakerOf(new ManualClock(), { threshold: 2 });
    expect(await cb.execute(() => "success")).toBe("success");
    expect(cb.state).toBe("closed");
    expect(cb.status().failures).toBe(0);
    const guarded = cb.protect((a: string, b: string, c?: string) => `${a}-${b}-${c}`);
    expect(await guarded("hello", "world", "test")).toBe("hello-world-test");
  });

  it("test_circuit_opens_after_threshold_failures", async () => {
    const cb = breakerOf(new ManualClock(), { threshold: 2 });
    await expect(cb.execute(failing)).rejects.toBeInstanceOf(ValueError);
    expect(cb.status()).toMatchObject({ state: "closed", failures: 1 });
    await expect(cb.execute(failing)).rejects.toBeInstanceOf(ValueError);
    expect(cb.status()).toMatchObject({ state: "open", failures: 2, attempt: 1 });
  });

  it("test_circuit_partial_failures_then_success: a success resets the count", async () => {
    const cb = breakerOf(new ManualClock(), { threshold: 3 });
    await expect(cb.execute(failing)).rejects.toBeInstanceOf(ValueError);
    await expect(cb.execute(failing)).rejects.toBeInstanceOf(ValueError);
    expect(cb.status()).toMatchObject({ state: "closed", failures: 2 });
    expect(await cb.execute(() => "success")).toBe("success");
    expect(cb.status()).toMatchObject({ state: "closed", failures: 0 });
  });

  it("test_circuit_breaker_blocks_calls_when_open", async () => {
    const cb = breakerOf(new ManualClock(), { threshold: 1, baseMin: 1 });
    await expect(cb.execute(failing)).rejects.toBeInstanceOf(ValueError);
    expect(cb.state).toBe("open");
    // The library raises a bare Exception("Circuit breaker is OPEN. ... Next retry in N minutes."); ours is a typed CircuitOpenError with retryAfterMs (docs/migrating-from-python.md, "What changes everywhere").
    const error = await cb.execute(failing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).message).toContain("is open");
    expect((error as CircuitOpenError).retryAfterMs).toBeGreaterThan(0);
  });

  it("test_complete_hybrid_pattern_end_to_end: fixed, fixed, 25 min, 125 min, then recovery resets everything", async () => {
    const clock = new ManualClock();
    const cb = breakerOf(clock, { threshold: 1, baseMin: 5, fixed: 2, exp: 2, jitter: false });
    const waitOf = (): number => cb.status().nextProbeAt! - cb.status().openedAt!;
    await expect(cb.execute(failing)).rejects.toBeInstanceOf(ValueError);
    expect(cb.status().attempt).toBe(1);
    expect(waitOf()).toBe(5 * MIN);
    const expected: [number, number][] = [
      [2, 5 * MIN],
      [3, 25 * MIN],
      [4, 125 * MIN],
    ];
    for (const [attempt, wait] of expected) {
      clock.advance(waitOf());
      await expect(cb.execute(failing)).rejects.toBeInstanceOf(ValueError);
      expect(cb.status().attempt).toBe(attempt);
      expect(waitOf()).toBe(wait);
    }
    clock.advance(waitOf());
    expect(await cb.execute(() => "recovered")).toBe("recovered");
    expect(cb.status()).toMatchObject({ state: "closed", failures: 0, attempt: 0 });
  });

  it("test_circuit_reset_after_timeout: refused before the interval, a trial after it", async () => {
    const clock = new ManualClock();
    const cb = breakerOf(clock, { threshold: 1, baseMin: 1, jitter: false });
    await expect(cb.execute(failing)).rejects.toBeInstanceOf(ValueError);
    clock.advance(30_000);
    await expect(cb.execute(failing)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(cb.state).toBe("open");
    clock.advance(40_000);
    // The trial runs (the call's own error comes back) and re-opens the circuit.
    await expect(cb.execute(failing)).rejects.toBeInstanceOf(ValueError);
    expect(cb.status()).toMatchObject({ state: "open", attempt: 2 });
  });

  it("test_circuit_recovery_on_success: a successful trial closes and resets the breaks", async () => {
    const clock = new ManualClock();
    const cb = breakerOf(clock, { threshold: 1, jitter: false });
    await expect(cb.execute(failing)).rejects.toBeInstanceOf(ValueError);
    expect(cb.status()).toMatchObject({ state: "open", attempt: 1 });
    clock.advance(5 * MIN);
    expect(await cb.execute(() => "success")).toBe("success");
    expect(cb.status()).toMatchObject({ state: "closed", failures: 0, attempt: 0 });
  });

  it("test_half_open_state_behavior: half-open lets exactly one call through; its failure re-opens", async () => {
    const clock = new ManualClock();
    const cb = breakerOf(clock, { threshold: 1, jitter: false });
    await expect(cb.execute(failing)).rejects.toBeInstanceOf(ValueError);
    clock.advance(5 * MIN);
    const trial = deferred<string>();
    const first = cb.execute(() => trial.promise);
    expect(cb.state).toBe("half-open");
    await expect(cb.execute(() => "second")).rejects.toBeInstanceOf(CircuitOpenError);
    trial.reject(new ValueError("Test failure"));
    await expect(first).rejects.toBeInstanceOf(ValueError);
    expect(cb.state).toBe("open");
  });

  it("test_function_exceptions_are_preserved and test_function_return_values_preserved", async () => {
    const cb = breakerOf(new ManualClock());
    const error = await cb
      .execute(() => {
        throw new CustomError("Custom message");
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CustomError);
    expect((error as Error).message).toBe("Custom message");
    expect(await cb.execute(() => ({ status: "ok", data: [1, 2, 3], count: 42 }))).toEqual({ status: "ok", data: [1, 2, 3], count: 42 });
    // test_callable_objects, test_lambda_functions
    expect(await cb.protect((x: number, y: number) => x + y)(5, 3)).toBe(8);
    expect(await cb.protect((x: number) => x * 2)(21)).toBe(42);
  });

  it("test_stress_test_many_failures: 100 failures leave a valid open state", async () => {
    const cb = breakerOf(new ManualClock(), { threshold: 1, jitter: false });
    for (let i = 0; i < 100; i++) await cb.execute(failing).catch(() => undefined);
    expect(["open", "half-open"]).toContain(cb.state);
    expect(cb.status().attempt).toBeGreaterThanOrEqual(1);
    expect(cb.status().totals).toMatchObject({ failures: 1, rejections: 99 });
  });

  it("test_concurrent_access_safety: alternating outcomes give some successes and some failures", async () => {
    const cb = breakerOf(new ManualClock());
    const results: string[] = [];
    for (let i = 0; i < 50; i++) {
      const shouldFail = i % 3 === 0;
      results.push(
        await cb
          .execute(() => {
            if (shouldFail) throw new ValueError("Concurrent failure");
            return "success";
          })
          .catch(() => "failed"),
      );
    }
    expect(results).toContain("success");
    expect(results).toContain("failed");
  });
});

describe("circuit-breaker tests/test_circuit_breaker.py: the recovery schedule", () => {
  it("test_fixed_interval_timeout_calculation: breaks 1..3 wait the base interval", () => {
    const s = schedule(10, 3, 5);
    expect([1, 2, 3].map((n) => s.delay(n))).toEqual([10 * MIN, 10 * MIN, 10 * MIN]);
  });

  it("test_exponential_interval_timeout_calculation: 5 * 5^k (25, 125, 625 min)", () => {
    const s = schedule(5, 2, 3);
    expect([3, 4, 5].map((n) => s.delay(n))).toEqual([25 * MIN, 125 * MIN, 625 * MIN]);
  });

  it("test_exponential_timeout_capping: beyond the exponential retries the last value holds", () => {
    expect(schedule(5, 1, 2).delay(10)).toBe(125 * MIN);
  });

  it("test_zero_fixed_retries_goes_straight_to_exponential and test_zero_exponential_retries_stays_fixed", () => {
    expect(schedule(5, 0, 3).delay(1)).toBe(25 * MIN);
    expect(schedule(10, 3, 0).delay(5)).toBe(10 * MIN);
  });

  it("test_very_large_exponential_values: 60 * 60^7 minutes", () => {
    const actual = schedule(60, 1, 10).delay(8);
    expect(actual).toBe(60 * 60 ** 7 * MIN);
    expect(actual).toBeGreaterThan(1_000_000 * MIN);
  });

  it("test_edge_case_zero_base_interval: 0", () => {
    expect(fixedThenExponential({ intervalMs: 0 }).delay(1)).toBe(0);
  });

  it("the mapping's schedule: base_interval_minutes=5, 3 fixed, 5 exponential => the 4th break waits 25 min, as the library", () => {
    // The library multiplies by the base's number of minutes (5 * 5^1 = 25, then 125, 625 min:
    // test_exponential_interval_timeout_calculation, test_complete_hybrid_pattern_end_to_end), so
    // docs/migrating-from-python.md maps it with `factor: 5`. The doc's mapping, jitter off:
    const mapped = fixedThenExponential({ intervalMs: 5 * MIN, fixedAttempts: 3, exponentialAttempts: 5, factor: 5, jitter: "none" });
    expect([4, 5, 6].map((n) => mapped.delay(n) / MIN)).toEqual([25, 125, 625]);
  });

  it("test_jitter_applied_when_enabled: varied, within [50%, 100%) of the 100 min base (the mapping's jitter)", () => {
    // The library adds ±10% (randint(-10, 10) minutes here) and its test asserts 75 <= t <= 125.
    // Breakwater has no ±10% jitter: docs/migrating-from-python.md maps jitter_enabled=True to
    // "equal", which spreads a delay over [d/2, d) (50–100 min here), and says so.
    const s = fixedThenExponential({ intervalMs: 100 * MIN, fixedAttempts: 3, exponentialAttempts: 5, factor: 100, jitter: "equal" });
    const random = lcg(7);
    const timeouts = Array.from({ length: 10 }, () => s.delay(1, random) / MIN);
    expect(new Set(timeouts).size).toBeGreaterThan(1);
    for (const t of timeouts) {
      expect(t).toBeGreaterThanOrEqual(50);
      expect(t).toBeLessThan(100);
    }
  });

  it("test_jitter_disabled: the same 100 min every time", () => {
    const s = fixedThenExponential({ intervalMs: 100 * MIN, jitter: "none" });
    const random = lcg(3);
    const timeouts = Array.from({ length: 10 }, () => s.delay(1, random));
    expect(new Set(timeouts)).toEqual(new Set([100 * MIN]));
  });

  it("test_edge_case_negative_values: refused when the breaker is built", () => {
    // The library accepts negative values ("should not crash, behaviour undefined"); ours refuses them with InvalidOptionError naming the option: docs/migrating-from-python.md:16 ("validated when the policy is built").
    expect(() => consecutiveFailures(-1)).toThrow(InvalidOptionError);
    expect(() => fixedThenExponential({ intervalMs: -5 * MIN })).toThrow(InvalidOptionError);
    expect(() => fixedThenExponential({ intervalMs: MIN, fixedAttempts: -2 })).toThrow(InvalidOptionError);
    expect(() => fixedThenExponential({ intervalMs: MIN, exponentialAttempts: -3 })).toThrow(InvalidOptionError);
  });
});

describe("circuit-breaker tests/test_circuit_breaker.py: get_status_info()", () => {
  it("test_status_info_closed_state", () => {
    const cb = breakerOf(new ManualClock());
    const status = cb.status();
    expect(status).toMatchObject({ state: "closed", failures: 0, attempt: 0, retryAfterMs: 0, nextProbeAt: null });
    // The library reports retry_phase "closed" while closed; ours has no phase then (null): docs/migrating-from-python.md, circuit-breaker.
    expect(status.retryPhase).toBeNull();
  });

  it("test_status_info_fixed_interval_phase: the second break is in the fixed phase", async () => {
    const clock = new ManualClock();
    const cb = breakerOf(clock, { threshold: 1, fixed: 3, jitter: false });
    await cb.execute(failing).catch(() => undefined);
    clock.advance(5 * MIN);
    await cb.execute(failing).catch(() => undefined);
    // The library: "fixed-interval (attempt 2/3)"; ours: the phase and the attempt apart.
    expect(cb.status()).toMatchObject({ retryPhase: "fixed", attempt: 2 });
  });

  it("test_status_info_exponential_phase and test_status_info_beyond_max_retries", () => {
    const s = fixedThenExponential({ intervalMs: 5 * MIN, fixedAttempts: 2, exponentialAttempts: 5 });
    // The library: "exponential-interval (attempt 2/5)".
    expect(s.phase(4)).toBe("exponential");
    // Beyond the limits the library still says "exponential-interval (attempt 3/3)"; ours says
    // "capped" (docs/backoffs.md, the fixedThenExponential row). docs/migrating-from-python.md:133
    // lists the library's values and says that ours reads `capped` there.
    expect(fixedThenExponential({ intervalMs: 5 * MIN, fixedAttempts: 2, exponentialAttempts: 3 }).phase(10)).toBe("capped");
  });

  it("test_time_until_retry_calculation and test_time_until_retry_past_timeout", async () => {
    const clock = new ManualClock(100_000);
    const cb = breakerOf(clock, { threshold: 1, baseMin: 10, jitter: false });
    await cb.execute(failing).catch(() => undefined);
    clock.advance(3 * MIN);
    expect(cb.status().retryAfterMs).toBe(7 * MIN);
    clock.advance(10 * MIN);
    expect(cb.status()).toMatchObject({ state: "open", retryAfterMs: 0 });
  });

  it("test_status_info_contains_config: the schedule's configuration is on the backoff, not in status()", () => {
    // The library's status has a "config" entry; our status() has none, the recovery backoff's `spec` holds it: docs/migrating-from-python.md, circuit-breaker.
    const recovery = fixedThenExponential({ intervalMs: 7 * MIN, fixedAttempts: 4, exponentialAttempts: 6, jitter: "none" });
    expect(recovery.spec).toMatchObject({ intervalMs: 7 * MIN, fixedAttempts: 4, exponentialAttempts: 6, jitter: "none" });
    expect(new CircuitBreaker({ recovery }).status()).not.toHaveProperty("config");
  });
});
