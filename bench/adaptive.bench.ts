/**
 * The adaptive limiter against every kind of upstream the bench models (bench/lib/adaptive-scenarios.ts:
 * token bucket, fixed window, exact sliding log, approximate sliding window, GCRA, a cap on
 * requests in flight, 503 outages, a limit that keeps changing), each without rate-limit
 * headers, with Retry-After only, and with RateLimit-* headers. 16 callers in a closed loop
 * on real HTTP on 127.0.0.1, real time; Breakwater's `ApiClient` (no rate config: it finds
 * the limit) against AWS's adaptive mode (`DefaultRateLimiter` driven by
 * `AdaptiveRetryStrategy`), each run in its own process, several at once.
 *
 *   npm run bench -- adaptive                     every model, mode and client, 5 runs each
 *   npx tsx bench/adaptive.bench.ts --models=gcra,outages --modes=none --runs=2
 *   npx tsx bench/adaptive.bench.ts --fleet       4 processes sharing one limiter through Redis, and unshared
 *   npx tsx bench/adaptive.bench.ts --write       also write bench/RESULTS.md's section and bench/charts/*.svg
 *   npx tsx bench/adaptive.bench.ts --models=concurrency --charts   redraw the charts of the models run, RESULTS.md untouched
 *
 * Options: --models, --modes, --clients (breakwater, aws-adaptive, naive), --runs (5),
 * --parallel (runs at once, 6), --fleet-models (token-bucket,sliding-window,outages), and the
 * upstreams changed as in bench/law-sim.ts: --service=95-105, --burst, --stretch, --scale, --counts-refused
 * (not with --write or --charts).
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type HeaderMode, startUpstream, type Upstream } from "../examples/lib/upstream.js";
import { type CallRecord, runWorkload } from "../examples/lib/workload.js";
import { RedisStore } from "../src/redis/index.js";
import { startRedis } from "../test/setup/redis.js";
import { type AdaptiveMeasures, checkGoals, measureRun, type Timeline } from "./lib/adaptive-goals.js";
import { durationOf, limitAt, SCENARIOS, type Scenario, scenarioNamed } from "./lib/adaptive-scenarios.js";
import { renderAdaptiveChartSvg } from "./lib/adaptive-chart.js";
import { seriesFromTimeline } from "./lib/chart-series.js";
import { type BenchClient, breakwaterClient, type ClientName, makeClient } from "./lib/clients.js";
import { shapeFromArgs } from "./lib/sim-args.js";

const here = dirname(fileURLToPath(import.meta.url));
const WORKERS = 16;
const FLEET_PROCESSES = 4;
const SAMPLE_MS = 100;
const ALL_MODES: readonly HeaderMode[] = ["none", "retry-after", "full"];
/**
 * `--service`, `--burst`, `--stretch`, `--scale`, `--counts-refused`, as in bench/law-sim.ts: the upstreams
 * changed, in real time (the real upstream has no `--window`). Each run's process is given them too.
 */
const SHAPE_ARGS = process.argv.filter((a) => /^--((service|burst|stretch|scale)=|counts-refused$)/.test(a));
const scenarioOf = (name: string): Scenario => shapeFromArgs(scenarioNamed(name));

function listArg(name: string, all: readonly string[], fallback: readonly string[] = all): string[] {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return [...fallback];
  const wanted = arg.slice(name.length + 3).split(",");
  const unknown = wanted.filter((w) => !all.includes(w));
  if (unknown.length > 0) throw new Error(`--${name}: unknown ${unknown.join(", ")}; there are ${all.join(", ")}`);
  return wanted;
}
function numberArg(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : Number(arg.slice(name.length + 3));
}

/** One run: a client against one upstream, or a fleet of processes against one upstream. */
type Job =
  | { readonly kind: "single"; readonly scenario: string; readonly mode: HeaderMode; readonly client: ClientName; readonly run: number }
  | { readonly kind: "fleet"; readonly scenario: string; readonly mode: HeaderMode; readonly shared: boolean; readonly run: number };

/** What a run sends back. */
interface RunResult {
  readonly job: Job;
  readonly measures: AdaptiveMeasures;
  readonly timeline: Timeline;
  /** `[seconds, requests/s]`: the pace the client kept (the fleet's sum for a fleet). */
  readonly paced: [number, number][];
  readonly loopLagP99Ms: number;
}

/** Samples `pace()` every 100 ms from `start` until stopped. */
function sampler(pace: () => number): { stop(): [number, number][] } {
  const t0 = performance.now();
  const points: [number, number][] = [];
  const timer = setInterval(() => points.push([(performance.now() - t0) / 1000, pace()]), SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      return points;
    },
  };
}

