export { retry } from "./retry.js";
export { RetryPolicy, type RetryEvents, type GiveUpReason } from "./retry-policy.js";
export type { RetryOptions, RetryEvent } from "./options.js";
export { retryAfterOf } from "./retry-after.js";
export { isNeverRetried, isNetworkTypeError } from "./retryable.js";
