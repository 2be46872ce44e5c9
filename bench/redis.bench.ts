/**
 * Limiters and breakers on RedisStore, on one local redis-server (started here on a free
 * port, or `REDIS_URL`): `tryAcquire` latency (1 call in flight) and throughput (64 in
 * flight) against rate-limiter-flexible's `RateLimiterRedis` and a raw `PING`, and the
 * closed-state `breaker.execute` on RedisStore against the in-memory breaker.
 * Every limiter admits every call (a limit far above what the run spends), so each call
 * takes the same path. Each candidate has its own ioredis connection. Throughput is
 * measured on one hot key (where RedisStore sends concurrent calls in one script) and over
 * 64 keys (where it mostly cannot).
 * Run: `npm run bench -- redis`.
 */
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { CircuitBreaker, FixedWindow, type RateLimiter, SlidingWindow, TokenBucket } from "../src/index.js";
import { RedisStore } from "../src/redis/index.js";
import { startRedis } from "../test/setup/redis.js";
import { measure, report, versionOf } from "./lib/measure.js";

const server = await startRedis();
const connections: Redis[] = [];
const connect = async (): Promise<Redis> => {
  const c = new Redis({ host: server.host, port: server.port });
  c.on("error", () => undefined);
  await c.ping();
  connections.push(c);
  return c;
};
const quiet = { warn: () => undefined };
const store = async (namespace: string): Promise<RedisStore> => new RedisStore({ client: await connect(), namespace, logger: quiet });

const HUGE = 1_000_000_000;
const pingClient = await connect();
const rlf = new RateLimiterRedis({ storeClient: await connect(), keyPrefix: "rlf", points: HUGE, duration: 60 });
const ours: [string, RateLimiter][] = [
  ["breakwater TokenBucket.tryAcquire", new TokenBucket({ name: "tb", capacity: HUGE, ratePerSec: HUGE, store: await store("bench-tb") })],
  ["breakwater FixedWindow.tryAcquire", new FixedWindow({ name: "fw", limit: HUGE, windowMs: 60_000, store: await store("bench-fw") })],
  [
    "breakwater SlidingWindow.tryAcquire (exact)",
    new SlidingWindow({ name: "sw", limit: HUGE, windowMs: 1_000, store: await store("bench-sw") }),
  ],
  [
    "breakwater SlidingWindow.tryAcquire (approximate)",
    new SlidingWindow({ name: "sc", limit: HUGE, windowMs: 60_000, precision: "approximate", store: await store("bench-sc") }),
  ],
];

const PING = "raw PING (ioredis)";
const RLF = "rate-limiter-flexible RateLimiterRedis.consume";
const candidates = [
  { name: PING, fn: () => pingClient.ping() },
  { name: RLF, fn: () => rlf.consume("bench") },
  ...ours.map(([name, limiter]) => ({ name, fn: () => limiter.tryAcquire("bench") })),
];

// ---- latency: one call in flight ----
// The floor of any limiter script that decides on the server's clock: read TIME, read the
// key's state, write it back with a TTL, answer. Nothing less can be exact and shared.
const FLOOR = "EVALSHA: TIME + GET + SET PX, nothing else";
const floorClient = await connect();
const floorSha = (await floorClient.script(
  "LOAD",
  "local t = redis.call('TIME') local v = redis.call('GET', KEYS[1]) redis.call('SET', KEYS[1], 'tb0123456789abcdef', 'PX', 60000) return {1, 0, 1, 0, 0, t[1]}",
)) as string;
const latency = await measure(
  [...candidates, { name: FLOOR, fn: () => floorClient.evalsha(floorSha, 1, "floor", "1", "1000000000", "1000000000", "t", "1", "0") }],
  {
    batch: 2_000,
    rounds: 11,
  },
);
const versions = `node ${process.version}, redis-server ${(await pingClient.info("server")).match(/redis_version:(\S+)/)?.[1]}, ioredis ${await versionOf("ioredis")}, rate-limiter-flexible ${await versionOf("rate-limiter-flexible")}`;
const latencyRows = [...latency].map(
  ([name, ns]) => `| ${name} | ${(ns / 1000).toFixed(1)} | ${(ns / (latency.get(PING) ?? ns)).toFixed(2)} |`,
);
console.log(
  [`\n### Latency, 1 call in flight (${versions})`, "", "| candidate | µs / call | × PING |", "| --- | ---: | ---: |", ...latencyRows].join(
    "\n",
  ),
);

