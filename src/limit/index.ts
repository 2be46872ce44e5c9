export {
  type RateLimiter,
  type RateLimitDecision,
  type AcquireOptions,
  type LimiterExecuteOptions,
  type RateLimiterEvents,
  DEFAULT_KEY,
} from "./limiter.js";
export { BaseRateLimiter, type RateLimiterOptions } from "./base.js";
export type { LimitDecision, LimitInput, LimitOp, LeaseGrant } from "./decision.js";
export { KeyedRateLimiter, type KeyedLimiterOptions, type KeyUsage, type LeaseOptions, type LeaseStats } from "./keyed.js";
export { TokenBucket, TokenBucketDecision, type TokenBucketOptions, type TokenBucketState } from "./token-bucket.js";
export { FixedWindow, FixedWindowDecision, type WindowOptions, type FixedWindowOptions, type FixedWindowState } from "./fixed-window.js";
export {
  SlidingWindow,
  SlidingLogDecision,
  SlidingCounterDecision,
  type SlidingWindowOptions,
  type SlidingLogState,
  type SlidingCounterState,
} from "./sliding-window.js";
export { rateLimitHeaders, type RateLimitHeaders, type RateLimitHeadersOptions } from "./headers.js";
export {
  rateLimitMiddleware,
  type RateLimitMiddleware,
  type RateLimitMiddlewareOptions,
  type ResponseLike,
  type NextFunction,
} from "./middleware.js";
