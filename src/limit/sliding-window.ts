import { oneOf, orDefault } from "../core/validate.js";
import { BaseRateLimiter } from "./base.js";
import { EPSILON, type LimitInput, outcome, WindowDecision } from "./decision.js";
import { type WindowOptions, windowOptions } from "./fixed-window.js";
import type { RateLimitDecision } from "./limiter.js";

/** Options of {@link SlidingWindow}. */
export interface SlidingWindowOptions extends WindowOptions {
  /**
   * `"exact"` (default): a log of admissions per key, never more than `limit` units in any
   * interval of `windowMs`; memory per key grows with the admissions in the window (at most
   * `limit` entries). `"approximate"`: two counters per key (O(1)), which can let through
   * up to (but never) `2 × limit` in an interval in the worst case (see {@link SlidingWindow}).
   */
  readonly precision?: "exact" | "approximate";
}

/**
 * The exact window's state: `log` holds `[time, cost]` pairs of admissions, oldest first
 * (admissions at the same ms share one pair); the pairs before index `head` have left the
 * window and wait to be compacted away; `used` is the sum of the costs from `head` on.
 */
export interface SlidingLogState {
  used: number;
  head: number;
  log: number[];
}

/**
 * The exact sliding window (a log): an admission at time `s` counts against every request
 * in `[s, s + windowMs)`. A request is admitted when the units admitted in the last
 * `windowMs` plus its cost fit in `limit`. Expiry advances `head` (amortised O(1)).
 */
export class SlidingLogDecision extends WindowDecision<SlidingLogState> {
  readonly kind = "slidingLog";

  /** An empty log. */
  init(): SlidingLogState {
    return { used: 0, head: 0, log: [] };
  }

  /** True when every admission in the log has left the window: the key can be dropped. */
  isIdle(s: SlidingLogState, now: number): boolean {
    const log = s.log;
    return s.head === log.length || (log[log.length - 2] as number) + this.windowMs <= now;
  }

  /** Admits `input.cost` units if the units of the last `windowMs` plus the cost fit in `limit`. */
  step(s: SlidingLogState, input: LimitInput, now: number): RateLimitDecision {
    const log = s.log;
    this.expire(s, now - this.windowMs);
    const cost = input.cost;
    if (s.used + cost > this.limit) {
      // Wait until enough of the oldest admissions have left the window.
      let freed = 0;
      let i = s.head;
      while (s.used - freed + cost > this.limit) {
        freed += log[i + 1] as number;
        i += 2;
      }
      const lastLeavesIn = (log[log.length - 2] as number) + this.windowMs - now;
      return outcome(false, this.limit - s.used, this.limit, (log[i - 2] as number) + this.windowMs - now, lastLeavesIn);
    }
    if (!input.peek && cost > 0) {
      if (log.length > s.head && log[log.length - 2] === now) log[log.length - 1] = (log[log.length - 1] as number) + cost;
      else log.push(now, cost);
      s.used += cost;
    }
    const used = input.peek ? s.used + cost : s.used;
    const newest = log.length > s.head ? (log[log.length - 2] as number) : now;
    return outcome(true, this.limit - used, this.limit, 0, used === 0 ? 0 : Math.max(now, newest) + this.windowMs - now);
  }

  /** Drops the admissions at or before `horizon`; compacts the log once half of it is dead. */
  private expire(s: SlidingLogState, horizon: number): void {
    const log = s.log;
    let head = s.head;
    while (head < log.length && (log[head] as number) <= horizon) {
      s.used -= log[head + 1] as number;
      head += 2;
    }
    if (head === log.length) {
      log.length = 0;
      head = 0;
    } else if (head >= 64 && head * 2 >= log.length) {
      log.splice(0, head);
      head = 0;
    }
    s.head = head;
  }
}

/** The approximate window's state: the aligned window that starts at `start`, its count, and the previous window's. */
export interface SlidingCounterState {
  start: number;
  current: number;
  previous: number;
}

/**
 * The approximate sliding window (two-window weighted counter): time is cut into aligned
 * windows, and the units in the last `windowMs` are estimated as
 * `previous × (1 − elapsed / windowMs) + current`, as if the previous window's admissions
 * had been spread evenly over it.
 */
