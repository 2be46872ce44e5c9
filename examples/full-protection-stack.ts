/**
 * The "full protection stack" as one `pipeline(...)` call:
 *
 *   1. rate limiting (prevent overload): a token bucket that refuses at once when empty,
 *   2. retry of transient errors only (timeouts and connection errors), never of an open circuit,
 *   3. a circuit breaker (fail fast), each attempt limited by a timeout,
 *   and an open circuit surfaced as "service unavailable, retry in N s".
 *
 *   npx tsx examples/full-protection-stack.ts
 *
 * A fake upstream goes through four moods (healthy, flaky, down, healthy again); the
 * script prints what each call saw, then exits. It takes about two seconds.
 */
import {
  CircuitBreaker,
  CircuitOpenError,
  consecutiveFailures,
  type ExecuteOptions,
  exponential,
  type Operation,
  pipeline,
  type Policy,
  RateLimitExceededError,
  RetryError,
  RetryPolicy,
  timeout,
  TimeoutError,
  TokenBucket,
} from "../src/index.js";

class ConnectionError extends Error {}
class ValidationError extends Error {}

/** What the stack raises when the circuit is open: the service is unavailable, with when to retry. */
class ServiceUnavailableError extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`Service unavailable. Retry in ${Math.ceil(retryAfterMs / 1000)}s`);
  }
}

/** A policy of our own (the same interface as every built-in one): open circuit -> ServiceUnavailableError. */
const surfaceOpenCircuit: Policy = {
  async execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    try {
      return await fn({ signal: options?.signal, attempt: options?.attempt ?? 1 });
    } catch (error) {
      if (error instanceof CircuitOpenError) throw new ServiceUnavailableError(error.retryAfterMs);
      throw error;
    }
  },
};

const limiter = new TokenBucket({ name: "api_calls", limit: 8, windowMs: 1_000, maxWaitMs: 0 });
const breaker = new CircuitBreaker({
  name: "external_api",
  trip: consecutiveFailures(3),
  recovery: 800,
  onStateChange: ({ from, to, reason }) => console.log(`    [breaker] ${from} -> ${to} (${reason})`),
});
const retry = new RetryPolicy({
  maxAttempts: 3,
  backoff: exponential({ initialMs: 20, maxMs: 100, jitter: "equal" }),
  retryOn: [TimeoutError, ConnectionError], // transient errors only
  onRetry: ({ attempt, delayMs, error }) =>
    console.log(`    [retry] attempt ${attempt} failed (${(error as Error).message}); again in ${Math.round(delayMs)} ms`),
});

const fullyProtected = pipeline(surfaceOpenCircuit, retry, limiter, breaker, timeout(100));

// The upstream: its mood decides what a call does.
let mood: "healthy" | "flaky" | "down" = "healthy";
let calls = 0;
async function api(data: string, signal: AbortSignal): Promise<string> {
  calls++;
  if (data === "") throw new ValidationError("data must not be empty");
  if (mood === "down") throw new ConnectionError("ECONNREFUSED");
  if (mood === "flaky" && calls % 2 === 1) {
    // A slow answer (5 s), unless the timeout aborts it first.
    await new Promise((resolve, reject) => {
      const slow = setTimeout(resolve, 5_000);
      signal.addEventListener("abort", () => (clearTimeout(slow), reject(signal.reason)), { once: true });
    });
  }
  return `ok(${data})`;
}

async function call(data: string): Promise<void> {
  const started = Date.now();
  try {
    const result = await fullyProtected.execute(({ signal }) => api(data, signal as AbortSignal));
    console.log(`  ${JSON.stringify(data)} -> ${result} (${Date.now() - started} ms)`);
  } catch (error) {
    const kind =
      error instanceof ServiceUnavailableError
        ? "503"
        : error instanceof RateLimitExceededError
          ? "429"
          : error instanceof RetryError
            ? "gave up"
            : "error";
    console.log(`  ${JSON.stringify(data)} -> ${kind}: ${(error as Error).message}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

console.log("healthy upstream:");
await call("a");
await call("b");
console.log("a bad request is not retried (not transient):");
await call("");
console.log("a burst of 8: the bucket (8 per second) has 5 tokens left; the limiter refuses the rest at once, not retried:");
await Promise.all(["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"].map(call));
await sleep(1_000);
console.log("flaky upstream: every other call hangs; the timeout cuts it and the retry recovers:");
mood = "flaky";
await call("c");
await call("d");
console.log("upstream down: retries exhaust, the breaker opens, later calls fail fast:");
mood = "down";
await call("f");
await call("g");
await call("h");
console.log("upstream back; after the open interval a trial call closes the circuit:");
mood = "healthy";
await sleep(900);
await call("i");
await call("j");
console.log(`done: the upstream saw ${calls} calls; breaker ${breaker.state}`);
