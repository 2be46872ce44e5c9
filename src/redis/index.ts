/**
 * `breakwater/redis`: a Store in Redis (or Valkey, or a Redis Cluster) so that breakers
 * and registries are shared by a fleet of processes. Peer dependency: ioredis or redis.
 */
export { RedisStore, RedisTimeoutError, type RedisStoreOptions, type RedisStoreEvents, type RedisStoreLogger, type RedisErrorMode } from "./redis-store.js";
export { type RedisAdapter, toAdapter } from "./adapter.js";
export { type LuaScript } from "./scripts/script.js";
export { BREAKER_SCRIPT } from "./scripts/breaker.js";
export type { BreakerMirror } from "../breaker/circuit-breaker.js";
