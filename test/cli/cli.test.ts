/**
 * The `breakwater` command, run for real (`node --import tsx src/cli/main.ts ...` as a
 * child process) against a redis-server this file starts on 127.0.0.1, with breakers
 * created by RedisStore in this process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import type { Cluster } from "ioredis";
import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  CircuitBreakers,
  CircuitOpenError,
  consecutiveFailures,
  failuresInWindow,
  fixedThenExponential,
} from "../../src/index.js";
import { type BreakerActionResult, type FleetBreakerStatus, RedisStore } from "../../src/redis/index.js";
import { connect } from "../setup/clients.js";
import { startCluster } from "../setup/redis.js";
import { quiet, redisSuite, sleep } from "../setup/redis-suite.js";

const root = join(import.meta.dirname, "..", "..");
const MAIN = join(root, "src", "cli", "main.ts");

const suite = redisSuite("cli");
const ns = suite.ns;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function start(args: readonly string[]): ChildProcess {
  const env = { ...process.env };
  delete env.REDIS_URL; // the tests name their server with --redis
  return spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
}

/** Runs the CLI to completion (killed after `timeoutMs`). */
function cli(args: readonly string[], timeoutMs = 15_000): Promise<Run> {
  const child = start(args);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The command's main() in this process, with captured output. */
async function runMain(args: readonly string[]): Promise<Run> {
  const { main } = await import("../../src/cli/commands.js");
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: {},
    stopped: Promise.resolve(),
  });
  return { code, stdout, stderr };
}

function target(namespace: string): string[] {
  return ["--redis", suite.server.url, "--namespace", namespace];
}

const boom = (): never => {
  throw new Error("ECONNRESET from upstream");
};

/** Polls `check` every millisecond; resolves with Date.now() when it holds, or throws after `limitMs`. */
async function when(check: () => boolean, limitMs: number): Promise<number> {
  const start = Date.now();
  for (let i = 0; i < 100_000; i++) {
    if (check()) return Date.now();
    if (Date.now() - start > limitMs) break;
    await sleep(1);
  }
  throw new Error(`condition not met within ${limitMs} ms`);
}

