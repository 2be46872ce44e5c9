import { byKind } from "../core/validate.js";
import type { Backoff, BackoffSpec } from "./backoff.js";
import { constant } from "./constant.js";
import { exponential } from "./exponential.js";
import { fixedThenExponential } from "./fixed-then-exponential.js";

/** JSON writes an infinite `maxMs` as null: read it back as Infinity. */
function maxMsOf(spec: { readonly maxMs: number | null }): number {
  return spec.maxMs ?? Infinity;
}

/** How each kind of spec rebuilds its schedule: one entry per {@link BackoffSpec} kind. */
const BACKOFF_FROM_SPEC: { readonly [K in BackoffSpec["kind"]]: (spec: Extract<BackoffSpec, { kind: K }>) => Backoff } = {
  constant: (s) => constant(s.delayMs, { jitter: s.jitter }),
  exponential: (s) => exponential({ initialMs: s.initialMs, maxMs: maxMsOf(s), factor: s.factor, jitter: s.jitter }),
  fixedThenExponential: (s) =>
    fixedThenExponential({
      intervalMs: s.intervalMs,
      fixedAttempts: s.fixedAttempts,
      exponentialAttempts: s.exponentialAttempts,
      factor: s.factor,
      maxMs: maxMsOf(s),
      jitter: s.jitter,
    }),
};

/**
 * Rebuilds a backoff from its spec: the inverse of {@link Backoff.spec} (also of a spec
 * read back from JSON, where an infinite `maxMs` is null). Validates as the factory does;
 * throws an {@link InvalidOptionError} for a kind it does not know.
 */
export function backoffFromSpec(spec: BackoffSpec): Backoff {
  return (byKind("backoffFromSpec()", BACKOFF_FROM_SPEC, spec) as (s: BackoffSpec) => Backoff)(spec);
}
