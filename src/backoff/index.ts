export { type Backoff, type BackoffSpec, type Jitter, type RetryPhase, applyJitter } from "./backoff.js";
export { constant, type ConstantOptions } from "./constant.js";
export { exponential, type ExponentialOptions } from "./exponential.js";
export { fixedThenExponential, type FixedThenExponentialOptions } from "./fixed-then-exponential.js";
export { backoffFromSpec } from "./spec.js";
