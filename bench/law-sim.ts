/**
 * The adaptive limiter on virtual time (bench/lib/adaptive-sim.ts): Breakwater's `ApiClient`
 * against every upstream model and header mode, several runs each, in seconds instead of
 * the real-time bench's minutes. For working on the control law; the real-time bench
 * (bench/adaptive.bench.ts) is what RESULTS.md reports.
 *
 *   npx tsx bench/law-sim.ts [--runs=5] [--modes=none,retry-after,full] [--models=gcra,...] [--late=1.2] [--service=95-105] [--burst=5] [--window=10] [--stretch=6] [--scale=0.2] [--counts-refused] [--timers=node] [--clock=coarse] [--workers=16]
 *
 * `--late`: how late timers fire beyond 0.1 ms (ms); 5 is a loaded machine. `--fleet=4`: that
 * many clients share one limiter record, as processes share it through RedisStore.
 * `--service=min-max`: every model answers in that many ms (a slow upstream) instead of its own.
 * `--burst=S`: token buckets hold S seconds of their rate; `--window=S`: fixed windows last S seconds;
 * `--counts-refused`: the sliding log and window count refused requests against the limit too;
 * `--stretch=K`: phases and outages K times as long; `--scale=K`: every limit K times as high. `--timers=node`: timer delays are
 * truncated to whole milliseconds, as Node's are, and the client sleeps as `preciseClock`
 * does (delays rounded up); `--clock=coarse`: the client reads whole milliseconds and sleeps
 * as asked (`Date.now()`, as `systemClock`). `--workers=N`: that many callers (default 16).
 */
import type { HeaderMode } from "../examples/lib/upstream.js";
import { checkGoals } from "./lib/adaptive-goals.js";
import { SCENARIOS } from "./lib/adaptive-scenarios.js";
import { simulate } from "./lib/adaptive-sim.js";
import { fleetClientFromArgs, shapeFromArgs, simArg as arg, timingFromArgs, workersFromArgs } from "./lib/sim-args.js";

const modes = (arg("modes") ?? "none,retry-after,full").split(",") as HeaderMode[];
const models = arg("models")?.split(",");
const runs = Number(arg("runs") ?? 5);
const timerLateMs = Number(arg("late") ?? 1.2);
const client = fleetClientFromArgs();
const timing = { ...timingFromArgs(), ...workersFromArgs() };
const pct = (x: number): string => (x * 100).toFixed(0);

let failing = 0;
for (const model of SCENARIOS) {
  const scenario = shapeFromArgs(model);
  if (models !== undefined && !models.includes(scenario.name)) continue;
  for (const mode of modes) {
    let worstSteady = Number.POSITIVE_INFINITY;
    let worst429 = 0;
    let worstRise = 0;
    const missed = new Set<string>();
    for (let run = 1; run <= runs; run++) {
      const m = (await simulate({ scenario, headers: mode, run, timerLateMs, ...timing, ...(client ? { client } : {}) })).measures;
      worstSteady = Math.min(worstSteady, ...m.steadyGoodput);
      worst429 = Math.max(worst429, m.share429);
      worstRise = Math.max(worstRise, ...m.toNinetyMs.map((x) => x ?? Number.POSITIVE_INFINITY));
      for (const g of checkGoals(m, mode !== "none")) if (!g.met) missed.add(g.goal);
    }
    if (missed.size > 0) failing++;
    console.log(
      `${scenario.name.padEnd(15)} ${mode.padEnd(12)} worst steady ${pct(worstSteady)}%  429s ${(worst429 * 100).toFixed(1)}%  to 90% ${(worstRise / 1000).toFixed(1)} s  ${missed.size === 0 ? "all goals met" : `missed: ${[...missed].join("; ")}`}`,
    );
  }
}
console.log(`${failing} model/mode pairs miss a goal in their worst of ${runs} runs`);
