/**
 * Breakwater's demo (`npm run demo`): the same workload against the same flaky upstream,
 * twice — once with a naive client that retries at once, once with `EnterpriseClient`.
 *
 * The upstream runs on 127.0.0.1. Its limit is hidden (no rate-limit headers, bare 429s)
 * and changes during the run (40 -> 15 -> 60 requests/s, though its docs say 40), it
 * answers 503 to everything for one second, and, like many real APIs, it shuts out for
 * two seconds a client it has refused more than 50 times within a second. Sixteen
 * workers send one request after another. At the end, a side-by-side table and a chart
 * of the pace Breakwater found against the hidden limit. About 27 s; nothing to set up.
 *
 *   npm run demo                           the full run
 *   npx tsx examples/demo.ts --scale=0.5   every phase half as long
 *
 * Below about 0.5 the phases get shorter than the second or two Breakwater takes to find
 * each new limit, while the upstream's 2 s penalty stays: the test runs 0.35 and checks
 * the 429s, not the goodput.
 */
import { pathToFileURL } from "node:url";
import { CircuitOpenError } from "../src/index.js";
import { EnterpriseClient } from "../src/http/index.js";
import { type SamplePoints, startSampler } from "./lib/sampler.js";
import { renderTerminalChart } from "./lib/terminal-chart.js";
import { BUCKET_MS, startUpstream, sumBetween, type Upstream, type UpstreamOptions } from "./lib/upstream.js";
import { type CallRecord, quantile, runWorkload, type Send, sleep } from "./lib/workload.js";

/** Where the demo writes: `process.stdout` or anything with `write` (and maybe `isTTY`). */
export interface DemoOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Multiplies every time of the schedule; 1 (default) runs each client for 13 s. */
  readonly durationScale?: number;
  /** Default `process.stdout`. A TTY gets a progress line that redraws itself; anything else, a line every 2 s. */
  readonly output?: DemoOutput;
  /** Callers sending requests in a closed loop. Default 16. */
  readonly workers?: number;
}

/** What one client achieved, as the upstream and the callers saw it. */
export interface CandidateResult {
  readonly label: string;
  /** Requests the upstream answered. */
  readonly requests: number;
  /** Answered 200. */
  readonly successes: number;
  readonly throttled: number;
  readonly unavailable: number;
  /** Caller calls that ended in an error (after the client's retries). */
  readonly failedCalls: number;
  /** Times the circuit opened; null for a client without a breaker. */
  readonly breakerOpens: number | null;
  /** Times the upstream shut the client out for hammering. */
  readonly penalties: number;
  /** Successes as a share of what the upstream would have accepted (its limit over the run, outage excluded). */
  readonly goodput: number;
  /** Latency of the calls that succeeded (ms), retries and waits included. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The client's pace and the upstream's limit over the run (requests/s, sampled); null for a client that does not pace. */
  readonly pace: PaceTrace | null;
}

/** A client's pace and the upstream's hidden limit over a run, as `[seconds, requests/s]` points. */
export interface PaceTrace {
  readonly rate: SamplePoints;
  readonly limit: SamplePoints;
  /** The outages, `[fromSeconds, toSeconds]`. */
  readonly outages: readonly (readonly [number, number])[];
}

/** What {@link runDemo} returns. */
export interface DemoResult {
  readonly naive: CandidateResult;
  readonly breakwater: CandidateResult;
  /** The side-by-side table, as printed. */
  readonly table: string;
  /** The chart of Breakwater's pace against the limit, as printed (without colours). */
  readonly chart: string;
}

/** Immediate retries of the naive client; `EnterpriseClient` gets the same budget. */
const RETRIES = 3;
const PENALTY = { refusals: 50, withinMs: 1_000, blockMs: 2_000 } as const;

/** The upstream's schedule at `scale`: limit by time, and the outage. */
function schedule(scale: number): Pick<UpstreamOptions, "schedule" | "outages"> & { durationMs: number } {
  const at = (ms: number): number => Math.round(ms * scale);
  return {
    schedule: [
      [0, 40],
      [at(4_500), 15],
      [at(7_500), 60],
    ],
    outages: [[at(10_000), at(11_000)]],
    durationMs: at(13_000),
  };
}