// ---- throughput: 64 calls in flight ----
const IN_FLIGHT = 64;
const CALLS = 40_000;
async function opsPerSec(fn: () => unknown): Promise<number> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next++ < CALLS) await fn();
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return CALLS / (Number(process.hrtime.bigint() - start) / 1e9);
}
const throughputSamples = new Map<string, number[]>(candidates.map((c) => [c.name, []]));
for (const c of candidates) await opsPerSec(c.fn); // warm-up
for (let round = 0; round < 7; round++) {
  for (const c of candidates) throughputSamples.get(c.name)?.push(await opsPerSec(c.fn));
}
const throughput = new Map([...throughputSamples].map(([name, s]) => [name, [...s].sort((a, b) => a - b)[Math.floor(s.length / 2)] ?? 0]));
const throughputRows = [...throughput].map(
  ([name, ops]) => `| ${name} | ${Math.round(ops).toLocaleString("en-US")} | ${(ops / (throughput.get(RLF) ?? ops)).toFixed(2)} |`,
);
console.log(
  [
    `\n### Throughput, ${IN_FLIGHT} calls in flight on one key`,
    "",
    "| candidate | calls / s | × rate-limiter-flexible |",
    "| --- | ---: | ---: |",
    ...throughputRows,
  ].join("\n"),
);

// The same on 64 keys (call i uses key i mod 64): concurrent calls rarely share a key, so
// each is a script of its own (no batching): the per-call cost, under load.
let spread = 0;
const spreadCandidates = [
  { name: RLF, fn: () => rlf.consume(`bench${spread++ & 63}`) },
  ...ours.map(([name, limiter]) => ({ name, fn: () => limiter.tryAcquire(`bench${spread++ & 63}`) })),
];
const spreadSamples = new Map<string, number[]>(spreadCandidates.map((c) => [c.name, []]));
for (const c of spreadCandidates) await opsPerSec(c.fn); // warm-up
for (let round = 0; round < 5; round++) {
  for (const c of spreadCandidates) spreadSamples.get(c.name)?.push(await opsPerSec(c.fn));
}
const spreadOps = new Map([...spreadSamples].map(([name, s]) => [name, [...s].sort((a, b) => a - b)[Math.floor(s.length / 2)] ?? 0]));
const spreadRows = [...spreadOps].map(
  ([name, ops]) => `| ${name} | ${Math.round(ops).toLocaleString("en-US")} | ${(ops / (spreadOps.get(RLF) ?? ops)).toFixed(2)} |`,
);
console.log(
  [
    `\n### Throughput, ${IN_FLIGHT} calls in flight over 64 keys`,
    "",
    "| candidate | calls / s | × rate-limiter-flexible |",
    "| --- | ---: | ---: |",
    ...spreadRows,
  ].join("\n"),
);

// ---- latency under moderate concurrency: batching across keys, on and off ----
// 8 callers, each on its own key, each awaiting its own calls: how long a call waits when
// it may queue behind another key's script (on) or goes at once in a script of its own (off).
const CALLERS = 8;
const across = new TokenBucket({ name: "tb8", capacity: HUGE, ratePerSec: HUGE, store: await store("bench-across") });
const apart = new TokenBucket({
  name: "tb8",
  capacity: HUGE,
  ratePerSec: HUGE,
  store: new RedisStore({ client: await connect(), namespace: "bench-apart", logger: quiet, batchAcrossKeys: false }),
});
async function callerLatencies(limiter: TokenBucket, calls: number): Promise<{ p50: number; p99: number; perSec: number }> {
  const samples: number[] = [];
  const caller = async (k: number): Promise<void> => {
    for (let i = 0; i < calls; i++) {
      const start = process.hrtime.bigint();
      await limiter.tryAcquire(`caller-${k}`);
      samples.push(Number(process.hrtime.bigint() - start) / 1000);
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CALLERS }, (_, k) => caller(k)));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  samples.sort((a, b) => a - b);
  const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), perSec: samples.length / seconds };
}
const moderate = {
  across: [] as { p50: number; p99: number; perSec: number }[],
  apart: [] as { p50: number; p99: number; perSec: number }[],
};
await callerLatencies(across, 500);
await callerLatencies(apart, 500);
for (let round = 0; round < 5; round++) {
  moderate.across.push(await callerLatencies(across, 2_000));
  moderate.apart.push(await callerLatencies(apart, 2_000));
}
const mid = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const moderateRows = (Object.entries(moderate) as [string, { p50: number; p99: number; perSec: number }[]][]).map(
  ([mode, runs]) =>
    `| TokenBucket.tryAcquire, batchAcrossKeys: ${mode === "across"} | ${mid(runs.map((r) => r.p50)).toFixed(0)} | ${mid(runs.map((r) => r.p99)).toFixed(0)} | ${Math.round(mid(runs.map((r) => r.perSec))).toLocaleString("en-US")} |`,
);
console.log(
  [
    `\n### ${CALLERS} callers, each on its own key (5 samples of ${CALLERS} × 2,000 calls, median)`,
    "",
    "| candidate | p50 µs | p99 µs | calls / s |",
    "| --- | ---: | ---: | ---: |",
    ...moderateRows,
  ].join("\n"),
);

