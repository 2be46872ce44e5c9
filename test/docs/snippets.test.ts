/**
 * Every ```ts block in README.md and docs/*.md must compile against the real API: imports
 * of "breakwater" and its subpaths are pointed at src/, each block is its own module, and
 * the TypeScript compiler, run once over all of them, must report nothing.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { entries } from "../../tsup.config.js";

const root = join(import.meta.dirname, "..", "..");
const docsDir = join(root, "docs");
// DOCS_FILE checks one draft page instead, e.g. DOCS_FILE=.drafts/retry.md npx vitest run test/docs
const draft = process.env.DOCS_FILE ?? process.env.README_FILE;
const pages = draft
  ? [draft]
  : [
      join(root, "README.md"),
      ...readdirSync(docsDir)
        .filter((f) => f.endsWith(".md"))
        .sort()
        .map((f) => join(docsDir, f)),
    ];

interface Snippet {
  page: string;
  index: number;
  line: number;
  code: string;
}

function snippetsOf(page: string): Snippet[] {
  const text = readFileSync(page, "utf8");
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m, i) => ({
    page: relative(root, page),
    index: i + 1,
    line: text.slice(0, m.index).split("\n").length + 1,
    code: m[1] ?? "",
  }));
}

const snippets = pages.flatMap(snippetsOf);

function pointAtSources(code: string, fileDir: string, where: string): string {
  return code.replace(/from "breakwater(\/[a-z]+)?"/g, (_m, sub: string | undefined) => {
    const entry = (entries as Record<string, string>)[sub ? sub.slice(1) : "index"];
    if (entry === undefined) throw new Error(`${where} imports "breakwater${sub ?? ""}", which is no entry of tsup.config.ts`);
    const target = join(root, entry);
    return `from "${relative(fileDir, target).replace(/\.ts$/, ".js")}"`;
  });
}

describe("docs snippets", () => {
  it("README.md and every docs page with code have TypeScript snippets", () => {
    expect(snippets.filter((s) => s.page === "README.md").length).toBeGreaterThan(draft ? -1 : 0);
    // The README held 35 before the split into docs/: none may get lost on the way.
    expect(snippets.length).toBeGreaterThanOrEqual(draft ? 1 : 35);
  });

  it("every page under docs/ is a feature page with at least one snippet, or says why it has none", () => {
    if (draft) return;
    // Pages of tables and figures only; every other page teaches with runnable code.
    const prose = new Set(["comparison.md", "performance.md"]);
    const without = readdirSync(docsDir)
      .filter((f) => f.endsWith(".md") && !prose.has(f))
      .filter((f) => !snippets.some((s) => basename(s.page) === f && s.page.startsWith("docs")));
    expect(without).toEqual([]);
  });

  it("every snippet typechecks against the current API (one compiler run for all)", () => {
    const dir = join(root, "test", "docs", `.snippets-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const origin = new Map<string, Snippet>();
    const files = snippets.map((s) => {
      const name = `${s.page.replace(/\.md$/, "").replace(/[^a-z0-9]+/gi, "-")}-${String(s.index).padStart(2, "0")}.ts`;
      const file = join(dir, name);
      writeFileSync(file, `${pointAtSources(s.code, dir, `${s.page}:${s.line}`)}\nexport {};\n`);
      origin.set(file, s);
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
      .filter((d) => d.file === undefined || origin.has(d.file.fileName))
      .map((d) => {
        const s = d.file ? origin.get(d.file.fileName) : undefined;
        // Point at the line in the Markdown page, not in the generated file.
        const where = s && d.file ? `${s.page}:${s.line + d.file.getLineAndCharacterOfPosition(d.start ?? 0).line}` : "";
        return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
      });
    rmSync(dir, { recursive: true, force: true });
    expect(problems).toEqual([]);
  }, 120_000);
});
