/**
 * Rate limiters: `tryAcquire` on an admitting key — one hot key, and 10,000 keys round-robin
 * — against rate-limiter-flexible's `RateLimiterMemory.consume`, limiter's `TokenBucket`
 * (`tryRemoveTokens`, one bucket per key in a Map) and bottleneck (`schedule`, a `Group`
 * per key); then memory per idle key against rate-limiter-flexible, and a million keys
 * going idle (the heap returns to its start).
 *
 * Each group of candidates is timed in a process of its own, so that one library's shapes
 * do not make another's call sites polymorphic (an application runs one or two limiter
 * kinds); the "mixed" groups run every candidate in one process, all four of Breakwater's
 * algorithms sharing its call sites, as the worst case.
 *
 *   npm run bench -- limiters
 *   BENCH_LIMIT=1e9 npm run bench -- limiters   # every candidate's limit (default 1e12)
 *   BENCH_PROCESSES=5 npm run bench -- limiters # processes per group (default 3)
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Bottleneck from "bottleneck";
import { TokenBucket as LimiterBucket } from "limiter";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { FixedWindow, MemoryStore, type RateLimiter, SlidingWindow, TokenBucket } from "../src/index.js";
import { type Candidate, measure, median, report, type Timings } from "./lib/measure.js";

/** A package's installed version, read from node_modules (limiter's `exports` hide its package.json). */
function versionOf(pkg: string): string {
  const file = fileURLToPath(new URL(`../node_modules/${pkg}/package.json`, import.meta.url));
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

/**
 * The limit every candidate gets: large enough that a key always admits. `BENCH_LIMIT` sets
 * another; below 2^31 (as real limits are) V8 keeps the decision's numbers as small
 * integers rather than heap numbers.
 */
const HUGE = Number(process.env.BENCH_LIMIT ?? 1e12);
const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
let cursor = 0;
const nextKey = (): string => KEYS[(cursor = (cursor + 1) % KEYS.length)] as string;
const hot = (): string => "hot";

const BARE = "bare: await an async function";
const OURS = "breakwater TokenBucket.tryAcquire";
const N = {
  fixed: "breakwater FixedWindow.tryAcquire",
  approx: 'breakwater SlidingWindow.tryAcquire ("approximate")',
  exact: 'breakwater SlidingWindow.tryAcquire ("exact")',
  rlf: "rate-limiter-flexible RateLimiterMemory.consume",
  limiter: "limiter TokenBucket.tryRemoveTokens",
  limiterKeyed: "limiter TokenBucket.tryRemoveTokens, looked up by key in a Map",
  bottleneck: "bottleneck schedule",
} as const;
const PEERS = [N.rlf, N.limiter, N.bottleneck] as const;
const bare = async (): Promise<boolean> => true;

/** Breakwater's candidates (fresh limiters, made in the process that times them). */
function ourCandidates(key: () => string, all: boolean): Candidate[] {
  const tokenBucket = new TokenBucket({ ratePerSec: HUGE, capacity: HUGE });
  const list: Candidate[] = [{ name: OURS, fn: () => tokenBucket.tryAcquire(key()) }];
  if (!all) return list;
  const fixedWindow = new FixedWindow({ limit: HUGE, windowMs: 60_000 });
  const slidingApprox = new SlidingWindow({ limit: HUGE, windowMs: 60_000, precision: "approximate" });
  const slidingExact = new SlidingWindow({ limit: HUGE, windowMs: 1_000 });
  return [
    ...list,
    { name: N.fixed, fn: () => fixedWindow.tryAcquire(key()) },
    { name: N.approx, fn: () => slidingApprox.tryAcquire(key()) },
    { name: N.exact, fn: () => slidingExact.tryAcquire(key()) },
  ];
}

/** The peers' candidates, doing the same: take one unit from `key()` now, or say no. */
function peerCandidates(key: () => string): { candidates: Candidate[]; stop: () => Promise<void> } {
  const rlf = new RateLimiterMemory({ points: HUGE, duration: 60 });
  const make = (): LimiterBucket => new LimiterBucket({ bucketSize: HUGE, tokensPerInterval: HUGE, interval: "second" });
  const hotBucket = make();
  const buckets = new Map<string, LimiterBucket>();
  const bucketOf = (k: string): LimiterBucket => {
    let bucket = buckets.get(k);
    if (bucket === undefined) buckets.set(k, (bucket = make()));
    return bucket;
  };
  const hotBottleneck = new Bottleneck({ reservoir: HUGE });
  const group = new Bottleneck.Group({ reservoir: HUGE });
  const noop = async (): Promise<void> => undefined;
  return {
    candidates: [
      { name: N.rlf, fn: () => rlf.consume(key()) },
      { name: N.limiter, fn: key === hot ? () => hotBucket.tryRemoveTokens(1) : () => bucketOf(key()).tryRemoveTokens(1) },
      // The same with the per-key lookup every keyed limiter does (a Map of buckets), on the hot key too.
      ...(key === hot ? [{ name: N.limiterKeyed, fn: () => bucketOf(key()).tryRemoveTokens(1) }] : []),
      // bottleneck waits on timers inside every schedule (about 5 ms a call here): fewer calls per sample.
      { name: N.bottleneck, fn: key === hot ? () => hotBottleneck.schedule(noop) : () => group.key(key()).schedule(noop), batch: 50 },
    ],
    stop: async () => {
      await hotBottleneck.stop({ dropWaitingJobs: true });
      await Promise.all(group.limiters().map(({ limiter }) => limiter.stop({ dropWaitingJobs: true })));
    },
  };
}

/** Each group: a title and how to build its candidates. */
const GROUPS: Record<string, { readonly title: string; readonly make: () => { candidates: Candidate[]; stop?: () => Promise<void> } }> = {};
for (const [path, key] of [["one hot key", hot], ["10,000 keys round-robin", nextKey]] as const) {
  const tag = key === hot ? "hot" : "spread";
  const baseline: Candidate = { name: BARE, fn: () => bare() };
  GROUPS[`peers-${tag}`] = {
    title: `tryAcquire vs peers, ${path} (each group in its own process)`,
    make: () => {
      const peers = peerCandidates(key);
      return { candidates: [baseline, ...ourCandidates(key, false), ...peers.candidates], stop: peers.stop };
    },
  };
  GROUPS[`algorithms-${tag}`] = {
    title: `Breakwater's algorithms, ${path} (their own process)`,
    make: () => ({ candidates: [baseline, ...ourCandidates(key, true)] }),
  };
  GROUPS[`mixed-${tag}`] = {
    title: `mixed: every candidate in one process, ${path}`,
    make: () => {
      const peers = peerCandidates(key);
      return { candidates: [baseline, ...ourCandidates(key, true), ...peers.candidates], stop: peers.stop };
    },
  };
}

const options = { batch: 10_000, rounds: 21, gc: true };
const child = process.argv[2];
if (child !== undefined) {
  // A child: time one group and hand the timings back as JSON on the last line.
  const group = GROUPS[child];
  if (group === undefined) throw new Error(`unknown group ${child}`);
  const { candidates, stop } = group.make();
  const timings = await measure(candidates, options);
  await stop?.();
  console.log(JSON.stringify([...timings]));
  process.exit(0);
}

const versions = `node ${process.version}, rate-limiter-flexible ${versionOf("rate-limiter-flexible")}, limiter ${versionOf("limiter")}, bottleneck ${versionOf("bottleneck")}`;
console.log(`${versions}; every candidate's limit ${HUGE.toExponential()}`);
/**
 * Each group runs in this many fresh processes. One process is one sample of how V8 lays
 * out its heap and compiles the call sites, and single processes differ by ±20 % here: the
 * tables show each candidate's median over the processes, the ratios the median of the
 * per-process ratios and their range.
 */
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 3);
const results = new Map<string, Timings[]>();
for (const [name, group] of Object.entries(GROUPS)) {
  const runs: Timings[] = [];
  for (let i = 0; i < PROCESSES; i++) {
    const run = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), name], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(`group ${name} failed: ${run.stderr}`);
    runs.push(new Map(JSON.parse(run.stdout.trim().split("\n").pop() ?? "[]") as [string, number][]));
  }
  results.set(name, runs);
  const candidates = [...(runs[0]?.keys() ?? [])];
  report(`${group.title}, median of ${PROCESSES} processes`, new Map(candidates.map((c) => [c, median(runs.map((t) => t.get(c) ?? NaN))])), BARE);
}

