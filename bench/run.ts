/**
 * Runs every benchmark script (`bench/*.bench.ts`), each in its own process so that one's
 * JIT state and garbage do not skew another's. `npm run bench -- breaker` runs only the
 * scripts whose name contains "breaker". Results are printed; copy them to RESULTS.md.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const scripts = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => filters.length === 0 || filters.some((word) => f.includes(word)))
  .sort();

let failed = 0;
for (const script of scripts) {
  console.log(`\n=== ${script}`);
  const result = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", join(here, script)], { stdio: "inherit" });
  if (result.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
