/**
 * Ported from p-retry test.js (sindresorhus/p-retry), the current suite and the cases of its
 * earlier versions that it dropped (abort with a bare AbortSignal).
 *
 * API mapping:
 * - `pRetry(fn, { retries: n })` => `retry(fn, { maxAttempts: n + 1 })` or `new RetryPolicy(...)`;
 *   p-retry's default `retries: 10` => `maxAttempts: 11`. `fn` gets `{ attempt }` where p-retry
 *   passes `attemptNumber` (both 1 for the first try).
 * - `minTimeout` / `maxTimeout` / `factor`, `randomize: false` =>
 *   `exponential({ initialMs, maxMs, factor, jitter: "none" })`; p-retry's defaults (1 s, no cap,
 *   2) => `exponential({ initialMs: 1_000, maxMs: 1e9, jitter: "none" })`.
 * - `shouldRetry(context)` => `retryOn` (a predicate of the error); `onFailedAttempt` =>
 *   `onRetry` (called only before another attempt) and the `giveUp` event (the last failure).
 * - `AbortError` (stop retrying) => any error named `"AbortError"`, never retried.
 * - `signal` => the `signal` option (or `execute(fn, { signal })`); `makeRetriable` => `policy.wrap`.
 * - `maxRetryTime` => an outer `timeout(...)` in a `pipeline` (one budget for every attempt).
 * Time is a ManualClock: p-retry's `await delay(40)` in the callee is `await clock.sleep(40)`.
 * Each case keeps the peer's assertion, translated, except where Breakwater deliberately
 * differs: there the case asserts Breakwater's behaviour, and a comment names what p-retry
 * asserts and where our docs state the difference.
 */
import { describe, expect, it } from "vitest";
import {
  InvalidOptionError,
  ManualClock,
  RetryError,
  RetryPolicy,
  TimeoutError,
  constant,
  exponential,
  pipeline,
  retry,
  timeout,
  type RetryOptions,
} from "../../src/index.js";
import { drive } from "./helpers.js";

const fixture = Symbol("fixture");
const fixtureError = new Error("fixture");

/** p-retry's AbortError: wraps the error to stop on; recognised by its name. */
class AbortError extends Error {
  override readonly name = "AbortError";
  readonly originalError: Error;
  constructor(messageOrError: string | Error) {
    super(typeof messageOrError === "string" ? messageOrError : messageOrError.message);
    this.originalError = typeof messageOrError === "string" ? new Error(messageOrError) : messageOrError;
  }
}

/** p-retry's default schedule: 1 s doubling, no jitter, no cap (retries: 10 => 11 attempts). */
function pRetryDefaults(clock: ManualClock, extra: RetryOptions<never> = {}): RetryOptions<never> {
  return { maxAttempts: 11, backoff: exponential({ initialMs: 1_000, maxMs: 1e9, jitter: "none" }), clock, ...extra };
}

/** p-retry's usual attempt: 40 ms of work, then `fixture` on the third attempt, `error` before; `calls()` counts them. */
function thirdTime(clock: ManualClock, error: unknown): { fn: Parameters<RetryPolicy["execute"]>[0]; calls: () => number } {
  let calls = 0;
  return {
    fn: async ({ attempt }) => {
      await clock.sleep(40);
      calls++;
      if (attempt === 3) return fixture;
      throw error;
    },
    calls: () => calls,
  };
}

/** Runs `fn` under a policy with `options` and drives the clock (10 ms steps) until it settles. */
function run<T>(clock: ManualClock, options: RetryOptions<never>, fn: Parameters<RetryPolicy["execute"]>[0]): Promise<T> {
  return drive(clock, new RetryPolicy(options).execute(fn) as Promise<T>, 10);
}

