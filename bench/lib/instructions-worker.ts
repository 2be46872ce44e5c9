/**
 * What `bench/instructions.ts` runs under callgrind: `n` awaited closed-state
 * `breaker.execute` calls (or bare `await fn()` calls), in memory or on a RedisStore. It is
 * bundled together with one checkout's `src/`, which hands in its classes (see `run`).
 * `os.loadavg()`, which nothing else calls, marks the loop's start and end: callgrind dumps
 * its counts there (`--dump-before=uv_loadavg`), so the setup, the connections and what
 * Redis answers after the loop stay out of the loop's count.
 */
import { loadavg } from "node:os";
import { Redis } from "ioredis";
import type { CircuitBreaker } from "../../src/index.js";
import type { RedisStore } from "../../src/redis/index.js";

/** The classes of the checkout under count. */
export interface Classes {
  readonly CircuitBreaker: typeof CircuitBreaker;
  readonly RedisStore: typeof RedisStore;
}

/**
 * What to count: `bare`, `memory` or `redis`; `memory-mixed` and `redis-mixed` count one of
 * the two after both ran 20,000 calls in the same process (as in `bench/redis.bench.ts`,
 * where the breaker's call sites see both kinds of store).
 */
export type Path = "bare" | "memory" | "redis" | "memory-mixed" | "redis-mixed";

/** The paths, in the order the driver counts them by default. */
export const PATHS: readonly Path[] = ["bare", "memory", "redis", "memory-mixed", "redis-mixed"];

const WARM_UP = 20_000;

const asyncFn = async (): Promise<number> => 1;

/** Runs the calls that argv names: `<path> <n> [redis port]`. */
export async function run(classes: Classes): Promise<void> {
  const [path, count, port] = process.argv.slice(2);
  const n = Number(count);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`instructions worker: n must be a positive integer, not ${count}`);
  if (path === "bare") {
    await loop(n, asyncFn);
    return;
  }
  const memory = new classes.CircuitBreaker({ name: "bench" });
  if (path === "memory") {
    await loop(n, () => memory.execute(asyncFn));
    return;
  }
  if (!PATHS.includes(path as Path)) throw new Error(`instructions worker: unknown path ${path}`);
  const client = new Redis({ host: "127.0.0.1", port: Number(port), lazyConnect: true });
  await client.connect();
  const store = new classes.RedisStore({ client, namespace: "instructions", logger: { warn: () => undefined } });
  const onRedis = new classes.CircuitBreaker({ name: "bench", store });
  await onRedis.flush();
  // Lets the subscriber connect now, not at a point that depends on how fast this run goes.
  await new Promise((resolve) => setTimeout(resolve, 500));
  if (path !== "redis") {
    for (let i = 0; i < WARM_UP; i++) await memory.execute(asyncFn);
    for (let i = 0; i < WARM_UP; i++) await onRedis.execute(asyncFn);
    await onRedis.flush();
  }
  const breaker = path === "memory-mixed" ? memory : onRedis;
  await loop(n, () => breaker.execute(asyncFn));
  await onRedis.flush();
  await store.close();
  client.disconnect();
}

/**
 * `n` awaited calls between the two marks, after a full collection (with `--expose-gc`): the
 * heap the loop starts from, and so where it collects, does not depend on how the setup went.
 */
async function loop(n: number, fn: () => Promise<unknown>): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  loadavg();
  for (let i = 0; i < n; i++) await fn();
  loadavg();
}