export class SlidingCounterDecision extends WindowDecision<SlidingCounterState> {
  readonly kind = "slidingCounter";

  /** Empty counters for the window that holds `now`. */
  init(now: number): SlidingCounterState {
    return { start: this.windowStart(now), current: 0, previous: 0 };
  }

  /** True when neither counter still weighs on the estimate: the key can be dropped. */
  isIdle(s: SlidingCounterState, now: number): boolean {
    const w = this.windowMs;
    return (s.current === 0 && (s.previous === 0 || now >= s.start + w)) || now >= s.start + 2 * w;
  }

  /** Admits `input.cost` units if the weighted estimate of the last `windowMs` plus the cost fits in `limit`. */
  step(s: SlidingCounterState, input: LimitInput, now: number): RateLimitDecision {
    const w = this.windowMs;
    const start = this.windowStart(now);
    let current = s.current;
    let previous = s.previous;
    if (start !== s.start) {
      previous = start - s.start === w ? current : 0;
      current = 0;
    }
    const elapsed = now - start;
    const estimate = previous * (1 - elapsed / w) + current;
    const cost = input.cost;
    if (estimate + cost > this.limit + EPSILON) {
      // Within this window the previous one's weight fades; failing that, wait for the next.
      const room = this.limit - current - cost;
      const at = room >= 0 ? start + w * (1 - room / previous) : start + w + w * Math.max(0, 1 - (this.limit - cost) / current);
      return outcome(
        false,
        Math.max(0, Math.floor(this.limit - estimate + EPSILON)),
        this.limit,
        at - now,
        this.resetAt(start, current, previous) - now,
      );
    }
    if (!input.peek) {
      s.start = start;
      s.previous = previous;
      s.current = current + cost;
    }
    const usedCurrent = current + cost;
    return outcome(
      true,
      Math.max(0, Math.floor(this.limit - estimate - cost + EPSILON)),
      this.limit,
      0,
      Math.max(0, this.resetAt(start, usedCurrent, previous) - now),
    );
  }

  private resetAt(start: number, current: number, previous: number): number {
    if (current > 0) return start + 2 * this.windowMs;
    return previous > 0 ? start + this.windowMs : start;
  }

  private windowStart(now: number): number {
    return now - (((now % this.windowMs) + this.windowMs) % this.windowMs);
  }
}

const WHERE = "SlidingWindow";

/**
 * A keyed sliding window: at most `limit` units per `windowMs`, with no burst at window
 * boundaries: stricter than a token bucket.
 *
 * - `precision: "exact"` (default): never more than `limit` units in any interval of
 *   `windowMs`. Keeps a log per key: at most `limit` entries (fewer when admissions share a
 *   millisecond), so memory per busy key grows with `limit`.
 * - `precision: "approximate"`: two counters per key (O(1) memory). Never more than
 *   `limit` in one aligned window; in an interval of `windowMs` straddling two windows it
 *   admits at most `limit + previous × elapsed / windowMs` units, where `previous` is what
 *   the previous aligned window admitted and `elapsed` how far the interval reaches into the
 *   current one — so fewer than `2 × limit`, and the worst case needs the previous window's
 *   whole quota packed at its very end. With evenly spread traffic the estimate is exact.
 *
 * @example
 * const limiter = new SlidingWindow({ limit: 100, windowMs: 60_000 });
 * if (!(await limiter.tryAcquire(userId)).allowed) throw new Error("slow down");
 */
export class SlidingWindow extends BaseRateLimiter<SlidingLogState | SlidingCounterState> {
  /** Which variant this limiter runs. */
  readonly precision: "exact" | "approximate";

  constructor(options: SlidingWindowOptions) {
    const [limit, windowMs] = windowOptions(WHERE, options, ["precision"]);
    const precision = oneOf(WHERE, "precision", orDefault(options.precision, "exact"), ["exact", "approximate"] as const);
    super(WHERE, options, precision === "exact" ? new SlidingLogDecision(limit, windowMs) : new SlidingCounterDecision(limit, windowMs));
    this.precision = precision;
  }
}
