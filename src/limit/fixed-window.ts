import { checkKeys, integer, positive } from "../core/validate.js";
import { BaseRateLimiter, COMMON_OPTION_KEYS, type RateLimiterOptions } from "./base.js";
import { type LimitInput, outcome, WindowDecision } from "./decision.js";
import type { RateLimitDecision } from "./limiter.js";

/** Options of {@link FixedWindow} and {@link SlidingWindow}: `limit` units per `windowMs`. */
export interface WindowOptions extends RateLimiterOptions {
  /** Units admitted per window (an integer >= 1). Required. */
  readonly limit: number;
  /** The window's length (ms, a finite number > 0). Required. */
  readonly windowMs: number;
}

/** A fixed window's state: when the current window started, and the units it admitted. */
export interface FixedWindowState {
  start: number;
  count: number;
}

/**
 * The fixed window as a decision: a window opens with the first admission after the last
 * one closed and admits up to `limit` units; the count resets when it closes.
 */
export class FixedWindowDecision extends WindowDecision<FixedWindowState> {
  readonly kind = "fixedWindow";

  init(now: number): FixedWindowState {
    return { start: now, count: 0 };
  }

  isIdle(s: FixedWindowState, now: number): boolean {
    return s.count === 0 || now >= s.start + this.windowMs;
  }

  step(s: FixedWindowState, input: LimitInput, now: number): RateLimitDecision {
    const open = s.count > 0 && now < s.start + this.windowMs;
    const count = open ? s.count : 0;
    const start = open ? s.start : now;
    const cost = input.cost;
    if (count + cost > this.limit) {
      const closesIn = start + this.windowMs - now;
      return outcome(false, this.limit - count, this.limit, closesIn, closesIn);
    }
    if (!input.peek && cost > 0) {
      s.start = start;
      s.count = count + cost;
    }
    const used = count + cost;
    return outcome(true, this.limit - used, this.limit, 0, used === 0 ? 0 : start + this.windowMs - now);
  }
}

const WHERE = "FixedWindow";

/** Validates the options shared by the window limiters and returns `[limit, windowMs]`. */
export function windowOptions(where: string, options: WindowOptions, extra: readonly string[]): [number, number] {
  checkKeys(where, options, [...COMMON_OPTION_KEYS, "limit", "windowMs", ...extra]);
  return [integer(where, "limit", options?.limit), positive(where, "windowMs", options?.windowMs)];
}

/**
 * A keyed fixed window: at most `limit` units per window; a window opens with a key's first
 * admission. Error bound: up to `2 × limit` units can pass in an interval of `windowMs`
 * that straddles the end of one window and the start of the next. O(1) state per key.
 *
 * @example
 * const limiter = new FixedWindow({ limit: 100, windowMs: 60_000 });
 * await limiter.acquire(tenantId, { maxWaitMs: 5_000 });
 */
export class FixedWindow extends BaseRateLimiter<FixedWindowState> {
  constructor(options: WindowOptions) {
    super(WHERE, options, new FixedWindowDecision(...windowOptions(WHERE, options, [])));
  }
}
