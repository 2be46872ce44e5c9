/**
 * Words a user cannot resolve stay out of the project: the Python libraries Breakwater grew
 * from were once numbered, and those numbers leaked into comments, docs and test names.
 * Name the feature, or the library by its name in docs/migrating-from-python.md.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
// Spelled in two parts so that this file does not hold the word it looks for.
const banned = new RegExp(["se", "ed"].join(""), "i");

describe("wording", () => {
  it("no source, test, example, benchmark or doc holds the numbered name of a Python library", () => {
    const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" })
      .split("\n")
      .filter((f) => f !== "" && f !== "package-lock.json")
      .filter((f) => /^(src|test|docs|examples|bench|observability|scripts)\/|^[^/]+\.(md|ts|js|json)$/.test(f))
      .filter((f) => !/\.(png|svg)$/.test(f));
    expect(files.length).toBeGreaterThan(100);
    const hits = files.flatMap((f) => {
      let text: string;
      try {
        text = readFileSync(join(root, f), "utf8");
      } catch {
        return []; // deleted in the working tree but still in the index
      }
      return text
        .split("\n")
        .map((line, i) => ({ line, i }))
        .filter(({ line }) => banned.test(line))
        .map(({ line, i }) => `${f}:${i + 1}: ${line.trim().slice(0, 120)}`);
    });
    expect(hits).toEqual([]);
  });
});
