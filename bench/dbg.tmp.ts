import { simulate } from "./lib/adaptive-sim.js";
import { scenarioNamed } from "./lib/adaptive-scenarios.js";
await simulate({ scenario: scenarioNamed(process.env.SC ?? "gcra"), headers: "none", seed: 1 });
