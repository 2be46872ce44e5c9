/**
 * The code before a change, measured in the same run as the code after it:
 * `BENCH_BEFORE=<a checkout of the earlier commit> npm run bench -- breaker`. Its `src/` is
 * loaded beside this one (tsx compiles both), so both candidates share the process, the
 * machine's state and the measurement. Without `BENCH_BEFORE`, nothing is loaded.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** The earlier checkout's core and Redis entry points. */
export interface Before {
  readonly dir: string;
  readonly core: typeof import("../../src/index.js");
  readonly redis: typeof import("../../src/redis/index.js");
}

/** Loads `BENCH_BEFORE`'s sources, or answers undefined when it is not set. */
export async function loadBefore(): Promise<Before | undefined> {
  const dir = process.env.BENCH_BEFORE;
  if (dir === undefined || dir === "") return undefined;
  const load = (path: string): Promise<unknown> => import(pathToFileURL(join(dir, path)).href);
  const core = (await load("src/index.ts")) as Before["core"];
  const redis = (await load("src/redis/index.ts")) as Before["redis"];
  return { dir, core, redis };
}
