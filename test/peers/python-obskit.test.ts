/**
 * Ported from obskit's resilience module tests (talaatmagdyx/obskit):
 * tests/unit/resilience/test_circuit_breaker.py, test_circuit_breaker_sync.py,
 * test_retry.py, test_rate_limiter.py and test_distributed.py (the last on a real
 * redis-server, two processes' stores in one namespace, instead of its MagicMock clients).
 *
 * API mapping (docs/migrating-from-python.md, "obskit (resilience module)"):
 * - `CircuitBreaker(name, failure_threshold=n, recovery_timeout=s, half_open_requests=k)` =>
 *   `new CircuitBreaker({ name, trip: consecutiveFailures(n), recovery: s * 1000, halfOpen: { maxCalls: k } })`;
 *   `excluded_exceptions=(E,)` => `ignore: [E]` (the `ignore_exceptions` row of tnm's table:
 *   obskit's table does not name it).
 * - `async with breaker:` / `with breaker:` / `@breaker` / `call_sync(fn, *args)` =>
 *   `breaker.execute(...)` / `breaker.protect(fn)`; `breaker.state == CircuitState.OPEN` => `breaker.state === "open"`;
 *   `failure_count` => `status().failures`; `reset()` => `reset()`.
 * - `CircuitOpenError.time_until_retry` => `retryAfterMs`; `breaker_name` => `service`.
 * - `@retry(max_attempts, base_delay, jitter=False, retry_on=(E,))` => `new RetryPolicy({ maxAttempts,
 *   backoff: exponential({ initialMs, jitter: "none" }), retryOn: [E] })`; `no_retry_on=(E,)` =>
 *   `retryOn: (e) => !(e instanceof E)`; `RetryError` => `RetryError`.
 * - `RateLimiter(requests=n, window_seconds=s)` => `new TokenBucket({ limit: n, windowMs: s * 1000 })`;
 *   `TokenBucketRateLimiter(bucket_size=c, refill_rate=r)` => `new TokenBucket({ capacity: c, ratePerSec: r })`;
 *   `await limiter.acquire(tokens=k)` => `(await limiter.tryAcquire(key, k)).allowed`; `async with limiter:`
 *   raising `RateLimitExceeded` => `limiter.acquire(key, { maxWaitMs: 0 })` rejecting with `RateLimitExceededError`.
 * - `DistributedCircuitBreaker(name, redis_client, key_prefix, ttl_seconds)` =>
 *   `new CircuitBreaker({ name, store: new RedisStore({ client, namespace, metaTtlMs }) })`.
 * Python's `time.sleep(0.02)` past a recovery timeout is `clock.advance(...)` on a ManualClock.
 */
import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  CircuitOpenError,
  ManualClock,
  RateLimitExceededError,
  RetryError,
  RetryPolicy,
  TokenBucket,
  consecutiveFailures,
  exponential,
} from "../../src/index.js";
import { redisSuite } from "../setup/redis-suite.js";
import { counter, drive, manualStore } from "./helpers.js";

class ValueError extends Error {}
class RuntimeError extends Error {}
class ConnectionError extends Error {}

const suite = redisSuite("obskit");

function breaker(
  clock: ManualClock,
  o: { name?: string; threshold?: number; recoveryS?: number; halfOpen?: number; excluded?: (new (...a: never[]) => Error)[] } = {},
): CircuitBreaker {
  return new CircuitBreaker({
    name: o.name ?? "test",
    clock,
    trip: consecutiveFailures(o.threshold ?? 5),
    recovery: (o.recoveryS ?? 30) * 1000,
    halfOpen: { maxCalls: o.halfOpen ?? 3 },
    ...(o.excluded ? { ignore: o.excluded } : {}),
  });
}

const raise = (e: Error) => (): never => {
  throw e;
};

