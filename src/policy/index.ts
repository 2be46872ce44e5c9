export { timeout, TimeoutPolicy, type TimeoutOptions, type TimeoutMode, type TimeoutEvents } from "./timeout.js";
export { bulkhead, BulkheadPolicy, type BulkheadOptions, type BulkheadEvents } from "./bulkhead.js";
export { fallback, FallbackPolicy, type FallbackOptions, type FallbackEvents, type FallbackValue } from "./fallback.js";
export { pipeline, Pipeline, type Composable, type AlternativeOf } from "./pipeline.js";
