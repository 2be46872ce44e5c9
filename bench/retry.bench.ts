/**
 * The first-attempt-success hot path of retry and of composed stacks: what wrapping a call
 * costs, against a bare `await fn()`, cockatiel (`retry`, `wrap(retry, circuitBreaker)`,
 * `wrap(retry, circuitBreaker, timeout)`) and p-retry.
 *
 * Each group of like-for-like candidates runs in a process of its own, so that one
 * library's shapes do not make another's call sites polymorphic; a last "mixed" group runs
 * every candidate in one process, as an application with many stacks would. A full GC
 * runs before every sample (see `measureEach`).
 * Run: `npm run bench -- retry`.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleAll,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  TimeoutStrategy,
  wrap,
} from "cockatiel";
import pRetry from "p-retry";
import { CircuitBreaker, pipeline, retry, RetryPolicy, timeout } from "../src/index.js";
import { type Candidate, report, type Timings } from "./lib/measure.js";

const asyncFn = async (): Promise<number> => 1;
/** A callee that takes the signal, as `fetch(url, { signal })` would: it makes a lazy signal real. */
const signalFn = async ({ signal }: { signal?: AbortSignal | undefined }): Promise<number> => (signal === undefined ? 0 : 1);

// Same shape on both sides: 3 attempts in all, exponential backoff, 5 failures in a row
// open the circuit, a 10 s cooperative timeout per attempt.
const cRetry = (): ReturnType<typeof cockatielRetry> => cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() });
const cBreaker = (): ReturnType<typeof circuitBreaker> =>
  circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) });
const cTimeout = (): ReturnType<typeof cockatielTimeout> => cockatielTimeout(10_000, TimeoutStrategy.Cooperative);

const BARE = "bare await fn()";
const N = {
  retryFn: "breakwater retry(fn)",
  retryPolicy: "breakwater RetryPolicy.execute",
  cockatielRetry: "cockatiel retry.execute",
  pRetry: "p-retry pRetry(fn, { retries: 2 })",
  ours2: "breakwater pipeline(retry, breaker)",
  theirs2: "cockatiel wrap(retry, circuitBreaker)",
  ours3: "breakwater pipeline(retry, breaker, timeout)",
  theirs3: "cockatiel wrap(retry, circuitBreaker, timeout)",
  ours3signal: "breakwater pipeline(retry, breaker, timeout), fn reads signal",
  theirs3signal: "cockatiel wrap(retry, circuitBreaker, timeout), fn reads signal",
} as const;

/** Builds the candidates of a group (fresh policies, in the process that times them). */
const GROUPS: Record<string, () => Candidate[]> = {
  retry: () => {
    const policy = new RetryPolicy({ maxAttempts: 3 });
    const theirs = cRetry();
    return [
      { name: BARE, fn: () => asyncFn() },
      { name: N.retryFn, fn: () => retry(asyncFn) },
      { name: N.retryPolicy, fn: () => policy.execute(asyncFn) },
      { name: N.cockatielRetry, fn: () => theirs.execute(asyncFn) },
    ];
  },
  "p-retry": () => [
    { name: BARE, fn: () => asyncFn() },
    { name: N.retryFn, fn: () => retry(asyncFn) },
    { name: N.pRetry, fn: () => pRetry(asyncFn, { retries: 2 }) },
  ],
  "retry+breaker": () => {
    const ours = pipeline(new RetryPolicy({ maxAttempts: 3 }), new CircuitBreaker({ name: "rb" }));
    const theirs = wrap(cRetry(), cBreaker());
    return [
      { name: BARE, fn: () => asyncFn() },
      { name: N.ours2, fn: () => ours.execute(asyncFn) },
      { name: N.theirs2, fn: () => theirs.execute(asyncFn) },
    ];
  },
  "retry+breaker+timeout": () => {
    const ours = pipeline(new RetryPolicy({ maxAttempts: 3 }), new CircuitBreaker({ name: "rbt" }), timeout(10_000));
    const theirs = wrap(cRetry(), cBreaker(), cTimeout());
    return [
      { name: BARE, fn: () => asyncFn() },
      { name: N.ours3, fn: () => ours.execute(asyncFn) },
      { name: N.theirs3, fn: () => theirs.execute(asyncFn) },
      { name: N.ours3signal, fn: () => ours.execute(signalFn) },
      { name: N.theirs3signal, fn: () => theirs.execute(signalFn) },
    ];
  },
};
const separate = Object.values(GROUPS);
GROUPS["mixed"] = () => {
  const all = separate.flatMap((make) => make());
  return all.filter((c, i) => all.findIndex((d) => d.name === c.name) === i);
};

