/**
 * Before and after in one run: every hot path (breaker, retry stack, each limiter, the
 * bulkhead, the adaptive limiter, and the breaker and limiters on RedisStore) of an earlier
 * build against this one, in one process. Each path's two builds run in alternating rounds
 * (before-after, after-before, ...), so drift hits both alike; the table gives each side's
 * median and the median of the paired per-round ratios, with their spread as the noise.
 *
 *   BENCH_BEFORE=2fbabd2 npm run bench -- ab                         # ns per call
 *   BENCH_BEFORE=2fbabd2 BENCH_AB=instructions npm run bench -- ab   # instructions per call (callgrind)
 *   BENCH_BEFORE=2fbabd2 BENCH_AB=server npm run bench -- ab         # Redis server's script time per call
 *   BENCH_BEFORE=2fbabd2 BENCH_AB=processes npm run bench -- ab      # ns per call, each build in processes of its own
 *
 * By default both builds share one process, which keeps the noise low (a few percent) but
 * lets one build's per-process state change the other's cost: Node keeps one timer list per
 * duration, made when a timer joins an empty one and dropped when the last leaves, so a build
 * that holds a long-lived timer makes the other's set-and-clear per call cheaper (see
 * lib/ab-isolate.ts). `processes` times each build alone, as a user's process runs it, at the
 * price of each process's luck in the JIT showing as noise.
 *
 * `BENCH_BEFORE` is a commit (checked out once beside this repository, see lib/before.ts) or
 * a checkout's directory. Environment: `BENCH_AB_ROUNDS` (rounds, default 31), `BENCH_AB_ONLY` (only the paths whose
 * name contains one of these comma-separated words),
 * `BENCH_AB_N` (callgrind: calls per in-memory run, default 4000; an eighth of it on Redis),
 * `BENCH_AB_RUNS` (callgrind: workers per build, default 2), `BENCH_AB_PROCS` (`processes`: pairs
 * of processes, default 5), `REDIS_URL` (else a
 * redis-server is started here, as the tests do).
 */
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { Redis } from "ioredis";
import { startRedis } from "../test/setup/redis.js";
import { AFTER_DIR, beforeDir, loadSources } from "./lib/before.js";
import { chosen, type HotPath, memoryPaths, type PathSet, redisPaths } from "./lib/ab-paths.js";
import { startIsolate } from "./lib/ab-isolate.js";
import { type AbRow, abTable, compare, compareCounts } from "./lib/ab-stats.js";
import { countInstructions } from "./lib/ab-callgrind.js";
import { commandList, serverCost } from "./lib/ab-server.js";
import { alternate, runBatch, sample } from "./lib/measure.js";

const dir = beforeDir();
if (dir === undefined) {
  console.log("ab: set BENCH_BEFORE to a commit or a checkout to compare against (skipped)");
  process.exit(0);
}
const instructions = process.env.BENCH_AB === "instructions";
const onServer = process.env.BENCH_AB === "server";
const inProcesses = process.env.BENCH_AB === "processes";
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 31);
const N = Number(process.env.BENCH_AB_N ?? 4_000);
const RUNS = Number(process.env.BENCH_AB_RUNS ?? 2);
const PROCS = Number(process.env.BENCH_AB_PROCS ?? 5);

const commit = (cwd: string): string => {
  const git = (...args: string[]): string => execFileSync("git", args, { cwd, encoding: "utf8" }).trim();
  return git("rev-parse", "--short", "HEAD") + (git("status", "--porcelain", "--", "src") === "" ? "" : " + uncommitted src/");
};
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
const loadAtStart = load();
const server = await startRedis();

