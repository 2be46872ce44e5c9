import { simulate } from "./lib/adaptive-sim.js";
import { scenarioNamed } from "./lib/adaptive-scenarios.js";
const r = await simulate({ scenario: scenarioNamed(process.env.SC ?? "token-bucket"), headers: (process.env.MODE ?? "none") as "none", seed: Number(process.env.SEED ?? 1) });
const per = (a: number[]) => { const o: number[] = []; a.forEach((v, i) => { o[Math.floor(i / 10)] = (o[Math.floor(i / 10)] ?? 0) + v; }); return o; };
const ok = per(r.timeline.ok), no = per(r.timeline.throttled);
for (let i = 0; i < ok.length; i++) console.log(`${i}`.padStart(3), `${ok[i] ?? 0}`.padStart(4), `${no[i] ?? 0}`.padStart(4), r.paced.filter(([t]) => t >= i && t < i + 1).map(([, v]) => v.toFixed(0)).join(","));
console.log(r.measures.share429);
