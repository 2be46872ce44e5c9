import type { ExecuteOptions, Policy } from "../core/policy.js";

/**
 * The answer of a rate limiter: whether the request was admitted, and what a server
 * should tell its client (see `rateLimitHeaders`).
 */
export interface RateLimitDecision {
  /** True when the request was admitted (its cost was taken). */
  readonly allowed: boolean;
  /** Units still available right now after this decision (0 when refused). */
  readonly remaining: number;
  /** The most units a key can spend at once: the capacity or the window's limit. */
  readonly limit: number;
  /**
   * Milliseconds until this request could be admitted: 0 when allowed, `Infinity` when it
   * never can (its cost exceeds `limit`). A lower bound when other callers share the key.
   */
  readonly retryAfterMs: number;
  /** Milliseconds until the key is back to its full limit (0 when it already is). */
  readonly resetAfterMs: number;
}

/** Options of `acquire`. */
export interface AcquireOptions {
  /** Units this request spends. A non-negative integer; default 1. */
  readonly cost?: number;
  /**
   * The longest the caller will wait (ms). When the wait would exceed it, `acquire`
   * rejects with `RateLimitExceededError`. Default: the limiter's `maxWaitMs` (Infinity).
   */
  readonly maxWaitMs?: number;
  /** Aborts the wait: the waiter leaves the queue at once and `acquire` rejects with the reason. */
  readonly signal?: AbortSignal;
}

/** Options of a limiter's `execute`: which key, what cost, how long to wait. */
export interface LimiterExecuteOptions extends ExecuteOptions {
  /** The key to limit on. Default: the limiter's default key (`"default"`). */
  readonly key?: string;
  /** Units the call spends. Default 1. */
  readonly cost?: number;
  /** The longest the call may wait for its turn (ms). Default: the limiter's `maxWaitMs`. */
  readonly maxWaitMs?: number;
}

/** The events every rate limiter emits (subscribe with `on`). */
export interface RateLimiterEvents {
  /** A request was admitted, by `tryAcquire` (waitedMs 0) or `acquire`. */
  acquired: { readonly limiter: string; readonly key: string; readonly cost: number; readonly waitedMs: number };
  /**
   * A request was refused: `tryAcquire` said no, or `acquire` gave up because the wait
   * would exceed `maxWaitMs` or the cost can never be admitted (`retryAfterMs` Infinity).
   */
  rejected: { readonly limiter: string; readonly key: string; readonly cost: number; readonly retryAfterMs: number };
}

/**
 * The one interface of Breakwater's rate limiters (`TokenBucket`, `SlidingWindow`,
 * `FixedWindow`, and the adaptive limiter where it can). A limiter is a {@link Policy}:
 * `execute(fn)` acquires a permit (waiting its turn) and then runs `fn`.
 */
export interface RateLimiter extends Policy {
  /** Shown in errors, events and metrics. */
  readonly name: string;
  /**
   * The IETF `RateLimit-Policy` description of the limit, e.g. `"100;w=60"`, when the
   * limiter has a fixed one.
   */
  readonly policy?: string;
  /**
   * Takes `cost` units (default 1) from `key` (default `"default"`) if they are available
   * now. Never waits: resolves `allowed: false` with `retryAfterMs` otherwise, also when
   * earlier `acquire` calls are queued on the key (they go first).
   */
  tryAcquire(key?: string, cost?: number): Promise<RateLimitDecision>;
  /**
   * Waits its turn (FIFO per key) until `cost` units are available and takes them.
   * Rejects with `RateLimitExceededError` when the wait would exceed `maxWaitMs` or the
   * cost can never be admitted, and with the signal's reason on abort.
   */
  acquire(key?: string, options?: AcquireOptions): Promise<RateLimitDecision>;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof RateLimiterEvents>(event: K, listener: (payload: RateLimiterEvents[K]) => void): () => void;
}

/** The key used when a call names none. */
export const DEFAULT_KEY = "default";