describe("breakwater CLI: help and bad arguments", () => {
  it("--help prints the commands; COMMAND --help prints its options", async () => {
    const [all, one] = await Promise.all([cli(["--help"]), cli(["isolate", "--help"])]);
    expect(all.code).toBe(0);
    for (const command of ["status", "isolate", "reset", "dashboard"]) expect(all.stdout).toContain(`breakwater ${command}`);
    expect(all.stdout).toContain("--namespace NS");
    expect(one.code).toBe(0);
    expect(one.stdout).toContain("breakwater isolate SERVICE");
    expect(one.stdout).toContain("--force");
  });

  it("bad arguments exit with code 2 and say what is allowed", async () => {
    const cases: [string[], RegExp][] = [
      [[], /missing command; expected one of status, isolate, reset, dashboard/],
      [["stat"], /unknown command "stat".*did you mean status\?/],
      [
        ["status", "--port", "1"],
        /status: unknown option --port; options are --redis <value>, --namespace <value>, --cluster, --json, --help/,
      ],
      [["status", "--redis", "http://127.0.0.1:6379"], /option --redis must use redis:\/\/ or rediss:\/\/; got "http:\/\/127.0.0.1:6379"/],
      [["status", "--redis", "not a url"], /option --redis must be a Redis URL/],
      [["status", "--namespace", "{app}"], /option --namespace must be .* without \{ or \}; got "\{app\}"/],
      [["isolate"], /isolate: missing SERVICE/],
      [["reset", "a", "b"], /reset: one SERVICE at a time/],
      [["dashboard", "--port", "70000"], /dashboard: option --port must be an integer from 0 to 65535 .*; got "70000"/],
      [["dashboard", "--port"], /dashboard: option --port needs a value/],
      [["status", "--json=yes"], /option --json is a flag and takes no value/],
    ];
    // Three for real; the rest through the same main() in process (a process start each is slow).
    const real = await Promise.all(cases.slice(0, 3).map(([args]) => cli(args)));
    const inProcess = await Promise.all(cases.slice(3).map(([args]) => runMain(args)));
    [...real, ...inProcess].forEach((run, i) => {
      const [args, message] = cases[i] as [string[], RegExp];
      expect(run.code, `breakwater ${args.join(" ")}`).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toContain("Run `breakwater --help` for usage.");
      expect(run.stdout).toBe("");
    });
  });

  it("an unreachable Redis is exit code 1 with the reason", async () => {
    const run = await cli(["status", "--redis", "redis://127.0.0.1:1", "--namespace", "x"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot connect to Redis at redis:\/\/127.0.0.1:1: .*ECONNREFUSED/);
  });

  it("a missing ioredis is a clear message", async () => {
    const { loadIoredis, CliError } = await import("../../src/cli/connect.js");
    const error = await loadIoredis("ioredis-not-installed-here").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toContain('needs the "ioredis-not-installed-here" package');
    expect((error as Error).message).toContain("npm install ioredis-not-installed-here");
    const io = await loadIoredis();
    expect(typeof io.Redis).toBe("function");
    expect(typeof io.Cluster).toBe("function");
  });
});

describe("breakwater status", () => {
  it("prints every breaker in the namespace: state, failures, last failure, next probe, retry phase", async () => {
    const namespace = ns();
    const s = suite.store({ namespace });
    const breakers = new CircuitBreakers({
      store: s,
      namespace,
      defaults: { trip: consecutiveFailures(3), recovery: fixedThenExponential({ intervalMs: 30_000, fixedAttempts: 2 }) },
      services: { search: { trip: failuresInWindow(10, 60_000) } },
    });
    for (let i = 0; i < 3; i++) await breakers.execute("payments", boom).catch(() => undefined);
    await breakers.execute("search", boom).catch(() => undefined);
    await breakers.execute("billing", () => 1);
    const lone = new CircuitBreaker({ name: "geo", store: s });
    lone.recordFailure("timeout");
    await Promise.all([...breakers.names().map((n) => breakers.get(n).flush()), lone.flush()]);
    // A key of another kind under the namespace is skipped, not an error.
    await suite.admin.hset(`${namespace}:{not-a-breaker}`, "x", "1");

    const [text, json, other] = await Promise.all([
      cli(["status", ...target(namespace)]),
      cli(["status", ...target(namespace), "--json"]),
      cli(["status", ...target(ns())]),
    ]);
    expect(text.stderr).toBe("");
    expect(text.code).toBe(0);
    const lines = text.stdout.split("\n");
    expect(lines[0]).toMatch(new RegExp(`^4 breakers in namespace "${namespace}" on redis://127.0.0.1:\\d+, server time \\d{4}-`));
    expect(lines[2]).toMatch(/^SERVICE\s+STATE\s+FAILURES\s+LAST FAILURE\s+NEXT PROBE\s+RETRY PHASE$/);
    const row = (name: string): string => lines.find((l) => l.startsWith(`${name} `)) ?? "";
    expect(row("payments")).toMatch(
      /open\s+3\/3 in a row\s+[\d.]+m?s ago: ECONNRESET from upstream\s+\d{4}-\d\d-\d\dT[\d:.]+Z \(in 2\d\.\ds\)\s+fixed #1/,
    );
    expect(row("search")).toMatch(/closed\s+1\/10 in 1m 0s\s+.*ago: ECONNRESET from upstream\s+-\s+-/);
    expect(row("billing")).toMatch(/closed\s+0\/3 in a row\s+-\s+-\s+-/);
    expect(row("breaker:geo")).toMatch(/closed\s+1\/5 in a row\s+.*ago: timeout/);

    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { namespace: string; serverTime: number; breakers: FleetBreakerStatus[] };
    expect(parsed.namespace).toBe(namespace);
    expect(parsed.breakers.map((b) => b.name)).toEqual(["billing", "breaker:geo", "payments", "search"]);
    const payments = parsed.breakers.find((b) => b.name === "payments");
    expect(payments).toMatchObject({
      key: `${namespace}:{payments}`,
      state: "open",
      isolated: false,
      failures: 3,
      trip: { kind: "consecutiveFailures", threshold: 3 },
      lastFailure: { reason: "ECONNRESET from upstream" },
      retryPhase: "fixed",
      attempt: 1,
      halfOpen: { trials: 0, successes: 0, maxCalls: 1 },
    });
    expect(payments?.nextProbeInMs).toBeGreaterThan(25_000);
    expect(payments?.nextProbeInMs).toBeLessThanOrEqual(30_000);
    expect(Math.abs((payments?.serverTime ?? 0) - Date.now())).toBeLessThan(5_000);

    expect(other.code).toBe(0);
    expect(other.stdout).toMatch(/^No breakers in namespace/);
  });
});

describe("breakwater isolate and reset", () => {
  it("isolate opens the breaker in every process within 100 ms; reset closes it", async () => {
    const namespace = ns();
    const ours = new CircuitBreakers({
      store: suite.store({ namespace }),
      namespace,
      defaults: { trip: consecutiveFailures(5), recovery: 1_000 },
    });
    const other = new CircuitBreakers({
      store: suite.store({ namespace }),
      namespace,
      defaults: { trip: consecutiveFailures(5), recovery: 1_000 },
    });
    expect(await ours.execute("payments", () => "ok")).toBe("ok");
    await ours.get("payments").flush();
    const b = other.get("payments");
    await b.flush();
    expect(b.isAvailable()).toBe(true);

    const seen = when(() => !b.isAvailable(), 10_000);
    const isolate = await cli(["isolate", "payments", ...target(namespace), "--json"]);
    expect(isolate.stderr).toBe("");
    expect(isolate.code).toBe(0);
    const result = JSON.parse(isolate.stdout) as BreakerActionResult;
    expect(result).toMatchObject({
      action: "isolate",
      name: "payments",
      key: `${namespace}:{payments}`,
      created: false,
      transition: { from: "closed", to: "open", reason: "isolated" },
    });
    const delay = (await seen) - (result.transition?.at ?? 0);
    console.info(`cli: isolate seen by another process's breaker after ${delay} ms`);
    expect(delay).toBeLessThan(100);
    const rejected = await b.execute(() => 1).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(CircuitOpenError);
    expect((rejected as CircuitOpenError).retryAfterMs).toBe(Infinity);
    await when(() => !ours.isAvailable("payments"), 1_000);

    const [again, status] = await Promise.all([cli(["isolate", "payments", ...target(namespace)]), cli(["status", ...target(namespace)])]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("payments was already isolated");
    expect(status.stdout).toMatch(/payments\s+open \(isolated\)\s+0\/5 in a row\s+-\s+until reset \(isolated\)\s+-/);

    const closed = when(() => b.isAvailable(), 10_000);
    const reset = await cli(["reset", "payments", ...target(namespace)]);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain(`reset payments in namespace "${namespace}": open -> closed, published to every process`);
    await closed;
    expect(await b.execute(() => 2)).toBe(2);
    await when(() => ours.isAvailable("payments"), 1_000);
  });

  it("open --for opens the breaker in every process, then a probe is due; --until too; bad durations are usage errors", async () => {
    const namespace = ns();
    const store = suite.store({ namespace });
    const b = new CircuitBreaker({ name: "search", store, recovery: 60_000 });
    await b.execute(() => "ok");
    await b.flush();
    const seen = when(() => !b.isAvailable(), 10_000);
    const opened = await cli(["open", "breaker:search", "--for", "1s", ...target(namespace), "--json"]);
    expect(opened.stderr).toBe("");
    expect(opened.code).toBe(0);
    const result = JSON.parse(opened.stdout) as BreakerActionResult;
    expect(result).toMatchObject({
      action: "open",
      name: "breaker:search",
      transition: { from: "closed", to: "open", reason: "opened by hand" },
    });
    expect(result.breaker.nextProbeInMs).toBeGreaterThan(800);
    expect(result.breaker.nextProbeInMs).toBeLessThanOrEqual(1_000);
    await seen;
    await expect(b.execute(() => 1)).rejects.toBeInstanceOf(CircuitOpenError);
    await when(() => b.isAvailable(), 5_000);
    expect(await b.execute(() => "probe")).toBe("probe");
    await b.flush();
    expect(b.state).toBe("closed");

    const until = new Date(Date.now() + 120_000).toISOString();
    const later = await cli(["open", "breaker:search", "--until", until, ...target(namespace)]);
    expect(later.code).toBe(0);
    expect(later.stdout).toContain("opened breaker:search");
    await when(() => !b.isAvailable(), 5_000);
    expect(b.status().retryAfterMs).toBeGreaterThan(100_000);

    const bad = await Promise.all([
      cli(["open", "breaker:search", ...target(namespace)]),
      cli(["open", "breaker:search", "--for", "soon", ...target(namespace)]),
      cli(["open", "breaker:search", "--until", "tomorrow", ...target(namespace)]),
      cli(["open", "nope", "--for", "1m", ...target(namespace)]),
    ]);
    expect(bad.map((r) => r.code)).toEqual([2, 2, 2, 1]);
    expect(bad[0]?.stderr).toMatch(/exactly one of --for DURATION .* or --until TIME/);
    expect(bad[1]?.stderr).toMatch(/--for must be a duration such as 90s, 10m or 2h \(or ms\); got "soon"/);
    expect(bad[2]?.stderr).toMatch(/--until must be an ISO 8601 time .*; got "tomorrow"/);
    expect(bad[3]?.stderr).toMatch(/add --force/);
  });

  it("names a lone CircuitBreaker by its name; refuses unknown services unless --force", async () => {
    const namespace = ns();
    const lone = new CircuitBreaker({ name: "geo", store: suite.store({ namespace }) });
    lone.recordSuccess();
    await lone.flush();
    const [geo, unknown, forcedReset] = await Promise.all([
      cli(["isolate", "geo", ...target(namespace)]),
      cli(["isolate", "nope", ...target(namespace)]),
      cli(["reset", "nope", ...target(namespace), "--force"]),
    ]);
    expect(geo.code).toBe(0);
    expect(geo.stdout).toContain("isolated breaker:geo");
    await when(() => !lone.isAvailable(), 1_000);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`no breaker "nope" in namespace "${namespace}" (it has: breaker:geo)`);
    expect(unknown.stderr).toContain("add --force");
    expect(forcedReset.code).toBe(0);
    const braces = await runMain(["isolate", "a{b}", ...target(namespace), "--force"]);
    expect(braces.code).toBe(2);
    expect(braces.stderr).toContain('option "service" must be a service name without { or }');

    // --force isolates a service no process has written yet; a process that starts later sees it.
    const forced = await cli(["isolate", "ledger", ...target(namespace), "--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`created ${namespace}:{ledger}`);
    const later = new CircuitBreakers({ store: suite.store({ namespace }), namespace });
    await later.get("ledger").flush();
    expect(later.isAvailable("ledger")).toBe(false);
  });
});

describe("breakwater dashboard", () => {
  it("serves the fleet's breakers read from Redis, and stops on SIGTERM", async () => {
    const namespace = ns();
    const breakers = new CircuitBreakers({
      store: suite.store({ namespace }),
      namespace,
      defaults: { trip: consecutiveFailures(1), recovery: 60_000 },
    });
    await breakers.execute("payments", boom).catch(() => undefined);
    await breakers.execute("search", () => 1);
    await Promise.all(breakers.names().map((n) => breakers.get(n).flush()));

    const child = start(["dashboard", ...target(namespace), "--port", "0", "--refresh-ms", "100"]);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
    try {
      await when(() => /http:\/\/127\.0\.0\.1:\d+\//.test(stdout), 10_000).catch(() => {
        throw new Error(`dashboard did not start: ${stdout}${stderr}`);
      });
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(stdout)?.[0] ?? "";
      expect(stdout).toContain(`namespace "${namespace}"`);
      expect(stdout).toContain("read-only");

      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toContain("text/html");
      expect(await page.text()).toContain(`Breakwater: ${namespace}`);

      const snapshot = (await (await fetch(`${url}status`)).json()) as {
        control: boolean;
        breakers: { name: string; state: string; store: string; lastFailure: { reason: string } | null }[];
      };
      expect(snapshot.control).toBe(false);
      expect(snapshot.breakers.map((b) => [b.name, b.state, b.store])).toEqual([
        ["payments", "open", "redis"],
        ["search", "closed", "redis"],
      ]);
      expect(snapshot.breakers[0]?.lastFailure?.reason).toBe("ECONNRESET from upstream");

      // Read-only without --allow-control.
      const denied = await fetch(`${url}breakers/payments/reset`, { method: "POST", headers: { "x-breakwater-control": "1" } });
      expect(denied.status).toBe(403);

      // A breaker created later, in another "process", shows up on the next refresh.
      await breakers.execute("billing", () => 1);
      await breakers.get("billing").flush();
      let names: string[] = [];
      for (let i = 0; i < 30 && !names.includes("billing"); i++) {
        names = ((await (await fetch(`${url}status`)).json()) as { breakers: { name: string }[] }).breakers.map((b) => b.name);
        if (!names.includes("billing")) await sleep(50);
      }
      expect(names).toContain("billing");
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe("");
  });

  it("streams a transition made by another process at once; with --allow-control, its buttons act for the whole fleet", async () => {
    const namespace = ns();
    const breakers = new CircuitBreakers({
      store: suite.store({ namespace }),
      namespace,
      defaults: { trip: consecutiveFailures(1), recovery: 60_000 },
    });
    await breakers.execute("payments", () => 1);
    await breakers.execute("search", () => 1);
    await Promise.all([breakers.get("payments").flush(), breakers.get("search").flush()]);
    // A refresh a minute apart: only the published transition can reach the page in time.
    const child = start(["dashboard", ...target(namespace), "--port", "0", "--allow-control", "--refresh-ms", "60000"]);
    let stdout = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
    try {
      await when(() => /http:\/\/127\.0\.0\.1:\d+\//.test(stdout), 10_000);
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(stdout)?.[0] ?? "";
      expect(stdout).toContain("isolate and reset enabled");

      const events = new AbortController();
      const stream = await fetch(`${url}events`, { signal: events.signal });
      expect(stream.headers.get("content-type")).toContain("text/event-stream");
      const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
      let received = "";
      // One read outstanding at a time, kept across calls, so none is left to reject unheard on abort.
      let pending: ReturnType<typeof reader.read> | undefined;
      const frames = async (until: (text: string) => boolean, limitMs: number): Promise<void> => {
        const deadline = Date.now() + limitMs;
        for (let i = 0; i < 1_000 && !until(received) && Date.now() < deadline; i++) {
          pending ??= reader.read();
          pending.catch(() => undefined);
          const chunk = await Promise.race([pending, sleep(Math.max(1, deadline - Date.now())).then(() => undefined)]);
          if (chunk === undefined) break;
          pending = undefined;
          if (chunk.done) break;
          received += new TextDecoder().decode(chunk.value);
        }
        if (!until(received)) throw new Error(`no such event within ${limitMs} ms: ${received.slice(-500)}`);
      };
      await frames((t) => t.includes('"name":"search","state":"closed"'), 3_000);
      const trippedAt = Date.now();
      await breakers.execute("search", boom).catch(() => undefined);
      await frames((t) => t.includes('"name":"search","state":"open"'), 2_000);
      console.info(`cli: dashboard streamed the other process's transition after ${Date.now() - trippedAt} ms`);
      events.abort();
      const res = await fetch(`${url}breakers/payments/isolate`, { method: "POST", headers: { "x-breakwater-control": "1" } });
      expect(res.status).toBe(200);
      await when(() => !breakers.isAvailable("payments"), 2_000);
      const reset = await fetch(`${url}breakers/payments/reset`, { method: "POST", headers: { "x-breakwater-control": "1" } });
      expect(reset.status).toBe(200);
      await when(() => breakers.isAvailable("payments"), 2_000);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });
});

describe("breakwater on a Redis Cluster (--cluster)", () => {
  it("status and isolate reach every master; the fleet's breaker sees the isolation", async () => {
    const cluster = await startCluster();
    const c = await connect("ioredis-cluster", { cluster });
    const namespace = ns();
    const s = new RedisStore({ client: c.client, namespace, logger: quiet });
    try {
      const breakers = new CircuitBreakers({ store: s, namespace, defaults: { trip: consecutiveFailures(1), recovery: 60_000 } });
      // Enough services that their hash tags land on every master.
      const services = Array.from({ length: 24 }, (_, i) => `svc${i}`);
      for (const name of services) await breakers.execute(name, () => 1);
      await breakers.execute("svc0", boom).catch(() => undefined);
      await Promise.all(services.map((n) => breakers.get(n).flush()));
      const sizes = await Promise.all((c.client as Cluster).nodes("master").map((m) => m.dbsize()));
      expect(sizes.every((n) => n > 0)).toBe(true);
      const node = cluster.nodes[0] ?? { host: "127.0.0.1", port: 0 };
      const url = `redis://${node.host}:${node.port}`;
      const status = await cli(["status", "--cluster", "--redis", url, "--namespace", namespace, "--json"]);
      expect(status.stderr).toBe("");
      const parsed = JSON.parse(status.stdout) as { breakers: FleetBreakerStatus[] };
      expect(parsed.breakers.map((b) => b.name).sort()).toEqual([...services].sort());
      expect(parsed.breakers.find((b) => b.name === "svc0")?.state).toBe("open");

      const b = breakers.get("svc7");
      const seen = when(() => !b.isAvailable(), 10_000);
      const isolate = await cli(["isolate", "svc7", "--cluster", "--redis", url, "--namespace", namespace]);
      expect(isolate.code).toBe(0);
      expect(isolate.stdout).toContain("isolated svc7");
      await seen;
      expect(b.status()).toMatchObject({ state: "open", isolated: true });
    } finally {
      await s.close();
      await c.close();
      await cluster.stop();
    }
  }, 60_000);
});
