/**
 * Adaptive limiting on a local upstream whose hidden limit goes 50 -> 20 -> 80 requests/s
 * (10 s each), with 16 callers in a closed loop: Breakwater's `ApiClient` (no rate
 * config: it finds the limit), AWS's adaptive mode (`DefaultRateLimiter` driven by
 * `AdaptiveRetryStrategy`, @smithy/util-retry) and a naive client that retries after
 * `Retry-After`. Three header modes: bare 429s, 429 + Retry-After, and full rate-limit
 * headers. Each (client, mode) runs in its own process on its own upstream, one after
 * another: the naive client keeps a core busy with its flood of retries, and running it
 * beside the others (on a 2-core machine) starved their timers and cut their goodput by
 * up to a fifth. So a full run takes 9 x 30 s.
 *
 *   npm run bench -- adaptive            print the results
 *   npx tsx bench/adaptive.bench.ts --write   also write them into bench/RESULTS.md
 *   npx tsx bench/adaptive.bench.ts --modes=none,full --clients=breakwater   only these
 */
import { fork } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type HeaderMode, startUpstream } from "../examples/lib/upstream.js";
import { runWorkload } from "../examples/lib/workload.js";
import { type ClientName, makeClient } from "./lib/clients.js";
import { measure, type Phase, RISE_WINDOW_MS, type RunMeasures } from "./lib/adaptive-measure.js";

const PHASES: readonly Phase[] = [
  { limit: 50, fromMs: 0, toMs: 10_000 },
  { limit: 20, fromMs: 10_000, toMs: 20_000 },
  { limit: 80, fromMs: 20_000, toMs: 30_000 },
];
const WORKERS = 16;
const CLIENTS: readonly ClientName[] = ["breakwater", "aws-adaptive", "naive"];
const ALL_MODES: readonly HeaderMode[] = ["none", "retry-after", "full"];
const modesArg = process.argv.find((a) => a.startsWith("--modes="));
const MODES: readonly HeaderMode[] =
  modesArg === undefined ? ALL_MODES : ALL_MODES.filter((m) => modesArg.slice("--modes=".length).split(",").includes(m));
const clientsArg = process.argv.find((a) => a.startsWith("--clients="));
const RUN_CLIENTS: readonly ClientName[] =
  clientsArg === undefined ? CLIENTS : CLIENTS.filter((c) => clientsArg.slice("--clients=".length).split(",").includes(c));

interface Job {
  readonly client: ClientName;
  readonly mode: HeaderMode;
}

/** A run's measures, and how late the child's event loop ran (a busy machine shows here first). */
type ChildResult = RunMeasures & { readonly loopDelayP99Ms: number };

async function child(job: Job): Promise<ChildResult> {
  const upstream = await startUpstream({ schedule: PHASES.map((p) => [p.fromMs, p.limit] as const), headers: job.mode });
  const send = makeClient(job.client, upstream.url);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  upstream.start();
  const records = await runWorkload({ workers: WORKERS, durationMs: PHASES[PHASES.length - 1]!.toMs, send });
  lag.disable();
  const result = measure(upstream, PHASES, records);
  await upstream.close();
  return { ...result, loopDelayP99Ms: lag.percentile(99) / 1e6 };
}

function runInChild(job: Job): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), [JSON.stringify(job)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    proc.once("message", (m) => resolve(m as ChildResult));
    proc.once("error", reject);
    proc.once("exit", (code) => code !== 0 && reject(new Error(`${job.client}/${job.mode} exited with ${code}`)));
  });
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const ms = (x: number | null): string => (x === null ? "never" : `${(x / 1000).toFixed(1)} s`);

function table(results: Map<string, ChildResult>): string {
  const lines = [
    "| headers | client | goodput 50 / 20 / 80 (steady) | mean | 429s (all / steady) | back >= 90% after rise | p50 | p99 | requests | failed calls | loop lag p99 |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const mode of MODES) {
    for (const client of CLIENTS) {
      const r = results.get(`${client}/${mode}`);
      if (r === undefined) continue;
      lines.push(
        `| ${mode} | ${client} | ${r.steadyGoodput.map(pct).join(" / ")} | ${pct(r.meanSteadyGoodput)} | ${pct(r.share429)} / ${pct(r.steadyShare429)} | ${ms(r.riseToNinetyMs)} | ${Math.round(r.p50Ms)} ms | ${Math.round(r.p99Ms)} ms | ${r.requests} | ${r.failedCalls} of ${r.calls} | ${Math.round(r.loopDelayP99Ms)} ms |`,
      );
    }
  }
  return lines.join("\n");
}

