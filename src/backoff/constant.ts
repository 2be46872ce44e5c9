import { checkKeys, nonNegative, oneOf, orDefault } from "../core/validate.js";
import { type Backoff, type Jitter, JITTERS, makeBackoff } from "./backoff.js";

const CONSTANT_JITTERS = JITTERS.filter((j): j is Exclude<Jitter, "decorrelated"> => j !== "decorrelated");

/** Options of {@link constant}. */
export interface ConstantOptions {
  /** `"none"` (default), `"full"` or `"equal"`; decorrelated jitter needs room above the delay, which a constant has not. */
  readonly jitter?: Exclude<Jitter, "decorrelated">;
}

/** The same delay every time: `constant(1000)` waits one second between attempts. */
export function constant(delayMs: number, options: ConstantOptions = {}): Backoff {
  const where = "constant()";
  checkKeys(where, options, ["jitter"]);
  nonNegative(where, "delayMs", delayMs);
  // Decorrelated jitter grows from the previous delay up to a cap; capped at the delay itself it would never vary.
  const jitter = oneOf(where, "jitter", orDefault(options.jitter, "none"), CONSTANT_JITTERS);
  return makeBackoff(
    { kind: "constant", delayMs, jitter },
    () => delayMs,
    () => "fixed",
    delayMs,
    delayMs,
  );
}