function upstreamFor(scenario: Scenario, mode: HeaderMode): Promise<Upstream> {
  return startUpstream({
    schedule: scenario.phases.map((p) => [p.fromMs, p.limit] as const),
    outages: scenario.outages,
    headers: mode,
    algorithm: scenario.kind,
    latencyMs: scenario.serviceMs,
    ...(scenario.shape?.burstSeconds === undefined ? {} : { burstSeconds: scenario.shape.burstSeconds }),
    countsRefused: scenario.shape?.countsRefused ?? false,
  });
}

async function runSingle(job: Extract<Job, { kind: "single" }>): Promise<RunResult> {
  const scenario = scenarioOf(job.scenario);
  const upstream = await upstreamFor(scenario, job.mode);
  const client = makeClient(job.client, upstream.url);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  upstream.start();
  const pace = sampler(() => client.pace());
  const records = await runWorkload({ workers: WORKERS, durationMs: durationOf(scenario), send: client.send });
  const paced = pace.stop();
  lag.disable();
  client.close();
  await upstream.close();
  return {
    job,
    measures: measureRun(scenario, WORKERS, upstream.timeline, records),
    timeline: upstream.timeline,
    paced,
    loopLagP99Ms: lag.percentile(99) / 1e6,
  };
}

/** A fleet process: `WORKERS / FLEET_PROCESSES` callers, sharing the limiter through Redis or not. */
interface FleetOrder {
  readonly url: string;
  readonly redisUrl: string | null;
  readonly durationMs: number;
}
interface FleetReport {
  readonly records: CallRecord[];
  readonly paced: [number, number][];
  readonly loopLagP99Ms: number;
}

async function fleetProcess(order: FleetOrder): Promise<FleetReport> {
  let store: RedisStore | undefined;
  let close = async (): Promise<void> => {};
  if (order.redisUrl !== null) {
    const { Redis } = await import("ioredis");
    const redis = new Redis(order.redisUrl, { lazyConnect: false });
    store = new RedisStore({ client: redis, namespace: "bench" });
    close = async () => {
      await store?.close();
      redis.disconnect();
    };
  }
  const client: BenchClient = breakwaterClient(order.url, store);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  const go = new Promise<void>((resolve) => process.once("message", () => resolve()));
  process.send?.("ready");
  await go;
  lag.enable();
  const pace = sampler(() => client.pace());
  const records = await runWorkload({ workers: WORKERS / FLEET_PROCESSES, durationMs: order.durationMs, send: client.send });
  const paced = pace.stop();
  lag.disable();
  client.close();
  await close();
  return { records, paced, loopLagP99Ms: lag.percentile(99) / 1e6 };
}

async function runFleet(job: Extract<Job, { kind: "fleet" }>): Promise<RunResult> {
  const scenario = scenarioOf(job.scenario);
  const upstream = await upstreamFor(scenario, job.mode);
  const redis = job.shared ? await startRedis({ ignoreEnv: false }) : undefined;
  const order: FleetOrder = { url: upstream.url, redisUrl: redis?.url ?? null, durationMs: durationOf(scenario) };
  const children: ChildProcess[] = [];
  let ready = 0;
  let allReady: () => void = () => undefined;
  const loaded = new Promise<void>((resolve) => (allReady = resolve));
  const reports = Array.from(
    { length: FLEET_PROCESSES },
    () =>
      new Promise<FleetReport>((resolve, reject) => {
        const child = fork(fileURLToPath(import.meta.url), ["--fleet-process", JSON.stringify(order)], {
          execArgv: ["--import", "tsx"],
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
        children.push(child);
        child.on("message", (m) => {
          if (m !== "ready") return resolve(m as FleetReport);
          if (++ready === FLEET_PROCESSES) allReady();
        });
        child.once("error", reject);
        child.once("exit", (code) => code !== 0 && reject(new Error(`fleet process exited with ${code}`)));
      }),
  );
  await loaded; // every process has loaded, connected and made its client
  upstream.start();
  for (const c of children) c.send("go");
  const done = await Promise.all(reports);
  await upstream.close();
  await redis?.stop();
  const records = done.flatMap((d) => d.records);
  // The fleet's pace: one process's view when shared (they share it), the sum when not.
  const paced = job.shared
    ? done[0]!.paced
    : done[0]!.paced.map(([t], i) => [t, done.reduce((sum, d) => sum + (d.paced[i]?.[1] ?? 0), 0)] as [number, number]);
  return {
    job,
    measures: measureRun(scenario, WORKERS, upstream.timeline, records),
    timeline: upstream.timeline,
    paced,
    loopLagP99Ms: Math.max(...done.map((d) => d.loopLagP99Ms)),
  };
}

function inChild<T>(args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), args, {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    proc.once("message", (m) => resolve(m as T));
    proc.once("error", reject);
    proc.once("exit", (code) => code !== 0 && reject(new Error(`${args.join(" ")} exited with ${code}`)));
  });
}

