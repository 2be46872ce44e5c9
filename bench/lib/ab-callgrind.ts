/**
 * Instructions per call under valgrind's callgrind: the same on a loaded machine as on an
 * idle one. A worker (this file, run as a script) loads one build and runs each path N
 * times, then 2N times (three times over), calling `process.cpuUsage()` around each run;
 * callgrind dumps its counts at every entry to `node::CPUUsage`, so each run's instructions
 * are in a dump of their own, and (2N run − N run) / N is one call's, with what a run costs
 * once (its first calls, the loop's start) cancelled, and V8's compiling left out.
 * V8 runs `--single-threaded`, so that compiler and GC threads do not interleave by chance.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSources } from "./before.js";
import { chosen, memoryPaths, type PathSet, redisPaths } from "./ab-paths.js";
import { runBatch } from "./measure.js";

/** A young generation (MB per semi-space) that the counted runs do not fill: no scavenge falls in one by chance. */
const YOUNG = ["--min-semi-space-size=64", "--max-semi-space-size=64"];

/** The counted runs of a path, in multiples of N: three (N, 2N) pairs, each pair one estimate. */
const RUNS = [1, 2, 1, 2, 1, 2];

/** Calls per run (2N in the second run): N for in-memory paths, and for those that wait on Redis. */
export interface CountSizes {
  readonly memory: number;
  readonly redis: number;
}

/** Instructions per call, by path name, of one build in one worker: one estimate per (N, 2N) pair. */
export async function countInstructions(
  dir: string,
  sizes: CountSizes,
  server: { host: string; port: number } | undefined,
): Promise<Map<string, number[]>> {
  const out = mkdtempSync(join(tmpdir(), "bench-ab-cg-"));
  try {
    const args = ["--tool=callgrind", "--dump-before=node::CPUUsage*", `--callgrind-out-file=${join(out, "cg")}`];
    const node = [process.execPath, "--single-threaded", "--expose-gc", ...YOUNG, "--import", "tsx", fileURLToPath(import.meta.url)];
    const worker = [dir, String(sizes.memory), String(sizes.redis), server === undefined ? "" : `${server.host}:${server.port}`];
    const stdout = await exec("valgrind", [...args, ...node, ...worker]);
    const names = JSON.parse(stdout.trim().split("\n").pop() ?? "[]") as { name: string; n: number }[];
    const dumps = readdirSync(out).filter((f) => /^cg\.\d+$/.test(f)).length;
    const per = 2 * RUNS.length; // dumps per path: before each run (warm-up, GC), and the run
    if (dumps !== per * names.length) throw new Error(`expected ${per * names.length} callgrind dumps, found ${dumps}`);
    // cg.1, cg.2, ... are the dumps in order.
    const run = (p: number, j: number): number => instructionsOf(readFileSync(join(out, `cg.${per * p + 2 * j + 2}`), "utf8"));
    return new Map(names.map(({ name, n }, p) => [name, [0, 2, 4].map((j) => (run(p, j + 1) - run(p, j)) / n)]));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** V8's compilers, entered from JS through these runtime functions: a cost paid once per function, not per call. */
const COMPILE = /^v8::internal::Runtime_Compile\w*\(/;

/**
 * A dump's instructions, less those spent compiling (summed over the calls into `COMPILE`
 * functions: a function optimized during a counted run is not a cost of the path's calls).
 */
export function instructionsOf(dump: string): number {
  const names = new Map<string, string>(); // callgrind's compressed names: "(id) name" once, "(id)" after
  let callee = false;
  let costFollows = false;
  let compiling = 0;
  for (const line of dump.split("\n")) {
    const fn = /^c?fn=\((\d+)\)(?: (.*))?/.exec(line);
    if (fn !== null) {
      if (fn[2] !== undefined) names.set(fn[1] as string, fn[2]);
      callee = line.startsWith("cfn=") && COMPILE.test(names.get(fn[1] as string) ?? "");
    } else if (line.startsWith("calls=")) costFollows = callee;
    else if (costFollows) {
      compiling += Number(line.trim().split(/\s+/).pop()); // the call's inclusive cost
      costFollows = false;
    }
  }
  return Number(/^summary: (\d+)/m.exec(dump)?.[1]) - compiling;
}

function exec(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${command} exited with ${code}:\n${stderr.slice(-2_000)}`)),
    );
  });
}

/** The worker: times nothing, only calls; the dumps between the marks hold the counts. */
async function worker([dir = "", memoryN = "0", redisN = "0", where = ""]: string[]): Promise<void> {
  const sources = await loadSources(dir);
  const [host = "", port = ""] = where.split(":");
  const sets: [PathSet, number][] = [[memoryPaths(sources), Number(memoryN)]];
  // A path with a batch of its own (one that seldom waits on Redis) gets the in-memory N.
  if (where !== "") sets.push([await redisPaths(sources, { host, port: Number(port) }, `cg${process.pid}`), Number(redisN)]);
  const gc = (globalThis as { gc?: (options?: { type: "minor" }) => void }).gc ?? ((): void => undefined);
  const done: { name: string; n: number }[] = [];
  for (const [set, groupN] of sets) {
    for (const path of set.paths.filter(chosen)) {
      const n = path.batch === undefined ? groupN : Number(memoryN);
      gc(); // a full collection before the warm-up, so that none is under way (marking) in the counted runs
      await runBatch(path.fn, Math.max(2 * n, 5_000)); // warm-up: until V8 has optimized what it will
      for (const calls of RUNS.map((k) => k * n)) {
        // A scavenge outside the counted runs, and a young generation larger than a run allocates:
        // no collection falls in a run by chance. (A full GC would drop optimized code holding
        // objects it frees, and each run would compile it again.)
        gc({ type: "minor" });
        await runBatch(path.fn, Math.min(200, n));
        process.cpuUsage();
        await runBatch(path.fn, calls);
        process.cpuUsage();
      }
      done.push({ name: path.name, n });
    }
    await set.close();
  }
  console.log(JSON.stringify(done));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await worker(process.argv.slice(2));
