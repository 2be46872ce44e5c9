import { InvalidOptionError } from "../core/errors.js";
import { atLeast, checkKeys, integer, nonNegative, nonNegativeOrInfinity, oneOf, orDefault } from "../core/validate.js";
import { type Backoff, grow, type Jitter, JITTERS, makeBackoff, type RetryPhase } from "./backoff.js";

/** Options of {@link fixedThenExponential} (a breaker's recovery schedule). */
export interface FixedThenExponentialOptions {
  /** The fixed interval, and the base of the exponential phase. Required. */
  readonly intervalMs: number;
  /** How many attempts wait exactly `intervalMs`. Default 3. */
  readonly fixedAttempts?: number;
  /** How many attempts after those grow by `factor`; later ones stay at the last value. Default 5. */
  readonly exponentialAttempts?: number;
  /** The growth per exponential attempt, >= 1. Default 2. */
  readonly factor?: number;
  /** An absolute cap on any delay. Default Infinity. */
  readonly maxMs?: number;
  /** Default `"none"`. */
  readonly jitter?: Jitter;
}

/**
 * Fixed, then exponential: attempts `1..fixedAttempts` wait `intervalMs`; the next
 * `exponentialAttempts` wait `intervalMs × factor^k` (k = 1, 2, …); later ones are capped
 * at the last exponential delay (and always at `maxMs`). `phase(attempt)` says which.
 */
export function fixedThenExponential(options: FixedThenExponentialOptions): Backoff {
  const where = "fixedThenExponential()";
  if (options === undefined || options === null) throw new InvalidOptionError(where, "intervalMs", undefined, "a finite number >= 0");
  checkKeys(where, options, ["intervalMs", "fixedAttempts", "exponentialAttempts", "factor", "maxMs", "jitter"]);
  const intervalMs = nonNegative(where, "intervalMs", options.intervalMs);
  const fixedAttempts = integer(where, "fixedAttempts", orDefault(options.fixedAttempts, 3), 0);
  const exponentialAttempts = integer(where, "exponentialAttempts", orDefault(options.exponentialAttempts, 5), 0);
  const factor = atLeast(where, "factor", orDefault(options.factor, 2), 1);
  const maxMs = nonNegativeOrInfinity(where, "maxMs", orDefault(options.maxMs, Infinity));
  if (maxMs < intervalMs) throw new InvalidOptionError(where, "maxMs", maxMs, `>= intervalMs (${intervalMs})`);
  const jitter = oneOf(where, "jitter", orDefault(options.jitter, "none"), JITTERS);

  const phase = (attempt: number): RetryPhase =>
    attempt <= fixedAttempts ? "fixed" : attempt <= fixedAttempts + exponentialAttempts ? "exponential" : "capped";
  const raw = (attempt: number): number => {
    const k = Math.min(Math.max(0, attempt - fixedAttempts), exponentialAttempts);
    return Math.min(maxMs, grow(intervalMs, factor, k));
  };
  const cap = Math.min(maxMs, grow(intervalMs, factor, exponentialAttempts));
  return makeBackoff(
    { kind: "fixedThenExponential", intervalMs, fixedAttempts, exponentialAttempts, factor, maxMs, jitter },
    raw,
    phase,
    intervalMs,
    cap,
  );
}