describe("p-retry test.js: retries", () => {
  it("retries", async () => {
    const clock = new ManualClock();
    const attempts = thirdTime(clock, fixtureError);
    const value = await run(clock, pRetryDefaults(clock), attempts.fn);
    expect(value).toBe(fixture);
    expect(attempts.calls()).toBe(3);
  });

  it("retries forever when specified: Infinity is refused, Number.MAX_SAFE_INTEGER retries until an AbortError", async () => {
    // p-retry accepts retries: Infinity; our maxAttempts must be an integer >= 1 (docs/retry.md, the options table), so Infinity is refused and "no limit" is Number.MAX_SAFE_INTEGER: docs/retry.md, `maxAttempts`.
    expect(() => new RetryPolicy({ maxAttempts: Infinity })).toThrow(InvalidOptionError);
    const clock = new ManualClock();
    let attempts = 0;
    const err = await run(clock, { maxAttempts: Number.MAX_SAFE_INTEGER, backoff: constant(0), clock }, () => {
      attempts++;
      if (attempts === 15) throw new AbortError("stop");
      throw new Error("test");
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(attempts).toBe(15);
  });

  it("handles synchronous input function (retries: 2 => 3 attempts)", async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const err = await run(clock, { maxAttempts: 3, backoff: constant(0), clock }, () => {
      attempts++;
      throw new Error("test");
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryError);
    expect(attempts).toBe(3);
  });

  it("a null result is a success: one attempt", async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const value = await run(clock, { maxAttempts: 3, clock }, () => {
      attempts++;
      return null;
    });
    expect(value).toBeNull();
    expect(attempts).toBe(1);
  });

  it("handles zero retries (maxAttempts: 1): one attempt", async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const err = await run(clock, { maxAttempts: 1, clock }, () => {
      attempts++;
      throw new Error("test");
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryError);
    expect((err as RetryError).attempts).toBe(1);
    expect(attempts).toBe(1);
  });

  it("can retry functions that throw non-extensible errors", async () => {
    const clock = new ManualClock();
    const nonExtensible = Object.preventExtensions(new Error("non-extensible-error"));
    const attempts = thirdTime(clock, nonExtensible);
    const value = await run(clock, pRetryDefaults(clock), attempts.fn);
    expect(value).toBe(fixture);
    expect(attempts.calls()).toBe(3);
  });
});

describe("p-retry test.js: errors that stop the retries", () => {
  it("a non-error thrown is retried like any failure, and given up as RetryError's cause", async () => {
    // p-retry rejects at once with TypeError "Non-error was thrown"; we retry a thrown string like an error and give up with RetryError (cause "foo"): docs/retry.md.
    const clock = new ManualClock();
    let attempts = 0;
    const err = await run(clock, { maxAttempts: 3, backoff: constant(0), clock }, () => {
      attempts++;
      throw "foo";
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryError);
    expect((err as RetryError).cause).toBe("foo");
    expect((err as Error).message).toBe('Gave up after 3 attempts: "foo"');
    expect(attempts).toBe(3);
  });

  it("handles non-Error rejection values (retried; RetryError carries each)", async () => {
    // p-retry rejects with TypeError "Non-error was thrown"; we retry the rejection and keep the values: docs/retry.md.
    const clock = new ManualClock();
    const err = await run(clock, { maxAttempts: 2, backoff: constant(0), clock }, () => Promise.reject("string rejection")).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RetryError);
    expect((err as RetryError).errors).toEqual(["string rejection", "string rejection"]);
  });

  it("no retry on TypeError", async () => {
    const clock = new ManualClock();
    const typeErrorFixture = new TypeError("type-error-fixture");
    const attempts = thirdTime(clock, typeErrorFixture);
    const err = await run(clock, pRetryDefaults(clock), attempts.fn).catch((e: unknown) => e);
    expect(err).toBe(typeErrorFixture);
    expect(attempts.calls()).toBe(1);
  });

  it("shouldRetry is not called for non-network TypeError", async () => {
    const clock = new ManualClock();
    const typeErrorFixture = new TypeError("type-error-fixture");
    let shouldRetryCalled = 0;
    const err = await run(
      clock,
      pRetryDefaults(clock, {
        retryOn: () => {
          shouldRetryCalled++;
          return true;
        },
      }),
      () => Promise.reject(typeErrorFixture),
    ).catch((e: unknown) => e);
    expect(err).toBe(typeErrorFixture);
    expect(shouldRetryCalled).toBe(0);
  });

  it("retry on TypeError - failed to fetch", async () => {
    const clock = new ManualClock();
    const typeErrorFixture = new TypeError("Failed to fetch");
    const attempts = thirdTime(clock, typeErrorFixture);
    const value = await run(clock, pRetryDefaults(clock), attempts.fn);
    expect(value).toBe(fixture);
    expect(attempts.calls()).toBe(3);
  });

  it("aborts (an AbortError on attempt 3 stops the retries; rethrown as it is)", async () => {
    // p-retry rejects with the AbortError's originalError (fixtureError); we rethrow a never-retried error as it is: docs/retry.md, "What is never retried".
    const clock = new ManualClock();
    let index = 0;
    const err = await run(clock, pRetryDefaults(clock), async ({ attempt }) => {
      await clock.sleep(40);
      index++;
      throw attempt === 3 ? new AbortError(fixtureError) : fixtureError;
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).originalError).toBe(fixtureError);
    expect(index).toBe(3);
  });

  it("operation stops immediately on AbortError", async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const err = await run(clock, { maxAttempts: 11, backoff: constant(0), clock }, () => {
      attempts++;
      throw attempts === 2 ? new AbortError("stop") : new Error("test");
    }).catch((e: unknown) => e);
    expect((err as Error).name).toBe("AbortError");
    expect(attempts).toBe(2);
  });

  it("shouldRetry is not called for AbortError", async () => {
    const clock = new ManualClock();
    let shouldRetryCalled = 0;
    const err = await run(
      clock,
      pRetryDefaults(clock, {
        retryOn: () => {
          shouldRetryCalled++;
          return true;
        },
      }),
      () => Promise.reject(new AbortError("stop")),
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe("stop");
    expect(shouldRetryCalled).toBe(0);
  });

  it("throws error from shouldRetry", async () => {
    const clock = new ManualClock();
    const thrown = new Error("shouldRetry failure");
    const err = await run(
      clock,
      pRetryDefaults(clock, {
        retryOn: () => {
          throw thrown;
        },
      }),
      () => Promise.reject(new Error("operation failed")),
    ).catch((e: unknown) => e);
    expect(err).toBe(thrown);
  });
});

describe("p-retry test.js: shouldRetry and onFailedAttempt", () => {
  it("shouldRetry controls retry behavior", async () => {
    const clock = new ManualClock();
    const shouldRetryError = new Error("should-retry");
    const customError = new Error("custom-error");
    let index = 0;
    const err = await run(clock, pRetryDefaults(clock, { retryOn: (e) => (e as Error).message === shouldRetryError.message }), async () => {
      await clock.sleep(40);
      index++;
      throw index < 3 ? shouldRetryError : customError;
    }).catch((e: unknown) => e);
    expect(err).toBe(customError);
    expect(index).toBe(3);
  });

  it("onFailedAttempt then shouldRetry order (ours: retryOn decides, then onRetry or giveUp)", async () => {
    // p-retry calls onFailedAttempt before shouldRetry, for every failure; our onRetry runs only before a wait, after retryOn said yes, and giveUp reports the last failure: docs/retry.md, the options table (onRetry).
    const clock = new ManualClock();
    const order: string[] = [];
    const policy = new RetryPolicy(
      pRetryDefaults(clock, {
        onRetry: () => order.push("onRetry"),
        retryOn: () => {
          order.push("retryOn");
          return order.length < 3;
        },
      }),
    );
    policy.on("giveUp", ({ reason }) => order.push(`giveUp:${reason}`));
    await expect(
      drive(
        clock,
        policy.execute(() => Promise.reject(new Error("order"))),
        10,
      ),
    ).rejects.toThrow("order");
    expect(order).toEqual(["retryOn", "onRetry", "retryOn", "giveUp:notRetryable"]);
  });

  it("onFailedAttempt provides correct error details", async () => {
    const clock = new ManualClock();
    const seen: Array<{ attempt: number; error: unknown }> = [];
    const attempts = thirdTime(clock, fixtureError);
    const value = await run(
      clock,
      pRetryDefaults(clock, { maxAttempts: 6, onRetry: ({ attempt, error }) => seen.push({ attempt, error }) }),
      attempts.fn,
    );
    expect(value).toBe(fixture);
    expect(attempts.calls()).toBe(3);
    // p-retry also hands retriesLeft (5, 4): ours is maxAttempts - attempt.
    expect(seen).toEqual([
      { attempt: 1, error: fixtureError },
      { attempt: 2, error: fixtureError },
    ]);
  });

  it("onFailedAttempt is called even when shouldRetry returns false (ours: giveUp is, onRetry is not)", async () => {
    // p-retry calls onFailedAttempt once; our onRetry runs only before a wait: docs/retry.md, the options table (onRetry). The giveUp event carries the failure.
    const clock = new ManualClock();
    const error = new Error("fail");
    let onRetryCount = 0;
    let attempts = 0;
    const giveUps: unknown[] = [];
    const policy = new RetryPolicy(pRetryDefaults(clock, { maxAttempts: 6, onRetry: () => onRetryCount++, retryOn: () => false }));
    policy.on("giveUp", (e) => giveUps.push(e));
    const err = await drive(
      clock,
      policy.execute(() => {
        attempts++;
        throw error;
      }),
    ).catch((e: unknown) => e);
    expect(err).toBe(error);
    expect(attempts).toBe(1);
    expect(onRetryCount).toBe(0);
    expect(giveUps).toEqual([{ attempts: 1, reason: "notRetryable", error }]);
  });

  it("onFailedAttempt still called when retries is zero (ours: giveUp, not onRetry)", async () => {
    // p-retry calls onFailedAttempt once; our onRetry runs only before a wait: docs/retry.md, the options table (onRetry).
    const clock = new ManualClock();
    let onRetryCount = 0;
    const reasons: string[] = [];
    const policy = new RetryPolicy({ maxAttempts: 1, clock, onRetry: () => onRetryCount++ });
    policy.on("giveUp", ({ reason }) => reasons.push(reason));
    await drive(
      clock,
      policy.execute(() => {
        throw new Error("fail");
      }),
    ).catch(() => {});
    expect(onRetryCount).toBe(0);
    expect(reasons).toEqual(["exhausted"]);
  });

  it("onFailedAttempt can throw to abort retries (ours: reported, the retries go on)", async () => {
    // p-retry rejects with the error onFailedAttempt threw; a throwing onRetry is reported, never rethrown: docs/retry.md, the options table (onRetry).
    const clock = new ManualClock();
    const error = new Error("thrown from onFailedAttempt");
    const reported: unknown[] = [];
    let attempts = 0;
    const err = await run(
      clock,
      {
        maxAttempts: 3,
        backoff: constant(0),
        clock,
        onRetry: () => {
          throw error;
        },
        onListenerError: (e) => reported.push(e),
      },
      () => {
        attempts++;
        return Promise.reject(fixtureError);
      },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryError);
    expect(attempts).toBe(3);
    expect(reported).toEqual([error, error]);
  });

  it("onFailedAttempt can be undefined", async () => {
    // p-retry rejects with the last error itself; we reject with RetryError, the last error as cause: docs/retry.md, below the options table.
    const clock = new ManualClock();
    const error = new Error("thrown from onFailedAttempt");
    const err = await run(clock, pRetryDefaults(clock, { onRetry: undefined, maxAttempts: 2 }), () => {
      throw error;
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryError);
    expect((err as RetryError).cause).toBe(error);
  });

  it("shouldRetry can be undefined", async () => {
    // p-retry rejects with the last error itself; we reject with RetryError, the last error as cause: docs/retry.md, below the options table.
    const clock = new ManualClock();
    const error = new Error("thrown from onFailedAttempt");
    const err = await run(clock, pRetryDefaults(clock, { retryOn: undefined, maxAttempts: 2 }), () => {
      throw error;
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryError);
    expect((err as RetryError).cause).toBe(error);
  });
});

describe("p-retry test.js: the schedule (minTimeout, maxTimeout, factor)", () => {
  /** The waits a policy took, read from `onRetry`, and checked against the clock. */
  async function delaysOf(options: { retries: number; initialMs: number; maxMs: number; factor: number }): Promise<number[]> {
    const clock = new ManualClock();
    const delays: number[] = [];
    const starts: number[] = [];
    const policy = new RetryPolicy({
      maxAttempts: options.retries + 1,
      backoff: exponential({ initialMs: options.initialMs, maxMs: options.maxMs, factor: options.factor, jitter: "none" }),
      clock,
      onRetry: ({ delayMs }) => delays.push(delayMs),
    });
    await drive(
      clock,
      policy.execute(() => {
        starts.push(clock.now());
        throw new Error("test");
      }),
    ).catch(() => {});
    expect(starts.slice(1).map((t, i) => t - (starts[i] as number))).toEqual(delays);
    return delays;
  }

  it("factor affects exponential backoff", async () => {
    expect(await delaysOf({ retries: 3, initialMs: 100, maxMs: 1e9, factor: 2 })).toEqual([100, 200, 400]);
  });

  it("maxTimeout caps retry delays", async () => {
    expect(await delaysOf({ retries: 3, initialMs: 100, maxMs: 150, factor: 3 })).toEqual([100, 150, 150]);
  });

  // p-retry shrinks the delays with a factor below 1 (0.5: 100, 50, 25; 0.1: 100, 10), caps them at a maxTimeout below
  // minTimeout (200 / 50: 50) and treats factor <= 0 as 1; we refuse each at construction: docs/backoffs.md, the last paragraph.
  it("timeouts are incremental with factor 0.5: refused (factor < 1)", () => {
    expect(() => exponential({ initialMs: 100, factor: 0.5, jitter: "none" })).toThrow(InvalidOptionError);
  });

  it("minTimeout is respected even with small factor 0.1: refused (factor < 1)", () => {
    expect(() => exponential({ initialMs: 100, factor: 0.1, jitter: "none" })).toThrow(InvalidOptionError);
  });

  it("maxTimeout lower than minTimeout caps delay: refused (maxMs < initialMs)", () => {
    expect(() => exponential({ initialMs: 200, maxMs: 50, factor: 1, jitter: "none" })).toThrow(InvalidOptionError);
  });

  it("factor <= 0 is treated as 1: refused; factor 1 gives the stable delays", async () => {
    expect(() => exponential({ initialMs: 100, factor: 0, jitter: "none" })).toThrow(InvalidOptionError);
    expect(await delaysOf({ retries: 2, initialMs: 100, maxMs: 1e9, factor: 1 })).toEqual([100, 100]);
  });

  it("invalid numeric options throw", () => {
    expect(() => exponential({ factor: -1 })).toThrow(InvalidOptionError);
    expect(() => exponential({ initialMs: -1 })).toThrow(InvalidOptionError);
    expect(() => exponential({ maxMs: -1 })).toThrow(InvalidOptionError);
  });
});

describe("p-retry test.js: options validation", () => {
  it("throws on negative retry count (retries: -1 => maxAttempts: 0)", async () => {
    const err = await retry(async () => {}, { maxAttempts: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).option).toBe("maxAttempts");
  });

  it("throws on non-number retries", async () => {
    await expect(retry(async () => {}, { maxAttempts: "3" as unknown as number })).rejects.toBeInstanceOf(InvalidOptionError);
  });

  it("throws on NaN retries", async () => {
    await expect(retry(async () => {}, { maxAttempts: Number.NaN })).rejects.toBeInstanceOf(InvalidOptionError);
  });

  it("unsupported `forever` option throws", async () => {
    let called = 0;
    const err = await retry(
      async () => {
        called++;
      },
      { forever: true } as unknown as RetryOptions,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).option).toBe("forever");
    expect(called).toBe(0);
  });
});

describe("p-retry test.js: signal and maxRetryTime", () => {
  it("aborts with an AbortSignal (earlier test.js): a DOMException named AbortError", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    let index = 0;
    const err = await run(clock, pRetryDefaults(clock, { signal: controller.signal }), async ({ attempt }) => {
      await clock.sleep(40);
      index++;
      if (attempt === 3) controller.abort();
      throw fixtureError;
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DOMException);
    expect((err as DOMException).name).toBe("AbortError");
    expect(index).toBe(3);
  });

  it("preserves the abort reason", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    let index = 0;
    const err = await run(clock, pRetryDefaults(clock, { signal: controller.signal }), async ({ attempt }) => {
      await clock.sleep(40);
      index++;
      if (attempt === 3) {
        controller.abort(fixtureError);
        return;
      }
      throw fixtureError;
    }).catch((e: unknown) => e);
    expect(err).toBe(fixtureError);
    expect(index).toBe(3);
  });

  it("preserves the abort reason when a synchronous attempt aborts and then returns (follow-up)", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    let index = 0;
    const err = await run(clock, pRetryDefaults(clock, { signal: controller.signal }), ({ attempt }) => {
      index++;
      if (attempt === 3) {
        controller.abort(fixtureError);
        return "late value";
      }
      throw new Error("retry");
    }).catch((e: unknown) => e);
    expect(err).toBe(fixtureError);
    expect(index).toBe(3);
  });

  it("signal abort during delay cancels promptly", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    void clock.sleep(50).then(() => controller.abort(fixtureError));
    const policy = new RetryPolicy({
      maxAttempts: 6,
      backoff: exponential({ initialMs: 500, jitter: "none" }),
      clock,
      signal: controller.signal,
    });
    const result = policy.execute(() => Promise.reject(new Error("retry")));
    result.catch(() => {});
    await clock.advanceAsync(50);
    await expect(result).rejects.toBe(fixtureError);
    expect(clock.now()).toBe(50);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("aborts immediately if signal is already aborted with reason", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    controller.abort(fixtureError);
    let called = 0;
    const err = await run(clock, pRetryDefaults(clock, { signal: controller.signal }), async () => {
      called++;
      throw new Error("should not run");
    }).catch((e: unknown) => e);
    expect(err).toBe(fixtureError);
    expect(called).toBe(0);
  });

  it("maxRetryTime limits total retry duration (an outer timeout: one budget for every attempt)", async () => {
    // p-retry rejects with the last attempt's error once maxRetryTime has passed; the outer timeout rejects with TimeoutError when the budget ends (here mid-wait).
    const clock = new ManualClock();
    let attempts = 0;
    const stack = pipeline(
      timeout(1_000, { mode: "aggressive", clock }),
      new RetryPolicy({ maxAttempts: 11, backoff: exponential({ initialMs: 100, maxMs: 1e9, jitter: "none" }), clock }),
    );
    const result = stack.execute(async () => {
      attempts++;
      await clock.sleep(400);
      throw new Error("test");
    });
    const err = await drive(clock, result, 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(clock.now()).toBe(1_000);
    expect(attempts).toBe(2);
    expect(clock.pendingSleeps).toBe(0);
  });
});

describe("p-retry test.js: makeRetriable (policy.wrap)", () => {
  it("makeRetriable wraps and retries the function", async () => {
    const clock = new ManualClock();
    let callCount = 0;
    const retried = new RetryPolicy({ maxAttempts: 6, backoff: constant(0), clock }).wrap(async (a: number, b: number) => {
      callCount++;
      if (callCount < 3) throw new Error("fail");
      return a + b;
    });
    expect(await drive(clock, retried(2, 3))).toBe(5);
    expect(callCount).toBe(3);
  });

  it("makeRetriable passes arguments and options", async () => {
    const clock = new ManualClock();
    let lastArguments: unknown[] = [];
    const retried = new RetryPolicy({ maxAttempts: 2, backoff: constant(0), clock }).wrap((...args: unknown[]) => {
      lastArguments = args;
      throw new Error("fail");
    });
    await expect(drive(clock, retried("foo", 42))).rejects.toBeInstanceOf(RetryError);
    expect(lastArguments).toEqual(["foo", 42]);
  });

  it("makeRetriable preserves `this` context", async () => {
    const clock = new ManualClock();
    const object = {
      value: 2,
      calls: 0,
      async add(n: number): Promise<number> {
        this.calls++;
        if (this.calls < 2) throw new Error("fail");
        return this.value + n;
      },
    };
    object.add = new RetryPolicy({ maxAttempts: 6, backoff: constant(0), clock }).wrap(object.add);
    expect(await drive(clock, object.add(3))).toBe(5);
    expect(object.calls).toBe(2);
  });
});
