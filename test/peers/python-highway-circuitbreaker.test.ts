/**
 * Ported from highway-circuitbreaker (rodmena-limited/resilient-circuit, package
 * `highway_circutbreaker`): tests/test_circuit_breaker.py (TestCircuitBreaker,
 * TestCircuitBreakerWithThresholds, TestCircuitBreakerWithExceptionHandling),
 * tests/test_failsafe.py, tests/test_retry.py and tests/test_backoff.py.
 *
 * API mapping (docs/migrating-from-python.md, "highway-circuitbreaker"):
 * - `CircuitBreakerPolicy(cooldown=timedelta(...), failure_threshold=Fraction(k, n))` =>
 *   `new CircuitBreaker({ recovery: ms, trip: failureRatio(k / n, { windowCalls: n }) })`; the
 *   library's default `Fraction(1, 1)` (one failure of the last call) => `failureRatio(1, { windowCalls: 1 })`.
 * - `handle=lambda e: ...` => `failOn: (error) => ...` (breaker), `retryOn` (retry).
 * - `on_state_change(policy, old, new)` => `onStateChange({ name, from, to, reason })`.
 * - `State.OPEN` => `"open"`; `policy.history` => `breaker.history` with `historySize`.
 * - `breaker(method)()` => `breaker.protect(method)()`.
 * - `RetryPolicy(max_retries=n, backoff=...)` => `new RetryPolicy({ maxAttempts: n + 1, backoff })`;
 *   `FixedDelay(d)` => `constant(d)`; `ExponentialDelay(min_delay, max_delay)` / `Backoff(min_delay,
 *   max_delay, factor)` => `exponential({ initialMs, maxMs, factor, jitter: "none" })`.
 * - `Failsafe(policies=(a, b))` => `pipeline(a, b)`, outermost first.
 * - The library's tests set `breaker.state = State.OPEN` / `HALF_OPEN`; here `breaker.open({ forMs })`
 *   opens it, and half-open is reached through the cooldown on a ManualClock.
 */
import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  CircuitOpenError,
  ManualClock,
  RetryError,
  RetryPolicy,
  constant,
  exponential,
  failureRatio,
  pipeline,
  type StateChangeEvent,
} from "../../src/index.js";
import { counter, deferred, drive } from "./helpers.js";

class RuntimeError extends Error {}
class ValueError extends Error {}

/** `CircuitBreakerPolicy(cooldown=50 ms)`, the library's defaults otherwise (Fraction(1, 1)). */
function policy(clock: ManualClock, extra: Partial<ConstructorParameters<typeof CircuitBreaker>[0]> = {}): CircuitBreaker {
  return new CircuitBreaker({ clock, recovery: 50, trip: failureRatio(1, { windowCalls: 1 }), historySize: 20, ...extra });
}

/** A `Mock(side_effect=[...])`: returns the values in turn and throws the error classes. */
function sideEffects(...effects: (string | (new () => Error))[]): { fn: () => string; calls: () => number } {
  return counter((n) => {
    const e = effects[Math.min(n, effects.length) - 1]!;
    if (typeof e === "string") return e;
    throw new e();
  });
}

async function callIgnoring(breaker: CircuitBreaker, fn: () => unknown): Promise<void> {
  await breaker.execute(fn).catch(() => undefined);
}

