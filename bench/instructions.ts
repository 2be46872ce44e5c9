/**
 * Instructions per closed-state `breaker.execute`, counted by valgrind's callgrind: unlike
 * timings on a shared 2-core machine, the count repeats from one run to the next.
 * Each checkout's `src/` is bundled with esbuild beside `bench/lib/instructions-worker.ts`,
 * and the bundle runs `n` and `2n` awaited calls under `valgrind --tool=callgrind node
 * --predictable` (V8 then compiles and collects on the main thread, deterministically). Only
 * the loop is counted (the worker marks it, see there), and the difference of the two counts
 * over `n` is the count per call: the first compilations cancel out. In memory and on
 * RedisStore (a redis-server started here; its keys and cached scripts are flushed before
 * each run, so that the `n` and `2n` runs start alike).
 *
 * Run: `npx tsx bench/instructions.ts [bare] [memory] [redis] [memory-mixed] [redis-mixed]
 * [--n 100000]` (default: all; the mixed paths count one breaker after both kinds ran in
 * the process, see `Path`); with `BENCH_BEFORE=<checkout of an earlier commit>` the earlier
 * code is counted too.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Redis } from "ioredis";
import { startRedis } from "../test/setup/redis.js";
import { type Path, PATHS } from "./lib/instructions-worker.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// Under node_modules, so that the bundles' bare imports (ioredis) resolve from this checkout.
const out = join(root, "node_modules", ".cache", "breakwater-instructions");
const args = process.argv.slice(2);
const nAt = args.indexOf("--n");
const n = nAt >= 0 ? Number(args[nAt + 1]) : 100_000;
if (!Number.isInteger(n) || n <= 0) throw new Error(`--n must be a positive integer, not ${args[nAt + 1]}`);
const named = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--n");
const paths = (named.length > 0 ? named : PATHS) as Path[];
for (const p of paths) if (!PATHS.includes(p)) throw new Error(`unknown path ${p}: one of ${PATHS.join(", ")}`);

const PATH_NAMES: Record<Path, string> = {
  bare: "bare",
  memory: "in memory",
  redis: "RedisStore",
  "memory-mixed": "in memory, beside a RedisStore breaker",
  "redis-mixed": "RedisStore, beside an in-memory breaker",
};

const checkouts: [string, string][] = [["now", root]];
if (process.env.BENCH_BEFORE) checkouts.push(["before", resolve(process.env.BENCH_BEFORE)]);

/** Bundles one checkout's classes with the worker into one file of plain JavaScript. */
async function bundle(label: string, dir: string): Promise<string> {
  const file = join(out, `${label}.mjs`);
  const contents = [
    `import { CircuitBreaker } from ${JSON.stringify(join(dir, "src/index.ts"))};`,
    `import { RedisStore } from ${JSON.stringify(join(dir, "src/redis/index.ts"))};`,
    `import { run } from ${JSON.stringify(join(root, "bench/lib/instructions-worker.ts"))};`,
    "await run({ CircuitBreaker, RedisStore });",
  ].join("\n");
  await build({
    stdin: { contents, resolveDir: dir, loader: "ts" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile: file,
    logLevel: "warning",
  });
  return file;
}

/** The instructions callgrind counted in one run of `file` between the worker's two marks (every thread). */
function count(file: string, path: Path, calls: number, port: number): number {
  const result = join(out, "callgrind.out");
  for (const dump of ["", ".1", ".2"]) rmSync(result + dump, { force: true });
  const run = spawnSync(
    "valgrind",
    [
      "--tool=callgrind",
      "--dump-before=uv_loadavg",
      `--callgrind-out-file=${result}`,
      process.execPath,
      "--predictable",
      "--expose-gc",
      file,
      path,
      String(calls),
      String(port),
    ],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  );
  if (run.status !== 0) throw new Error(`valgrind failed (${run.status}): ${run.stderr.slice(-2_000)}`);
  // Dump 1 is what ran before the first mark, dump 2 the loop.
  const totals = /^totals: (\d+)/m.exec(readFileSync(`${result}.2`, "utf8"));
  if (totals === null) throw new Error(`no totals in ${result}.2`);
  return Number(totals[1]);
}

mkdirSync(out, { recursive: true });
const server = paths.some((p) => p !== "bare" && p !== "memory") ? await startRedis() : undefined;
const admin = server === undefined ? undefined : new Redis({ host: server.host, port: server.port });
try {
  const rows: string[] = [];
  for (const [label, dir] of checkouts) {
    const file = await bundle(label, dir);
    for (const path of paths) {
      if (path === "bare" && label !== "now") continue; // the same loop whatever the checkout
      const totals: number[] = [];
      for (const calls of [n, 2 * n]) {
        // The same server for every run: no keys, and no scripts cached from the run before.
        await admin?.flushall();
        await admin?.script("FLUSH");
        totals.push(count(file, path, calls, server?.port ?? 0));
      }
      const perCall = ((totals[1] as number) - (totals[0] as number)) / n;
      const name = path === "bare" ? "bare await fn()" : `breaker.execute, ${PATH_NAMES[path]} (${label})`;
      rows.push(`| ${name} | ${perCall.toFixed(0)} | ${(totals[0] as number).toLocaleString("en")} |`);
      console.log(rows[rows.length - 1]);
    }
  }
  console.log(
    [
      "",
      `#### Instructions per call (callgrind, node ${process.version} --predictable, ${n.toLocaleString("en")} and ${(2 * n).toLocaleString("en")} calls)`,
      "",
      `| candidate | instructions / call | loop of ${n.toLocaleString("en")} calls |`,
      "| --- | ---: | ---: |",
      ...rows,
    ].join("\n"),
  );
} finally {
  admin?.disconnect();
  await server?.stop();
}