describe("obskit test_circuit_breaker.py / test_circuit_breaker_sync.py", () => {
  it("test_init_default_values, test_starts_closed, test_is_closed_property, test_failure_count_property", () => {
    const b = breaker(new ManualClock());
    expect(b.name).toBe("test");
    expect(b.state).toBe("closed");
    expect(b.status().failures).toBe(0);
    expect(b.isAvailable()).toBe(true);
  });

  it("test_reset_method: an open breaker is closed again, with no failures", async () => {
    const b = breaker(new ManualClock(), { threshold: 1 });
    await b.execute(raise(new ValueError())).catch(() => undefined);
    expect(b.state).toBe("open");
    b.reset();
    expect(b.state).toBe("closed");
    expect(b.status().failures).toBe(0);
  });

  it("test_async_context_manager_success and test_async_context_manager_failure", async () => {
    const ok = breaker(new ManualClock());
    await ok.execute(() => undefined);
    expect(ok.state).toBe("closed");
    const b = breaker(new ManualClock(), { threshold: 1 });
    await expect(b.execute(raise(new ValueError("Async error")))).rejects.toBeInstanceOf(ValueError);
    expect(b.state).toBe("open");
  });

  it("test_async_opens_after_threshold / test_sync_opens_after_threshold", async () => {
    const b = breaker(new ManualClock(), { threshold: 2 });
    await expect(b.execute(raise(new ValueError("Error 1")))).rejects.toBeInstanceOf(ValueError);
    expect(b.status()).toMatchObject({ state: "closed", failures: 1 });
    await expect(b.execute(raise(new ValueError("Error 2")))).rejects.toBeInstanceOf(ValueError);
    expect(b.state).toBe("open");
  });

  it("test_sync_raises_when_open: CircuitOpenError names the breaker and says when to retry", async () => {
    const b = breaker(new ManualClock(), { name: "test_sync_open_error", threshold: 1, recoveryS: 10 });
    await b.execute(raise(new ValueError("test error"))).catch(() => undefined);
    const error = await b.execute(() => undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).service).toBe("test_sync_open_error");
    expect((error as CircuitOpenError).retryAfterMs).toBe(10_000);
    expect((error as Error).message).toContain("test_sync_open_error");
  });

  it("test_half_open_to_closed_transition: half_open_requests=2 successes close it", async () => {
    const clock = new ManualClock();
    const b = breaker(clock, { threshold: 1, recoveryS: 0.01, halfOpen: 2 });
    await b.execute(raise(new ValueError("Open circuit"))).catch(() => undefined);
    expect(b.state).toBe("open");
    clock.advance(20);
    await b.execute(() => undefined);
    expect(b.state).toBe("half-open");
    await b.execute(() => undefined);
    expect(b.state).toBe("closed");
  });

  it("test_half_open_to_open_on_failure: a failure after a half-open success re-opens", async () => {
    const clock = new ManualClock();
    const b = breaker(clock, { threshold: 1, recoveryS: 0.01, halfOpen: 3 });
    await b.execute(raise(new ValueError("Open circuit"))).catch(() => undefined);
    clock.advance(20);
    await b.execute(() => undefined);
    expect(b.state).toBe("half-open");
    await expect(b.execute(raise(new ValueError("Reopen")))).rejects.toBeInstanceOf(ValueError);
    expect(b.state).toBe("open");
  });

  it("test_sync_half_open_to_closed_transition: half_open_requests=1, one success closes", async () => {
    const clock = new ManualClock();
    const b = breaker(clock, { threshold: 1, recoveryS: 0.1, halfOpen: 1 });
    await b.execute(raise(new ValueError("test error"))).catch(() => undefined);
    clock.advance(150);
    await b.execute(() => undefined);
    expect(b.state).toBe("closed");
  });

  it("test_excluded_exceptions_not_counted and test_mixed_exceptions", async () => {
    const b = breaker(new ManualClock(), { threshold: 2, excluded: [ValueError] });
    for (let i = 0; i < 5; i++) await expect(b.execute(raise(new ValueError("Excluded")))).rejects.toBeInstanceOf(ValueError);
    expect(b.status()).toMatchObject({ state: "closed", failures: 0 });
    await expect(b.execute(raise(new RuntimeError("Counted")))).rejects.toBeInstanceOf(RuntimeError);
    expect(b.status().failures).toBe(1);
  });

  it("test_success_resets_failure_count", async () => {
    const b = breaker(new ManualClock(), { threshold: 3 });
    await b.execute(raise(new ValueError("Failure"))).catch(() => undefined);
    expect(b.status().failures).toBe(1);
    await b.execute(() => undefined);
    expect(b.status().failures).toBe(0);
  });

  it("test_decorator_pattern, test_decorator_pattern_with_failure, test_sync_call_method", async () => {
    const b = breaker(new ManualClock(), { threshold: 1 });
    expect(await b.protect(async () => "success")()).toBe("success");
    expect(await b.protect((x: number, y: number) => x + y)(1, 2)).toBe(3);
    await expect(b.protect(async () => Promise.reject(new ValueError("Decorated failure")))()).rejects.toBeInstanceOf(ValueError);
    expect(b.state).toBe("open");
  });

  it("test_time_until_retry_no_failures: 0", () => {
    expect(breaker(new ManualClock()).status().retryAfterMs).toBe(0);
  });
});

