/**
 * Process lifetime, as a plain script sees it: each fixture is an ESM script run in its own
 * `node --import tsx` process, awaiting the library at the top level with nothing else to
 * hold the event loop. A timer the library awaits for a caller must keep the process alive
 * until the caller is answered (else Node ends it with code 13, "unsettled top-level
 * await"), and timers nobody awaits must not keep it alive once the work is done.
 */
import { execFile } from "node:child_process";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reply, sequence, startServer, type TestServer } from "../http/server.js";

/** Well under the background timers of background-only.ts (a minute each): a script that waited for them is killed. */
const LIMIT_MS = 20_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `fixtures/<name>` to its end (or kills it at LIMIT_MS: then `code` is null). */
function run(name: string, env: Record<string, string> = {}): Promise<Run> {
  const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", script],
      { timeout: LIMIT_MS, killSignal: "SIGKILL", env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The script's exit code and its whole output, compared in one go so that a failure shows both. */
function outcome(r: Run): { code: number | null; stdout: string; stderr: string } {
  return { code: r.code, stdout: r.stdout.replace(/\d+ ms/g, "<n> ms"), stderr: r.stderr };
}

/** The `<n>` of "<n> ms" in the script's output. */
function millis(r: Run): number {
  return Number(/(\d+) ms/.exec(r.stdout)?.[1]);
}

let upstream: TestServer;
/** Accepts connections and never answers: a Redis that hangs. */
let silent: Server;
const sockets = new Set<Socket>();

beforeAll(async () => {
  upstream = await startServer();
  silent = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  await upstream.close();
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

describe.concurrent("a plain script awaiting the library at the top level runs to its end", () => {
  it("AdaptiveRateLimiter.acquire in a loop: every permit, paced", async () => {
    const r = await run("adaptive-loop.ts");
    expect(outcome(r)).toEqual({ code: 0, stdout: "adaptive: 5 permits in <n> ms\n", stderr: "" });
    // 20/s with a burst of 1: four waits of 50 ms each, so the script did wait.
    expect(millis(r)).toBeGreaterThanOrEqual(190);
  }, 30_000);

  it("TokenBucket.acquire in a loop: every permit, paced", async () => {
    const r = await run("token-bucket-loop.ts");
    expect(outcome(r)).toEqual({ code: 0, stdout: "tokenBucket: 5 permits in <n> ms\n", stderr: "" });
    expect(millis(r)).toBeGreaterThanOrEqual(190);
  }, 30_000);

  it("timeout of a call that never settles by itself: the TimeoutError, in both modes", async () => {
    const r = await run("timeout-never-settles.ts");
    expect(outcome(r)).toEqual({ code: 0, stdout: "timeout cooperative: TimeoutError\ntimeout aggressive: TimeoutError\n", stderr: "" });
  }, 30_000);

  it("the issue's line: cooperative timeout of a callee that ignores its signal and holds nothing: the TimeoutError after the grace", async () => {
    const r = await run("timeout-ignores-signal.ts");
    expect(outcome(r)).toEqual({
      code: 0,
      stdout: "timeout cooperative, callee ignores its signal: TimeoutError after <n> ms\n",
      stderr: "",
    });
    // The 200 ms limit, then the default 1,000 ms grace for the callee to settle.
    expect(millis(r)).toBeGreaterThanOrEqual(1_190);
  }, 30_000);

  it("retry backoff: a function failing twice then succeeding", async () => {
    const r = await run("retry-backoff.ts");
    expect(outcome(r)).toEqual({ code: 0, stdout: "retry: ok after 3 calls\n", stderr: "" });
  }, 30_000);

  it("a RedisStore limiter while Redis hangs: the command timeout (the watchdog) still answers the caller, and the script ends", async () => {
    const r = await run("redis-silent.ts", { REDIS_PORT: String((silent.address() as AddressInfo).port) });
    expect(outcome(r)).toEqual({ code: 0, stdout: "redis silent: allowed false after <n> ms\n", stderr: "" });
    expect(millis(r)).toBeGreaterThanOrEqual(190);
  }, 30_000);

  it("a command the connection does not hold the process for: the watchdog's timeout answers the caller, then lets the script end", async () => {
    const r = await run("watchdog-hang.ts");
    expect(outcome(r)).toEqual({ code: 0, stdout: "watchdog: evalsha timed out after <n> ms, answered after <n> ms\n", stderr: "" });
    expect(Number(/answered after (\d+) ms/.exec(r.stdout)?.[1])).toBeGreaterThanOrEqual(190);
  }, 30_000);

  it("a RedisStore limiter while Redis refuses connections: the caller is answered and the script ends", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const r = await run("redis-silent.ts", { REDIS_PORT: String(port) });
    expect(outcome(r)).toEqual({ code: 0, stdout: "redis silent: allowed false after <n> ms\n", stderr: "" });
  }, 30_000);

  it("ApiClient in a loop: the cooldown after a 429 and the pacing between requests", async () => {
    upstream.handle(sequence(reply(429, { "retry-after": "1" }), reply(200)));
    const r = await run("api-client-loop.ts", { UPSTREAM: upstream.url });
    expect(outcome(r)).toEqual({ code: 0, stdout: "apiClient: 200 200 200 200 200\n", stderr: "" });
    // The 429 and its retry, then four more requests.
    expect(upstream.requests.map((q) => q.url)).toEqual(["/item/0", "/item/0", "/item/1", "/item/2", "/item/3", "/item/4"]);
  }, 30_000);
});

it("a script whose only timers left are background ones (a store's sweep, aborted waits, cleared timers, a lease's early return) ends by itself at once", async () => {
  const r = await run("background-only.ts");
  // Killed at LIMIT_MS (code null) if any of its minute-long timers held the process.
  expect(outcome(r)).toEqual({ code: 0, stdout: "background: done, waits rejected rejected\n", stderr: "" });
}, 30_000);
