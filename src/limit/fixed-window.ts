import { checkKeys, integer, positive } from "../core/validate.js";
import { COMMON_OPTION_KEYS, type RateLimiterOptions } from "./base.js";
import { type LeaseGrant, leaseSize, type LimitInput, outcome, WindowDecision } from "./decision.js";
import { blockOption, KEYED_OPTION_KEYS, type KeyedLimiterOptions, KeyedRateLimiter } from "./keyed.js";
import type { RateLimitDecision } from "./limiter.js";

/** Options of {@link FixedWindow} and {@link SlidingWindow}: `limit` units per `windowMs`. */
export interface WindowOptions extends RateLimiterOptions {
  /** Units admitted per window (an integer >= 1). Required. */
  readonly limit: number;
  /** The window's length (ms, a finite number > 0). Required. */
  readonly windowMs: number;
}

/** Options of {@link FixedWindow}: `limit` units per `windowMs`, and optionally blocking, even spreading and leases. */
export interface FixedWindowOptions extends WindowOptions, KeyedLimiterOptions {}

/** A fixed window's state: when the current window started, and the units it admitted. */
export interface FixedWindowState {
  start: number;
  count: number;
}

/**
 * The fixed window as a decision: a window opens with the first admission after the last
 * one closed and admits up to `limit` units; the count resets when it closes. With
 * `blockMs`, a refused take closes the key for at least that long (its window is made to
 * end then, full). It also answers the {@link LimitOp} operations.
 */
export class FixedWindowDecision extends WindowDecision<FixedWindowState> {
  readonly kind = "fixedWindow";

  /**
   * @param limit units per window.
   * @param windowMs the window's length.
   * @param blockMs how long a refused take closes the key (0: not at all).
   */
  constructor(
    limit: number,
    windowMs: number,
    readonly blockMs = 0,
  ) {
    super(limit, windowMs);
  }

  /** An empty window starting at `now`. */
  init(now: number): FixedWindowState {
    return { start: now, count: 0 };
  }

  /** True when the window is empty or over: the key can be dropped. */
  isIdle(s: FixedWindowState, now: number): boolean {
    return s.count === 0 || now >= s.start + this.windowMs;
  }

  /**
   * Admits `input.cost` units if the current window has room for them (a new window starts
   * when the last one is over); a refused take closes the key for `blockMs`; `input.op`
   * runs one of the other operations.
   */
  step(s: FixedWindowState, input: LimitInput, now: number): RateLimitDecision {
    const open = s.count > 0 && now < s.start + this.windowMs;
    const count = open ? s.count : 0;
    const start = open ? s.start : now;
    if (input.op !== undefined) return this.operate(s, input, now, start, count);
    const cost = input.cost;
    if (count + cost > this.limit) {
      const closesIn = (!input.peek && this.blockMs > 0 ? this.block(s, now, start, count) : start + this.windowMs) - now;
      return outcome(false, Math.max(0, this.limit - count), this.limit, closesIn, closesIn);
    }
    if (!input.peek && cost > 0) {
      s.start = start;
      s.count = count + cost;
    }
    const used = count + cost;
    return outcome(true, this.limit - used, this.limit, 0, used === 0 ? 0 : start + this.windowMs - now);
  }

  /** Closes the key until `blockMs` from now (or its window's end, if later): the window ends then, full. Returns the end. */
  private block(s: FixedWindowState, now: number, start: number, count: number): number {
    const end = Math.max(start + this.windowMs, now + this.blockMs);
    s.start = end - this.windowMs;
    s.count = Math.max(count, this.limit);
    return end;
  }

  /** The operations besides take and peek; all but `lease` answer a peek at cost 1 afterwards. */
  private operate(s: FixedWindowState, input: LimitInput, now: number, start: number, count: number): RateLimitDecision {
    const cost = input.cost;
    switch (input.op) {
      case "penalty":
        if (cost > 0) {
          s.start = start;
          s.count = count + cost;
        }
        break;
      case "reward":
        if (count > 0) s.count = Math.max(0, count - cost);
        break;
      case "set":
        s.start = now;
        s.count = cost;
        break;
      case "return":
        if (count > 0 && start + this.windowMs === input.arg) s.count = Math.max(0, count - cost);
        break;
      case "lease":
        return this.lease(s, input, now, start, count);
    }
    return this.step(s, PEEK, now);
  }

  private lease(s: FixedWindowState, input: LimitInput, now: number, start: number, count: number): LeaseGrant {
    const least = input.arg ?? 1;
    const granted = leaseSize(Math.max(0, this.limit - count), input.cost, least);
    // Too few for its least: refused as a take of that least would be (a block included).
    if (granted === 0) return { ...this.step(s, { cost: least, peek: false }, now), granted: 0, validMs: 0, ticket: 0 };
    s.start = start;
    s.count = count + granted;
    const end = start + this.windowMs;
    return {
      allowed: true,
      remaining: this.limit - s.count,
      limit: this.limit,
      retryAfterMs: 0,
      resetAfterMs: end - now,
      granted,
      validMs: Math.min(input.holdMs ?? 0, end - now),
      ticket: end,
    };
  }
}

/** A peek at cost 1 (what one more unit would get): what the operations answer. */
const PEEK: LimitInput = { cost: 1, peek: true };

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
export class FixedWindow extends KeyedRateLimiter<FixedWindowState> {
  constructor(options: FixedWindowOptions) {
    super(WHERE, options, new FixedWindowDecision(...windowOptions(WHERE, options, KEYED_OPTION_KEYS), blockOption(WHERE, options)));
  }
}