describe("obskit test_retry.py", () => {
  const policy = (clock: ManualClock, o: Partial<ConstructorParameters<typeof RetryPolicy>[0]> = {}): RetryPolicy =>
    new RetryPolicy({ maxAttempts: 3, backoff: exponential({ initialMs: 10, jitter: "none" }), clock, ...o });

  it("test_success_no_retry and test_preserves_function_return", async () => {
    const clock = new ManualClock();
    const fn = counter(() => ({ key: "value", count: 42 }));
    expect(await policy(clock).execute(fn.fn)).toEqual({ key: "value", count: 42 });
    expect(fn.calls()).toBe(1);
  });

  it("test_retry_on_failure: succeeds on the second call", async () => {
    const clock = new ManualClock();
    const fn = counter((n) => {
      if (n < 2) throw new ValueError("Transient error");
      return "success";
    });
    expect(await drive(clock, policy(clock).execute(fn.fn))).toBe("success");
    expect(fn.calls()).toBe(2);
  });

  it("test_exhausts_retries and test_custom_max_attempts: RetryError after max_attempts calls", async () => {
    for (const maxAttempts of [3, 5]) {
      const clock = new ManualClock();
      const fn = counter((): never => {
        throw new ValueError("Persistent error");
      });
      const error = await drive(clock, policy(clock, { maxAttempts }).execute(fn.fn)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryError);
      expect(error).toMatchObject({ attempts: maxAttempts });
      expect((error as RetryError).cause).toBeInstanceOf(ValueError);
      expect(fn.calls()).toBe(maxAttempts);
    }
  });

  it("test_retry_on_specific_exceptions: retry_on=(ConnectionError,) rethrows a ValueError at once", async () => {
    const clock = new ManualClock();
    const fn = counter((): never => {
      throw new ValueError("Not retriable");
    });
    await expect(drive(clock, policy(clock, { retryOn: [ConnectionError] }).execute(fn.fn))).rejects.toBeInstanceOf(ValueError);
    expect(fn.calls()).toBe(1);
  });

  it("test_no_retry_on_excluded: no_retry_on=(ValueError,) as a predicate", async () => {
    const clock = new ManualClock();
    const fn = counter((): never => {
      throw new ValueError("Excluded");
    });
    await expect(drive(clock, policy(clock, { retryOn: (e) => !(e instanceof ValueError) }).execute(fn.fn))).rejects.toBeInstanceOf(
      ValueError,
    );
    expect(fn.calls()).toBe(1);
  });

  it("test_delay_between_retries: base_delay=0.05, jitter=False waits 50 ms, then 100 ms", async () => {
    const clock = new ManualClock();
    const stamps: number[] = [];
    const fn = counter(() => {
      stamps.push(clock.now());
      if (stamps.length < 3) throw new ValueError();
      return "success";
    });
    await drive(clock, policy(clock, { backoff: exponential({ initialMs: 50, jitter: "none" }) }).execute(fn.fn));
    expect(stamps).toEqual([0, 50, 150]);
  });

  it("the default: obskit's RetryConfig() is 3 attempts; ours too", () => {
    // RetryConfig() defaults to max_attempts=3, base_delay=1.0, jitter=True; ours to 3 attempts, 100 ms doubling, full jitter (docs/retry.md, the options table).
    expect(new RetryPolicy().maxAttempts).toBe(3);
  });
});