/** Runs `jobs`, `parallel` at a time, each in its own process; reports progress. */
async function runAll(jobs: readonly Job[], parallel: number): Promise<RunResult[]> {
  const results: RunResult[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      const result = await inChild<RunResult>(["--job", JSON.stringify(job), ...SHAPE_ARGS]);
      results.push(result);
      const m = result.measures;
      process.stdout.write(
        `${results.length}/${jobs.length} ${label(job)} run ${job.run}: steady ${m.steadyGoodput.map(pct).join("/")} 429 ${pct1(m.share429)} lag ${Math.round(result.loopLagP99Ms)} ms\n`,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, lane));
  return results;
}

const pct = (x: number): string => (x * 100).toFixed(0);
const pct1 = (x: number): string => `${(x * 100).toFixed(1)}%`;
const sec = (ms: number | null): string => (ms === null ? "never" : (ms / 1000).toFixed(1));
function label(job: Job): string {
  return job.kind === "single"
    ? `${job.scenario}/${job.mode}/${job.client}`
    : `fleet ${job.scenario}/${job.mode}/${job.shared ? "shared" : "unshared"}`;
}

/** The worst of a group's runs, measure by measure. */
interface Worst {
  readonly runs: number;
  readonly steady: number[];
  readonly meanOverall: number;
  readonly minOverall: number;
  readonly share429: number;
  readonly toNinety: (number | null)[];
  readonly p99Excess: number;
  readonly lag: number;
  readonly failed: number;
  readonly goals: { goal: string; met: boolean }[];
}

function worstOf(results: readonly RunResult[], headers: boolean): Worst {
  const ms = results.map((r) => r.measures);
  const first = ms[0]!;
  const toNinety = first.toNinetyMs.map((_, i) =>
    ms.some((m) => m.toNinetyMs[i] === null) ? null : Math.max(...ms.map((m) => m.toNinetyMs[i] as number)),
  );
  const worstMeasures: AdaptiveMeasures = {
    ...first,
    steadyGoodput: first.steadyGoodput.map((_, i) => Math.min(...ms.map((m) => m.steadyGoodput[i]!))),
    share429: Math.max(...ms.map((m) => m.share429)),
    toNinetyMs: toNinety,
    p99Ms: first.p99Ms.map((_, i) => Math.max(...ms.map((m) => m.p99Ms[i]!))),
  };
  return {
    runs: ms.length,
    steady: worstMeasures.steadyGoodput as number[],
    meanOverall: ms.reduce((a, m) => a + m.overallGoodput, 0) / ms.length,
    minOverall: Math.min(...ms.map((m) => m.overallGoodput)),
    share429: worstMeasures.share429,
    toNinety,
    p99Excess: Math.max(...worstMeasures.p99Ms.map((p, i) => p - worstMeasures.floorMs[i]!)),
    lag: Math.max(...results.map((r) => r.loopLagP99Ms)),
    failed: Math.max(...ms.map((m) => m.failedCalls)),
    goals: checkGoals(worstMeasures, headers),
  };
}

function tableFor(scenario: Scenario, results: readonly RunResult[], modes: readonly string[]): string {
  const lines = [
    `#### ${scenario.name}: ${scenario.about}; limits ${scenario.phases.map((p) => p.limit).join(" → ")} req/s`,
    "",
    "| headers | client | runs | steady goodput per phase (worst run) | overall goodput (mean / worst) | 429s (worst) | to 90% after each change, s (worst) | p99 over floor (worst) | goals (worst run) | loop lag p99 |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const mode of modes) {
    for (const client of ["breakwater", "aws-adaptive", "naive"]) {
      const group = results.filter(
        (r) => r.job.kind === "single" && r.job.scenario === scenario.name && r.job.mode === mode && r.job.client === client,
      );
      if (group.length === 0) continue;
      const w = worstOf(group, mode !== "none");
      const met = w.goals.filter((g) => g.met).length;
      const missed = w.goals.filter((g) => !g.met).map((g) => g.goal);
      lines.push(
        `| ${mode} | ${client} | ${w.runs} | ${w.steady.map(pct).join(" / ")} % | ${pct(w.meanOverall)} / ${pct(w.minOverall)} % | ${pct1(w.share429)} | ${w.toNinety.map(sec).join(" / ")} | ${(w.p99Excess / 1000).toFixed(1)} s | ${met}/${w.goals.length}${missed.length > 0 ? ` (missed: ${missed.join("; ")})` : ""} | ${Math.round(w.lag)} ms |`,
      );
    }
  }
  return lines.join("\n");
}

