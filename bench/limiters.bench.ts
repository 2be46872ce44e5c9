/**
 * Rate limiters: `tryAcquire` on an admitting key — one hot key, and 10,000 keys round-robin
 * — against rate-limiter-flexible's `RateLimiterMemory.consume`, limiter's `TokenBucket`
 * (`tryRemoveTokens`, one bucket per key in a Map) and bottleneck (`schedule`, a `Group`
 * per key); then memory per idle key against rate-limiter-flexible, and a million keys
 * going idle (the heap returns to its start).
 *
 *   npm run bench -- limiters
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Bottleneck from "bottleneck";
import { TokenBucket as LimiterBucket } from "limiter";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { FixedWindow, MemoryStore, type RateLimiter, SlidingWindow, TokenBucket } from "../src/index.js";
import { type Candidate, measure, report } from "./lib/measure.js";

/** A package's installed version, read from node_modules (limiter's `exports` hide its package.json). */
function versionOf(pkg: string): string {
  const file = fileURLToPath(new URL(`../node_modules/${pkg}/package.json`, import.meta.url));
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

const HUGE = 1e12;
const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
let cursor = 0;
const nextKey = (): string => KEYS[(cursor = (cursor + 1) % KEYS.length)] as string;

const ours = {
  tokenBucket: new TokenBucket({ ratePerSec: HUGE, capacity: HUGE }),
  fixedWindow: new FixedWindow({ limit: HUGE, windowMs: 60_000 }),
  slidingApprox: new SlidingWindow({ limit: HUGE, windowMs: 60_000, precision: "approximate" }),
  slidingExact: new SlidingWindow({ limit: HUGE, windowMs: 1_000 }),
};
const rlf = new RateLimiterMemory({ points: HUGE, duration: 60 });
const hotBucket = new LimiterBucket({ bucketSize: HUGE, tokensPerInterval: HUGE, interval: "second" });
const buckets = new Map<string, LimiterBucket>();
const bucketOf = (key: string): LimiterBucket => {
  let bucket = buckets.get(key);
  if (bucket === undefined) buckets.set(key, (bucket = new LimiterBucket({ bucketSize: HUGE, tokensPerInterval: HUGE, interval: "second" })));
  return bucket;
};
const bottleneckOptions = { reservoir: HUGE };
const hotBottleneck = new Bottleneck(bottleneckOptions);
const group = new Bottleneck.Group(bottleneckOptions);
const noop = async (): Promise<void> => undefined;

function candidates(key: () => string): Candidate[] {
  return [
    { name: "breakwater TokenBucket.tryAcquire", fn: () => ours.tokenBucket.tryAcquire(key()) },
    { name: "breakwater FixedWindow.tryAcquire", fn: () => ours.fixedWindow.tryAcquire(key()) },
    { name: 'breakwater SlidingWindow.tryAcquire ("approximate")', fn: () => ours.slidingApprox.tryAcquire(key()) },
    { name: 'breakwater SlidingWindow.tryAcquire ("exact")', fn: () => ours.slidingExact.tryAcquire(key()) },
    { name: "rate-limiter-flexible RateLimiterMemory.consume", fn: () => rlf.consume(key()) },
    { name: "limiter TokenBucket.tryRemoveTokens", fn: key === hot ? () => hotBucket.tryRemoveTokens(1) : () => bucketOf(key()).tryRemoveTokens(1) },
    { name: "bottleneck schedule", fn: key === hot ? () => hotBottleneck.schedule(noop) : () => group.key(key()).schedule(noop) },
  ];
}
const hot = (): string => "hot";

const versions = `node ${process.version}, rate-limiter-flexible ${versionOf("rate-limiter-flexible")}, limiter ${versionOf("limiter")}, bottleneck ${versionOf("bottleneck")}`;
const options = { batch: 10_000, rounds: 15 };
const hotTimings = await measure(candidates(hot), options);
report(`tryAcquire, one hot key, awaited (${versions})`, hotTimings, "breakwater TokenBucket.tryAcquire");
const spreadTimings = await measure(candidates(nextKey), options);
report(`tryAcquire, 10,000 keys round-robin, awaited (${versions})`, spreadTimings, "breakwater TokenBucket.tryAcquire");

for (const [label, timings] of [["hot key", hotTimings], ["10,000 keys", spreadTimings]] as const) {
  const ourNs = timings.get("breakwater TokenBucket.tryAcquire") ?? NaN;
  for (const peer of ["rate-limiter-flexible RateLimiterMemory.consume", "limiter TokenBucket.tryRemoveTokens", "bottleneck schedule"]) {
    console.log(`${label}: ${peer} / breakwater TokenBucket = ${((timings.get(peer) ?? NaN) / ourNs).toFixed(2)}x`);
  }
}

// Memory per idle key: each limiter's state for N keys (key strings made beforehand).
const gc = (globalThis as { gc?: () => void }).gc;
function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc?.();
  return process.memoryUsage().heapUsed;
}
async function bytesPerKey(n: number, touch: (key: string) => unknown): Promise<number> {
  const keys = Array.from({ length: n }, (_, i) => `idle-${i}`);
  const before = heapUsed();
  let last: unknown;
  for (let i = 0; i < n; i++) {
    last = touch(keys[i] as string);
    if (i % 10_000 === 0) await last;
  }
  await last;
  const after = heapUsed();
  keys.length = 0;
  return (after - before) / n;
}
if (gc === undefined) {
  console.log("\nmemory: run with --expose-gc (npm run bench does)");
} else {
  const N = 100_000;
  const fresh = (make: (store: MemoryStore) => RateLimiter): ((key: string) => unknown) => {
    const limiter = make(new MemoryStore({ maxKeys: N, sweepIntervalMs: 0 }));
    return (key) => limiter.tryAcquire(key);
  };
  const rows: [string, number][] = [
    ["breakwater TokenBucket", await bytesPerKey(N, fresh((store) => new TokenBucket({ ratePerSec: 10, capacity: 100, store })))],
    ["breakwater FixedWindow", await bytesPerKey(N, fresh((store) => new FixedWindow({ limit: 100, windowMs: 60_000, store })))],
    ['breakwater SlidingWindow ("approximate")', await bytesPerKey(N, fresh((store) => new SlidingWindow({ limit: 100, windowMs: 60_000, precision: "approximate", store })))],
    ['breakwater SlidingWindow ("exact", one admission)', await bytesPerKey(N, fresh((store) => new SlidingWindow({ limit: 100, windowMs: 60_000, store })))],
    ["rate-limiter-flexible RateLimiterMemory", await bytesPerKey(N, ((limiter) => (key: string) => limiter.consume(key))(new RateLimiterMemory({ points: 100, duration: 60 })))],
  ];
  const md = [
    `### Memory per key, ${N.toLocaleString("en")} keys each used once (${versions})`,
    "",
    "| limiter | bytes / key |",
    "| --- | ---: |",
    ...rows.map(([name, bytes]) => `| ${name} | ${bytes.toFixed(0)} |`),
  ].join("\n");
  console.log(`\n${md}\n`);
  // Shared stores prefix keys as limit:<name>:{<key>}: that string is part of each key's cost there.

  const fixture = fileURLToPath(new URL("../test/limit/fixtures/million-keys.ts", import.meta.url));
  const million = JSON.parse(execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", fixture], { encoding: "utf8" }).trim()) as Record<string, number>;
  const mb = (bytes: number | undefined): string => `${((bytes ?? NaN) / 1024 / 1024).toFixed(1)} MiB`;
  console.log(
    `1,000,000 keys through a TokenBucket: heap ${mb(million.baseBytes)} at start, ${mb(million.heldBytes)} while held (${million.bytesPerKey} B/key), ` +
      `${mb(million.afterSweepBytes)} once idle and swept (${million.dropped} keys dropped); with maxKeys 100,000 the store held ${million.boundedStoreSize} keys.`,
  );
}

await hotBottleneck.stop({ dropWaitingJobs: true });
process.exit(0);
