/**
 * The command's Redis connection: ioredis, an optional peer dependency, loaded with a
 * dynamic import so the package works without it until the command needs it.
 */
import { ResilienceError } from "../core/errors.js";
import { redactUrl } from "./format.js";

/** A failure the command reports on stderr with exit code 1 (Redis unreachable, no such breaker, ioredis missing). */
export class CliError extends ResilienceError {
  /** The process exit code. */
  readonly exitCode = 1;
}

/** The parts of an ioredis client (`Redis` or `Cluster`) the command uses. */
export interface IoRedisClient {
  connect(): Promise<void>;
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: "error", listener: (error: Error) => void): unknown;
}

/** ioredis's two client classes, as far as the command uses them. */
export interface IoRedisModule {
  readonly Redis: new (url: string, options: Record<string, unknown>) => IoRedisClient;
  readonly Cluster: new (nodes: readonly { host: string; port: number }[], options: Record<string, unknown>) => IoRedisClient;
}

/**
 * Loads ioredis. `specifier` is for tests (a missing package); throws a {@link CliError}
 * that says how to install it when it cannot be found.
 */
export async function loadIoredis(specifier = "ioredis"): Promise<IoRedisModule> {
  let mod: unknown;
  try {
    mod = await import(specifier);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new CliError(
        `breakwater needs the "${specifier}" package to talk to Redis, and it is not installed.\n` +
          `Install it next to breakwater (it is an optional peer dependency): npm install ${specifier}`,
        { cause: error },
      );
    }
    throw new CliError(`could not load "${specifier}": ${String(error)}`, { cause: error });
  }
  // ESM gives named exports; a CommonJS interop may put them under `default`.
  const m = mod as { Redis?: unknown; Cluster?: unknown; default?: { Redis?: unknown; Cluster?: unknown } };
  const Redis = m.Redis ?? m.default?.Redis;
  const Cluster = m.Cluster ?? m.default?.Cluster;
  if (typeof Redis !== "function" || typeof Cluster !== "function") {
    throw new CliError(`"${specifier}" does not export the Redis and Cluster client classes; expected ioredis 5 or later`);
  }
  return { Redis, Cluster } as IoRedisModule;
}

/** A connected client and how to let it go. */
export interface CliConnection {
  readonly client: IoRedisClient;
  close(): Promise<void>;
}

/** Options of {@link connectRedis}. */
export interface ConnectOptions {
  /** Keep reconnecting after the first connection (the dashboard); else fail fast (one-shot commands). */
  readonly persistent: boolean;
  /** `url` is one node of a Redis Cluster: discover the others and route by slot. */
  readonly cluster?: boolean;
  /** Hears connection errors after the first connection. */
  readonly onError?: (error: Error) => void;
  /** The module to load (tests). Default `"ioredis"`. */
  readonly module?: string;
}

/** Connects to `url`; a {@link CliError} naming the server when it cannot. */
export async function connectRedis(url: string, options: ConnectOptions): Promise<CliConnection> {
  const io = await loadIoredis(options.module);
  let connected = false;
  const retry = (times: number): number | null => (options.persistent && connected ? Math.min(times * 200, 2_000) : null);
  const common = {
    lazyConnect: true,
    connectTimeout: 3_000,
    // A command during an outage fails after one retry instead of queueing without end.
    maxRetriesPerRequest: 1,
  };
  let client: IoRedisClient;
  if (options.cluster === true) {
    const u = new URL(url);
    const redisOptions = {
      ...common,
      username: u.username === "" ? undefined : decodeURIComponent(u.username),
      password: u.password === "" ? undefined : decodeURIComponent(u.password),
      tls: u.protocol === "rediss:" ? {} : undefined,
    };
    client = new io.Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], {
      lazyConnect: true,
      redisOptions,
      clusterRetryStrategy: retry,
    });
  } else {
    client = new io.Redis(url, { ...common, retryStrategy: retry });
  }
  let firstError: Error | undefined;
  // ioredis emits "error" on every failed (re)connect: without a listener that would crash the process.
  client.on("error", (error) => {
    if (connected) options.onError?.(error);
    else firstError ??= error;
  });
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    // connect() rejects with "Connection is closed."; the error event said why (ECONNREFUSED, ENOTFOUND, NOAUTH...).
    const why = firstError ?? error;
    const what = options.cluster === true ? "the Redis Cluster at" : "Redis at";
    throw new CliError(`cannot connect to ${what} ${redactUrl(url)}: ${why instanceof Error ? why.message : String(why)}`, { cause: why });
  }
  connected = true;
  return {
    client,
    async close() {
      // At most 1 s for a polite QUIT; the cap is cleared as soon as the race is decided.
      let cap: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([client.quit().catch(() => undefined), new Promise((resolve) => (cap = setTimeout(resolve, 1_000)))]);
      clearTimeout(cap);
      client.disconnect();
    },
  };
}
