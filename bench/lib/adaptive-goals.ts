/**
 * What one adaptive run measured, and the goals it is held to: steady goodput of at least
 * 90% of the limit in every phase, few 429s, 90% of the limit within 3 s of every change
 * (the start, each change of limit, the end of each outage), and callers' p99 latency near
 * the queueing floor.
 */
import type { CallRecord } from "../../examples/lib/workload.js";
import { quantile } from "../../examples/lib/workload.js";
import { limitAt, type Scenario } from "./adaptive-scenarios.js";

/** Width of a timeline bucket (ms). */
export const BUCKET_MS = 100;

/** Answers per 100 ms bucket since the start. */
export interface Timeline {
  readonly ok: number[];
  readonly throttled: number[];
  readonly unavailable: number[];
}

/** Counts one answer at `ms` into `series`. */
export function countAt(series: number[], ms: number): void {
  const i = Math.max(0, Math.floor(ms / BUCKET_MS));
  while (series.length <= i) series.push(0);
  series[i]!++;
}

/** What one run measured. */
export interface AdaptiveMeasures {
  /** Per phase: goodput over its second half (outages and the 3 s after them left out), as a share of its limit. */
  readonly steadyGoodput: readonly number[];
  /** Goodput over the whole run, as a share of the limits in force (outages left out). */
  readonly overallGoodput: number;
  /** Answers 429 among all answers. */
  readonly share429: number;
  /** Per change (start, limit change, outage end): ms until a trailing 500 ms reached 90% of the new limit; null if never. */
  readonly toNinetyMs: readonly (number | null)[];
  /** Per phase: callers' p99 latency (ms) of the calls that ended in it and met no outage. */
  readonly p99Ms: readonly number[];
  /** Per phase: the queueing floor, workers / limit (ms). */
  readonly floorMs: readonly number[];
  readonly requests: number;
  readonly calls: number;
  readonly failedCalls: number;
}

/** The trailing window (ms) of the "back to 90%" measure. */
export const RISE_WINDOW_MS = 500;

function sum(series: readonly number[], fromMs: number, toMs: number): number {
  let total = 0;
  for (let i = Math.floor(fromMs / BUCKET_MS); i < Math.ceil(toMs / BUCKET_MS); i++) total += series[i] ?? 0;
  return total;
}

/** How long after an outage the goodput is the recovery's (the "to 90%" goal), not the steady state's (ms). */
export const RECOVERY_MS = 3_000;

/** The limit-seconds and the ok answers over [from, to), outages and the recovery after them left out. */
function served(scenario: Scenario, ok: readonly number[], fromMs: number, toMs: number): { ok: number; capacity: number } {
  let good = 0;
  let capacity = 0;
  for (let t = fromMs; t < toMs; t += BUCKET_MS) {
    const limit = limitAt(scenario, t);
    if (limit === 0 || scenario.outages.some(([, b]) => t >= b && t < b + RECOVERY_MS)) continue;
    good += ok[Math.floor(t / BUCKET_MS)] ?? 0;
    capacity += (limit * BUCKET_MS) / 1000;
  }
  return { ok: good, capacity };
}

/** The moments the client must adapt to: the start, each change of limit, the end of each outage. */
export function changesOf(scenario: Scenario): number[] {
  const at = new Set<number>([0, ...scenario.phases.slice(1).map((p) => p.fromMs), ...scenario.outages.map(([, b]) => b)]);
  const end = scenario.phases[scenario.phases.length - 1]!.toMs;
  return [...at].filter((t) => t < end && limitAt(scenario, t) > 0).sort((a, b) => a - b);
}

/** Computes a run's measures. */
export function measureRun(scenario: Scenario, workers: number, timeline: Timeline, records: readonly CallRecord[]): AdaptiveMeasures {
  const { ok, throttled, unavailable } = timeline;
  const end = scenario.phases[scenario.phases.length - 1]!.toMs;
  const steadyGoodput = scenario.phases.map((p) => {
    const s = served(scenario, ok, p.fromMs + (p.toMs - p.fromMs) / 2, p.toMs);
    return s.capacity === 0 ? 1 : s.ok / s.capacity;
  });
  const whole = served(scenario, ok, 0, end);
  const all429 = sum(throttled, 0, end);
  const all = sum(ok, 0, end) + all429 + sum(unavailable, 0, end);
  const toNinetyMs = changesOf(scenario).map((c) => {
    const next = changesOf(scenario).find((x) => x > c) ?? end;
    for (let t = c + RISE_WINDOW_MS; t <= next; t += BUCKET_MS) {
      const limit = limitAt(scenario, t - 1);
      const rate = (sum(ok, t - RISE_WINDOW_MS, t) * 1000) / RISE_WINDOW_MS;
      if (rate >= 0.9 * limit) return t - c;
    }
    return null;
  });
  const touchesOutage = (r: CallRecord): boolean => scenario.outages.some(([a, b]) => r.startMs < b + 1000 && r.endMs > a);
  const p99Ms = scenario.phases.map((p) =>
    quantile(
      records.filter((r) => r.endMs >= p.fromMs && r.endMs < p.toMs && !touchesOutage(r)).map((r) => r.endMs - r.startMs),
      0.99,
    ),
  );
  return {
    steadyGoodput,
    overallGoodput: whole.capacity === 0 ? 0 : whole.ok / whole.capacity,
    share429: all === 0 ? 0 : all429 / all,
    toNinetyMs,
    p99Ms,
    floorMs: scenario.phases.map((p) => (workers * 1000) / p.limit),
    requests: all,
    calls: records.length,
    failedCalls: records.filter((r) => r.outcome === "failed").length,
  };
}

/** The goals, and whether a run met each; `headers` says whether the upstream sent any rate-limit headers. */
export function checkGoals(m: AdaptiveMeasures, headers: boolean): { readonly goal: string; readonly met: boolean }[] {
  return [
    { goal: "steady goodput >= 0.9 in every phase", met: m.steadyGoodput.every((g) => g >= 0.9) },
    { goal: headers ? "<= 1% of answers 429" : "<= 5% of answers 429", met: m.share429 <= (headers ? 0.01 : 0.05) },
    { goal: ">= 90% of the limit within 3 s of every change", met: m.toNinetyMs.every((t) => t !== null && t <= 3000) },
    { goal: "p99 <= workers / limit + 1 s in every phase", met: m.p99Ms.every((p, i) => p <= m.floorMs[i]! + 1000) },
  ];
}