/** Issue 5's goals for Breakwater, checked against this run's figures. */
function goals(results: Map<string, ChildResult>): string {
  const lines: string[] = [];
  const check = (what: string, value: string, met: boolean): void => {
    lines.push(`- ${what}: ${value} — ${met ? "met" : "NOT met"}`);
  };
  const bw = results.get("breakwater/none");
  const aws = results.get("aws-adaptive/none");
  if (bw !== undefined) {
    check(
      "no headers, steady goodput >= 90% of the limit in every phase",
      bw.steadyGoodput.map(pct).join(" / "),
      bw.steadyGoodput.every((g) => g >= 0.9),
    );
    check("no headers, <= 5% of requests answered 429", pct(bw.share429), bw.share429 <= 0.05);
    check(
      "no headers, back above 90% within 3 s after the rise",
      ms(bw.riseToNinetyMs),
      bw.riseToNinetyMs !== null && bw.riseToNinetyMs <= 3000,
    );
    check("no headers, callers' p99 < 1.5 s", `${Math.round(bw.p99Ms)} ms`, bw.p99Ms < 1500);
    if (aws !== undefined) {
      check(
        "no headers, better than AWS's adaptive limiter on goodput",
        `${pct(bw.meanSteadyGoodput)} vs ${pct(aws.meanSteadyGoodput)}`,
        bw.meanSteadyGoodput > aws.meanSteadyGoodput,
      );
      check(
        "no headers, better than AWS's adaptive limiter on 429 share",
        `${pct(bw.share429)} vs ${pct(aws.share429)}`,
        bw.share429 < aws.share429,
      );
    }
  }
  const full = results.get("breakwater/full");
  if (full !== undefined) check("full rate-limit headers, <= 1% of requests answered 429", pct(full.share429), full.share429 <= 0.01);
  return lines.join("\n");
}

async function main(): Promise<void> {
  const results = new Map<string, ChildResult>();
  const started = performance.now();
  const loadBefore = loadavg()[0]!;
  for (const mode of MODES) {
    for (const client of RUN_CLIENTS) {
      process.stdout.write(`headers=${mode}: running ${client} (${PHASES[PHASES.length - 1]!.toMs / 1000} s)...\n`);
      results.set(`${client}/${mode}`, await runInChild({ client, mode }));
    }
  }
  const require = createRequire(import.meta.url);
  const smithy = (require("@smithy/util-retry/package.json") as { version: string }).version;
  const section = [
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- adaptive\` on Node.js ${process.version}, @smithy/util-retry ${smithy}; ${((performance.now() - started) / 1000).toFixed(0)} s; load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after.`,
    `Upstream: a sliding window on 127.0.0.1 (no one-second span admits more than the limit), limit 50 -> 20 -> 80 requests/s (10 s each), 2-6 ms service time; ${WORKERS} callers in a closed loop; every client retries a 429 up to 5 times. One run at a time, each in its own process.`,
    `Steady state = the second half of each phase. "Back >= 90%": after the rise to 80, the time until goodput over a trailing ${RISE_WINDOW_MS} ms first reaches 72/s (the measure cannot read below ${RISE_WINDOW_MS / 1000} s). Latency is per caller request, retries and waits included. "Loop lag": p99 event-loop delay in the client's process; above ~20 ms the machine, not the client, limits the figures.`,
    "",
    table(results),
    "",
    goals(results),
  ].join("\n");
  console.log(`\n${section}\n`);
  if (process.argv.includes("--write")) {
    const path = join(dirname(fileURLToPath(import.meta.url)), "RESULTS.md");
    const text = readFileSync(path, "utf8");
    const open = "<!-- section:adaptive -->";
    const close = "<!-- /section:adaptive -->";
    const a = text.indexOf(open);
    const b = text.indexOf(close);
    if (a < 0 || b < a) throw new Error("RESULTS.md has no adaptive section markers");
    writeFileSync(path, `${text.slice(0, a + open.length)}\n${section}\n${text.slice(b)}`);
    console.log(`written to ${path}`);
  }
}

if (process.send !== undefined && process.argv[2]?.startsWith("{") === true) {
  const job = JSON.parse(process.argv[2]) as Job;
  child(job).then(
    (result) => process.send?.(result, () => process.exit(0)),
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
