/**
 * Every relative link of README.md and docs/*.md leads somewhere: the file exists and, for
 * a link into a Markdown page, the heading its `#anchor` names is there (GitHub's slugs).
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const docsDir = join(root, "docs");
const pages = [
  join(root, "README.md"),
  ...readdirSync(docsDir)
    .filter((f) => f.endsWith(".md"))
    .map((f) => join(docsDir, f)),
];

/** The text outside fenced code blocks, where links and headings are Markdown. */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, "");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- ]/gu, "")
    .replace(/ /g, "-");
}

function anchorsOf(page: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const m of prose(readFileSync(page, "utf8")).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(m[1] ?? "");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

describe("docs links", () => {
  it("every relative link of README.md and docs/*.md points at a file, and at a heading that exists", () => {
    const broken: string[] = [];
    let checked = 0;
    for (const page of pages) {
      const text = prose(readFileSync(page, "utf8"));
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1] ?? "";
        if (/^[a-z]+:/i.test(link)) continue; // https:, mailto:
        const [path = "", anchor] = link.split("#");
        const target = path === "" ? page : join(dirname(page), path);
        const where = `${relative(root, page)}: ${link}`;
        checked++;
        if (!existsSync(target)) {
          broken.push(`${where} (no such file)`);
          continue;
        }
        if (anchor !== undefined && target.endsWith(".md") && statSync(target).isFile() && !anchorsOf(target).has(anchor)) {
          broken.push(`${where} (no heading #${anchor})`);
        }
      }
    }
    expect(checked).toBeGreaterThan(30);
    expect(broken).toEqual([]);
  });
});