console.log(`peer ns / breakwater TokenBucket ns, median of ${PROCESSES} processes (range) (> 1: Breakwater is faster; goal: > 1 for every peer on both paths)`);
for (const tag of ["hot", "spread"]) {
  for (const where of ["peers", "mixed"]) {
    const runs = results.get(`${where}-${tag}`) ?? [];
    const peers = tag === "hot" ? [...PEERS, N.limiterKeyed] : PEERS;
    const ratios = peers.map((peer) => {
      const each = runs.map((t) => (t.get(peer) ?? NaN) / (t.get(OURS) ?? NaN));
      const range = `${Math.min(...each).toFixed(2)}–${Math.max(...each).toFixed(2)}`;
      return `${peer === N.limiterKeyed ? "limiter (keyed)" : peer.split(" ")[0]} ${median(each).toFixed(2)}x (${range})`;
    });
    console.log(`  ${tag === "hot" ? "one hot key" : "10,000 keys"}, ${where === "peers" ? "own process" : "mixed process"}: ${ratios.join(", ")}`);
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
  const COUNT = 100_000;
  const fresh = (make: (store: MemoryStore) => RateLimiter): ((key: string) => unknown) => {
    const limiter = make(new MemoryStore({ maxKeys: COUNT, sweepIntervalMs: 0 }));
    return (key) => limiter.tryAcquire(key);
  };
  const rows: [string, number][] = [
    ["breakwater TokenBucket", await bytesPerKey(COUNT, fresh((store) => new TokenBucket({ ratePerSec: 10, capacity: 100, store })))],
    ["breakwater FixedWindow", await bytesPerKey(COUNT, fresh((store) => new FixedWindow({ limit: 100, windowMs: 60_000, store })))],
    ['breakwater SlidingWindow ("approximate")', await bytesPerKey(COUNT, fresh((store) => new SlidingWindow({ limit: 100, windowMs: 60_000, precision: "approximate", store })))],
    ['breakwater SlidingWindow ("exact", one admission)', await bytesPerKey(COUNT, fresh((store) => new SlidingWindow({ limit: 100, windowMs: 60_000, store })))],
    ["rate-limiter-flexible RateLimiterMemory", await bytesPerKey(COUNT, ((limiter) => (key: string) => limiter.consume(key))(new RateLimiterMemory({ points: 100, duration: 60 })))],
  ];
  const md = [
    `### Memory per key, ${COUNT.toLocaleString("en")} keys each used once (${versions})`,
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

process.exit(0);
