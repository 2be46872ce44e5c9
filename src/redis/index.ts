/**
 * `breakwater/redis`: a Store in Redis (or Valkey, or a Redis Cluster) so that breakers,
 * registries, limiters and adaptive limiters are shared by a fleet of processes. Peer
 * dependency: ioredis or redis.
 *
 * @module breakwater/redis
 */
export {
  RedisStore,
  RedisTimeoutError,
  type RedisStoreOptions,
  type RedisStoreEvents,
  type RedisStoreLogger,
  type RedisErrorMode,
} from "./redis-store.js";
export { type RedisAdapter, toAdapter } from "./adapter.js";
export { type LuaScript, luaScript } from "./scripts/script.js";
export { registerTwin, twinKinds } from "./twin-registry.js";
export { STALE_CHECK, STALE_REPLY } from "./scripts/limit-lib.js";
export {
  type Twin,
  type StrictMode,
  type TwinStore,
  type MirrorHost,
  type RemoteMirror,
  numArg,
  numReply,
  arrayReply,
  paramArgs,
} from "./twin.js";
export { BREAKER_SCRIPT } from "./scripts/breaker.js";
export { TOKEN_BUCKET_SCRIPT } from "./scripts/token-bucket.js";
export { SLIDING_LOG_SCRIPT } from "./scripts/sliding-log.js";
export { SLIDING_COUNTER_SCRIPT } from "./scripts/sliding-counter.js";
export { FIXED_WINDOW_SCRIPT } from "./scripts/fixed-window.js";
export { ADAPTIVE_SCRIPT } from "./scripts/adaptive.js";
export { BreakerAdmin, type BreakerAdminOptions, type BreakerActionOptions, type BreakerActionResult } from "./breaker-admin.js";
export { FleetBreakers, FleetBreaker, type FleetBreakersOptions, type FleetSource } from "./fleet-view.js";
export {
  BreakerNotFoundError,
  AmbiguousBreakerError,
  describeRecord,
  nameOfKey,
  type FleetBreakerStatus,
  type FleetRecord,
} from "./fleet-record.js";
