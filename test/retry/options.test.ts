import { describe, expect, it } from "vitest";
import { InvalidOptionError } from "../../src/core/errors.js";
import { RetryPolicy, type RetryOptions } from "../../src/retry/index.js";
import { invalidOption } from "../policy/invalid.js";

/** The InvalidOptionError that `new RetryPolicy(options)` throws. */
const invalid = (options: unknown): InvalidOptionError => invalidOption(() => new RetryPolicy(options as RetryOptions));

describe("RetryPolicy option validation", () => {
  const cases: [string, unknown, string, string][] = [
    ["maxAttempts", 0, "maxAttempts", "an integer >= 1"],
    ["maxAttempts", 2.5, "maxAttempts", "an integer >= 1"],
    ["maxAttempts", "3", "maxAttempts", "an integer >= 1"],
    ["maxAttempts", Infinity, "maxAttempts", "an integer >= 1"],
    ["backoff", 100, "backoff", "a backoff"],
    ["backoff", {}, "backoff", "a backoff"],
    ["retryOn", "TimeoutError", "retryOn", "error classes or a predicate"],
    ["retryOn", [1], "retryOn", "error classes or a predicate"],
    ["retryOnResult", true, "retryOnResult", "a function"],
    ["respectRetryAfter", "yes", "respectRetryAfter", "true or false"],
    ["maxRetryAfterMs", -1, "maxRetryAfterMs", ">= 0"],
    ["maxRetryAfterMs", Number.NaN, "maxRetryAfterMs", ">= 0"],
    ["signal", {}, "signal", "an AbortSignal"],
    ["onRetry", "log", "onRetry", "a function"],
    ["clock", { now: () => 0 }, "clock", "a Clock"],
    ["random", 0.5, "random", "a function"],
  ];
  for (const [key, value, option, allowed] of cases) {
    it(`${key}: ${String(value)} is refused, naming the option, the value and what is allowed`, () => {
      const error = invalid({ [key]: value });
      expect(error.option).toBe(option);
      expect(error.value).toBe(value);
      expect(error.message).toContain(`"${option}"`);
      expect(error.message).toContain(allowed);
      expect(error.message).toContain("RetryPolicy");
    });
  }

  it("refuses unknown keys, listing the known ones", () => {
    const error = invalid({ maxAttempt: 3 });
    expect(error.option).toBe("maxAttempt");
    expect(error.message).toContain("maxAttempts");
  });

  it("refuses a non-object", () => {
    expect(invalid(null).option).toBe("options");
    expect(invalid(5).option).toBe("options");
  });

  it("accepts every option at once, and the edges", () => {
    expect(
      () =>
        new RetryPolicy({
          maxAttempts: 1,
          retryOn: [Error],
          retryOnResult: () => false,
          respectRetryAfter: false,
          maxRetryAfterMs: Infinity,
          signal: new AbortController().signal,
          onRetry: () => {},
          random: () => 0,
          onListenerError: () => {},
        }),
    ).not.toThrow();
    expect(new RetryPolicy().maxAttempts).toBe(3);
  });
});
