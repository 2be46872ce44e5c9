import { describe, expect, it } from "vitest";
import { constant } from "../../src/backoff/index.js";
import { CircuitBreaker } from "../../src/breaker/index.js";
import { ManualClock } from "../../src/core/clock.js";
import {
  BulkheadRejectedError,
  CircuitOpenError,
  InvalidOptionError,
  RateLimitExceededError,
  RetryError,
  TimeoutError,
} from "../../src/core/errors.js";
import { isNetworkTypeError, isNeverRetried, RetryPolicy } from "../../src/retry/index.js";
import { rejection } from "../policy/settle.js";

/** How many times `policy` ran an operation that always throws `error`. */
async function runsOf(policy: RetryPolicy, error: unknown): Promise<number> {
  let calls = 0;
  await rejection(
    policy.execute(() => {
      calls++;
      throw error;
    }),
  );
  return calls;
}

const policy = (extra: ConstructorParameters<typeof RetryPolicy>[0] = {}): RetryPolicy =>
  new RetryPolicy({ clock: new ManualClock(), backoff: constant(0), maxAttempts: 3, ...extra });

describe("never retried by default", () => {
  const never: [string, unknown][] = [
    ["CircuitOpenError", new CircuitOpenError("payments", 5_000)],
    ["InvalidOptionError", new InvalidOptionError("X", "y", 1, "z")],
    ["AbortError", new DOMException("aborted", "AbortError")],
    ["TypeError (a bug)", new TypeError("x is not a function")],
    ["ReferenceError", new ReferenceError("y is not defined")],
    ["SyntaxError", new SyntaxError("Unexpected token <")],
    ["RangeError", new RangeError("Invalid array length")],
    ["RateLimitExceededError that can never be admitted", new RateLimitExceededError(Infinity, { limiter: "api", key: "k" })],
  ];
  for (const [name, error] of never) {
    it(`${name}: one attempt, rethrown as it is`, async () => {
      const p = policy();
      let calls = 0;
      const thrown = await rejection(
        p.execute(() => {
          calls++;
          throw error;
        }),
      );
      expect(thrown).toBe(error);
      expect(calls).toBe(1);
      expect(isNeverRetried(error)).toBe(true);
    });
  }

  it("stays so even when retryOn selects it", async () => {
    expect(await runsOf(policy({ retryOn: [Error] }), new CircuitOpenError("s", 1))).toBe(1);
    expect(await runsOf(policy({ retryOn: () => true }), new TypeError("bug"))).toBe(1);
  });

  it("an open breaker inside the retry fails fast, once: an open circuit is never retried", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, recovery: 30_000 });
    breaker.isolate();
    let ran = 0;
    const error = await rejection(
      new RetryPolicy({ clock, backoff: constant(0) }).execute(() =>
        breaker.execute(() => {
          ran++;
        }),
      ),
    );
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(ran).toBe(0);
    expect(breaker.status().totals.rejections).toBe(1);
  });
});

describe("retried by default", () => {
  const transient: [string, unknown][] = [
    ["a plain Error", new Error("ECONNRESET")],
    ["fetch's network TypeError (undici)", new TypeError("fetch failed")],
    ["a browser network TypeError", new TypeError("Failed to fetch")],
    ["our TimeoutError", new TimeoutError(100)],
    ["a RateLimitExceededError with a finite wait", new RateLimitExceededError(0)],
    ["a BulkheadRejectedError", new BulkheadRejectedError(1, 0)],
    ["AbortSignal.timeout's DOMException", new DOMException("timed out", "TimeoutError")],
    ["a thrown string", "oops"],
    ["a thrown object", { code: 503 }],
  ];
  for (const [name, error] of transient) {
    it(`${name}: every attempt`, async () => {
      const p = policy();
      let calls = 0;
      const thrown = (await rejection(
        p.execute(() => {
          calls++;
          throw error;
        }),
      )) as RetryError;
      expect(thrown).toBeInstanceOf(RetryError);
      expect(thrown.cause).toBe(error);
      expect(calls).toBe(3);
      expect(isNeverRetried(error)).toBe(false);
    });
  }

  it("isNetworkTypeError knows fetch failures from bugs", () => {
    expect(isNetworkTypeError(new TypeError("fetch failed"))).toBe(true);
    expect(isNetworkTypeError(new TypeError("Cannot read properties of undefined"))).toBe(false);
    expect(isNetworkTypeError(new Error("fetch failed"))).toBe(false);
  });
});
