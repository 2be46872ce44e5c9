import { checkKeys, nonNegative, oneOf, orDefault } from "../core/validate.js";
import { type Backoff, type Jitter, JITTERS, makeBackoff } from "./backoff.js";

/** Options of {@link constant}. */
export interface ConstantOptions {
  /** Default `"none"`. */
  readonly jitter?: Jitter;
}

/** The same delay every time: `constant(1000)` waits one second between attempts. */
export function constant(delayMs: number, options: ConstantOptions = {}): Backoff {
  const where = "constant()";
  checkKeys(where, options, ["jitter"]);
  nonNegative(where, "delayMs", delayMs);
  const jitter = oneOf(where, "jitter", orDefault(options.jitter, "none"), JITTERS);
  return makeBackoff({ kind: "constant", delayMs, jitter }, () => delayMs, () => "fixed", delayMs, delayMs);
}
