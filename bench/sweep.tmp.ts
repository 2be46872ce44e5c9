import { simulate } from "./lib/adaptive-sim.js";
import { SCENARIOS } from "./lib/adaptive-scenarios.js";
import { checkGoals } from "./lib/adaptive-goals.js";
const modes = (process.env.MODES ?? "none,retry-after,full").split(",") as ("none")[];
const seeds = Number(process.env.SEEDS ?? 2);
let fails = 0; const rows: string[] = [];
for (const sc of SCENARIOS) for (const mode of modes) {
  let worstG = 9, worst429 = 0, worstRise = 0, failed = new Set<string>();
  for (let seed = 1; seed <= seeds; seed++) {
    const m = (await simulate({ scenario: sc, headers: mode, seed })).measures;
    worstG = Math.min(worstG, ...m.steadyGoodput); worst429 = Math.max(worst429, m.share429);
    worstRise = Math.max(worstRise, ...m.toNinetyMs.map((x) => x ?? 99999));
    for (const g of checkGoals(m, mode !== "none")) if (!g.met) failed.add(g.goal.slice(0, 10));
  }
  if (failed.size) fails++;
  rows.push(`${sc.name.padEnd(14)} ${mode.padEnd(11)} minG ${(worstG*100).toFixed(0)} max429 ${(worst429*100).toFixed(1)} rise ${(worstRise/1000).toFixed(1)} ${[...failed].join(",")}`);
}
console.log(rows.join("\n")); console.log("FAILING", fails);
