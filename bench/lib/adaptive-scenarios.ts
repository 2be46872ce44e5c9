/**
 * The upstreams the adaptive bench (and its simulation) put a client against: each is a
 * kind of hidden limit, a schedule of limits and maybe 503 outages. The client knows none
 * of it. Shared by bench/adaptive.bench.ts (real HTTP, real time) and bench/lib/adaptive-sim.ts
 * (the same clients on virtual time).
 */
import type { LimitKind, LimitModelOptions } from "../../examples/lib/limit-models.js";

/** One phase of a schedule: its limit (requests/s) and span (ms from the start). */
export interface Phase {
  readonly limit: number;
  readonly fromMs: number;
  readonly toMs: number;
}

/** An upstream for one run. */
export interface Scenario {
  readonly name: string;
  readonly kind: LimitKind;
  readonly phases: readonly Phase[];
  /** `[fromMs, toMs)` spans during which every request is answered 503. */
  readonly outages: readonly (readonly [number, number])[];
  /** Service time of each request (ms), uniform in [min, max]. */
  readonly serviceMs: readonly [number, number];
  /** One line for the reader. */
  readonly about: string;
  /** The hidden limit's shape beyond its kind (a bucket's burst, a window's length, whether refusals count); the models' defaults when absent. */
  readonly shape?: Pick<LimitModelOptions, "burstSeconds" | "windowSec" | "countsRefused">;
}

const STANDARD: readonly Phase[] = [
  { limit: 50, fromMs: 0, toMs: 10_000 },
  { limit: 20, fromMs: 10_000, toMs: 20_000 },
  { limit: 80, fromMs: 20_000, toMs: 30_000 },
];

const CHANGING: readonly Phase[] = [
  { limit: 40, fromMs: 0, toMs: 10_000 },
  { limit: 90, fromMs: 10_000, toMs: 20_000 },
  { limit: 15, fromMs: 20_000, toMs: 30_000 },
  { limit: 60, fromMs: 30_000, toMs: 40_000 },
  { limit: 30, fromMs: 40_000, toMs: 50_000 },
];

const FAST: readonly [number, number] = [2, 6];

/** Every upstream the bench models. */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: "token-bucket",
    kind: "token-bucket",
    phases: STANDARD,
    outages: [],
    serviceMs: FAST,
    about: "a token bucket holding one second of the limit",
  },
  {
    name: "fixed-window",
    kind: "fixed-window",
    phases: STANDARD,
    outages: [],
    serviceMs: FAST,
    about: "at most the limit per second of the clock",
  },
  {
    name: "sliding-log",
    kind: "sliding-log",
    phases: STANDARD,
    outages: [],
    serviceMs: FAST,
    about: "an exact sliding log: no one-second span over the limit",
  },
  {
    name: "sliding-window",
    kind: "sliding-window",
    phases: STANDARD,
    outages: [],
    serviceMs: FAST,
    about: "the approximate sliding window (two weighted counters) of Cloudflare and upstash",
  },
  { name: "gcra", kind: "gcra", phases: STANDARD, outages: [], serviceMs: FAST, about: "GCRA / a leaky bucket without burst" },
  {
    name: "concurrency",
    kind: "concurrency",
    phases: STANDARD,
    outages: [],
    serviceMs: [95, 105],
    about: "a cap on requests in flight (limit x 0.1 s), 95-105 ms per request",
  },
  {
    name: "outages",
    kind: "sliding-log",
    phases: [
      { limit: 50, fromMs: 0, toMs: 10_000 },
      { limit: 20, fromMs: 10_000, toMs: 20_000 },
      { limit: 80, fromMs: 20_000, toMs: 35_000 },
    ],
    outages: [
      [2_000, 3_000],
      [11_000, 14_000],
      [21_000, 26_000],
    ],
    serviceMs: FAST,
    about: "the sliding log with 503 outages of 1 s, 3 s and 5 s (the last one just after the limit rose to 80)",
  },
  {
    name: "changing",
    kind: "token-bucket",
    phases: CHANGING,
    outages: [],
    serviceMs: FAST,
    about: "a token bucket whose limit changes every 10 s: 40, 90, 15, 60, 30",
  },
];

/** The scenario named `name`; throws with the list when there is none. */
export function scenarioNamed(name: string): Scenario {
  const found = SCENARIOS.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no scenario "${name}"; there are ${SCENARIOS.map((s) => s.name).join(", ")}`);
  return found;
}

/** The limit in force at `ms` (0 during an outage). */
export function limitAt(scenario: Scenario, ms: number): number {
  if (scenario.outages.some(([a, b]) => ms >= a && ms < b)) return 0;
  let limit = scenario.phases[0]!.limit;
  for (const p of scenario.phases) if (ms >= p.fromMs) limit = p.limit;
  return limit;
}

/** When the run ends (ms). */
export function durationOf(scenario: Scenario): number {
  return scenario.phases[scenario.phases.length - 1]!.toMs;
}