describe("highway-circuitbreaker tests/test_circuit_breaker.py: TestCircuitBreaker", () => {
  it("test_should_return_result_when_execution_successful", async () => {
    const breaker = policy(new ManualClock());
    expect(await breaker.protect(() => "test")()).toBe("test");
  });

  it("test_should_open_and_propagate_error_when_execution_fails", async () => {
    const breaker = policy(new ManualClock());
    await expect(breaker.protect(() => Promise.reject(new RuntimeError()))()).rejects.toBeInstanceOf(RuntimeError);
    expect(breaker.state).toBe("open");
  });

  it("test_should_stay_open_and_not_execute_until_cooldown_period_lapses", async () => {
    const breaker = policy(new ManualClock());
    breaker.open({ forMs: 50 });
    const method = counter(() => "x");
    await expect(breaker.protect(method.fn)()).rejects.toBeInstanceOf(CircuitOpenError);
    expect(method.calls()).toBe(0);
  });

  it("test_should_become_half_open_after_cooldown_period_lapses: a successful call after the cooldown", async () => {
    const clock = new ManualClock();
    const breaker = policy(clock);
    breaker.open({ forMs: 50 });
    clock.advance(60);
    await breaker.protect(() => "ok")();
    // The library moves OPEN -> HALF_OPEN on that success and waits for the next call to
    // close; ours runs the call as the half-open trial, and one successful trial
    // (successesToClose defaults to maxCalls, 1) closes: docs/circuit-breaker.md:61-66. The
    // state passes through half-open during the trial.
    expect(breaker.state).toBe("closed");
  });

  it("test_should_stay_open_if_fails_after_cooldown_period_lapses", async () => {
    const clock = new ManualClock();
    const breaker = policy(clock);
    breaker.open({ forMs: 50 });
    clock.advance(60);
    await expect(breaker.protect(() => Promise.reject(new RuntimeError()))()).rejects.toBeInstanceOf(RuntimeError);
    expect(breaker.state).toBe("open");
  });

  it("test_should_open_when_fails_under_half_open_state and test_should_close_when_succeeds_under_half_open_state", async () => {
    const clock = new ManualClock();
    const breaker = policy(clock);
    breaker.open({ forMs: 50 });
    clock.advance(50);
    const trial = deferred<string>();
    const pending = breaker.execute(() => trial.promise);
    expect(breaker.state).toBe("half-open");
    trial.reject(new RuntimeError());
    await expect(pending).rejects.toBeInstanceOf(RuntimeError);
    expect(breaker.state).toBe("open");
    clock.advance(50);
    const ok = deferred<string>();
    const second = breaker.execute(() => ok.promise);
    expect(breaker.state).toBe("half-open");
    ok.resolve("fine");
    await second;
    expect(breaker.state).toBe("closed");
  });

  it("test_should_provide_history_of_executions", async () => {
    const breaker = policy(new ManualClock());
    await breaker.protect(() => undefined)();
    const count = (o: string): number => breaker.history.filter((h) => h.outcome === o).length;
    expect(count("success")).toBe(1);
    expect(count("failure")).toBe(0);
  });

  it("test_should_keep_history_of_previous_execution_when_is_open", async () => {
    const breaker = policy(new ManualClock());
    for (let i = 0; i < 2; i++) await callIgnoring(breaker, () => Promise.reject(new RuntimeError()));
    expect(breaker.state).toBe("open");
    const count = (o: string): number => breaker.history.filter((h) => h.outcome === o).length;
    expect(count("success")).toBe(0);
    expect(count("failure")).toBe(1);
    // Ours also keeps the refused call, as "rejected" (the library's history has successes and failures only).
    expect(count("rejected")).toBe(1);
  });

  it("test_should_invoke_on_state_change_when_state_is_changed: closed -> open, open -> half-open", async () => {
    const clock = new ManualClock();
    const changes: StateChangeEvent[] = [];
    const breaker = policy(clock, { onStateChange: (e) => changes.push(e) });
    breaker.open({ forMs: 50 });
    clock.advance(50);
    const trial = deferred<void>();
    const pending = breaker.execute(() => trial.promise);
    expect(changes.map((e) => [e.from, e.to])).toEqual([
      ["closed", "open"],
      ["open", "half-open"],
    ]);
    trial.resolve();
    await pending;
  });
});

