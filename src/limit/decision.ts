import type { Decision } from "../store/store.js";
import type { RateLimitDecision } from "./limiter.js";

/**
 * What a limiter asks its decision: take `cost` units, or with `peek` only say what taking
 * them would answer (the state is left as it was). With `op`, one of the administrative or
 * lease operations instead (see {@link LimitOp}); `arg` and `holdMs` are its operands.
 */
export interface LimitInput {
  cost: number;
  peek: boolean;
  /** Absent for a take or a peek. */
  op?: LimitOp;
  /** `lease`: the fewest units worth taking; `return`: the lease's ticket. */
  arg?: number;
  /** `lease`: how long the lease may be held (ms). */
  holdMs?: number;
}

/**
 * The operations besides take and peek, each applied atomically like a take:
 *
 * - `penalty`: take `cost` units even past the limit (the key then waits longer);
 * - `reward`: give `cost` units back (never past the limit);
 * - `set`: the key has used `cost` units, from now (a fresh window; a bucket `cost` below full);
 * - `lease`: take up to `cost` units, at least `arg` (or none), for a process to hand out
 *   locally for at most `holdMs`; the answer is a {@link LeaseGrant};
 * - `return`: give back `cost` units of the lease whose ticket is `arg`, if it is still
 *   valid (the same window; for a bucket, before the lease's deadline).
 */
export type LimitOp = "penalty" | "reward" | "set" | "lease" | "return";

/** The answer to a `lease` input: the decision for the units taken, and the lease itself. */
export interface LeaseGrant extends RateLimitDecision {
  /** Units taken for the lease (0 when refused). */
  readonly granted: number;
  /** How long the units stay valid from the decision's `now` (ms). */
  readonly validMs: number;
  /** What `return` must quote: the window's end, or the bucket lease's deadline (the store's clock). */
  readonly ticket: number;
}

/**
 * How many units a lease takes when `available` are left and the caller wants `want`, at
 * least `min`: never more than half of what is left (rounded up), so that as a key nears
 * its limit the leases shrink and the last units are not stranded in idle processes.
 */
export function leaseSize(available: number, want: number, min: number): number {
  if (available < min) return 0;
  return Math.min(want, available, Math.max(min, Math.ceil(available / 2)));
}

/**
 * A rate-limiting algorithm as a {@link Decision} over a plain per-key record: the step
 * takes (or peeks at) `cost` units and answers a {@link RateLimitDecision}. The limiter
 * never passes a cost above {@link limit} to `step`.
 */
export interface LimitDecision<S> extends Decision<S, LimitInput, RateLimitDecision> {
  /** The most units one key can spend at once (the capacity, or the window's limit). */
  readonly limit: number;
  /** The IETF `RateLimit-Policy` description, e.g. `"100;w=60"`. */
  readonly policy: string;
}

/**
 * The base of the window algorithms: `limit` units per `windowMs`, per-key state that a
 * store may drop once idle, and the matching `RateLimit-Policy`.
 */
export abstract class WindowDecision<S> implements LimitDecision<S> {
  abstract readonly kind: string;
  readonly evictable = true;
  readonly params: { readonly limit: number; readonly windowMs: number };
  readonly policy: string;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {
    this.params = { limit, windowMs };
    this.policy = policyOf(limit, windowMs);
  }

  abstract init(now: number): S;
  abstract step(state: S, input: LimitInput, now: number): RateLimitDecision;
  abstract isIdle(state: S, now: number): boolean;
}

/** Tolerance for rounding in fractional token arithmetic (in units). */
export const EPSILON = 1e-9;

/** A decision record; one object literal shape for every algorithm, so call sites stay monomorphic. */
export function outcome(allowed: boolean, remaining: number, limit: number, retryAfterMs: number, resetAfterMs: number): RateLimitDecision {
  return { allowed, remaining, limit, retryAfterMs, resetAfterMs };
}

/** The `RateLimit-Policy` value of `limit` units per `windowMs` (the window in whole seconds, at least 1). */
export function policyOf(limit: number, windowMs: number): string {
  return `${limit};w=${Math.max(1, Math.ceil(windowMs / 1000))}`;
}
