/**
 * The package as users get it: `tsup` builds it (as `npm run build` does) into a copy of the
 * package under node_modules/.cache, and child processes load every `exports` entry through
 * the package's own name, with `require` and with `import`. Also: the declarations the
 * `exports` map names exist, the `breakwater` bin runs, and the core entry pulls in no
 * package at all (zero runtime dependencies).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const pack = join(root, "node_modules", ".cache", `breakwater-pack-${process.pid}`);

interface Conditions {
  readonly import: { readonly types: string; readonly default: string };
  readonly require: { readonly types: string; readonly default: string };
}
interface Manifest {
  readonly name: string;
  readonly bin: Record<string, string>;
  readonly dependencies?: Record<string, string>;
  readonly exports: Record<string, Conditions | string>;
}
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Manifest;
const subpaths = Object.entries(manifest.exports).filter((e): e is [string, Conditions] => typeof e[1] === "object");

/** What each entry must export (one or two names that prove it is the right module). */
const EXPECTED: Record<string, readonly string[]> = {
  ".": ["CircuitBreaker", "TokenBucket", "pipeline", "ManualClock"],
  "./http": ["ApiClient", "EnterpriseClient", "apiRateConfig"],
  "./prometheus": ["instrumentPrometheus"],
  "./otel": ["instrumentOpenTelemetry"],
  "./dashboard": ["dashboardHandler"],
  "./redis": ["RedisStore"],
};

beforeAll(() => {
  rmSync(pack, { recursive: true, force: true });
  mkdirSync(pack, { recursive: true });
  writeFileSync(join(pack, "package.json"), JSON.stringify(manifest));
  const tsup = spawnSync(
    process.execPath,
    [join(root, "node_modules", "tsup", "dist", "cli-default.js"), "--out-dir", join(pack, "dist")],
    { cwd: root, encoding: "utf8" },
  );
  if (tsup.status !== 0) throw new Error(`tsup failed:\n${tsup.stdout}\n${tsup.stderr}`);
}, 120_000);

afterAll(() => {
  rmSync(pack, { recursive: true, force: true });
});

/** Runs `source` with node in the package's directory (so its own name resolves through `exports`). */
function run(source: string, type: "cjs" | "mjs"): { status: number | null; stdout: string; stderr: string } {
  const file = join(pack, `probe.${type}`);
  writeFileSync(file, source);
  return spawnSync(process.execPath, [file], { cwd: pack, encoding: "utf8" });
}

describe("the built package", () => {
  it("has every file its exports map names, declarations included", () => {
    expect(subpaths.map(([subpath]) => subpath).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [, conditions] of subpaths) {
      for (const file of [conditions.import.default, conditions.import.types, conditions.require.default, conditions.require.types]) {
        expect({ file, exists: existsSync(join(pack, file)) }).toEqual({ file, exists: true });
      }
    }
  });

  it("loads every entry with require (CommonJS) and with import (ESM)", () => {
    for (const [subpath, names] of Object.entries(EXPECTED)) {
      const specifier = subpath === "." ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
      const check = `const missing = ${JSON.stringify(names)}.filter((n) => typeof m[n] !== "function"); if (missing.length) { console.error("missing " + missing); process.exit(1); }`;
      const cjs = run(`const m = require(${JSON.stringify(specifier)});\n${check}`, "cjs");
      expect({ specifier, format: "cjs", status: cjs.status, stderr: cjs.stderr }).toEqual({
        specifier,
        format: "cjs",
        status: 0,
        stderr: "",
      });
      const esm = run(`const m = await import(${JSON.stringify(specifier)});\n${check}`, "mjs");
      expect({ specifier, format: "esm", status: esm.status, stderr: esm.stderr }).toEqual({
        specifier,
        format: "esm",
        status: 0,
        stderr: "",
      });
    }
  });

  it("the core entry imports nothing but its own chunks and node: modules, and there are no dependencies", () => {
    expect(manifest.dependencies ?? {}).toEqual({});
    for (const entry of ["dist/index.js", "dist/index.cjs"]) {
      const seen = new Set<string>();
      const visit = (file: string): void => {
        if (seen.has(file)) return;
        seen.add(file);
        const text = readFileSync(file, "utf8");
        for (const m of text.matchAll(/(?:from\s*|import\s*\(?\s*|require\s*\(\s*)["']([^"']+)["']/g)) {
          const spec = m[1] as string;
          if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
          else expect({ entry, file, spec, builtin: spec.startsWith("node:") }).toEqual({ entry, file, spec, builtin: true });
        }
      };
      visit(join(pack, entry));
      expect(seen.size).toBeGreaterThan(1);
    }
  });

  it("the breakwater bin runs", () => {
    const bin = join(pack, manifest.bin.breakwater as string);
    expect(readFileSync(bin, "utf8").startsWith("#!/usr/bin/env node")).toBe(true);
    const help = spawnSync(process.execPath, [bin, "--help"], { cwd: pack, encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/status/);
    expect(help.stdout).toMatch(/dashboard/);
  });
});
