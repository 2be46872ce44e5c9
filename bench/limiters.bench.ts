/**
 * Rate limiters: `tryAcquire` on an admitting key — one hot key, and 10,000 keys round-robin
 * — against rate-limiter-flexible's `RateLimiterMemory.consume`, limiter's `TokenBucket`
 * (`tryRemoveTokens`, one bucket per key in a Map) and bottleneck (`schedule`, a `Group`
 * per key); then memory per idle key against rate-limiter-flexible, and a million keys
 * going idle (the heap returns to its start).
 *
 * Each group of candidates is timed in processes of its own. The headline groups time
 * Breakwater's TokenBucket with one peer at a time, as an application uses one limiter
 * library: another library's objects, garbage and timers in the same heap, and its shapes at
 * the shared timing loop's call sites, slow the candidates unevenly (measured: by 10 % and
 * more). The "peers" groups time every peer in one process, and the "mixed" groups add
 * Breakwater's other three algorithms, sharing its call sites, as the worst case.
 *
 *   npm run bench -- limiters
 *   BENCH_LIMIT=1e12 npm run bench -- limiters  # every candidate's limit (default 1e9)
 *   BENCH_PROCESSES=9 npm run bench -- limiters # processes per group (default 5; odd, so a median is a process's)
 *   BENCH_GROUPS=limiter-hot,limiter-spread npm run bench -- limiters  # only these groups, no memory part
 *   BENCH_GROUPS=adaptive BENCH_BEFORE=<checkout> npm run bench -- limiters  # the adaptive limiter's acquire, before and after a change
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Bottleneck from "bottleneck";
import { TokenBucket as LimiterBucket } from "limiter";
import { RateLimiterMemory } from "rate-limiter-flexible";
import * as core from "../src/index.js";
import { FixedWindow, MemoryStore, type RateLimiter, SlidingWindow, type Store, TokenBucket } from "../src/index.js";
import { type Before, loadBefore } from "./lib/before.js";
import { type Candidate, measure, median, report, type Timings } from "./lib/measure.js";

/** A package's installed version, read from node_modules (limiter's `exports` hide its package.json). */
function versionOf(pkg: string): string {
  const file = fileURLToPath(new URL(`../node_modules/${pkg}/package.json`, import.meta.url));
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

/**
 * The limit every candidate gets: large enough that a key always admits, and below 2^31 as
 * every real limit is, so V8 keeps a decision's numbers as small integers. `BENCH_LIMIT`
 * sets another.
 */
const HUGE = Number(process.env.BENCH_LIMIT ?? 1e9);
/**
 * The hot key is timed once more with a limit above 2^31: V8 then allocates a heap number
 * for each of the decision's large fields (`remaining`, `limit`) on every call, a cost a
 * limiter answering a boolean does not pay.
 */
const BOXED = 1e12;
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
function ourCandidates(key: () => string, all: boolean, limit: number): Candidate[] {
  const tokenBucket = new TokenBucket({ ratePerSec: limit, capacity: limit });
  const list: Candidate[] = [{ name: OURS, fn: () => tokenBucket.tryAcquire(key()) }];
  if (!all) return list;
  const fixedWindow = new FixedWindow({ limit, windowMs: 60_000 });
  const slidingApprox = new SlidingWindow({ limit, windowMs: 60_000, precision: "approximate" });
  const slidingExact = new SlidingWindow({ limit, windowMs: 1_000 });
  return [
    ...list,
    { name: N.fixed, fn: () => fixedWindow.tryAcquire(key()) },
    { name: N.approx, fn: () => slidingApprox.tryAcquire(key()) },
    { name: N.exact, fn: () => slidingExact.tryAcquire(key()) },
  ];
}

/** A peer's candidates, made in the process that times them, and how to stop the peer. */
interface PeerSet {
  readonly candidates: Candidate[];
  readonly stop?: () => Promise<void>;
}

/** The peers, by the names groups use. */
const PEER_NAMES = ["rlf", "limiter", "bottleneck"] as const;
type PeerName = (typeof PEER_NAMES)[number];

/**
 * Each peer's candidates, doing the same: take one unit from `key()` now, or say no. Only
 * the peers a group names are made, so a group's heap holds no other library's state.
 */
const PEER_SETS: Record<PeerName, (key: () => string, limit: number) => PeerSet> = {
  rlf: (key, limit) => {
    const rlf = new RateLimiterMemory({ points: limit, duration: 60 });
    return { candidates: [{ name: N.rlf, fn: () => rlf.consume(key()) }] };
  },
  limiter: (key, limit) => {
    const make = (): LimiterBucket => new LimiterBucket({ bucketSize: limit, tokensPerInterval: limit, interval: "second" });
    const hotBucket = make();
    const buckets = new Map<string, LimiterBucket>();
    const bucketOf = (k: string): LimiterBucket => {
      let bucket = buckets.get(k);
      if (bucket === undefined) buckets.set(k, (bucket = make()));
      return bucket;
    };
    return {
      candidates: [
        { name: N.limiter, fn: key === hot ? () => hotBucket.tryRemoveTokens(1) : () => bucketOf(key()).tryRemoveTokens(1) },
        // The same with the per-key lookup every keyed limiter does (a Map of buckets), on the hot key too.
        ...(key === hot ? [{ name: N.limiterKeyed, fn: () => bucketOf(key()).tryRemoveTokens(1) }] : []),
      ],
    };
  },
  bottleneck: (key, limit) => {
    const hotBottleneck = new Bottleneck({ reservoir: limit });
    const group = new Bottleneck.Group({ reservoir: limit });
    const noop = async (): Promise<void> => undefined;
    return {
      // bottleneck waits on timers inside every schedule (about 5 ms a call here): fewer calls per sample.
      candidates: [
        { name: N.bottleneck, fn: key === hot ? () => hotBottleneck.schedule(noop) : () => group.key(key()).schedule(noop), batch: 50 },
      ],
      stop: async () => {
        await hotBottleneck.stop({ dropWaitingJobs: true });
        await Promise.all(group.limiters().map(({ limiter }) => limiter.stop({ dropWaitingJobs: true })));
      },
    };
  },
};

const baseline: Candidate = { name: BARE, fn: () => bare() };

/**
 * The adaptive limiter's `acquire` and `release` of the permit, at a pace that always admits:
 * on its in-memory fast path, and through its wait queue (a store answering with a promise,
 * as a remote one does, so every call queues). `label` names the code (" (before)").
 */
function adaptiveCandidates(lib: Before["core"], label: string): Candidate[] {
  const pace = { initialRatePerSec: HUGE, maxRatePerSec: HUGE, burst: HUGE };
  const memory = new lib.AdaptiveRateLimiter(pace);
  const inner = new lib.MemoryStore({ sweepIntervalMs: 0 });
  const promising: Store = {
    name: "promising",
    synchronous: false,
    apply: (decision, key, input, now) => Promise.resolve(inner.apply(decision, key, input, now)),
    bind: (decision, key) => inner.bind(decision, key),
    read: (decision, key) => inner.read(decision, key),
    delete: (key) => inner.delete(key),
    close: () => inner.close(),
  };
  const queued = new lib.AdaptiveRateLimiter({ ...pace, store: promising });
  return [
    { name: `breakwater AdaptiveRateLimiter.acquire + release${label}`, fn: () => memory.acquire().then((p) => memory.release(p)) },
    {
      name: `breakwater AdaptiveRateLimiter.acquire + release, queued (promise store)${label}`,
      fn: () => queued.acquire().then((p) => queued.release(p)),
    },
  ];
}

/** A group's candidates: the bare await, Breakwater's (`all` four algorithms or the TokenBucket), and the named peers'. */
function versus(key: () => string, limit: number, all: boolean, names: readonly PeerName[]): PeerSet {
  const sets = names.map((name) => PEER_SETS[name](key, limit));
  return {
    candidates: [baseline, ...ourCandidates(key, all, limit), ...sets.flatMap((set) => set.candidates)],
    stop: async () => {
      for (const set of sets) await set.stop?.();
    },
  };
}

/** Each group: a title and how to build its candidates. */
const GROUPS: Record<string, { readonly title: string; readonly make: () => PeerSet }> = {};
for (const [path, key] of [
  ["one hot key", hot],
  ["10,000 keys round-robin", nextKey],
] as const) {
  const tag = key === hot ? "hot" : "spread";
  GROUPS[`peers-${tag}`] = {
    title: `tryAcquire vs every peer, ${path} (all in one process)`,
    make: () => versus(key, HUGE, false, PEER_NAMES),
  };
  for (const peer of PEER_NAMES) {
    GROUPS[`${peer}-${tag}`] = {
      title: `tryAcquire vs ${peer}, ${path} (the two alone in a process)`,
      make: () => versus(key, HUGE, false, [peer]),
    };
  }
  if (key === hot && HUGE < 2 ** 31) {
    GROUPS["limiter-hot-boxed"] = {
      title: `tryAcquire vs limiter, one hot key, both limits ${BOXED.toExponential()} (the two alone in a process)`,
      make: () => versus(key, BOXED, false, ["limiter"]),
    };
  }
  GROUPS[`algorithms-${tag}`] = {
    title: `Breakwater's algorithms, ${path} (their own process)`,
    make: () => versus(key, HUGE, true, []),
  };
  GROUPS[`mixed-${tag}`] = {
    title: `mixed: every candidate in one process, ${path}`,
    make: () => versus(key, HUGE, true, PEER_NAMES),
  };
}

GROUPS.adaptive = {
  title: "AdaptiveRateLimiter.acquire + release, with BENCH_BEFORE's too (their own process)",
  make: () => {
    const earlier = before === undefined ? [] : adaptiveCandidates(before.core, " (before)");
    return { candidates: [baseline, ...adaptiveCandidates(core, ""), ...earlier] };
  },
};

const options = { batch: 10_000, rounds: 21, gc: true };
const child = process.argv[2];
const before = child === "adaptive" ? await loadBefore() : undefined;
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
console.log(
  `${versions}; every candidate's limit ${HUGE.toExponential()}${GROUPS["limiter-hot-boxed"] !== undefined ? ` (${BOXED.toExponential()} in the "boxed" group)` : ""}`,
);
/**
 * Each group runs in this many fresh processes. One process is one sample of how V8 lays
 * out its heap and compiles the call sites, and single processes differ by ±20 % here: the
 * tables show each candidate's median over the processes; the ratios are the median of the
 * per-process ratios (each process compares the libraries under the same conditions), their
 * range, and in how many processes Breakwater was the faster.
 */
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 5);
const results = new Map<string, Timings[]>();
const only = process.env.BENCH_GROUPS?.split(",").map((name) => name.trim());
const unknown = only?.filter((name) => GROUPS[name] === undefined) ?? [];
if (unknown.length > 0)
  throw new Error(`BENCH_GROUPS: unknown group(s) ${unknown.join(", ")}; the groups are ${Object.keys(GROUPS).join(", ")}`);
