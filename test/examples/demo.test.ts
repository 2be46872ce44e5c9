import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Runs the demo as `npm run demo` does (tsx, its own process), with a shortened schedule. */
function runDemoProcess(scale: number, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--import", "tsx", join(root, "examples", "demo.ts"), `--scale=${scale}`], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    // The demo must exit by itself; a hung one is killed and fails the test.
    const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(killer);
      reject(error);
    });
    child.once("exit", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** The two columns of a table row, as numbers (thousands separators and % dropped). */
function row(table: string, name: string): [number, number] {
  const line = table.split("\n").find((l) => l.startsWith(`| ${name} `));
  if (line === undefined) throw new Error(`no "${name}" row in:\n${table}`);
  const cells = line
    .split("|")
    .map((c) => c.trim())
    .filter((c) => c !== "");
  return [Number(cells[1]!.replace(/[,%]/g, "")), Number(cells[2]!.replace(/[,%]/g, ""))];
}

describe("npm run demo", () => {
  it("runs both clients, prints the table and exits 0 by itself; Breakwater gets far fewer 429s", async () => {
    // 0.35 of the schedule: 4.2 s per client.
    const { code, stdout, stderr, ms } = await runDemoProcess(0.35, 25_000);
    expect(stderr.replace(/^npm warn.*\n?/gm, "")).toBe("");
    expect(code).toBe(0);
    expect(ms).toBeLessThan(20_000);
    expect(stdout).toMatch(/^\| +\| +naive retry \| +Breakwater \|$/m);
    for (const name of [
      "requests sent",
      "successes (200)",
      "answered 429",
      "answered 503",
      "breaker opens",
      "goodput (share of limit)",
      "latency p50 (ok calls)",
      "latency p99 (ok calls)",
    ]) {
      expect(stdout).toContain(`| ${name}`);
    }
    // Not a TTY: occasional progress lines, no carriage returns or escape codes.
    expect(stdout).not.toContain("\r");
    expect(stdout).toMatch(/ {2}naive +\d+\.\d s/);
    expect(stdout).toMatch(/ {2}Breakwater +\d+\.\d s/);
    const [naive429, bw429] = row(stdout, "answered 429");
    expect(bw429).toBeLessThan(naive429 / 10);
    const [naiveOk, bwOk] = row(stdout, "successes (200)");
    expect(naiveOk).toBeGreaterThan(0);
    expect(bwOk).toBeGreaterThan(0);
    // It ends with the chart of Breakwater's pace against the hidden limit, within 80 columns.
    const chart = stdout.slice(stdout.indexOf("Breakwater's pace against the upstream's hidden limit (requests/s)"));
    expect(chart).not.toBe(stdout);
    const lines = chart.trimEnd().split("\n");
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(80);
    expect(lines.filter((l) => /^ *\d+ ┤/.test(l)).length).toBeGreaterThanOrEqual(3);
    expect(chart).toMatch(/[\u2801-\u28ff]/);
    expect(chart).toMatch(/─{3}/);
    expect(chart).toMatch(/└[─┬]+\n +0 s /);
    expect(lines[lines.length - 1]).toContain("· outage (503s)");
    expect(chart).toContain("── hidden limit");
    expect(chart).toContain("⣿ Breakwater's pace");
  }, 30_000);
});