class GaveUp extends Error {
  override name = "GaveUp";
}

/** Retries any refusal (429, 503) at once, up to {@link RETRIES} times: what many hand-written clients do. */
function naiveSend(url: string): Send {
  return async (signal) => {
    let status = 0;
    for (let attempt = 0; attempt <= RETRIES; attempt++) {
      const response = await fetch(`${url}/item`, { signal });
      await response.arrayBuffer();
      if (response.ok) return;
      status = response.status;
    }
    throw new GaveUp(`still ${status} after ${RETRIES} retries`);
  };
}

/**
 * `EnterpriseClient` told only the upstream's documented rate (40/s, as a preset would):
 * it follows the hidden changes by itself. Only 429 is a back-off status here: on this
 * upstream a 503 means "down", which is the breaker's business (5 failures in a row open
 * it), not a reason to slow down and forget the rate learned.
 */
function breakwaterSend(url: string, openIntervalMs: number): { send: Send; client: EnterpriseClient; opens: () => number } {
  const client = new EnterpriseClient({
    integration: "demo-upstream",
    baseUrl: url,
    rateConfig: { ratePerSec: 40, backoffStatuses: [429] },
    maxRetriesOnBackoff: RETRIES,
    circuitBreaker: { failureThreshold: 5, openIntervalMs },
  });
  let opens = 0;
  client.breaker.on("stateChange", (e) => {
    if (e.to === "open") opens++;
  });
  const send: Send = async (signal) => {
    try {
      const response = await client.request("GET", "/item", { signal });
      await response.arrayBuffer();
      if (!response.ok) throw new GaveUp(`answered ${response.status}`);
    } catch (error) {
      // A caller that is told the circuit is open waits until it may try again, rather
      // than spin (and the demo's workers must yield to the event loop).
      if (error instanceof CircuitOpenError && !signal.aborted)
        await sleep(Math.max(100, Math.min(error.retryAfterMs, openIntervalMs)), signal);
      throw error;
    }
  };
  return { send, client, opens: () => opens };
}

/** The requests the upstream would have accepted in [0, durationMs): its limit over time, outages excluded. */
function acceptable(upstream: Upstream, durationMs: number): number {
  let total = 0;
  for (let t = 0; t < durationMs; t += BUCKET_MS) {
    const mid = t + BUCKET_MS / 2;
    if (!upstream.inOutage(mid)) total += (upstream.limitAt(mid) * Math.min(BUCKET_MS, durationMs - t)) / 1000;
  }
  return total;
}

