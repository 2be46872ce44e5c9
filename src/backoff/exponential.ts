import { InvalidOptionError } from "../core/errors.js";
import { atLeast, checkKeys, nonNegative, oneOf, orDefault } from "../core/validate.js";
import { type Backoff, grow, type Jitter, JITTERS, makeBackoff, type RetryPhase } from "./backoff.js";

/** Options of {@link exponential}. */
export interface ExponentialOptions {
  /** The first delay. Default 100 ms. */
  readonly initialMs?: number;
  /** The largest delay. Default 30,000 ms. */
  readonly maxMs?: number;
  /** The growth per attempt, >= 1. Default 2. */
  readonly factor?: number;
  /** Default `"full"` (uniform between 0 and the computed delay). */
  readonly jitter?: Jitter;
}

/** `initialMs × factor^(attempt-1)`, capped at `maxMs`, then jittered. */
export function exponential(options: ExponentialOptions = {}): Backoff {
  const where = "exponential()";
  checkKeys(where, options, ["initialMs", "maxMs", "factor", "jitter"]);
  const initialMs = nonNegative(where, "initialMs", orDefault(options.initialMs, 100));
  const maxMs = atLeast(where, "maxMs", orDefault(options.maxMs, 30_000), 0);
  if (maxMs < initialMs) throw new InvalidOptionError(where, "maxMs", maxMs, `>= initialMs (${initialMs})`);
  const factor = atLeast(where, "factor", orDefault(options.factor, 2), 1);
  const jitter = oneOf(where, "jitter", orDefault(options.jitter, "full"), JITTERS);
  const raw = (attempt: number): number => Math.min(maxMs, grow(initialMs, factor, attempt - 1));
  const phase = (attempt: number): RetryPhase => (raw(attempt) >= maxMs && factor > 1 ? "capped" : "exponential");
  return makeBackoff({ kind: "exponential", initialMs, maxMs, factor, jitter }, raw, phase, initialMs, maxMs);
}