for (const [name, group] of Object.entries(GROUPS)) {
  if (only !== undefined && !only.includes(name)) continue;
  const runs: Timings[] = [];
  for (let i = 0; i < PROCESSES; i++) {
    const run = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), name], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(`group ${name} failed: ${run.stderr}`);
    runs.push(new Map(JSON.parse(run.stdout.trim().split("\n").pop() ?? "[]") as [string, number][]));
  }
  results.set(name, runs);
  const candidates = [...(runs[0]?.keys() ?? [])];
  report(
    `${group.title}, median of ${PROCESSES} processes`,
    new Map(candidates.map((c) => [c, median(runs.map((t) => t.get(c) ?? NaN))])),
    BARE,
  );
}

console.log(
  `peer ns / breakwater TokenBucket ns, median of ${PROCESSES} processes (range; in how many processes Breakwater was faster) (> 1: Breakwater is faster; goal: > 1 for every peer on both paths)`,
);
/** The ratio of `peer` to Breakwater's TokenBucket in `group`: median (range; processes where Breakwater was faster); undefined when the group did not run. */
function ratio(group: string, peer: string): string | undefined {
  const runs = results.get(group);
  if (runs === undefined) return undefined;
  const each = runs.map((t) => (t.get(peer) ?? NaN) / (t.get(OURS) ?? NaN));
  const name = peer === N.limiterKeyed ? "limiter (keyed)" : (peer.split(" ")[0] as string);
  return `${name} ${median(each).toFixed(2)}x (${Math.min(...each).toFixed(2)}–${Math.max(...each).toFixed(2)}; ${each.filter((r) => r > 1).length}/${each.length})`;
}
/** Prints one summary line of the ratios that were measured. */
function summary(label: string, ratios: (string | undefined)[]): void {
  const measured = ratios.filter((r) => r !== undefined);
  if (measured.length > 0) console.log(`  ${label}: ${measured.join(", ")}`);
}
for (const tag of ["hot", "spread"] as const) {
  const path = tag === "hot" ? "one hot key" : "10,000 keys";
  const limiterPeers = tag === "hot" ? [N.limiter, N.limiterKeyed] : [N.limiter];
  summary(`${path}, each peer alone with Breakwater`, [
    ...limiterPeers.map((p) => ratio(`limiter-${tag}`, p)),
    ratio(`rlf-${tag}`, N.rlf),
    ratio(`bottleneck-${tag}`, N.bottleneck),
  ]);
  if (tag === "hot")
    summary(
      `${path}, limits ${BOXED.toExponential()}, limiter alone with Breakwater`,
      limiterPeers.map((p) => ratio("limiter-hot-boxed", p)),
    );
  for (const [group, where] of [
    [`peers-${tag}`, "all peers in one process"],
    [`mixed-${tag}`, "mixed process (also Breakwater's other algorithms)"],
  ] as const) {
    summary(
      `${path}, ${where}`,
      [...PEERS, ...(tag === "hot" ? [N.limiterKeyed] : [])].map((p) => ratio(group, p)),
    );
  }
}
if (only !== undefined) process.exit(0);

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
    [
      "breakwater TokenBucket",
      await bytesPerKey(
        COUNT,
        fresh((store) => new TokenBucket({ ratePerSec: 10, capacity: 100, store })),
      ),
    ],
    [
      "breakwater FixedWindow",
      await bytesPerKey(
        COUNT,
        fresh((store) => new FixedWindow({ limit: 100, windowMs: 60_000, store })),
      ),
    ],
    [
      'breakwater SlidingWindow ("approximate")',
      await bytesPerKey(
        COUNT,
        fresh((store) => new SlidingWindow({ limit: 100, windowMs: 60_000, precision: "approximate", store })),
      ),
    ],
    [
      'breakwater SlidingWindow ("exact", one admission)',
      await bytesPerKey(
        COUNT,
        fresh((store) => new SlidingWindow({ limit: 100, windowMs: 60_000, store })),
      ),
    ],
    [
      "rate-limiter-flexible RateLimiterMemory",
      await bytesPerKey(
        COUNT,
        (
          (limiter) => (key: string) =>
            limiter.consume(key)
        )(new RateLimiterMemory({ points: 100, duration: 60 })),
      ),
    ],
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
  const million = JSON.parse(
    execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", fixture], { encoding: "utf8" }).trim(),
  ) as Record<string, number>;
  const mb = (bytes: number | undefined): string => `${((bytes ?? NaN) / 1024 / 1024).toFixed(1)} MiB`;
  console.log(
    `1,000,000 keys through a TokenBucket: heap ${mb(million.baseBytes)} at start, ${mb(million.heldBytes)} while held (${million.bytesPerKey} B/key), ` +
      `${mb(million.afterSweepBytes)} once idle and swept (${million.dropped} keys dropped); with maxKeys 100,000 the store held ${million.boundedStoreSize} keys.`,
  );
}

process.exit(0);