const group = process.argv[2];
if (group !== undefined) {
  // A child: time one group and hand the timings back as JSON.
  const make = GROUPS[group];
  if (make === undefined) throw new Error(`unknown group ${group}`);
  const timings = await measureEach(make());
  console.log(JSON.stringify([...timings]));
} else {
  const results = new Map<string, Timings>();
  for (const name of Object.keys(GROUPS)) {
    const child = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), name], {
      encoding: "utf8",
    });
    if (child.status !== 0) throw new Error(`group ${name} failed: ${child.stderr}`);
    const timings: Timings = new Map(JSON.parse(child.stdout.trim().split("\n").pop() ?? "[]") as [string, number][]);
    results.set(name, timings);
    report(`${name} (its own process)`.replace("mixed (its own process)", "mixed: every candidate in one process"), timings, BARE);
  }
  const versions = `node ${process.version}, cockatiel ${installed("cockatiel")}, p-retry ${installed("p-retry")}`;
  console.log(versions);
  const line = (label: string, where: string, ours: string, theirs: string, goal = ""): void => {
    const isolated = ratio(results.get(where), ours, theirs);
    const mixed = ratio(results.get("mixed"), ours, theirs);
    console.log(`${label.padEnd(58)} ${isolated} (mixed: ${mixed})${goal}`);
  };
  line("pipeline(retry, breaker, timeout) overhead / cockatiel's:", "retry+breaker+timeout", N.ours3, N.theirs3, "  goal <= 0.5");
  line("  ... when fn reads the signal:", "retry+breaker+timeout", N.ours3signal, N.theirs3signal);
  line("pipeline(retry, breaker) overhead / cockatiel's:", "retry+breaker", N.ours2, N.theirs2);
  line("retry(fn) overhead / cockatiel retry:", "retry", N.retryFn, N.cockatielRetry);
  line("retry(fn) overhead / p-retry:", "p-retry", N.retryFn, N.pRetry);
  const rb = results.get("retry+breaker");
  console.log(
    `cockatiel wrap(retry, circuitBreaker) adds ${times(rb, N.theirs2)}× a bare call; pipeline(retry, breaker) adds ${times(rb, N.ours2)}×`,
  );
}

/**
 * Like `measure` in ./lib/measure.ts (batches of awaited calls, candidates interleaved
 * round by round, the median sample), but with a full GC before every sample, so that the
 * garbage one candidate leaves (p-retry's and cockatiel's timeouts leave a lot) is not
 * collected during the next one's sample; then 1,000 untimed calls re-warm the candidate.
 */
async function measureEach(candidates: readonly Candidate[], batch = 20_000, rounds = 15): Promise<Timings> {
  const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => {});
  const samples = new Map<string, number[]>(candidates.map((c) => [c.name, []]));
  for (const c of candidates) await runBatch(c.fn, batch);
  for (let round = 0; round < rounds; round++) {
    for (const c of candidates) {
      gc();
      await runBatch(c.fn, 1_000); // re-warm what the collection may have flushed
      const start = process.hrtime.bigint();
      await runBatch(c.fn, batch);
      samples.get(c.name)?.push(Number(process.hrtime.bigint() - start) / batch);
    }
  }
  return new Map([...samples].map(([name, s]) => [name, [...s].sort((a, b) => a - b)[Math.floor(s.length / 2)] ?? NaN]));
}

async function runBatch(fn: () => unknown, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await fn();
}

function overhead(t: Timings | undefined, name: string): number {
  return (t?.get(name) ?? NaN) - (t?.get(BARE) ?? NaN);
}

function ratio(t: Timings | undefined, ours: string, theirs: string): string {
  return (overhead(t, ours) / overhead(t, theirs)).toFixed(2);
}

function times(t: Timings | undefined, name: string): string {
  return (overhead(t, name) / (t?.get(BARE) ?? NaN)).toFixed(1);
}

/** A package's installed version, read from its package.json on disk (p-retry's `exports` hides it from `require`). */
function installed(pkg: string): string {
  const url = new URL(`../node_modules/${pkg}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
}
