/**
 * The hot paths that a before/after comparison times (bench/ab.bench.ts), built from one
 * build's sources, so that the same code makes both sides. Every limiter admits every call
 * (a limit far above what a run spends), so each call takes the same path. Where an older
 * build lacks an API, a small adapter here does what it would (never a change to src/).
 */
import { Redis } from "ioredis";
import type { Sources } from "./before.js";

/** One path to time: a call of one build. */
export interface HotPath {
  readonly name: string;
  readonly fn: () => unknown;
  /** Calls per timed sample, when the group's would be too few (a path that seldom waits on Redis). */
  readonly batch?: number;
}

/** A build's paths, and what releases their timers and connections. */
export interface PathSet {
  readonly paths: readonly HotPath[];
  close(): Promise<void>;
}

/** `BENCH_AB_ONLY=word,word`: only the paths whose name contains one of the words. */
export function chosen(path: { readonly name: string }): boolean {
  const words = (process.env.BENCH_AB_ONLY ?? "").split(",").filter((w) => w !== "");
  return words.length === 0 || words.some((w) => path.name.includes(w));
}

const HUGE = 1_000_000_000;
const asyncFn = async (): Promise<number> => 1;
const quiet = { warn: (): void => undefined };

/** The in-memory paths: breaker, retry stack, every limiter, the bulkhead, the adaptive limiter. */
export function memoryPaths({ core }: Sources): PathSet {
  const breaker = new core.CircuitBreaker({ name: "ab" });
  const breakers = new core.CircuitBreakers();
  const retryPolicy = new core.RetryPolicy({ maxAttempts: 3 });
  const stack = core.pipeline(
    new core.RetryPolicy({ maxAttempts: 3 }),
    new core.CircuitBreaker({ name: "ab-stack" }),
    core.timeout(10_000),
  );
  const limiters = {
    TokenBucket: new core.TokenBucket({ ratePerSec: HUGE, capacity: HUGE }),
    FixedWindow: new core.FixedWindow({ limit: HUGE, windowMs: 60_000 }),
    'SlidingWindow "approximate"': new core.SlidingWindow({ limit: HUGE, windowMs: 60_000, precision: "approximate" }),
    'SlidingWindow "exact"': new core.SlidingWindow({ limit: HUGE, windowMs: 1_000 }),
  };
  const bulkhead = core.bulkhead({ maxConcurrent: 1_000 });
  const adaptiveOptions = { initialRatePerSec: HUGE, maxRatePerSec: HUGE, burst: HUGE };
  const adaptive = new core.AdaptiveRateLimiter({ name: "ab", ...adaptiveOptions });
  const adaptiveRun = new core.AdaptiveRateLimiter({ name: "ab-run", ...adaptiveOptions });
  // 2fbabd2 had no AdaptiveRateLimiter.execute: acquire, run, report the success.
  const execute: () => Promise<number> =
    typeof adaptiveRun.execute === "function"
      ? () => adaptiveRun.execute(asyncFn)
      : async () => {
          const permit = await adaptiveRun.acquire();
          const value = await asyncFn();
          adaptiveRun.onSuccess(null, permit);
          return value;
        };
  const paths: HotPath[] = [
    { name: "breaker.execute (closed)", fn: () => breaker.execute(asyncFn) },
    { name: 'CircuitBreakers.execute("svc")', fn: () => breakers.execute("svc", asyncFn) },
    { name: "RetryPolicy.execute", fn: () => retryPolicy.execute(asyncFn) },
    { name: "pipeline(retry, breaker, timeout)", fn: () => stack.execute(asyncFn) },
    ...Object.entries(limiters).map(([name, limiter]) => ({ name: `${name}.tryAcquire`, fn: () => limiter.tryAcquire("k") })),
    { name: "bulkhead.execute", fn: () => bulkhead.execute(asyncFn) },
    {
      name: "AdaptiveRateLimiter.acquire + onSuccess",
      fn: async () => adaptive.onSuccess(null, await adaptive.acquire()),
    },
    { name: "AdaptiveRateLimiter.execute", fn: execute },
  ];
  const close = async (): Promise<void> => {
    for (const limiter of Object.values(limiters)) await limiter.close();
    await adaptive.close();
    await adaptiveRun.close();
  };
  return { paths, close };
}

/**
 * The paths on RedisStore (each with a store and a connection of its own, in namespaces
 * named by `tag`, so that two builds' scripts and keys stay apart): the closed breaker,
 * every keyed limiter's `tryAcquire`, and the adaptive limiter's acquire.
 */
export async function redisPaths({ core, redis }: Sources, server: { host: string; port: number }, tag: string): Promise<PathSet> {
  const clients: Redis[] = [];
  const stores: { close(): Promise<void> }[] = [];
  const store = async (name: string): Promise<InstanceType<typeof redis.RedisStore>> => {
    const client = new Redis({ host: server.host, port: server.port });
    client.on("error", () => undefined);
    await client.ping();
    clients.push(client);
    // A long command timeout: under valgrind a round trip takes far longer than the default.
    const s = new redis.RedisStore({ client, namespace: `ab-${tag}-${name}`, logger: quiet, commandTimeoutMs: 60_000 });
    stores.push(s);
    return s;
  };
  const breaker = new core.CircuitBreaker({ name: "ab", store: await store("breaker") });
  await breaker.flush();
  const limiters = {
    TokenBucket: new core.TokenBucket({ name: "tb", capacity: HUGE, ratePerSec: HUGE, store: await store("tb") }),
    FixedWindow: new core.FixedWindow({ name: "fw", limit: HUGE, windowMs: 60_000, store: await store("fw") }),
    'SlidingWindow "approximate"': new core.SlidingWindow({
      name: "sc",
      limit: HUGE,
      windowMs: 60_000,
      precision: "approximate",
      store: await store("sc"),
    }),
    'SlidingWindow "exact"': new core.SlidingWindow({ name: "sw", limit: HUGE, windowMs: 1_000, store: await store("sw") }),
  };
  // On a remote store every acquire waits in the limiter's queue for the store's answer.
  const adaptive = new core.AdaptiveRateLimiter({
    name: "ab",
    initialRatePerSec: HUGE,
    maxRatePerSec: HUGE,
    burst: HUGE,
    store: await store("adaptive"),
  });
  const paths: HotPath[] = [
    // The closed breaker reports its outcomes to Redis in batches: most calls stay in process.
    { name: "breaker.execute (closed), RedisStore", fn: () => breaker.execute(asyncFn), batch: 50_000 },
    ...Object.entries(limiters).map(([name, limiter]) => ({ name: `${name}.tryAcquire, RedisStore`, fn: () => limiter.tryAcquire("k") })),
    {
      name: "AdaptiveRateLimiter.acquire + onSuccess, RedisStore",
      fn: async () => adaptive.onSuccess(null, await adaptive.acquire()),
    },
  ];
  const close = async (): Promise<void> => {
    await breaker.flush();
    await adaptive.close();
    for (const s of stores) await s.close();
    for (const c of clients) c.disconnect();
  };
  return { paths, close };
}
