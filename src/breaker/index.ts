export {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type BreakerEvents,
  type StateChangeEvent,
  type Classification,
  type BreakerExecuteOptions,
  type BreakerMode,
  type OpenOptions,
} from "./circuit-breaker.js";
export {
  CircuitBreakers,
  type CircuitBreakersOptions,
  type ServicePolicy,
  type CallOverrides,
  type Protector,
} from "./circuit-breakers.js";
export {
  consecutiveFailures,
  failuresInWindow,
  failureRatio,
  tripRuleFromSpec,
  type TripRule,
  type TripSpec,
  type TripState,
  type FailureRatioOptions,
  type FailuresInWindowOptions,
} from "./trip.js";
export type { ErrorClass, ErrorFilter, ResultFilter, ReturnValuePolicy } from "../core/classify.js";
export {
  BreakerDecision,
  NO_PERMIT,
  type BreakerParams,
  type BreakerRecord,
  type BreakerInput,
  type CircuitState,
  type Transition,
  type Permit,
} from "./state.js";
export type { HistoryEntry, Outcome } from "./history.js";
export type { BreakerSnapshot } from "./snapshot.js";
export type { BreakerStatus } from "./status.js";
