/**
 * Adaptive limiting on a local upstream whose hidden limit goes 50 -> 20 -> 80 requests/s
 * (10 s each), with 16 callers in a closed loop: Breakwater's `ApiClient` (no rate
 * config: it finds the limit), AWS's adaptive mode (`DefaultRateLimiter` driven by
 * `AdaptiveRetryStrategy`, @smithy/util-retry) and a naive client that retries after
 * `Retry-After`. Three header modes: bare 429s, 429 + Retry-After, and full rate-limit
 * headers. Each (client, mode) runs in its own process on its own upstream; the three
 * clients of a mode run at once.
 *
 *   npm run bench -- adaptive            print the results
 *   npx tsx bench/adaptive.bench.ts --write   also write them into bench/RESULTS.md
 *   npx tsx bench/adaptive.bench.ts --modes=none,full   only these header modes
 */
import { fork } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
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
const MODES: readonly HeaderMode[] = modesArg === undefined ? ALL_MODES : ALL_MODES.filter((m) => modesArg.slice("--modes=".length).split(",").includes(m));

interface Job {
  readonly client: ClientName;
  readonly mode: HeaderMode;
}

async function child(job: Job): Promise<RunMeasures> {
  const upstream = await startUpstream({ schedule: PHASES.map((p) => [p.fromMs, p.limit] as const), headers: job.mode });
  const send = makeClient(job.client, upstream.url);
  upstream.start();
  const records = await runWorkload({ workers: WORKERS, durationMs: PHASES[PHASES.length - 1]!.toMs, send });
  const result = measure(upstream, PHASES, records);
  await upstream.close();
  return result;
}

function runInChild(job: Job): Promise<RunMeasures> {
  return new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), [JSON.stringify(job)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    proc.once("message", (m) => resolve(m as RunMeasures));
    proc.once("error", reject);
    proc.once("exit", (code) => code !== 0 && reject(new Error(`${job.client}/${job.mode} exited with ${code}`)));
  });
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const ms = (x: number | null): string => (x === null ? "never" : `${(x / 1000).toFixed(1)} s`);

function table(results: Map<string, RunMeasures>): string {
  const lines = [
    "| headers | client | goodput 50 / 20 / 80 (steady) | mean | 429s (all / steady) | back >= 90% after rise | p50 | p99 | requests | failed calls |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const mode of MODES) {
    for (const client of CLIENTS) {
      const r = results.get(`${client}/${mode}`);
      if (r === undefined) continue;
      lines.push(
        `| ${mode} | ${client} | ${r.steadyGoodput.map(pct).join(" / ")} | ${pct(r.meanSteadyGoodput)} | ${pct(r.share429)} / ${pct(r.steadyShare429)} | ${ms(r.riseToNinetyMs)} | ${Math.round(r.p50Ms)} ms | ${Math.round(r.p99Ms)} ms | ${r.requests} | ${r.failedCalls} of ${r.calls} |`,
      );
    }
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const results = new Map<string, RunMeasures>();
  const started = performance.now();
  for (const mode of MODES) {
    process.stdout.write(`headers=${mode}: running ${CLIENTS.join(", ")} (${PHASES[PHASES.length - 1]!.toMs / 1000} s)...\n`);
    const runs = await Promise.all(CLIENTS.map((client) => runInChild({ client, mode })));
    CLIENTS.forEach((client, i) => results.set(`${client}/${mode}`, runs[i]!));
  }
  const require = createRequire(import.meta.url);
  const smithy = (require("@smithy/util-retry/package.json") as { version: string }).version;
  const section = [
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- adaptive\` on Node.js ${process.version}, @smithy/util-retry ${smithy}; ${((performance.now() - started) / 1000).toFixed(0)} s.`,
    `Upstream: a token bucket on 127.0.0.1 holding one second of its limit, limit 50 -> 20 -> 80 requests/s (10 s each), 2-6 ms service time; ${WORKERS} callers in a closed loop; every client retries a 429 up to 5 times.`,
    `Steady state = the second half of each phase. "Back >= 90%": after the rise to 80, the time until goodput over a trailing ${RISE_WINDOW_MS} ms first reaches 72/s (the measure cannot read below ${RISE_WINDOW_MS / 1000} s). Latency is per caller request, retries and waits included.`,
    "",
    table(results),
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
