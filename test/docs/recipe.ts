/**
 * The recipe of docs/custom-decisions.md as the page shows it: its first TypeScript block,
 * with "breakwater" imports pointed at src/, written to a scratch module and imported. The
 * tests run exactly what a reader copies.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { entries } from "../../tsup.config.js";
import type { LuaScript, Twin } from "../../src/redis/index.js";
import type { Decision, Store } from "../../src/store/store.js";

export interface ThrottleState {
  nextAt: number;
}
export interface ThrottleOutput {
  readonly allowed: boolean;
  readonly retryAfterMs: number;
}
export type ThrottleDecisionLike = Decision<ThrottleState, "call", ThrottleOutput> & { readonly intervalMs: number };

/** What the recipe block exports. */
export interface Recipe {
  readonly ThrottleDecision: new (intervalMs: number) => ThrottleDecisionLike;
  readonly THROTTLE_SCRIPT: LuaScript;
  readonly THROTTLE_TWIN: Twin<ThrottleState, "call", ThrottleOutput>;
  sendReport(store: Store, send: () => Promise<void>, now: number): Promise<number>;
}

const root = join(import.meta.dirname, "..", "..");
let loaded: Promise<Recipe> | undefined;

/** Imports the page's recipe once per test file. */
export function loadRecipe(): Promise<Recipe> {
  loaded ??= (async () => {
    const page = readFileSync(join(root, "docs", "custom-decisions.md"), "utf8");
    const code = /^```ts\n([\s\S]*?)^```/m.exec(page)?.[1];
    if (code === undefined) throw new Error("docs/custom-decisions.md has no ts block");
    const dir = join(root, "test", "docs", `.snippets-recipe-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const source = code.replace(/from "breakwater(\/[a-z]+)?"/g, (_m, sub: string | undefined) => {
      const entry = (entries as Record<string, string>)[sub ? sub.slice(1) : "index"];
      if (entry === undefined) throw new Error(`the recipe imports "breakwater${sub ?? ""}", which is no entry`);
      return `from "${relative(dir, join(root, entry)).replace(/\.ts$/, ".js")}"`;
    });
    const file = join(dir, "throttle.ts");
    writeFileSync(file, source);
    try {
      return (await import(file)) as Recipe;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return loaded;
}
