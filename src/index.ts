/**
 * `breakwater`: the core. Circuit breakers (one, or many named services), retry and
 * backoffs, keyed rate limiters and the adaptive one, timeout, bulkhead, fallback and
 * `pipeline`, the `Store` contract with `MemoryStore`, clocks and typed errors. No runtime
 * dependencies. Guides: docs/ in the repository.
 *
 * @module breakwater
 */
export { type Clock, systemClock, preciseClock, ManualClock } from "./core/clock.js";
export {
  ResilienceError,
  CircuitOpenError,
  RateLimitExceededError,
  RetryError,
  ReturnValuePolicyError,
  TimeoutError,
  BulkheadRejectedError,
  BackoffExhaustedError,
  InvalidOptionError,
  type FailureRecord,
} from "./core/errors.js";
export { Emitter, type Listener, type ListenerErrorHandler, type TelemetryOrigin } from "./core/events.js";
export { TelemetryStream, noTelemetry, type Telemetry, type TelemetryEvent, type AttachOptions } from "./core/telemetry.js";
export type { Policy, Operation, ExecutionContext, ExecuteOptions } from "./core/policy.js";
export { parseRetryAfter, type HeaderParseOptions } from "./core/headers.js";
export * from "./backoff/index.js";
export * from "./breaker/index.js";
export { MemoryStore, type MemoryStoreOptions } from "./store/memory.js";
export { type Store, type Decision, type MirroredState, type MirrorListener, isPromiseLike } from "./store/store.js";
export * from "./retry/index.js";
export * from "./policy/index.js";
export * from "./limit/index.js";
export {
  logEvents,
  logTelemetry,
  DEFAULT_LOG_LEVELS,
  type Logger,
  type LogLevel,
  type LoggedEvent,
  type LogEventsOptions,
  type LogTelemetryOptions,
  type ObservableTarget,
} from "./observe/log-events.js";
export {
  AdaptiveRateLimiter,
  DEFAULT_COOLDOWN_CAP_MS,
  type AdaptiveRateLimiterOptions,
  type AdaptiveAcquireOptions,
  type AdaptivePermit,
  type AdaptiveSnapshot,
  type AdaptiveEvents,
  type BackoffSignal,
  type RateSource,
  type RateChangeReason,
} from "./limit/adaptive.js";
