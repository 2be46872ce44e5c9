/**
 * The command-line options bench/law-sim.ts and bench/law-trace.ts share: how many clients
 * share one record, and an upstream changed from its usual shape (slower answers, a longer
 * burst, a longer window), for trying the law on upstreams the bench does not model.
 */
import type { Scenario } from "./adaptive-scenarios.js";
import { fleetSimClient, type SimOptions, type SimTimers } from "./adaptive-sim.js";

/** The value of `--name=value` in `argv`, if given. */
export function simArg(name: string, argv: readonly string[] = process.argv): string | undefined {
  return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** `--fleet=N` (N > 1): N clients share one limiter record, as processes share it through RedisStore. */
export function fleetClientFromArgs(argv: readonly string[] = process.argv): SimOptions["client"] {
  const fleet = Number(simArg("fleet", argv) ?? 1);
  return fleet > 1 ? fleetSimClient(fleet) : undefined;
}

/**
 * `--workers=N`: that many callers in a closed loop (default 16), an integer from 1. Few
 * callers may not reach a limit (each waits for its answer); many make long queues, and the
 * p99 goal counts a call in the phase it ends in, against that phase's floor.
 */
export function workersFromArgs(argv: readonly string[] = process.argv): Pick<SimOptions, "workers"> {
  const text = simArg("workers", argv);
  if (text === undefined) return {};
  const workers = Number(text);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers=${text}: an integer from 1`);
  return { workers };
}

/**
 * `scenario` as the options change it: `--service=min-max` (every request answered in that
 * many ms), `--burst=S` (a token bucket holding S seconds of its rate), `--window=S` (a
 * fixed window S seconds long, admitting S seconds of its rate), `--stretch=K` (every phase
 * and outage K times as long: a long window needs long phases to be judged), `--scale=K`
 * (every limit K times as high: 0.2 turns 50 → 20 → 80 requests/s into 10 → 4 → 16),
 * `--counts-refused` (the sliding log and window count refused requests against the limit too).
 */
export function shapeFromArgs(scenario: Scenario, argv: readonly string[] = process.argv): Scenario {
  const service = simArg("service", argv)?.split("-").map(Number) as [number, number] | undefined;
  const burst = simArg("burst", argv);
  const window = simArg("window", argv);
  const k = Number(simArg("stretch", argv) ?? 1);
  const scale = Number(simArg("scale", argv) ?? 1);
  if (!(scale > 0)) throw new Error(`--scale=${simArg("scale", argv)}: a number above 0`);
  return {
    ...scenario,
    phases: scenario.phases.map((p) => ({ limit: p.limit * scale, fromMs: p.fromMs * k, toMs: p.toMs * k })),
    outages: scenario.outages.map(([a, b]) => [a * k, b * k] as const),
    ...(service ? { serviceMs: service } : {}),
    shape: {
      ...scenario.shape,
      ...(burst !== undefined ? { burstSeconds: Number(burst) } : {}),
      ...(window !== undefined ? { windowSec: Number(window) } : {}),
      ...(argv.includes("--counts-refused") ? { countsRefused: true } : {}),
    },
  };
}

/**
 * `--timers=node` (timer delays truncated to whole milliseconds, as Node's) and
 * `--clock=coarse` (the client reads whole milliseconds, as on `Date.now()`): the real
 * machine's timing, which the default (exact readings, timers a little late) leaves out.
 */
export function timingFromArgs(argv: readonly string[] = process.argv): Pick<SimOptions, "timers" | "coarseClock"> {
  const timers = simArg("timers", argv);
  const clock = simArg("clock", argv);
  if (timers !== undefined && timers !== "node" && timers !== "late") throw new Error(`--timers=${timers}: node or late`);
  if (clock !== undefined && clock !== "coarse" && clock !== "precise") throw new Error(`--clock=${clock}: coarse or precise`);
  return { ...(timers === undefined ? {} : { timers: timers as SimTimers }), ...(clock === "coarse" ? { coarseClock: true } : {}) };
}
