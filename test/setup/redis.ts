/**
 * Real Redis servers for the tests: a standalone `redis-server` on a free 127.0.0.1 port
 * in a temp dir, a three-master Redis Cluster, and a restart for the kill-and-restart
 * test. Each server is stopped by its pid (SIGTERM, then SIGKILL after a bound) and its
 * temp dir removed; an `exit` hook kills any server a crashed test file left behind.
 *
 * `REDIS_URL` (standalone) and `REDIS_CLUSTER_NODES` (`host:port,host:port,...`) make the
 * tests use existing servers instead; the kill-and-restart test always starts its own.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A running server (or an external one from the environment). */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** True when this process started it (false for `REDIS_URL`). */
  readonly owned: boolean;
  /** Stops the server (SIGTERM, then SIGKILL) without removing its dir, so it can be restarted. */
  kill(): Promise<void>;
  /** Starts it again on the same port (after `kill`). */
  restart(): Promise<void>;
  /** Stops it and removes its temp dir. */
  stop(): Promise<void>;
}

/** A three-master cluster. */
export interface RedisCluster {
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  readonly owned: boolean;
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Resolves when `port` answers PING with PONG, or rejects after `timeoutMs`. */
export async function waitForPing(port: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 1_000 && Date.now() < deadline; attempt++) {
    if (await pingOnce(port)) return;
    await delay(20);
  }
  throw new Error(`redis on ${HOST}:${port} did not answer PING within ${timeoutMs} ms`);
}

function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let data = "";
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      data += chunk.toString();
      if (data.includes("\r\n")) done(data.startsWith("+PONG"));
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A port that is free now on 127.0.0.1 (and, with `busToo`, port + 10000 as well). */
export async function freePort(busToo = false): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = busToo ? 20_000 + Math.floor(Math.random() * 20_000) : await ephemeralPort();
    if (!busToo) return port;
    if ((await isFree(port)) && (await isFree(port + 10_000))) return port;
  }
  throw new Error("no free port found");
}

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

function launch(port: number, dir: string, extra: readonly string[]): ChildProcess {
  const child = spawn(
    "redis-server",
    ["--save", "", "--appendonly", "no", "--port", String(port), "--bind", HOST, "--dir", dir, "--protected-mode", "no", ...extra],
    { stdio: "ignore" },
  );
  live.add(child);
  child.once("exit", () => live.delete(child));
  child.on("error", () => live.delete(child));
  return child;
}

/** Stops a child by pid: SIGTERM, then SIGKILL when it has not exited within `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

async function startOne(extra: readonly string[] = [], busToo = false): Promise<{ port: number; dir: string; child: ChildProcess }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort(busToo);
    const dir = mkdtempSync(join(tmpdir(), "breakwater-redis-"));
    const child = launch(
      port,
      dir,
      extra.map((a) => a.replace("%DIR%", dir)),
    );
    try {
      await waitForPing(port);
      return { port, dir, child };
    } catch (error) {
      lastError = error;
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  throw lastError;
}

/** A standalone server for one test file: `REDIS_URL` when set, else a fresh `redis-server`. */
export async function startRedis(options: { ignoreEnv?: boolean } = {}): Promise<RedisServer> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv !== undefined && fromEnv !== "" && options.ignoreEnv !== true) {
    const u = new URL(fromEnv);
    const noop = async (): Promise<void> => undefined;
    const cannot = async (): Promise<void> => {
      throw new Error("cannot kill or restart the server given by REDIS_URL");
    };
    return { host: u.hostname, port: Number(u.port || 6379), url: fromEnv, owned: false, kill: cannot, restart: cannot, stop: noop };
  }
  const first = await startOne();
  const { port, dir } = first;
  let child = first.child;
  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    owned: true,
    async kill() {
      await stopChild(child, 1_000);
    },
    async restart() {
      child = launch(port, dir, []);
      await waitForPing(port);
    },
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A three-master cluster: `REDIS_CLUSTER_NODES` when set, else three fresh servers joined with `redis-cli --cluster create`. */
export async function startCluster(): Promise<RedisCluster> {
  const fromEnv = process.env.REDIS_CLUSTER_NODES;
  if (fromEnv !== undefined && fromEnv !== "") {
    const nodes = fromEnv.split(",").map((hp) => {
      const [host = HOST, port = "0"] = hp.trim().split(":");
      return { host, port: Number(port) };
    });
    return { nodes, owned: false, stop: async () => undefined };
  }
  const started: { port: number; dir: string; child: ChildProcess }[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((s) => stopChild(s.child)));
    for (const s of started) rmSync(s.dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      started.push(
        await startOne(["--cluster-enabled", "yes", "--cluster-config-file", "%DIR%/nodes.conf", "--cluster-node-timeout", "2000"], true),
      );
    }
    const create = spawnSync(
      "redis-cli",
      ["--cluster", "create", ...started.map((s) => `${HOST}:${s.port}`), "--cluster-replicas", "0", "--cluster-yes"],
      { encoding: "utf8", timeout: 30_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    for (const s of started) await waitForClusterOk(s.port);
    return { nodes: started.map((s) => ({ host: HOST, port: s.port })), owned: true, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitForClusterOk(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 1_000 && Date.now() < deadline; attempt++) {
    const info = spawnSync("redis-cli", ["-h", HOST, "-p", String(port), "cluster", "info"], { encoding: "utf8", timeout: 2_000 });
    if (info.stdout.includes("cluster_state:ok")) return;
    await delay(100);
  }
  throw new Error(`cluster node ${port} did not reach cluster_state:ok`);
}
