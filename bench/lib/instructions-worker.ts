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

/** What to count: `bare`, `memory` or `redis`. */
export type Path = "bare" | "memory" | "redis";

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
  if (path === "memory") {
    const breaker = new classes.CircuitBreaker({ name: "bench" });
    await loop(n, () => breaker.execute(asyncFn));
    return;
  }
  if (path !== "redis") throw new Error(`instructions worker: unknown path ${path}`);
  const client = new Redis({ host: "127.0.0.1", port: Number(port), lazyConnect: true });
  await client.connect();
  const store = new classes.RedisStore({ client, namespace: "instructions", logger: { warn: () => undefined } });
  const breaker = new classes.CircuitBreaker({ name: "bench", store });
  await breaker.flush();
  await loop(n, () => breaker.execute(asyncFn));
  await breaker.flush();
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
