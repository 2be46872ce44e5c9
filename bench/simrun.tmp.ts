import { simulate } from "/work/wt-adaptive/bench/lib/adaptive-sim.js";
import { SCENARIOS } from "/work/wt-adaptive/bench/lib/adaptive-scenarios.js";
import { checkGoals } from "/work/wt-adaptive/bench/lib/adaptive-goals.js";
const modes = (process.env.MODES ?? "none,retry-after,full").split(",") as ("none"|"retry-after"|"full")[];
const only = process.env.ONLY?.split(",");
const seeds = Number(process.env.SEEDS ?? 3);
const pct = (x: number) => (x * 100).toFixed(0);
for (const sc of SCENARIOS) {
  if (only && !only.includes(sc.name)) continue;
  for (const mode of modes) {
    for (let seed = 1; seed <= seeds; seed++) {
      const t = performance.now();
      const r = await simulate({ scenario: sc, headers: mode, seed });
      const m = r.measures;
      const g = checkGoals(m, mode !== "none");
      console.log(`${sc.name.padEnd(14)} ${mode.padEnd(11)} s${seed} steady ${m.steadyGoodput.map(pct).join("/")} all ${pct(m.overallGoodput)} 429 ${(m.share429*100).toFixed(1)}% to90 ${m.toNinetyMs.map(x=>x===null?"-":(x/1000).toFixed(1)).join("/")} p99 ${m.p99Ms.map(x=>(x/1000).toFixed(1)).join("/")} fails ${m.failedCalls} ${g.every(x=>x.met)?"OK":"FAIL:"+g.filter(x=>!x.met).map(x=>x.goal.slice(0,12)).join(",")} (${((performance.now()-t)/1000).toFixed(1)}s)`);
      if (process.env.TRACE) console.log(r.paced.filter((_, i) => i % 5 === 0).map(([s, v]) => `${s.toFixed(1)}:${v.toFixed(0)}`).join(" "));
    }
  }
}
