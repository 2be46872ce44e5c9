/**
 * Every ```ts block in README.md must compile against the real API: imports of
 * "breakwater" and its subpaths are pointed at src/, each block is its own module, and
 * the TypeScript compiler must report nothing.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { entries } from "../../tsup.config.js";

const root = join(import.meta.dirname, "..", "..");
// README_FILE checks a draft section instead, e.g. README_FILE=.drafts/retry.md npx vitest run test/docs
const readme = readFileSync(process.env.README_FILE ?? join(root, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");

function pointAtSources(code: string, fileDir: string): string {
  return code.replace(/from "breakwater(\/[a-z]+)?"/g, (_m, sub: string | undefined) => {
    const entry = (entries as Record<string, string>)[sub ? sub.slice(1) : "index"];
    if (entry === undefined) throw new Error(`README imports "breakwater${sub ?? ""}", which is no entry of tsup.config.ts`);
    const target = join(root, entry);
    return `from "${relative(fileDir, target).replace(/\.ts$/, ".js")}"`;
  });
}

describe("README snippets", () => {
  it("has TypeScript snippets", () => {
    expect(blocks.length).toBeGreaterThan(process.env.README_FILE ? 0 : 5);
  });

  it("every snippet typechecks against the current API", () => {
    const dir = join(root, "test", "docs", `.snippets-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files = blocks.map((code, i) => {
      const file = join(dir, `snippet-${String(i + 1).padStart(2, "0")}.ts`);
      writeFileSync(file, `${pointAtSources(code, dir)}\nexport {};\n`);
      return file;
    });
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ["node"],
      lib: ["lib.es2023.d.ts", "lib.dom.d.ts"],
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file === undefined || files.includes(d.file.fileName))
      .map((d) => {
        const where = d.file ? `${relative(dir, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : "";
        return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
      });
    rmSync(dir, { recursive: true, force: true });
    expect(problems).toEqual([]);
  }, 60_000);
});
