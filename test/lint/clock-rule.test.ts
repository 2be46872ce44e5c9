import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

/** Lints `code` as if it were the file at `filePath`, with the project's own config. */
async function messages(code: string, filePath: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: process.cwd() });
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe("lint: time is read only through a Clock in src/", () => {
  it.each([
    ["Date.now()", "export const t = Date.now();\n"],
    ["performance.now()", "export const t = performance.now();\n"],
    ["new Date()", "export const t = new Date().getTime();\n"],
    ["Date()", "export const t = Date();\n"],
  ])(
    "refuses a planted %s in src/",
    async (_name, code) => {
      const found = await messages(code, "src/limit/planted.ts");
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(/^no-restricted-(properties|syntax): .*Read time through a Clock/);
    },
    30_000,
  );

  it("allows the clock itself, dates built from a reading, and code outside src/", async () => {
    expect(await messages("export const t = Date.now();\n", "src/core/clock.ts")).toEqual([]);
    expect(
      await messages(
        'import { systemClock } from "../core/clock.js";\nexport const d = new Date(systemClock.now());\n',
        "src/limit/planted.ts",
      ),
    ).toEqual([]);
    expect(await messages("export const t = Date.now();\n", "test/limit/planted.ts")).toEqual([]);
  }, 30_000);
});