const fmt = (n: number): string => n.toLocaleString("en-US");
const pct = (x: number): string => `${Math.round(x * 100)}%`;
const msText = (x: number): string => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${Math.round(x)} ms`);

/** Runs one client against a fresh upstream and measures it. */
async function runCandidate(
  label: string,
  make: (url: string) => { send: Send; opens?: () => number; rate?: () => string; pace?: () => number; close?: () => void },
  scale: number,
  workers: number,
  out: DemoOutput,
): Promise<CandidateResult> {
  const plan = schedule(scale);
  const upstream = await startUpstream({ schedule: plan.schedule, outages: plan.outages, headers: "none", penalty: PENALTY });
  const candidate = make(upstream.url);
  const { ok, throttled, unavailable } = upstream.timeline;
  const status = (elapsedMs: number): string => {
    const t = Math.min(elapsedMs, plan.durationMs);
    const state = upstream.inOutage(t) ? "OUTAGE (503)" : `limit ${upstream.limitAt(t)}/s`;
    const extra = candidate.rate === undefined ? "" : `  ${candidate.rate()}`;
    const upTo = Math.min(t + BUCKET_MS, plan.durationMs);
    return `  ${label.padEnd(10)} ${(t / 1000).toFixed(1).padStart(5)} s  ${state.padEnd(12)}  ok ${fmt(sumBetween(ok, 0, upTo)).padStart(5)}  429 ${fmt(sumBetween(throttled, 0, upTo)).padStart(7)}  503 ${fmt(sumBetween(unavailable, 0, upTo)).padStart(6)}${extra}`;
  };
  let lastLineAt = 0;
  const onTick = (elapsedMs: number): void => {
    if (out.isTTY === true) out.write(`\r\x1b[2K${status(elapsedMs)}`);
    else if (elapsedMs - lastLineAt >= 2_000) {
      // Not a terminal (a log, a pipe): an occasional line instead of a redrawn one.
      lastLineAt = elapsedMs;
      out.write(`${status(elapsedMs)}\n`);
    }
  };
  let records: CallRecord[];
  let sampled: Record<"rate" | "limit", SamplePoints> | undefined;
  try {
    upstream.start();
    const pace = candidate.pace;
    // About 150 samples over the run: two per column of an 80-column chart.
    const sampler =
      pace === undefined
        ? undefined
        : startSampler(Math.max(20, Math.round(plan.durationMs / 150)), { rate: () => pace(), limit: (ms) => upstream.limitAt(ms) });
    records = await runWorkload({
      workers,
      durationMs: plan.durationMs,
      send: candidate.send,
      onTick,
      tickMs: out.isTTY === true ? 100 : 250,
    });
    sampled = sampler?.stop();
    out.write(out.isTTY === true ? `\r\x1b[2K${status(plan.durationMs)}\n` : `${status(plan.durationMs)}\n`);
  } finally {
    candidate.close?.();
    await upstream.close();
  }
  const end = plan.durationMs;
  const successes = sumBetween(ok, 0, end);
  const nThrottled = sumBetween(throttled, 0, end);
  const nUnavailable = sumBetween(unavailable, 0, end);
  const okLatencies = records.filter((r) => r.outcome === "ok").map((r) => r.endMs - r.startMs);
  return {
    label,
    requests: successes + nThrottled + nUnavailable,
    successes,
    throttled: nThrottled,
    unavailable: nUnavailable,
    failedCalls: records.filter((r) => r.outcome === "failed").length,
    breakerOpens: candidate.opens === undefined ? null : candidate.opens(),
    penalties: upstream.penalties(),
    goodput: successes / acceptable(upstream, end),
    p50Ms: quantile(okLatencies, 0.5),
    p99Ms: quantile(okLatencies, 0.99),
    pace:
      sampled === undefined
        ? null
        : {
            rate: sampled.rate,
            limit: sampled.limit,
            outages: (plan.outages ?? []).map(([from, to]) => [from / 1000, to / 1000] as const),
          },
  };
}

/** The terminal chart of a client's pace against the hidden limit. */
export function formatPaceChart(pace: PaceTrace, color = false): string {
  return renderTerminalChart({
    title: "Breakwater's pace against the upstream's hidden limit (requests/s)",
    series: [
      { name: "hidden limit", kind: "step", points: pace.limit, color: "yellow" },
      { name: "Breakwater's pace", kind: "line", points: pace.rate, color: "cyan" },
    ],
    bands: pace.outages.map(([from, to]) => ({ from, to, label: "outage (503s)" })),
    width: 80,
    height: 12,
    color,
  });
}

/** The side-by-side table. */
export function formatTable(naive: CandidateResult, breakwater: CandidateResult): string {
  const rows: [string, string, string][] = [
    ["", "naive retry", "Breakwater"],
    ["requests sent", fmt(naive.requests), fmt(breakwater.requests)],
    ["successes (200)", fmt(naive.successes), fmt(breakwater.successes)],
    ["answered 429", fmt(naive.throttled), fmt(breakwater.throttled)],
    ["answered 503", fmt(naive.unavailable), fmt(breakwater.unavailable)],
    ["failed calls", fmt(naive.failedCalls), fmt(breakwater.failedCalls)],
    [
      "breaker opens",
      naive.breakerOpens === null ? "-" : fmt(naive.breakerOpens),
      breakwater.breakerOpens === null ? "-" : fmt(breakwater.breakerOpens),
    ],
    ["shut out for hammering", fmt(naive.penalties), fmt(breakwater.penalties)],
    ["goodput (share of limit)", pct(naive.goodput), pct(breakwater.goodput)],
    ["latency p50 (ok calls)", msText(naive.p50Ms), msText(breakwater.p50Ms)],
    ["latency p99 (ok calls)", msText(naive.p99Ms), msText(breakwater.p99Ms)],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const w2 = Math.max(...rows.map((r) => r[2].length));
  const line = (r: [string, string, string]): string => `| ${r[0].padEnd(w0)} | ${r[1].padStart(w1)} | ${r[2].padStart(w2)} |`;
  return [line(rows[0]!), `| ${"-".repeat(w0)} | ${"-".repeat(w1 - 1)}: | ${"-".repeat(w2 - 1)}: |`, ...rows.slice(1).map(line)].join("\n");
}

/** Runs the demo: the naive client, then `EnterpriseClient`, then prints the table. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const scale = options.durationScale ?? 1;
  if (!(scale > 0 && scale <= 10)) throw new RangeError(`runDemo: durationScale must be in (0, 10], got ${scale}`);
  const out: DemoOutput = options.output ?? process.stdout;
  const workers = options.workers ?? 16;
  const plan = schedule(scale);
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const [, drop, rise] = plan.schedule;
  const [outage] = plan.outages ?? [];
  out.write(
    [
      "Breakwater demo: one upstream on 127.0.0.1, the same workload, two clients.",
      `  upstream: limit 40/s as documented, then without notice 15/s from ${s(drop![0])} and 60/s from ${s(rise![0])};`,
      `            bare 429s (no rate-limit headers); every request answered 503 from ${s(outage![0])} to ${s(outage![1])};`,
      `            a client refused more than ${PENALTY.refusals} times within 1 s is shut out for ${PENALTY.blockMs / 1000} s (as real APIs do)`,
      `  workload: ${workers} workers, one request after another, ${s(plan.durationMs)} per client`,
      `  naive:    retries 429 and 503 at once, up to ${RETRIES} times`,
      `  Breakwater: EnterpriseClient told the documented 40/s; paces, slows down on 429 (${RETRIES} retries); 5 failures open its breaker`,
      "",
      "",
    ].join("\n"),
  );
  const openIntervalMs = Math.max(200, Math.round(500 * scale));
  const naive = await runCandidate("naive", (url) => ({ send: naiveSend(url) }), scale, workers, out);
  const breakwater = await runCandidate(
    "Breakwater",
    (url) => {
      const bw = breakwaterSend(url, openIntervalMs);
      return {
        send: bw.send,
        opens: bw.opens,
        rate: () => `rate ${bw.client.rateSnapshot().ratePerSec.toFixed(1)}/s  breaker ${bw.client.breaker.state}`,
        pace: () => bw.client.rateSnapshot().ratePerSec,
        close: () => bw.client.close(),
      };
    },
    scale,
    workers,
    out,
  );
  const table = formatTable(naive, breakwater);
  out.write(`\n${table}\n\n`);
  out.write(
    `Breakwater sent ${naive.requests > 0 ? pct(breakwater.requests / naive.requests) : "-"} of the naive client's requests and got ${pct(breakwater.goodput)} of the upstream's limit through (naive: ${pct(naive.goodput)}),\n` +
      "pacing its callers in a queue instead of hammering; its latency is that queue.\n",
  );
  const chart = breakwater.pace === null ? "" : formatPaceChart(breakwater.pace);
  if (breakwater.pace !== null) out.write(`\n${out.isTTY === true ? formatPaceChart(breakwater.pace, true) : chart}\n`);
  return { naive, breakwater, table, chart };
}

/** `--scale=0.5` from the command line. */
function scaleArg(argv: readonly string[]): number {
  const arg = argv.find((a) => a.startsWith("--scale="));
  return arg === undefined ? 1 : Number(arg.slice("--scale=".length));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runDemo({ durationScale: scaleArg(process.argv) }).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