function fleetTable(results: readonly RunResult[]): string {
  const lines = [
    "| upstream | headers | limiter | runs | steady goodput per phase (worst run) | overall (mean / worst) | 429s (worst) | to 90% after each change, s (worst) | goals (worst run) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  const keys = [...new Set(results.filter((r) => r.job.kind === "fleet").map((r) => `${r.job.scenario}|${r.job.mode}`))];
  for (const key of keys) {
    const [scenario, mode] = key.split("|") as [string, string];
    for (const shared of [true, false]) {
      const group = results.filter(
        (r) => r.job.kind === "fleet" && r.job.scenario === scenario && r.job.mode === mode && r.job.shared === shared,
      );
      if (group.length === 0) continue;
      const w = worstOf(group, mode !== "none");
      const missed = w.goals.filter((g) => !g.met).map((g) => g.goal);
      lines.push(
        `| ${scenario} | ${mode} | ${shared ? "shared through Redis" : "one per process"} | ${w.runs} | ${w.steady.map(pct).join(" / ")} % | ${pct(w.meanOverall)} / ${pct(w.minOverall)} % | ${pct1(w.share429)} | ${w.toNinety.map(sec).join(" / ")} | ${w.goals.length - missed.length}/${w.goals.length}${missed.length > 0 ? ` (missed: ${missed.join("; ")})` : ""} |`,
      );
    }
  }
  return lines.join("\n");
}

/** The chart of one model: one run of Breakwater (pace, goodput, 429s, 503s) and of AWS's adaptive mode (pace). */
function chartFor(scenario: Scenario, title: string, breakwater: RunResult, aws?: RunResult): string {
  const durationMs = durationOf(scenario);
  // AWS's limiter has no pace until its first throttle: those samples are left out.
  const finite = (r: RunResult): [number, number][] => r.paced.filter(([, v]) => Number.isFinite(v));
  const m = breakwater.measures;
  return renderAdaptiveChartSvg({
    title,
    subtitle: `${scenario.about}; ${breakwater.job.mode === "none" ? "no rate-limit headers" : `${breakwater.job.mode} headers`}; run ${breakwater.job.run}: steady goodput ${m.steadyGoodput.map(pct).join(" / ")} %, ${pct1(m.share429)} 429s`,
    durationMs,
    limitAt: (ms) => limitAt(scenario, ms),
    breakwater: { rate: finite(breakwater), statuses: seriesFromTimeline(breakwater.timeline, 200, durationMs) },
    ...(aws === undefined ? {} : { aws: { rate: finite(aws) } }),
  });
}

async function main(): Promise<void> {
  const fleet = process.argv.includes("--fleet");
  if (process.argv.some((a) => a.startsWith("--window="))) throw new Error("--window: the real upstream's fixed window lasts 1 s");
  if (SHAPE_ARGS.length > 0 && (process.argv.includes("--write") || process.argv.includes("--charts"))) {
    // RESULTS.md's section and the charts describe the usual upstreams.
    throw new Error(`${SHAPE_ARGS.join(" ")}: not with --write or --charts, which report the usual upstreams`);
  }
  const models = listArg(
    "models",
    SCENARIOS.map((s) => s.name),
    fleet ? [] : SCENARIOS.map((s) => s.name),
  );
  const fleetModels = fleet
    ? listArg(
        "fleet-models",
        SCENARIOS.map((s) => s.name),
        ["token-bucket", "sliding-window", "outages"],
      )
    : [];
  const modes = listArg("modes", ALL_MODES) as HeaderMode[];
  const clients = listArg("clients", ["breakwater", "aws-adaptive", "naive"], ["breakwater", "aws-adaptive"]) as ClientName[];
  const runs = numberArg("runs", 5);
  const parallel = numberArg("parallel", 6);
  const jobs: Job[] = [];
  for (let run = 1; run <= runs; run++) {
    for (const scenario of models)
      for (const mode of modes) for (const client of clients) jobs.push({ kind: "single", scenario, mode, client, run });
    for (const scenario of fleetModels)
      for (const shared of [true, false]) jobs.push({ kind: "fleet", scenario, mode: modes[0]!, shared, run });
  }
  const started = performance.now();
  const loadBefore = loadavg()[0]!;
  process.stdout.write(`${jobs.length} runs, ${parallel} at a time\n`);
  const results = await runAll(jobs, parallel);
  const require = createRequire(import.meta.url);
  const smithy = (require("@smithy/util-retry/package.json") as { version: string }).version;
  const sections: string[] = [
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npx tsx bench/adaptive.bench.ts ${process.argv.slice(2).join(" ")}\` on Node.js ${process.version}, @smithy/util-retry ${smithy}, ${cpus().length} cores; ${((performance.now() - started) / 1000).toFixed(0)} s, ${parallel} runs at a time; load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after.`,
    `${WORKERS} callers in a closed loop on 127.0.0.1; every client retries a 429 up to 5 times. Steady goodput: the second half of each phase, outages left out. "To 90%": after the start, each change of limit and the end of each outage, the time until goodput over a trailing 500 ms first reached 90% of the limit (it cannot read below 0.5 s). p99: callers' latency (waits and retries included) of the calls that ended in a phase and met no outage, over the queueing floor (callers / limit). "Loop lag": p99 event-loop delay in the client's process; above ~20 ms the machine, not the client, limits the figures.`,
  ];
  for (const name of models) sections.push("", tableFor(scenarioOf(name), results, modes));
  if (fleetModels.length > 0)
    sections.push(
      "",
      `#### ${FLEET_PROCESSES} processes × ${WORKERS / FLEET_PROCESSES} callers against one upstream`,
      "",
      fleetTable(results),
    );
  const text = sections.join("\n");
  console.log(`\n${text}\n`);
  const writeResults = process.argv.includes("--write");
  if (writeResults || process.argv.includes("--charts")) {
    const charts = join(here, "charts");
    mkdirSync(charts, { recursive: true });
    const links: string[] = [];
    for (const name of new Set([...models, ...fleetModels])) {
      const scenario = scenarioOf(name);
      const pick = (f: (r: RunResult) => boolean): RunResult | undefined => results.filter(f).sort((a, b) => a.job.run - b.job.run)[0];
      const mode = modes[0]!;
      const bw = pick((r) => r.job.kind === "single" && r.job.scenario === name && r.job.mode === mode && r.job.client === "breakwater");
      const aws = pick((r) => r.job.kind === "single" && r.job.scenario === name && r.job.mode === mode && r.job.client === "aws-adaptive");
      if (bw !== undefined) {
        const file = `adaptive-${name}.svg`;
        writeFileSync(
          join(charts, file),
          chartFor(scenario, `${name}: Breakwater and AWS's adaptive mode against the hidden limit`, bw, aws),
        );
        links.push(`- [${name}](charts/${file})`);
      }
      const shared = pick((r) => r.job.kind === "fleet" && r.job.scenario === name && r.job.shared);
      if (shared !== undefined) {
        const file = `adaptive-fleet-${name}.svg`;
        writeFileSync(
          join(charts, file),
          chartFor(scenario, `${name}: ${FLEET_PROCESSES} processes sharing one limiter through Redis`, shared),
        );
        links.push(`- [${name}, ${FLEET_PROCESSES} processes sharing the limiter](charts/${file})`);
      }
    }
    if (!writeResults) {
      console.log(`charts written to ${charts}`);
      return;
    }
    const path = join(here, "RESULTS.md");
    const results_md = readFileSync(path, "utf8");
    const marker = fleet && models.length === 0 ? "adaptive-fleet" : "adaptive";
    const open = `<!-- section:${marker} -->`;
    const close = `<!-- /section:${marker} -->`;
    const a = results_md.indexOf(open);
    const b = results_md.indexOf(close);
    const body = `${text}\n\nCharts (the first run of each, ${modes[0]} headers):\n\n${links.join("\n")}`;
    const next =
      a < 0 || b < a
        ? `${results_md}\n${open}\n${body}\n${close}\n`
        : `${results_md.slice(0, a + open.length)}\n${body}\n${results_md.slice(b)}`;
    writeFileSync(path, next);
    console.log(`written to ${path} and ${charts}`);
  }
}

const jobArg = process.argv.indexOf("--job");
const fleetArg = process.argv.indexOf("--fleet-process");
if (jobArg > 0 && process.send !== undefined) {
  const job = JSON.parse(process.argv[jobArg + 1]!) as Job;
  (job.kind === "single" ? runSingle(job) : runFleet(job)).then(
    (result) => process.send?.(result, () => process.exit(0)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else if (fleetArg > 0 && process.send !== undefined) {
  const order = JSON.parse(process.argv[fleetArg + 1]!) as FleetOrder;
  fleetProcess(order).then(
    (report) => process.send?.(report, () => process.exit(0)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
