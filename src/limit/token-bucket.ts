import { InvalidOptionError } from "../core/errors.js";
import { checkKeys, integer, positive } from "../core/validate.js";
import { COMMON_OPTION_KEYS, type RateLimiterOptions } from "./base.js";
import { EPSILON, type LeaseGrant, leaseSize, type LimitDecision, type LimitInput, outcome, policyOf } from "./decision.js";
import { blockOption, KEYED_OPTION_KEYS, type KeyedLimiterOptions, KeyedRateLimiter } from "./keyed.js";
import type { RateLimitDecision } from "./limiter.js";

/**
 * Options of {@link TokenBucket}: either `ratePerSec` (with an optional `capacity`) or
 * `limit` and `windowMs` (a bucket of `limit` tokens refilled over `windowMs`), not both.
 */
export interface TokenBucketOptions extends RateLimiterOptions, KeyedLimiterOptions {
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
 *
 * The refill can be paused until `at` (a time after `now`): by `blockMs` (a refused take
 * pauses it that long), and by a lease from a nearly full bucket, so that the units out on
 * lease and the bucket never hold more than `capacity` between them (what keeps a leased
 * bucket exact; see {@link TokenBucketDecision.step}). It also answers the {@link LimitOp}
 * operations.
 */
export class TokenBucketDecision implements LimitDecision<TokenBucketState> {
  readonly kind = "tokenBucket";
  readonly evictable = true;
  readonly params: { readonly capacity: number; readonly ratePerSec: number };
  readonly limit: number;
  readonly policy: string;
  private readonly perMs: number;

  /**
   * @param capacity the most tokens the bucket holds.
   * @param ratePerSec tokens added per second.
   * @param blockMs how long a refused take pauses the refill (0: not at all).
   */
  constructor(
    readonly capacity: number,
    readonly ratePerSec: number,
    readonly blockMs = 0,
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
    return s.at <= now && this.tokensAt(s, now) >= this.capacity;
  }

  step(s: TokenBucketState, input: LimitInput, now: number): RateLimitDecision {
    const tokens = this.tokensAt(s, now);
    if (input.op !== undefined) return this.operate(s, input, now, tokens);
    const cost = input.cost;
    if (tokens + EPSILON < cost) {
      if (!input.peek && this.blockMs > 0) this.pause(s, tokens, now + this.blockMs);
      const paused = s.at > now ? s.at - now : 0;
      return outcome(
        false,
        Math.max(0, Math.floor(tokens + EPSILON)),
        this.capacity,
        paused + (cost - tokens) / this.perMs,
        paused + (this.capacity - tokens) / this.perMs,
      );
    }
    const left = tokens - cost;
    if (!input.peek) {
      s.tokens = left;
      if (s.at < now) s.at = now;
    }
    const paused = s.at > now ? s.at - now : 0;
    return outcome(true, Math.max(0, Math.floor(left + EPSILON)), this.capacity, 0, paused + (this.capacity - left) / this.perMs);
  }

  /** Holds `tokens` and pauses the refill until `until` (or later, if it already is). */
  private pause(s: TokenBucketState, tokens: number, until: number): void {
    s.tokens = tokens;
    if (s.at < until) s.at = until;
  }

  /** The operations besides take and peek; all but `lease` answer a peek at cost 1 afterwards. */
  private operate(s: TokenBucketState, input: LimitInput, now: number, tokens: number): RateLimitDecision {
    const cost = input.cost;
    switch (input.op) {
      case "penalty":
        this.pause(s, tokens - cost, now);
        break;
      case "reward":
        this.pause(s, Math.min(this.capacity, tokens + cost), now);
        break;
      case "set":
        s.tokens = this.capacity - cost;
        s.at = now;
        break;
      case "return":
        if (now <= (input.arg ?? -Infinity)) this.pause(s, Math.min(this.capacity, tokens + cost), now);
        break;
      case "lease":
        return this.lease(s, input, now, tokens);
    }
    return this.step(s, PEEK, now);
  }

  /**
   * Takes up to `cost` tokens (at least `arg`) for a lease held at most `holdMs`. The
   * tokens out on lease, spent or not, must never be refilled while the lease is valid, or
   * the bucket and the lease would hold more than `capacity` together: so the refill is
   * paused for as long as the tokens missing before the lease (`capacity − tokens`) would
   * not cover the hold. Under load the bucket is far from full and nothing is paused.
   */
  private lease(s: TokenBucketState, input: LimitInput, now: number, tokens: number): LeaseGrant {
    const holdMs = input.holdMs ?? 0;
    const least = input.arg ?? 1;
    const granted = leaseSize(Math.max(0, Math.floor(tokens + EPSILON)), input.cost, least);
    // Too few for its least: refused as a take of that least would be (a block included).
    if (granted === 0) return { ...this.step(s, { cost: least, peek: false }, now), granted: 0, validMs: 0, ticket: 0 };
    const left = tokens - granted;
    const pauseMs = holdMs - (this.capacity - tokens) / this.perMs;
    this.pause(s, left, pauseMs > 0 ? now + pauseMs : now);
    const paused = s.at > now ? s.at - now : 0;
    return {
      allowed: true,
      remaining: Math.max(0, Math.floor(left + EPSILON)),
      limit: this.capacity,
      retryAfterMs: 0,
      resetAfterMs: paused + (this.capacity - left) / this.perMs,
      granted,
      validMs: holdMs,
      ticket: now + holdMs,
    };
  }

  private tokensAt(s: TokenBucketState, now: number): number {
    const tokens = now > s.at ? s.tokens + (now - s.at) * this.perMs : s.tokens;
    return tokens < this.capacity ? tokens : this.capacity;
  }
}

/** A peek at cost 1 (what one more unit would get): what the operations answer. */
const PEEK: LimitInput = { cost: 1, peek: true };

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
export class TokenBucket extends KeyedRateLimiter<TokenBucketState> {
  constructor(options: TokenBucketOptions) {
    super(WHERE, options, tokenBucketDecision(options));
  }
}

function tokenBucketDecision(options: TokenBucketOptions): TokenBucketDecision {
  checkKeys(WHERE, options, [...COMMON_OPTION_KEYS, "ratePerSec", "capacity", "limit", "windowMs", ...KEYED_OPTION_KEYS]);
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
    return new TokenBucketDecision(limit, (limit * 1000) / windowMs, blockOption(WHERE, options));
  }
  const ratePerSec = positive(WHERE, "ratePerSec", options.ratePerSec);
  const capacity = integer(WHERE, "capacity", options.capacity ?? Math.max(1, Math.ceil(ratePerSec)));
  return new TokenBucketDecision(capacity, ratePerSec, blockOption(WHERE, options));
}
