import type { Backoff } from "../backoff/backoff.js";
import { exponential } from "../backoff/exponential.js";
import { checkErrorFilter, type ErrorFilter } from "../core/classify.js";
import type { Clock } from "../core/clock.js";
import { InvalidOptionError } from "../core/errors.js";
import type { ListenerErrorHandler } from "../core/events.js";
import { type Telemetry, telemetryOption } from "../core/telemetry.js";
import { boolean, checkKeys, clockOption, func, integer, nonEmptyString, nonNegativeOrInfinity, orDefault } from "../core/validate.js";

/** What `onRetry` and the `retry` event receive, before each wait. */
export interface RetryEvent {
  /** The attempt that just failed (1 for the first). */
  readonly attempt: number;
  /** How long the policy waits before the next attempt (ms). */
  readonly delayMs: number;
  /** Why it failed: the thrown error, or a `ReturnValuePolicyError` when `retryOnResult` matched. */
  readonly error: unknown;
}

/** Options of {@link RetryPolicy} and `retry()`. Every one is optional. */
export interface RetryOptions<T = unknown> {
  /** Total attempts, the first included: an integer >= 1. Default 3. */
  readonly maxAttempts?: number;
  /** The wait before attempt n + 1 is `backoff.delay(n)`. Default `exponential()` (100 ms doubling to 30 s, full jitter). */
  readonly backoff?: Backoff;
  /**
   * Which errors are retried: error classes or a predicate. Default: every error. The errors that are
   * never retried (aborts, open circuits, bad options, programmer errors) stay so.
   */
  readonly retryOn?: ErrorFilter;
  /** A result for which this returns true is retried like an error (e.g. a 503 `Response`). */
  retryOnResult?(value: T): boolean;
  /**
   * Wait at least as long as the failure asks: its `retryAfterMs`, the `Retry-After` header
   * of a `Response` (returned, or as `error.response`), a `RateLimitExceededError`'s wait.
   * Default true.
   */
  readonly respectRetryAfter?: boolean;
  /** The longest wait a Retry-After may impose (ms); longer ones are cut to this. Default 60,000. */
  readonly maxRetryAfterMs?: number;
  /** Aborts every call of this policy (and any wait); combined with each call's own signal. */
  readonly signal?: AbortSignal;
  /** Called before each wait (the same payload as the `retry` event). A throwing listener is reported, never rethrown. */
  readonly onRetry?: (event: RetryEvent) => void;
  /** Default `systemClock`. */
  readonly clock?: Clock;
  /** Uniform numbers in [0, 1) for the backoff's jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** Where listener errors go. Default: a process warning. */
  readonly onListenerError?: ListenerErrorHandler;
  /** The policy's name in its telemetry, logs and metrics. Default `"retry"`. */
  readonly name?: string;
  /** Where the policy reports its events (see docs/telemetry.md). Default: none. */
  readonly telemetry?: Telemetry;
}

/** Retry options after validation, with defaults filled in. */
export interface ResolvedRetryOptions {
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly retryOn: ErrorFilter | undefined;
  readonly retryOnResult: ((value: unknown) => boolean) | undefined;
  readonly respectRetryAfter: boolean;
  readonly maxRetryAfterMs: number;
  readonly signal: AbortSignal | undefined;
  readonly onRetry: ((event: RetryEvent) => void) | undefined;
  readonly clock: Clock;
  readonly random: () => number;
  readonly name: string;
  readonly telemetry: Telemetry | undefined;
}

const KEYS = [
  "maxAttempts",
  "backoff",
  "retryOn",
  "retryOnResult",
  "respectRetryAfter",
  "maxRetryAfterMs",
  "signal",
  "onRetry",
  "clock",
  "random",
  "onListenerError",
  "name",
  "telemetry",
] as const;

let defaultBackoff: Backoff | undefined;

/** Validates retry options once, naming the option, the value and what is allowed. */
export function resolveRetryOptions(where: string, options: RetryOptions<never>): ResolvedRetryOptions {
  checkKeys(where, options, KEYS);
  const backoff = options.backoff ?? (defaultBackoff ??= exponential());
  if (typeof backoff !== "object" || backoff === null || typeof backoff.delay !== "function") {
    throw new InvalidOptionError(where, "backoff", backoff, "a backoff such as exponential({ initialMs: 100 })");
  }
  const respectRetryAfter = boolean(where, "respectRetryAfter", orDefault(options.respectRetryAfter, true));
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidOptionError(where, "signal", signal, "an AbortSignal");
  return {
    maxAttempts: integer(where, "maxAttempts", orDefault(options.maxAttempts, 3), 1),
    backoff,
    retryOn: checkErrorFilter(where, "retryOn", options.retryOn),
    retryOnResult: optionalFunc(where, "retryOnResult", options.retryOnResult),
    respectRetryAfter,
    maxRetryAfterMs: nonNegativeOrInfinity(where, "maxRetryAfterMs", orDefault(options.maxRetryAfterMs, 60_000)),
    signal,
    onRetry: optionalFunc(where, "onRetry", options.onRetry),
    clock: clockOption(where, options.clock),
    random: optionalFunc(where, "random", options.random) ?? Math.random,
    name: nonEmptyString(where, "name", orDefault(options.name, "retry")),
    telemetry: telemetryOption(where, options.telemetry),
  };
}

function optionalFunc<F extends (...args: never[]) => unknown>(where: string, option: string, value: unknown): F | undefined {
  return value === undefined ? undefined : func<F>(where, option, value);
}
