import type { Decision } from "../store/store.js";
import type { RateLimitDecision } from "./limiter.js";

/**
 * What a limiter asks its decision: take `cost` units, or with `peek` only say what taking
 * them would answer (the state is left as it was).
 */
export interface LimitInput {
  cost: number;
  peek: boolean;
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
