/**
 * Every example in examples/ is a program a user may copy and run: each one here runs as
 * a child process (`node --import tsx`), must exit 0 by itself within the time limit, and
 * must print the line that shows its point. The examples use the real clock (they show
 * real behaviour end to end), so this file is about seconds, not milliseconds.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const LIMIT_MS = 60_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `examples/<file>` with tsx and resolves with its exit code and output. */
function run(file: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(root, "examples", file)],
      // PORT unset: the server example picks a free port.
      { cwd: root, timeout: LIMIT_MS, killSignal: "SIGKILL", env: { ...process.env, PORT: "" }, maxBuffer: 8 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The example, and lines (or patterns) its output must contain. */
const EXAMPLES: readonly (readonly [file: string, expected: readonly (string | RegExp)[]])[] = [
  [
    "server-rate-limit.ts",
    [
      /^listening on http:\/\/127\.0\.0\.1:\d+/m,
      /alice #4 -> 429 {2}retry-after: \d+/,
      "alice: 3 admitted, 2 limited (429)",
      "bob: 2 admitted, 0 limited (429)",
    ],
  ],
  [
    "full-protection-stack.ts",
    ['"g" -> 503: Service unavailable. Retry in', '"j" -> ok(j)', /^done: the upstream saw \d+ calls; breaker closed$/m],
  ],
  ["failsafe.ts", ["gamma -> circuit open", "epsilon -> {", /^done: \d+ requests served; circuit closed/m]],
  ["http-service.ts", ["-> 503 (Retry-After:", 'GET /search?q=dogs -> 200 {"hits"']],
  ["queue-worker.ts", ["published job-12", "done; 0 jobs left"]],
  ["batch-job.ts", [/^processed \d+, failed \d+$/m, "state: 'closed'"]],
];

describe.concurrent("examples run to completion by themselves", () => {
  for (const [file, expected] of EXAMPLES) {
    it(
      file,
      async () => {
        const { code, stdout, stderr } = await run(file);
        expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
        for (const line of expected) {
          if (typeof line === "string") expect(stdout).toContain(line);
          else expect(stdout).toMatch(line);
        }
      },
      LIMIT_MS + 10_000,
    );
  }
});