describe("obskit test_rate_limiter.py", () => {
  it("test_acquire_success and test_acquire_multiple: RateLimiter(requests=5) admits 5", async () => {
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({ limit: 5, windowMs: 60_000, clock, store });
    for (let i = 0; i < 5; i++) expect((await limiter.tryAcquire()).allowed).toBe(true);
  });

  it("test_remaining_initially_full and test_would_exceed_when_empty: peek()", async () => {
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({ limit: 10, windowMs: 60_000, clock, store });
    expect(await limiter.peek()).toMatchObject({ allowed: true, remaining: 10, limit: 10 });
  });

  it("test_context_manager_raises_when_exceeded: the third request of two rejects with RateLimitExceededError", async () => {
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({ name: "api_calls", limit: 2, windowMs: 60_000, clock, store });
    await limiter.acquire("default", { maxWaitMs: 0 });
    await limiter.acquire("default", { maxWaitMs: 0 });
    const error = await limiter.acquire("default", { maxWaitMs: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitExceededError);
    // test_exception_attributes: retry_after => retryAfterMs (a bucket refills one token in 30 s here).
    expect(error).toMatchObject({ limiter: "api_calls", retryAfterMs: 30_000 });
  });

  it("test_cleanup_old_requests: after the window, requests are admitted again", async () => {
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({ limit: 2, windowMs: 50, clock, store });
    await limiter.tryAcquire();
    await limiter.tryAcquire();
    expect((await limiter.tryAcquire()).allowed).toBe(false);
    clock.advance(100);
    expect((await limiter.tryAcquire()).allowed).toBe(true);
  });

  it("TokenBucket test_acquire_success and test_acquire_multiple_tokens: bucket_size=100, refill_rate=10", async () => {
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({ capacity: 100, ratePerSec: 10, clock, store });
    expect((await limiter.tryAcquire()).allowed).toBe(true);
    expect((await limiter.tryAcquire("default", 5)).allowed).toBe(true);
    expect((await limiter.peek()).remaining).toBe(94);
  });

  it("test_acquire_fails_when_insufficient_tokens: 10 tokens from a bucket of 5", async () => {
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({ capacity: 5, ratePerSec: 0.001, clock, store });
    // obskit answers False; ours rejects at once with RateLimitExceededError, retryAfterMs Infinity,
    // since a cost above the capacity can never be admitted: docs/rate-limiting.md:51-53.
    const error = await limiter.tryAcquire("default", 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitExceededError);
    expect((error as RateLimitExceededError).retryAfterMs).toBe(Infinity);
  });

  it("test_context_manager_raises_when_no_tokens: an empty bucket (drained: ours start full)", async () => {
    // obskit's initial_tokens=0 has no option here (a bucket starts full); the bucket is drained first.
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({ capacity: 2, ratePerSec: 0.001, clock, store });
    await limiter.tryAcquire("default", 2);
    await expect(limiter.acquire("default", { maxWaitMs: 0 })).rejects.toBeInstanceOf(RateLimitExceededError);
  });
});

describe("obskit test_distributed.py (a real redis-server)", () => {
  it("test_sync_opens_after_failures and test_sync_circuit_open_raises_error: one process opens it, another is refused", async () => {
    const namespace = suite.ns();
    const boom = raise(new ValueError("Error"));
    const a = new CircuitBreaker({ name: "open-test", store: suite.store({ namespace }), trip: consecutiveFailures(2), recovery: 60_000 });
    const b = new CircuitBreaker({ name: "open-test", store: suite.store({ namespace }), trip: consecutiveFailures(2), recovery: 60_000 });
    await a.flush();
    await b.flush();
    await expect(a.execute(boom)).rejects.toBeInstanceOf(ValueError);
    await expect(a.execute(boom)).rejects.toBeInstanceOf(ValueError);
    await a.flush();
    // test_sync_with_redis_when_state_exists: the other process restores the state from Redis.
    for (let i = 0; i < 200 && b.isAvailable(); i++) await new Promise((r) => setTimeout(r, 5));
    const error = await b.execute(() => "never").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).retryAfterMs).toBeGreaterThan(50_000);
    expect(b.status().failures).toBe(2);
  });

  it("test_init_with_custom_key_prefix and test_save_state_sync (ttl_seconds): the key is under the namespace, with the TTL", async () => {
    const namespace = suite.ns();
    const b = new CircuitBreaker({ name: "test", store: suite.store({ namespace, metaTtlMs: 3_600_000 }), trip: consecutiveFailures(5) });
    await b.execute(raise(new ValueError())).catch(() => undefined);
    await b.flush();
    const key = `${namespace}:{breaker:test}`;
    expect(await suite.admin.exists(key)).toBe(1);
    const ttl = await suite.admin.pttl(key);
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
  });

  it("test_context_manager_sync_success and _failure on Redis: outcomes come back as the call's own", async () => {
    const b = new CircuitBreaker({ name: "async-test", store: suite.store({ namespace: suite.ns() }), trip: consecutiveFailures(1) });
    expect(await b.execute(() => "ok")).toBe("ok");
    await expect(b.execute(raise(new ValueError("Test error")))).rejects.toBeInstanceOf(ValueError);
  });
});