describe("highway-circuitbreaker tests/test_circuit_breaker.py: TestCircuitBreakerWithThresholds", () => {
  it("test_should_open_after_reaching_failure_threshold: Fraction(2, 5)", async () => {
    const breaker = policy(new ManualClock(), { trip: failureRatio(2 / 5, { windowCalls: 5 }) });
    for (let i = 0; i < 5; i++) await breaker.protect(() => "ok")();
    const method = sideEffects(
      "response-1",
      RuntimeError,
      "response-3",
      "response-4",
      "response-5",
      "response-6",
      RuntimeError,
      RuntimeError,
    );
    for (let i = 0; i < 8; i++) await callIgnoring(breaker, method.fn);
    expect(breaker.state).toBe("open");
    expect(method.calls()).toBe(8);
  });

  it("test_should_stay_closed_before_reaching_failure_threshold: Fraction(3, 5)", async () => {
    const breaker = policy(new ManualClock(), { trip: failureRatio(3 / 5, { windowCalls: 5 }) });
    for (let i = 0; i < 5; i++) await breaker.protect(() => "ok")();
    const method = sideEffects(
      "response-1",
      RuntimeError,
      "response-3",
      "response-4",
      "response-5",
      "response-6",
      RuntimeError,
      "response-8",
    );
    for (let i = 0; i < 8; i++) await callIgnoring(breaker, method.fn);
    expect(breaker.state).toBe("closed");
    expect(method.calls()).toBe(8);
  });

  it("test_should_open_according_to_failure_threshold_when_success_threshold_not_set: half-open, F S F S S", async () => {
    const clock = new ManualClock();
    const breaker = policy(clock, { trip: failureRatio(2 / 5, { windowCalls: 5 }) });
    breaker.open({ forMs: 50 });
    clock.advance(50);
    const method = sideEffects(RuntimeError, "response-2", RuntimeError, "response-4", "response-5");
    for (let i = 0; i < 5; i++) await callIgnoring(breaker, method.fn);
    expect(breaker.state).toBe("open");
    // The library's half-open judges a window of 5 trial calls (the failure threshold's
    // denominator) and opens on 2 failures of them, so all 5 run; ours re-opens on the first
    // failed trial and refuses the rest until the next cooldown: docs/circuit-breaker.md:65-66.
    expect(method.calls()).toBe(1);
  });
});

describe("highway-circuitbreaker tests/test_circuit_breaker.py: TestCircuitBreakerWithExceptionHandling", () => {
  it("test_should_open_when_exception_must_be_handled", async () => {
    const breaker = policy(new ManualClock(), { failOn: (e) => e instanceof ValueError });
    await expect(breaker.protect(() => Promise.reject(new ValueError()))()).rejects.toBeInstanceOf(ValueError);
    expect(breaker.state).toBe("open");
  });

  it("test_should_stay_closed_when_exception_must_not_be_handled", async () => {
    const breaker = policy(new ManualClock(), { failOn: (e) => e instanceof RuntimeError });
    await expect(breaker.protect(() => Promise.reject(new ValueError()))()).rejects.toBeInstanceOf(ValueError);
    expect(breaker.state).toBe("closed");
  });
});

describe("highway-circuitbreaker tests/test_failsafe.py", () => {
  it("test_should_wrap_original_method: Failsafe((retry, breaker))", async () => {
    const clock = new ManualClock();
    const failsafe = pipeline(new RetryPolicy({ maxAttempts: 4, backoff: constant(0), clock }), policy(clock));
    const method = counter(() => "value");
    expect(await failsafe.execute(method.fn)).toBe("value");
    expect(method.calls()).toBe(1);
  });

  it("test_should_evaluate_retry_first: Failsafe((breaker, retry)) sees one success", async () => {
    const clock = new ManualClock();
    const breaker = policy(clock);
    const failsafe = pipeline(breaker, new RetryPolicy({ maxAttempts: 4, backoff: constant(0), clock }));
    const method = sideEffects(RuntimeError, RuntimeError, "success");
    expect(await drive(clock, failsafe.execute(method.fn))).toBe("success");
    expect(method.calls()).toBe(3);
    expect(breaker.state).toBe("closed");
  });

  it("test_should_evaluate_circuit_breaker_first: Failsafe((retry, breaker)) stops at the open circuit", async () => {
    const clock = new ManualClock();
    const breaker = policy(clock, { recovery: 10 });
    const failsafe = pipeline(new RetryPolicy({ maxAttempts: 4, backoff: constant(0), clock }), breaker);
    const method = counter((): never => {
      throw new RuntimeError();
    });
    const error = await drive(clock, failsafe.execute(method.fn)).catch((e: unknown) => e);
    // The library retries the CircuitBreakerOpenError until RetriesExceeded (whose __cause__ is
    // it); ours never retries CircuitOpenError and rethrows it as it is:
    // docs/migrating-from-python.md:80 and docs/retry.md, "What is never retried".
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(method.calls()).toBe(1);
    expect(breaker.state).toBe("open");
  });

  it("test_should_require_unique_policies: the same policy twice", async () => {
    // Failsafe raises ValueError("All policies must be unique."); pipeline accepts the same
    // policy twice (it then runs twice, nested): docs/migrating-from-python.md, the Failsafe row.
    const clock = new ManualClock();
    const retry = new RetryPolicy({ maxAttempts: 4, backoff: constant(0), clock });
    expect(() => pipeline(retry, retry)).not.toThrow();
  });
});

