/**
 * The code before a change, measured in the same run as the code after it:
 * `BENCH_BEFORE=<a checkout of the earlier commit, or a commit> npm run bench -- breaker`.
 * Its `src/` is loaded beside this one (tsx compiles both), so both candidates share the
 * process, the machine's state and the measurement. A commit (not a directory) is checked out
 * once, as a detached git worktree beside this repository (`../before-<commit>`, with
 * `npm ci`), and reused after. Without `BENCH_BEFORE`, nothing is loaded.
 */
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** This repository's root (whose `src/` is "after"). */
export const AFTER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A checkout's core and Redis entry points, typed as this one's (an older build may lack a member). */
export interface Sources {
  readonly dir: string;
  readonly core: typeof import("../../src/index.js");
  readonly redis: typeof import("../../src/redis/index.js");
}

/** The earlier checkout's sources. */
export type Before = Sources;

/** Loads the `src/` of the checkout in `dir`. */
export async function loadSources(dir: string): Promise<Sources> {
  const load = (path: string): Promise<unknown> => import(pathToFileURL(join(dir, path)).href);
  const core = (await load("src/index.ts")) as Sources["core"];
  const redis = (await load("src/redis/index.ts")) as Sources["redis"];
  return { dir, core, redis };
}

/**
 * The directory `BENCH_BEFORE` names: itself when it is a directory, else a commit checked
 * out beside this repository (made on first use). Undefined when it is not set.
 */
export function beforeDir(): string | undefined {
  const given = process.env.BENCH_BEFORE;
  if (given === undefined || given === "") return undefined;
  if (existsSync(given) && statSync(given).isDirectory()) return resolve(given);
  const commit = execFileSync("git", ["rev-parse", "--short", `${given}^{commit}`], { cwd: AFTER_DIR, encoding: "utf8" }).trim();
  const dir = resolve(AFTER_DIR, "..", `before-${commit}`);
  if (!existsSync(join(dir, "node_modules"))) {
    console.error(`checking out ${commit} in ${dir} (git worktree, npm ci)`);
    if (!existsSync(dir)) execFileSync("git", ["worktree", "add", "--detach", dir, commit], { cwd: AFTER_DIR, stdio: "inherit" });
    execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  }
  return dir;
}

/** Loads `BENCH_BEFORE`'s sources, or answers undefined when it is not set. */
export async function loadBefore(): Promise<Before | undefined> {
  const dir = beforeDir();
  return dir === undefined ? undefined : loadSources(dir);
}
