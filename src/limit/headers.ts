import type { RateLimitDecision } from "./limiter.js";

/** Options of {@link rateLimitHeaders}. */
export interface RateLimitHeadersOptions {
  /** The `RateLimit-Policy` value, e.g. `"100;w=60"` (a limiter's `policy`). Omitted when not given. */
  readonly policy?: string;
}

/** Response header names and values, ready for `res.setHeader` or a `Headers` init. */
export type RateLimitHeaders = Record<string, string>;

/**
 * The headers a server should send with a limiter's decision: the IETF draft fields
 * `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the key is
 * full again, rounded up) and, when given, `RateLimit-Policy`; and when the request was
 * refused, `Retry-After` (seconds, rounded up; left out when it can never be admitted).
 *
 * @example
 * const decision = await limiter.tryAcquire(userId);
 * for (const [name, value] of Object.entries(rateLimitHeaders(decision, { policy: limiter.policy }))) {
 *   res.setHeader(name, value);
 * }
 */
export function rateLimitHeaders(decision: RateLimitDecision, options: RateLimitHeadersOptions = {}): RateLimitHeaders {
  const headers: RateLimitHeaders = {
    "RateLimit-Limit": String(decision.limit),
    "RateLimit-Remaining": String(Math.max(0, Math.floor(decision.remaining))),
    "RateLimit-Reset": String(seconds(decision.resetAfterMs)),
  };
  if (options.policy !== undefined) headers["RateLimit-Policy"] = options.policy;
  if (!decision.allowed && Number.isFinite(decision.retryAfterMs)) headers["Retry-After"] = String(seconds(decision.retryAfterMs));
  return headers;
}

/**
 * Whole seconds, rounded up; 0 for anything not positive (or not finite). A wait a hair over
 * a whole second from floating point (3,600,000.0000000005 ms) reads as that second.
 */
function seconds(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? Math.ceil(ms / 1000 - 1e-9) : 0;
}