describe("highway-circuitbreaker tests/test_retry.py", () => {
  it("test_should_return_result_when_execution_successful and test_should_retry_when_first_execution_fails", async () => {
    const clock = new ManualClock();
    const retries = new RetryPolicy({ maxAttempts: 4, backoff: constant(0), clock });
    expect(await retries.wrap(() => "test")()).toBe("test");
    const method = sideEffects(RuntimeError, "test");
    expect(await drive(clock, retries.execute(method.fn))).toBe("test");
    expect(method.calls()).toBe(2);
  });

  it("test_should_not_retry_beyond_max_retries: max_retries=2 is 3 calls", async () => {
    const clock = new ManualClock();
    const method = counter((): never => {
      throw new RuntimeError();
    });
    const error = await drive(clock, new RetryPolicy({ maxAttempts: 3, backoff: constant(0), clock }).execute(method.fn)).catch(
      (e: unknown) => e,
    );
    // RetryLimitReached => RetryError (attempts, errors, cause).
    expect(error).toBeInstanceOf(RetryError);
    expect(error).toMatchObject({ attempts: 3 });
    expect(method.calls()).toBe(3);
  });

  it("test_should_retry_with_delays_between_calls: FixedDelay(1 s) sleeps 1.0, 1.0", async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    const policy = new RetryPolicy({ maxAttempts: 4, backoff: constant(1_000), clock, onRetry: (e) => delays.push(e.delayMs) });
    const method = sideEffects(RuntimeError, RuntimeError, "test");
    expect(await drive(clock, policy.execute(method.fn), 100)).toBe("test");
    expect(delays).toEqual([1_000, 1_000]);
    expect(clock.now()).toBe(2_000);
  });

  it("test_should_retry_when_exception_must_be_handled and test_should_abort_when_exception_must_not_be_handled", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ maxAttempts: 4, backoff: constant(0), clock, retryOn: (e) => e instanceof RuntimeError });
    const handled = sideEffects(RuntimeError, RuntimeError, "test");
    expect(await drive(clock, policy.execute(handled.fn))).toBe("test");
    expect(handled.calls()).toBe(3);
    const other = counter((): never => {
      throw new ValueError();
    });
    await expect(drive(clock, policy.execute(other.fn))).rejects.toBeInstanceOf(ValueError);
    expect(other.calls()).toBe(1);
  });
});

describe("highway-circuitbreaker tests/test_backoff.py", () => {
  it("test_should_calculate_delay_for_attempt: ExponentialDelay(50 ms, 100 s) gives 0.05, 0.1, 0.2, 0.4 ... 25.6 s", () => {
    const backoff = exponential({ initialMs: 50, maxMs: 100_000, factor: 2, jitter: "none" });
    expect([1, 2, 3, 4, 10].map((n) => backoff.delay(n))).toEqual([50, 100, 200, 400, 25_600]);
  });

  it("test_should_not_exceed_max_delay: ExponentialDelay(60 ms, 0.1 s)", () => {
    const backoff = exponential({ initialMs: 60, maxMs: 100, jitter: "none" });
    for (let attempt = 1; attempt < 10; attempt++) expect(backoff.delay(attempt)).toBeLessThanOrEqual(100);
  });

  it("test_should_provide_equal_delays: FixedDelay(1 s)", () => {
    const backoff = constant(1_000);
    for (let attempt = 1; attempt < 5; attempt++) expect(backoff.delay(attempt)).toBe(1_000);
  });
});
