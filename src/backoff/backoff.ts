/** How randomness spreads a delay. See docs/backoffs.md for each one's range. */
export type Jitter = "none" | "full" | "equal" | "decorrelated";

/** All jitter names, for validation. */
export const JITTERS: readonly Jitter[] = ["none", "full", "equal", "decorrelated"];

/** Which part of a schedule an attempt falls in (the retry phase a breaker's `status()` reports). */
export type RetryPhase = "fixed" | "exponential" | "capped";

/** A backoff's configuration as plain data: what a Lua twin or a log needs to know. */
export type BackoffSpec =
  | { readonly kind: "constant"; readonly delayMs: number; readonly jitter: Exclude<Jitter, "decorrelated"> }
  | { readonly kind: "exponential"; readonly initialMs: number; readonly maxMs: number; readonly factor: number; readonly jitter: Jitter }
  | {
      readonly kind: "fixedThenExponential";
      readonly intervalMs: number;
      readonly fixedAttempts: number;
      readonly exponentialAttempts: number;
      readonly factor: number;
      readonly maxMs: number;
      readonly jitter: Jitter;
    };

/**
 * A delay schedule: a pure function of the attempt number (1 = the wait after the first
 * failure) and a uniform random number, so tests are deterministic and the same schedule
 * serves retry and a breaker's recovery.
 */
export interface Backoff {
  /** The configuration, as plain data. */
  readonly spec: BackoffSpec;
  /**
   * The delay (ms) after failure number `attempt`.
   * @param random a source of uniform numbers in [0, 1); `Math.random` by default.
   * @param previousMs the previous delay, used by decorrelated jitter.
   */
  delay(attempt: number, random?: () => number, previousMs?: number): number;
  /** Which phase `attempt` falls in. */
  phase(attempt: number): RetryPhase;
}

/**
 * Spreads the computed delay `d` by the jitter kind, with `u` uniform in [0, 1).
 * `base` and `cap` bound decorrelated jitter, which grows from the previous delay
 * (AWS's "decorrelated jitter": between base and 3× the previous, capped).
 */
export function applyJitter(jitter: Jitter, d: number, u: number, base: number, cap: number, previousMs: number | undefined): number {
  switch (jitter) {
    case "none":
      return d;
    case "full":
      return u * d;
    case "equal":
      return d / 2 + (u * d) / 2;
    case "decorrelated": {
      const prev = previousMs === undefined || previousMs < base ? base : previousMs;
      return Math.min(cap, base + u * (prev * 3 - base));
    }
  }
}

/**
 * `base × factor^k`, but 0 when `base` is 0: a large `k` makes `factor^k` Infinity, and
 * `0 × Infinity` would be NaN.
 */
export function grow(base: number, factor: number, k: number): number {
  return base === 0 ? 0 : base * factor ** k;
}

/** Builds a `Backoff` from its spec, a delay function without jitter, and a phase function. */
export function makeBackoff(
  spec: BackoffSpec,
  raw: (attempt: number) => number,
  phase: (attempt: number) => RetryPhase,
  base: number,
  cap: number,
): Backoff {
  return {
    spec,
    phase,
    delay(attempt, random = Math.random, previousMs) {
      const d = raw(attempt >= 1 ? Math.floor(attempt) : 1);
      return spec.jitter === "none" ? d : applyJitter(spec.jitter, d, random(), base, cap, previousMs);
    },
  };
}