let tables: string[];
let noiseNote: string;
if (instructions) {
  // Both builds' workers at once (a count does not depend on the load), RUNS times.
  const sizes = { memory: N, redis: Math.max(50, Math.round(N / 8)) };
  const runs: [Map<string, number[]>, Map<string, number[]>][] = [];
  for (let r = 0; r < RUNS; r++) {
    runs.push(await Promise.all([countInstructions(dir, sizes, server), countInstructions(AFTER_DIR, sizes, server)]));
  }
  const names = [...(runs[0]?.[1].keys() ?? [])];
  const all = (side: 0 | 1, name: string): number[] => runs.flatMap((run) => run[side].get(name) ?? []);
  const rows = names.map((name) => compareCounts(name, all(0, name), all(1, name)));
  for (const name of names)
    console.error(`${name}: before ${all(0, name).map(Math.round).join(" ")}; after ${all(1, name).map(Math.round).join(" ")}`);
  tables = [abTable(rows, "instr/op", ["MORE instructions", "fewer instructions"])];
  noiseNote = `callgrind, N = ${sizes.memory} in memory and ${sizes.redis} on Redis; instructions/op = (count of 2N calls − count of N calls) / N, in the node process only (not redis-server), V8 compiling left out; ${RUNS} workers per build, 3 (N, 2N) pairs each; ratio of the medians; noise = the half interquartile ranges of both sides, relative, added.`;
} else if (onServer) {
  // The RedisStore paths only, before and after alternating, each round a batch of calls.
  const admin = new Redis({ host: server.host, port: server.port });
  const b = await redisPaths(await loadSources(dir), server, "before");
  const a = await redisPaths(await loadSources(AFTER_DIR), server, "after");
  const BATCH = 2_000;
  const rows: AbRow[] = [];
  const lines: string[] = [];
  for (const [i, path] of a.paths.entries()) {
    if (!chosen(path)) continue;
    const sides = [b.paths[i] ?? path, path];
    for (const side of sides) await runBatch(side.fn, BATCH); // warm-up
    const ns: [number[], number[]] = [[], []];
    const last: string[] = [];
    await alternate(ROUNDS, async (s) => {
      const cost = await serverCost(admin, (sides[s] as HotPath).fn, BATCH);
      ns[s].push(cost.scriptNs);
      last[s] = commandList(cost.commands);
    });
    rows.push(compare(path.name, ns[0], ns[1]));
    lines.push(`- ${path.name}: before ${last[0]}; after ${last[1]}`);
    console.error(`RedisStore: ${path.name} done`);
  }
  await b.close();
  await a.close();
  admin.disconnect();
  tables = [abTable(rows, "server ns/op"), `Redis commands per call (scripts' inner calls included):\n\n${lines.join("\n")}`];
  noiseNote = `The Redis server's script time (EVALSHA/EVAL usec in INFO commandstats after CONFIG RESETSTAT, inner calls included), ${BATCH.toLocaleString("en-US")} calls per sample, ${ROUNDS} rounds, before and after alternating; ratio = median of the per-round after/before; noise = half the interquartile range of those ratios.`;
} else if (inProcesses) {
  // Each build in processes of its own (see lib/ab-isolate.ts): PROCS pairs, each timing
  // every chosen path for its share of the rounds, before and after alternating.
  const groups: [string, "memory" | "redis", number][] = [
    ["in memory", "memory", 50_000],
    ["RedisStore", "redis", 2_000],
  ];
  const at = { host: server.host, port: server.port };
  const perPair = Math.ceil(ROUNDS / PROCS);
  tables = [];
  for (const [title, group, batch] of groups) {
    const ns = new Map<string, [number[], number[]]>();
    for (let pair = 0; pair < PROCS; pair++) {
      const b = await startIsolate(dir, group, at, "before");
      const a = await startIsolate(AFTER_DIR, group, at, "after");
      for (const [i, path] of a.paths.entries()) {
        if (!chosen(path)) continue;
        const j = b.paths.findIndex((p) => p.name === path.name);
        const n = path.batch ?? batch;
        const sides = [
          { iso: b, index: j < 0 ? i : j },
          { iso: a, index: i },
        ] as const;
        for (const side of sides) await side.iso.time(side.index, n, false); // warm-up: let the JIT settle
        const both = ns.get(path.name) ?? [[], []];
        ns.set(path.name, both);
        await alternate(perPair, async (s) => {
          both[s].push(await sides[s].iso.time(sides[s].index, n, true));
        });
      }
      await b.close();
      await a.close();
      console.error(`${title}: pair ${pair + 1} of ${PROCS} done`);
    }
    const rows = [...ns].map(([name, [before, after]]) => compare(name, before, after));
    tables.push(`${title} (${batch.toLocaleString("en-US")} calls per sample unless the path sets its own):\n\n${abTable(rows, "ns/op")}`);
  }
  noiseNote = `Each build in processes of its own (no timer list or other per-process state shared; ${PROCS} pairs of processes, so each build's luck in the JIT shows as noise rather than as a difference); ${perPair} rounds per path in each pair (${perPair * PROCS} in all), before and after alternating (before-after, after-before, ...), a full GC before each sample; ratio = median of the per-round after/before; noise = half the interquartile range of those ratios.`;
} else {
  const before = await loadSources(dir);
  const after = await loadSources(AFTER_DIR);
  const groups: [string, PathSet, PathSet, number][] = [
    ["in memory", memoryPaths(before), memoryPaths(after), 50_000],
    ["RedisStore", await redisPaths(before, server, "before"), await redisPaths(after, server, "after"), 2_000],
  ];
  tables = [];
  for (const [title, b, a, batch] of groups) {
    const rows: AbRow[] = [];
    for (const [i, path] of a.paths.entries()) {
      if (!chosen(path)) continue;
      const pair = [
        { ...(b.paths[i] ?? path), name: "before" },
        { ...path, name: "after" },
      ];
      const s = await sample(pair, { batch, rounds: ROUNDS, gc: true });
      rows.push(compare(path.name, s.get("before") ?? [], s.get("after") ?? []));
      console.error(`${title}: ${path.name} done`);
    }
    tables.push(`${title} (${batch.toLocaleString("en-US")} calls per sample unless the path sets its own):\n\n${abTable(rows, "ns/op")}`);
    await b.close();
    await a.close();
  }
  noiseNote = `${ROUNDS} rounds per path, before and after alternating (before-after, after-before, ...), a full GC before each sample; ratio = median of the per-round after/before; noise = half the interquartile range of those ratios. Both builds share this process, and with it Node's timer lists: a path that sets timers (the pipeline's timeout) costs each build what it costs beside the other's timers; \`BENCH_AB=processes\` times each build alone.`;
}
await server.stop();

console.log(
  [
    `\n### ${new Date().toISOString().slice(0, 10)}: before ${commit(dir)} vs after ${commit(AFTER_DIR)}, ${instructions ? "instructions" : onServer ? "Redis server time" : inProcesses ? "time, each build in its own processes" : "time"}`,
    "",
    `Node ${process.version}; load average ${loadAtStart} at the start, ${load()} at the end; \`BENCH_BEFORE=${process.env.BENCH_BEFORE}${process.env.BENCH_AB === undefined ? "" : ` BENCH_AB=${process.env.BENCH_AB}`} npm run bench -- ab\`. ${noiseNote}`,
    "",
    ...tables.flatMap((t) => [t, ""]),
  ].join("\n"),
);
