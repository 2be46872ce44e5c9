import { InvalidOptionError } from "../core/errors.js";
import { checkKeys, integer, positive } from "../core/validate.js";
import { BaseRateLimiter, COMMON_OPTION_KEYS, type RateLimiterOptions } from "./base.js";
import { EPSILON, type LimitDecision, type LimitInput, outcome, policyOf } from "./decision.js";
import type { RateLimitDecision } from "./limiter.js";

/**
 * Options of {@link TokenBucket}: either `ratePerSec` (with an optional `capacity`) or
 * `limit` and `windowMs` (a bucket of `limit` tokens refilled over `windowMs`), not both.
 */
export interface TokenBucketOptions extends RateLimiterOptions {
  /** Tokens added per second (a finite number > 0). */
  readonly ratePerSec?: number;
  /** The most tokens the bucket holds: the largest burst (an integer >= 1). Default: `ratePerSec` rounded up. */
  readonly capacity?: number;
  /** With `windowMs`: the capacity, refilled at `limit` per `windowMs` (an integer >= 1). */
  readonly limit?: number;
  /** With `limit`: the time (ms) to refill an empty bucket. */
  readonly windowMs?: number;
}

/** A bucket's state: the tokens it held at time `at` (ms). */
export interface TokenBucketState {
  tokens: number;
  at: number;
}

/**
 * The token bucket as a decision. Tokens refill continuously at `ratePerSec` up to
 * `capacity`; a request takes `cost` tokens when it finds them. Exact: over any span of
 * `t` ms it admits at most `capacity + ratePerSec × t / 1000` units.
 */
export class TokenBucketDecision implements LimitDecision<TokenBucketState> {
  readonly kind = "tokenBucket";
  readonly evictable = true;
  readonly params: { readonly capacity: number; readonly ratePerSec: number };
  readonly limit: number;
  readonly policy: string;
  private readonly perMs: number;

  constructor(
    readonly capacity: number,
    readonly ratePerSec: number,
  ) {
    this.params = { capacity, ratePerSec };
    this.limit = capacity;
    this.perMs = ratePerSec / 1000;
    this.policy = policyOf(capacity, (capacity / ratePerSec) * 1000);
  }

  init(now: number): TokenBucketState {
    return { tokens: this.capacity, at: now };
  }

  isIdle(s: TokenBucketState, now: number): boolean {
    return this.tokensAt(s, now) >= this.capacity;
  }

  step(s: TokenBucketState, input: LimitInput, now: number): RateLimitDecision {
    const tokens = this.tokensAt(s, now);
    const cost = input.cost;
    if (tokens + EPSILON < cost) {
      return outcome(
        false,
        Math.floor(tokens + EPSILON),
        this.capacity,
        (cost - tokens) / this.perMs,
        (this.capacity - tokens) / this.perMs,
      );
    }
    const left = tokens - cost;
    if (!input.peek) {
      s.tokens = left;
      s.at = now;
    }
    return outcome(true, Math.max(0, Math.floor(left + EPSILON)), this.capacity, 0, (this.capacity - left) / this.perMs);
  }

  private tokensAt(s: TokenBucketState, now: number): number {
    const tokens = now > s.at ? s.tokens + (now - s.at) * this.perMs : s.tokens;
    return tokens < this.capacity ? tokens : this.capacity;
  }
}

const WHERE = "TokenBucket";

/**
 * A keyed token bucket, given as `{ ratePerSec, capacity }` or as `{ limit, windowMs }`
 * (a bucket of `limit` tokens refilled over `windowMs`). Allows bursts
 * up to `capacity`, then `ratePerSec` on average; no error bound to document: it is exact.
 *
 * @example
 * const limiter = new TokenBucket({ ratePerSec: 100, capacity: 1000 });
 * const { allowed, retryAfterMs } = await limiter.tryAcquire(userId);
 */
export class TokenBucket extends BaseRateLimiter<TokenBucketState> {
  constructor(options: TokenBucketOptions) {
    super(WHERE, options, tokenBucketDecision(options));
  }
}

function tokenBucketDecision(options: TokenBucketOptions): TokenBucketDecision {
  checkKeys(WHERE, options, [...COMMON_OPTION_KEYS, "ratePerSec", "capacity", "limit", "windowMs"]);
  if (options === undefined)
    throw new InvalidOptionError(WHERE, "options", options, "an object with ratePerSec (and capacity) or limit and windowMs");
  const byWindow = options.limit !== undefined || options.windowMs !== undefined;
  if (byWindow) {
    const mixed = options.ratePerSec !== undefined ? "ratePerSec" : options.capacity !== undefined ? "capacity" : undefined;
    if (mixed !== undefined) {
      throw new InvalidOptionError(WHERE, mixed, options[mixed], "left out when limit and windowMs are given (use one form or the other)");
    }
    const limit = integer(WHERE, "limit", options.limit);
    const windowMs = positive(WHERE, "windowMs", options.windowMs);
    return new TokenBucketDecision(limit, (limit * 1000) / windowMs);
  }
  const ratePerSec = positive(WHERE, "ratePerSec", options.ratePerSec);
  const capacity = integer(WHERE, "capacity", options.capacity ?? Math.max(1, Math.ceil(ratePerSec)));
  return new TokenBucketDecision(capacity, ratePerSec);
}
