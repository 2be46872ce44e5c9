/**
 * Limiters and breakers on RedisStore, on one local redis-server (started here on a free
 * port, or `REDIS_URL`): `tryAcquire` latency (1 call in flight) and throughput (64 in
 * flight) against rate-limiter-flexible's `RateLimiterRedis` and a raw `PING`, the
 * closed-state `breaker.execute` on RedisStore against the in-memory breaker, and leased
 * limiters: a leased `tryAcquire`'s latency against the in-memory limiter's, one hot key's
 * throughput across 4 processes against PING's, and what 4 processes admit against a limit.
 * Every limiter admits every call (a limit far above what the run spends), so each call
 * takes the same path. Each candidate has its own ioredis connection. Throughput is
 * measured on one hot key (where RedisStore sends concurrent calls in one script) and over
 * 64 keys (where it mostly cannot).
 * Run: `npm run bench -- redis`; with `BENCH_BEFORE=<checkout of an earlier commit>` the
 * earlier breaker runs in the same process too (see bench/lib/before.ts).
 */
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { CircuitBreaker, FixedWindow, type RateLimiter, SlidingWindow, TokenBucket } from "../src/index.js";
import { RedisStore } from "../src/redis/index.js";
import { startRedis } from "../test/setup/redis.js";
import { fork } from "node:child_process";
import { join } from "node:path";
import type { HotKeyCandidate, HotKeyReply, HotKeyRequest } from "./lib/hot-key-worker.js";
import { loadBefore } from "./lib/before.js";
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
const before = await loadBefore();
const beforeCandidates: { name: string; fn: () => unknown }[] = [];
let redisBreakerBefore: { flush(): Promise<void> } | undefined;
// Closed at the end with the others: its subscriber would keep the process alive.
let redisStoreBefore: RedisStore | undefined;
if (before !== undefined) {
  const memory = new before.core.CircuitBreaker({ name: "bench" });
  redisStoreBefore = new before.redis.RedisStore({ client: await connect(), namespace: "bench-breaker-before", logger: quiet });
  const onRedis = new before.core.CircuitBreaker({ name: "bench", store: redisStoreBefore });
  await onRedis.flush();
  redisBreakerBefore = onRedis;
  beforeCandidates.push(
    { name: `${MEMORY_BREAKER} (before)`, fn: () => memory.execute(asyncFn) },
    { name: `${REDIS_BREAKER} (before)`, fn: () => onRedis.execute(asyncFn) },
  );
}
const breakerTimings = await measure([
  { name: "bare await fn()", fn: () => asyncFn() },
  { name: MEMORY_BREAKER, fn: () => memoryBreaker.execute(asyncFn) },
  { name: REDIS_BREAKER, fn: () => redisBreaker.execute(asyncFn) },
  ...beforeCandidates,
]);
await redisBreaker.flush();
await redisBreakerBefore?.flush();
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

// ---- leases ----
// A leased limiter answers most calls in process: its latency is set against the in-memory
// limiter's (p50 of single calls, 1 in flight), and one hot key's throughput across 4
// processes against a raw PING's across the same 4.
const LEASE = { units: 1_000, maxHoldMs: 1_000 };
const leased: [string, RateLimiter][] = [
  ["breakwater TokenBucket.tryAcquire (in-memory)", new TokenBucket({ name: "mem", capacity: HUGE, ratePerSec: HUGE })],
  [
    "breakwater TokenBucket.tryAcquire (RedisStore, lease)",
    new TokenBucket({ name: "ltb", capacity: HUGE, ratePerSec: HUGE, store: await store("bench-ltb"), lease: LEASE }),
  ],
  [
    "breakwater FixedWindow.tryAcquire (RedisStore, lease)",
    new FixedWindow({ name: "lfw", limit: HUGE, windowMs: 3_600_000, store: await store("bench-lfw"), lease: LEASE }),
  ],
  ["breakwater TokenBucket.tryAcquire (RedisStore, no lease)", ours[0]?.[1] as RateLimiter],
];
const MEMORY_TB = leased[0]?.[0] as string;
const singles = [
  ...leased.map(([name, limiter]) => ({ name, fn: () => limiter.tryAcquire("single") })),
  { name: RLF, fn: () => rlf.consume("single") },
  { name: PING, fn: () => pingClient.ping() },
];
/** p50 and p99 (µs) of single awaited calls, `n` per round, rounds interleaved; the median round's. */
async function percentiles(n: number, rounds: number): Promise<Map<string, { p50: number; p99: number }>> {
  const runs = new Map<string, { p50: number; p99: number }[]>(singles.map((c) => [c.name, []]));
  for (let round = -1; round < rounds; round++) {
    for (const c of singles) {
      const samples = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const start = process.hrtime.bigint();
        await c.fn();
        samples[i] = Number(process.hrtime.bigint() - start) / 1000;
      }
      samples.sort();
      // Round -1 warms up the JIT and the connections.
      if (round >= 0) runs.get(c.name)?.push({ p50: samples[Math.floor(n / 2)] ?? NaN, p99: samples[Math.floor(n * 0.99)] ?? NaN });
    }
  }
  return new Map([...runs].map(([name, r]) => [name, { p50: mid(r.map((x) => x.p50)), p99: mid(r.map((x) => x.p99)) }]));
}
const single = await percentiles(20_000, 5);
const memoryP50 = single.get(MEMORY_TB)?.p50 ?? NaN;
console.log(
  [
    `\n### Leases: single calls, 1 in flight (5 rounds of 20,000 calls, median round; lease ${LEASE.units} units, ${LEASE.maxHoldMs} ms)`,
    "",
    "| candidate | p50 µs | p99 µs | p50 × in-memory |",
    "| --- | ---: | ---: | ---: |",
    ...[...single].map(([name, q]) => `| ${name} | ${q.p50.toFixed(2)} | ${q.p99.toFixed(2)} | ${(q.p50 / memoryP50).toFixed(2)} |`),
  ].join("\n"),
);

