/** The adaptive bench's measures, from the upstream's timeline and the callers' records. */
import { BUCKET_MS, sumBetween, type Upstream } from "../../examples/lib/upstream.js";
import { type CallRecord, quantile } from "../../examples/lib/workload.js";

/** One phase of the schedule: its limit and span (ms from start). */
export interface Phase {
  readonly limit: number;
  readonly fromMs: number;
  readonly toMs: number;
}

/** What one run measured. */
export interface RunMeasures {
  /** Steady-state goodput per phase (the second half of each), as a share of its limit. */
  readonly steadyGoodput: readonly number[];
  /** Mean of `steadyGoodput`. */
  readonly meanSteadyGoodput: number;
  /** Requests answered 429, as a share of all requests the upstream answered. */
  readonly share429: number;
  /** The same, counted over the steady halves only. */
  readonly steadyShare429: number;
  /** After the last rise of the limit: ms until goodput over a trailing 500 ms first reached 90% of the new limit; null if never. */
  readonly riseToNinetyMs: number | null;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly calls: number;
  readonly failedCalls: number;
}

/** Trailing window (ms) for the rise measure. */
export const RISE_WINDOW_MS = 500;

/** Computes the measures of a run of `phases` from the upstream's timeline and the records. */
export function measure(upstream: Upstream, phases: readonly Phase[], records: readonly CallRecord[]): RunMeasures {
  const { ok, throttled, unavailable } = upstream.timeline;
  const steadyGoodput = phases.map((p) => {
    const from = p.fromMs + (p.toMs - p.fromMs) / 2;
    return sumBetween(ok, from, p.toMs) / ((p.limit * (p.toMs - from)) / 1000);
  });
  let steadyThrottled = 0;
  let steadyAll = 0;
  for (const p of phases) {
    const from = p.fromMs + (p.toMs - p.fromMs) / 2;
    steadyThrottled += sumBetween(throttled, from, p.toMs);
    steadyAll += sumBetween(ok, from, p.toMs) + sumBetween(throttled, from, p.toMs) + sumBetween(unavailable, from, p.toMs);
  }
  const end = phases[phases.length - 1]!.toMs;
  const allOk = sumBetween(ok, 0, end);
  const all429 = sumBetween(throttled, 0, end);
  const all = allOk + all429 + sumBetween(unavailable, 0, end);
  let riseToNinetyMs: number | null = null;
  for (let i = 1; i < phases.length; i++) {
    const p = phases[i]!;
    if (p.limit <= phases[i - 1]!.limit) continue;
    riseToNinetyMs = null;
    for (let t = p.fromMs + BUCKET_MS; t <= p.toMs; t += BUCKET_MS) {
      const rate = (sumBetween(ok, Math.max(p.fromMs, t - RISE_WINDOW_MS), t) * 1000) / Math.min(RISE_WINDOW_MS, t - p.fromMs);
      if (t - p.fromMs >= RISE_WINDOW_MS && rate >= 0.9 * p.limit) {
        riseToNinetyMs = t - p.fromMs;
        break;
      }
    }
  }
  const latencies = records.map((r) => r.endMs - r.startMs);
  return {
    steadyGoodput,
    meanSteadyGoodput: steadyGoodput.reduce((a, b) => a + b, 0) / steadyGoodput.length,
    share429: all === 0 ? 0 : all429 / all,
    steadyShare429: steadyAll === 0 ? 0 : steadyThrottled / steadyAll,
    riseToNinetyMs,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    requests: all,
    calls: records.length,
    failedCalls: records.filter((r) => r.outcome === "failed").length,
  };
}
