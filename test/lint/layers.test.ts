import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ESLint } from "eslint";
import tseslint from "typescript-eslint";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: the layer rules are plain JavaScript beside eslint.config.js, without types.
import { LAYERS, layerConfig } from "../../eslint.layers.js";

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** Writes `files` (path under the root -> source) into a fresh folder and returns it. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "bw-layers-"));
  made.push(root);
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), source);
  }
  return root;
}

/** Lints `root`'s src/ with the project's layer rules only; returns each message as "file: rule". */
async function lintLayers(root: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    // Only the layer rules run here: the other rules' disable comments in src/ are not "unused".
    ruleFilter: ({ ruleId }) => ruleId.startsWith("import-x/"),
    overrideConfig: [
      {
        files: ["**/*.ts"],
        languageOptions: { parser: tseslint.parser },
        linterOptions: { reportUnusedDisableDirectives: "off" },
        plugins: { "@typescript-eslint": tseslint.plugin },
      },
      layerConfig(root),
    ],
  });
  const results = await eslint.lintFiles(["src/**/*.ts"]);
  return results.flatMap((r) => r.messages.map((m) => `${r.filePath.slice(root.length + 1)}: ${m.ruleId ?? m.message}`)).sort();
}

describe("npm run lint keeps the layers", () => {
  it("fails on an upward import: core importing http", async () => {
    const root = tree({
      "src/core/clock.ts": 'import { get } from "../http/client.js";\nexport const now = (): number => get();\n',
      "src/http/client.ts": "export const get = (): number => 1;\n",
    });
    expect(await lintLayers(root)).toEqual(["src/core/clock.ts: import-x/no-restricted-paths"]);
  });

  it("fails on a type-only upward import too, and on a policy importing observe", async () => {
    const root = tree({
      "src/limit/base.ts": 'import type { Sink } from "../observe/sink.js";\nexport type Base = Sink;\n',
      "src/observe/sink.ts": "export interface Sink { readonly n: number }\n",
    });
    expect(await lintLayers(root)).toEqual(["src/limit/base.ts: import-x/no-restricted-paths"]);
  });

  it("fails when two integrations import each other's folder", async () => {
    const root = tree({
      "src/otel/index.ts": 'import { n } from "../prometheus/index.js";\nexport const m = n;\n',
      "src/prometheus/index.ts": "export const n = 1;\n",
    });
    expect(await lintLayers(root)).toEqual(["src/otel/index.ts: import-x/no-restricted-paths"]);
  });

  it("fails on a cycle, even inside one layer", async () => {
    const root = tree({
      "src/breaker/a.ts": 'import { b } from "../retry/b.js";\nexport const a = (): number => b() + 1;\n',
      "src/retry/b.ts": 'import { a } from "../breaker/a.js";\nexport const b = (): number => (a.length > 0 ? 1 : 0);\n',
    });
    expect(await lintLayers(root)).toEqual(["src/breaker/a.ts: import-x/no-cycle", "src/retry/b.ts: import-x/no-cycle"]);
  });

  it("passes a tree whose imports only point down", async () => {
    const root = tree({
      "src/core/clock.ts": "export const now = (): number => 0;\n",
      "src/store/memory.ts": 'import { now } from "../core/clock.js";\nexport const at = now();\n',
      "src/breaker/breaker.ts": 'import { at } from "../store/memory.js";\nexport const opened = at;\n',
      "src/cli/main.ts": 'import { opened } from "../breaker/breaker.js";\nexport const shown = String(opened);\n',
    });
    expect(await lintLayers(root)).toEqual([]);
  });

  it("passes on the real src/, whose every folder belongs to a layer", async () => {
    const root = join(import.meta.dirname, "../..");
    const { readdirSync } = await import("node:fs");
    const folders = readdirSync(join(root, "src"), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    const layered = (LAYERS as { folders: string[] }[]).flatMap((l) => l.folders).sort();
    expect(folders).toEqual(layered);
    expect(await lintLayers(root)).toEqual([]);
  }, 60_000);

  it("is part of the configuration npm run lint uses", async () => {
    const root = join(import.meta.dirname, "../..");
    const config = (await new ESLint({ cwd: root }).calculateConfigForFile(join(root, "src/core/clock.ts"))) as {
      rules: Record<string, unknown[]>;
    };
    expect(config.rules["import-x/no-restricted-paths"]?.[0]).toBe(2);
    expect(config.rules["import-x/no-cycle"]?.[0]).toBe(2);
  });
});
