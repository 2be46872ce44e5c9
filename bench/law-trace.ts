/**
 * One simulated run of the adaptive limiter, second by second: the limit, the pace, the
 * answers accepted and refused. For reading what the control law did on one upstream.
 *
 *   npx tsx bench/law-trace.ts <model> <none|retry-after|full> [run] [--fleet=4] [--service=95-105] [--burst=5] [--window=10] [--stretch=6] [--scale=0.2] [--counts-refused] [--timers=node] [--clock=coarse] [--workers=16]
 *
 * `--fleet=N`: N clients share one limiter record, as processes share it through RedisStore.
 * `--service=min-max`, `--burst=S`, `--window=S`, `--stretch=K`, `--scale=K`, `--counts-refused`: the upstream changed as in bench/law-sim.ts;
 * `--timers=node`, `--clock=coarse`, `--workers=N`: the client's timing and callers, as there.
 */
import type { HeaderMode } from "../examples/lib/upstream.js";
import { scenarioNamed, limitAt } from "./lib/adaptive-scenarios.js";
import { simulate } from "./lib/adaptive-sim.js";
import { fleetClientFromArgs, shapeFromArgs, timingFromArgs, workersFromArgs } from "./lib/sim-args.js";

const [name = "token-bucket", mode = "none", run = "1"] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const scenario = shapeFromArgs(scenarioNamed(name));
const client = fleetClientFromArgs();
const r = await simulate({
  scenario,
  headers: mode as HeaderMode,
  run: Number(run),
  ...timingFromArgs(),
  ...workersFromArgs(),
  ...(client ? { client } : {}),
});
const per = (series: readonly number[], s: number): number => {
  let n = 0;
  for (let i = s * 10; i < s * 10 + 10; i++) n += series[i] ?? 0;
  return n;
};
const paceAt = (s: number): string =>
  r.paced
    .filter(([t]) => t >= s && t < s + 1)
    .filter((_, i) => i % 2 === 0)
    .map(([, p]) => p.toFixed(0).padStart(3))
    .join(" ");
console.log("  s limit   ok  429  503  pace every 200 ms");
for (let s = 0; s * 1000 < scenario.phases[scenario.phases.length - 1]!.toMs; s++) {
  const line = [s, limitAt(scenario, s * 1000 + 500), per(r.timeline.ok, s), per(r.timeline.throttled, s), per(r.timeline.unavailable, s)];
  console.log(`${line.map((x) => String(x).padStart(4)).join(" ")}  ${paceAt(s)}`);
}
const m = r.measures;
console.log(
  `steady ${m.steadyGoodput.map((x) => x.toFixed(2)).join(" ")}  429s ${(m.share429 * 100).toFixed(1)}%  to90 ${m.toNinetyMs.join(" ")}  p99 ${m.p99Ms.map((x) => x.toFixed(0)).join(" ")} floor ${m.floorMs.map((x) => x.toFixed(0)).join(" ")}`,
);