// One hot key, 4 processes × 64 in flight, each on its own connection.
const WORKERS = 4;
const HOT_IN_FLIGHT = 64;
const hotWorkers = await Promise.all(
  Array.from(
    { length: WORKERS },
    () =>
      new Promise<ReturnType<typeof fork>>((resolve, reject) => {
        const child = fork(join(import.meta.dirname, "lib", "hot-key-worker.ts"), [server.host, String(server.port)], {
          execArgv: ["--import", "tsx"],
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
        child.once("message", () => resolve(child));
        child.once("exit", (code) => reject(new Error(`hot-key worker exited with ${code}`)));
      }),
  ),
);
let hotRun = 0;
/** Every worker runs `candidate` together; the calls and admissions summed, over the longest span. */
async function hotKey(candidate: HotKeyCandidate, limit: number, durationMs: number): Promise<{ perSec: number; admitted: number }> {
  const request: HotKeyRequest = {
    candidate,
    limit,
    namespace: `hot${hotRun++}`,
    startAt: Date.now() + 300,
    durationMs,
    inFlight: HOT_IN_FLIGHT,
  };
  const replies = await Promise.all(
    hotWorkers.map(
      (w) =>
        new Promise<HotKeyReply>((resolve, reject) => {
          w.once("message", (reply: HotKeyReply & { error?: string }) =>
            reply.error === undefined ? resolve(reply) : reject(new Error(reply.error)),
          );
          w.send(request);
        }),
    ),
  );
  const seconds = Math.max(...replies.map((r) => r.seconds));
  return { perSec: replies.reduce((n, r) => n + r.calls, 0) / seconds, admitted: replies.reduce((n, r) => n + r.admitted, 0) };
}
const hotCandidates: [string, HotKeyCandidate][] = [
  [PING, "ping"],
  [RLF, "rlf"],
  ["breakwater TokenBucket.tryAcquire (no lease)", "tokenBucket"],
  ["breakwater TokenBucket.tryAcquire (lease)", "leasedTokenBucket"],
  ["breakwater FixedWindow.tryAcquire (lease)", "leasedFixedWindow"],
];
const hotSamples = new Map<string, number[]>(hotCandidates.map(([name]) => [name, []]));
for (let round = 0; round < 3; round++) {
  for (const [name, candidate] of hotCandidates) hotSamples.get(name)?.push((await hotKey(candidate, HUGE, 1_500)).perSec);
}
const hot = new Map([...hotSamples].map(([name, s]) => [name, mid(s)]));
const pingHot = hot.get(PING) ?? NaN;
console.log(
  [
    `\n### Leases: one hot key, ${WORKERS} processes × ${HOT_IN_FLIGHT} in flight (3 runs of 1.5 s, median)`,
    "",
    "| candidate | calls / s (all processes) | × PING |",
    "| --- | ---: | ---: |",
    ...[...hot].map(([name, ops]) => `| ${name} | ${Math.round(ops).toLocaleString("en-US")} | ${(ops / pingHot).toFixed(1)} |`),
  ].join("\n"),
);

// Over-admission: 4 processes spend a limit they reach within the run; what they admit against it.
const LIMIT = 500_000;
const admissions: string[] = [];
let overAdmitted = 0;
for (const [name, candidate] of [
  ["TokenBucket (lease)", "leasedTokenBucket"],
  ["FixedWindow (lease)", "leasedFixedWindow"],
  ["TokenBucket (no lease)", "tokenBucket"],
] as [string, HotKeyCandidate][]) {
  const { admitted } = await hotKey(candidate, LIMIT, 3_000);
  overAdmitted = Math.max(overAdmitted, admitted - LIMIT);
  admissions.push(
    `| ${name} | ${LIMIT.toLocaleString("en-US")} | ${admitted.toLocaleString("en-US")} | ${Math.max(0, admitted - LIMIT)} |`,
  );
}
console.log(
  [
    `\n### Leases: ${WORKERS} processes × ${HOT_IN_FLIGHT} in flight spend one key's limit (3 s)`,
    "",
    "| limiter | limit | admitted | over the limit |",
    "| --- | ---: | ---: | ---: |",
    ...admissions,
  ].join("\n"),
);
for (const w of hotWorkers) w.send("exit");

const leasedP50 = Math.max(...leased.slice(1, 3).map(([name]) => single.get(name)?.p50 ?? NaN)) / memoryP50;
const hotRatio =
  Math.min(hot.get("breakwater TokenBucket.tryAcquire (lease)") ?? NaN, hot.get("breakwater FixedWindow.tryAcquire (lease)") ?? NaN) /
  pingHot;
console.log(
  `\nleased tryAcquire p50 / in-memory p50 (worst of the two): ${leasedP50.toFixed(2)} (goal <= 2.0) ${leasedP50 <= 2 ? "met" : "NOT met"}`,
);
console.log(
  `leased hot key across ${WORKERS} processes / PING (worst of the two): ${hotRatio.toFixed(1)} (goal >= 10) ${hotRatio >= 10 ? "met" : "NOT met"}`,
);
console.log(`over-admission: ${overAdmitted} (goal 0) ${overAdmitted <= 0 ? "met" : "NOT met"}`);

await redisStore.close();
await redisStoreBefore?.close();
for (const [, limiter] of [...ours, ...leased.slice(0, 3)]) await (limiter as TokenBucket).close();
await across.close();
await apart.close();
for (const c of connections) c.disconnect();
await server.stop();