// ---- breaker hot path: closed state ----
const asyncFn = async (): Promise<number> => 1;
const memoryBreaker = new CircuitBreaker({ name: "bench" });
const redisStore = await store("bench-breaker");
const redisBreaker = new CircuitBreaker({ name: "bench", store: redisStore });
await redisBreaker.flush();
const MEMORY_BREAKER = "breakwater breaker.execute (in-memory)";
const REDIS_BREAKER = "breakwater breaker.execute (RedisStore)";
const breakerTimings = await measure([
  { name: "bare await fn()", fn: () => asyncFn() },
  { name: MEMORY_BREAKER, fn: () => memoryBreaker.execute(asyncFn) },
  { name: REDIS_BREAKER, fn: () => redisBreaker.execute(asyncFn) },
]);
await redisBreaker.flush();
report(`Circuit breaker, closed state, RedisStore vs in-memory (node ${process.version})`, breakerTimings, "bare await fn()");

// ---- goals ----
const ofOurs = (m: Map<string, number>): number[] => ours.map(([name]) => m.get(name) ?? NaN);
const worstLatency = Math.max(...ofOurs(latency)) / (latency.get(PING) ?? NaN);
const worstThroughput = Math.min(...ofOurs(throughput)) / (throughput.get(RLF) ?? NaN);
const tbLatency = (latency.get(ours[0]?.[0] ?? "") ?? NaN) / (latency.get(PING) ?? NaN);
const tbThroughput = (throughput.get(ours[0]?.[0] ?? "") ?? NaN) / (throughput.get(RLF) ?? NaN);
console.log(
  `\nTokenBucket latency / PING: ${tbLatency.toFixed(2)}; TokenBucket throughput / rate-limiter-flexible: ${tbThroughput.toFixed(2)}`,
);
const breakerRatio = (breakerTimings.get(REDIS_BREAKER) ?? NaN) / (breakerTimings.get(MEMORY_BREAKER) ?? NaN);
console.log(
  `\nslowest breakwater limiter latency / PING: ${worstLatency.toFixed(2)} (goal <= 1.3) ${worstLatency <= 1.3 ? "met" : "NOT met"}`,
);
console.log(`the floor (TIME + GET + SET PX script) / PING: ${((latency.get(FLOOR) ?? NaN) / (latency.get(PING) ?? NaN)).toFixed(2)}`);
console.log(
  `lowest breakwater limiter throughput / rate-limiter-flexible: ${worstThroughput.toFixed(2)} (goal >= 1.0) ${worstThroughput >= 1 ? "met" : "NOT met"}`,
);
const worstSpread = Math.min(...ofOurs(spreadOps)) / (spreadOps.get(RLF) ?? NaN);
console.log(`lowest breakwater limiter throughput / rate-limiter-flexible, 64 keys: ${worstSpread.toFixed(2)}`);
console.log(
  `RedisStore breaker / in-memory breaker (ns per call): ${breakerRatio.toFixed(2)} (goal <= 2.0) ${breakerRatio <= 2 ? "met" : "NOT met"}`,
);

await redisStore.close();
for (const [, limiter] of ours) await (limiter as TokenBucket).close();
await across.close();
await apart.close();
for (const c of connections) c.disconnect();
await server.stop();
