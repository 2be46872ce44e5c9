import { InvalidOptionError } from "../core/errors.js";
import type { LuaScript } from "./scripts/script.js";

/**
 * The few commands RedisStore needs, whatever the client: ioredis (`Redis` or `Cluster`)
 * or node-redis v4+ (`createClient` or `createCluster`). Implement it to plug in another
 * client (Valkey GLIDE, a mock).
 */
export interface RedisAdapter {
  /** Which client this wraps, e.g. `"ioredis"` or `"node-redis-cluster"`. */
  readonly kind: string;
  /**
   * Runs `script` by EVALSHA; when the server answers NOSCRIPT (it did not run), sends
   * the source with EVAL, which loads it and runs it in one round trip. Routed by `keys[0]`.
   */
  evalScript(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /** PING. */
  ping(): Promise<void>;
  /** GET. */
  get(key: string): Promise<string | null>;
  /** DEL. */
  del(key: string): Promise<void>;
  /** Every key matching `pattern` (SCAN on every master of a cluster). */
  scan(pattern: string): Promise<string[]>;
  /**
   * Subscribes to `channel` on a connection of its own (a duplicate of the client, or
   * `subscriber` when given). `onReady` runs whenever that connection (re)connects, so
   * the caller can resynchronise what it may have missed. Resolves to the unsubscribe.
   */
  subscribe(channel: string, onMessage: (message: string) => void, onReady: () => void): Promise<() => Promise<void>>;
  /** Listens to the client's (and subscriber's) `error` events; returns the detach. */
  onError(listener: (error: unknown) => void): () => void;
}

/** The parts of an event-emitting client the adapters use. */
interface Emitting {
  on(event: string, listener: (...args: never[]) => void): unknown;
  off?(event: string, listener: (...args: never[]) => void): unknown;
  removeListener?(event: string, listener: (...args: never[]) => void): unknown;
}

/** ioredis's `Redis` and `Cluster`, as far as the adapter uses them. */
interface IoRedisLike extends Emitting {
  evalsha(sha: string, numKeys: number, ...rest: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...rest: string[]): Promise<unknown>;
  ping(): Promise<unknown>;
  get(key: string): Promise<string | null>;
  del(key: string): Promise<unknown>;
  scan(cursor: string, ...args: string[]): Promise<[string, string[]]>;
  duplicate(): IoRedisLike;
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
  readonly isCluster?: boolean;
  nodes?(role: string): IoRedisLike[];
}

/** node-redis's client and cluster, as far as the adapter uses them. */
interface NodeRedisLike extends Emitting {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  get(key: string): Promise<string | null>;
  del(key: string): Promise<unknown>;
  duplicate(): NodeRedisLike;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  ping?(): Promise<unknown>;
  scan?(cursor: string, options: { MATCH: string; COUNT: number }): Promise<{ cursor: string | number; keys: string[] }>;
  sendCommand?(...args: unknown[]): Promise<unknown>;
  quit?(): Promise<unknown>;
  close?(): Promise<unknown>;
  destroy?(): void;
  disconnect?(): Promise<unknown>;
  readonly masters?: unknown[];
  nodeClient?(node: unknown): NodeRedisLike | Promise<NodeRedisLike>;
  readonly isOpen?: boolean;
}

const WHERE = "RedisStore";
const SCAN_LIMIT = 100_000;

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.includes("NOSCRIPT");
}

/** Every key SCAN finds on each node, one page at a time (bounded), without duplicates. */
async function scanNodes<N>(
  nodes: readonly N[],
  page: (node: N, cursor: string) => Promise<{ cursor: string; keys: string[] }>,
): Promise<string[]> {
  const out = new Set<string>();
  for (const node of nodes) {
    let cursor = "0";
    for (let round = 0; round < SCAN_LIMIT; round++) {
      const reply = await page(node, cursor);
      for (const key of reply.keys) out.add(key);
      cursor = reply.cursor;
      if (cursor === "0") break;
    }
  }
  return [...out];
}

/** Adds `listener` to the `error` events of `targets` (and of subscribers made later); returns the detach. */
function listenForErrors(all: Set<(error: unknown) => void>, targets: readonly Emitting[], listener: (error: unknown) => void): () => void {
  all.add(listener);
  for (const t of targets) t.on("error", listener);
  return () => {
    all.delete(listener);
    for (const t of targets) off(t, "error", listener);
  };
}

function off(emitter: Emitting, event: string, listener: (...args: never[]) => void): void {
  if (typeof emitter.off === "function") emitter.off(event, listener);
  else emitter.removeListener?.(event, listener);
}

/** Wraps an ioredis or node-redis client (standalone or cluster) in a {@link RedisAdapter}. */
export function toAdapter(client: unknown, subscriber?: unknown): RedisAdapter {
  if (typeof client !== "object" || client === null) {
    throw new InvalidOptionError(
      WHERE,
      "client",
      client,
      "an ioredis client or Cluster, a node-redis v4+ client or cluster, or a RedisAdapter",
    );
  }
  const c = client as Record<string, unknown>;
  if (typeof c.evalScript === "function" && typeof c.subscribe === "function" && typeof c.kind === "string") return client as RedisAdapter;
  if (typeof c.evalsha === "function" && typeof c.duplicate === "function")
    return ioredisAdapter(client as IoRedisLike, subscriber as IoRedisLike | undefined);
  if (typeof c.evalSha === "function" && typeof c.duplicate === "function")
    return nodeRedisAdapter(client as NodeRedisLike, subscriber as NodeRedisLike | undefined);
  throw new InvalidOptionError(
    WHERE,
    "client",
    client,
    "an ioredis client or Cluster, a node-redis v4+ client or cluster, or a RedisAdapter",
  );
}

function ioredisAdapter(client: IoRedisLike, given: IoRedisLike | undefined): RedisAdapter {
  const cluster = client.isCluster === true;
  const subscribers: IoRedisLike[] = [];
  const errorListeners = new Set<(error: unknown) => void>();
  return {
    kind: cluster ? "ioredis-cluster" : "ioredis",
    evalScript(script, keys, args) {
      // A chain rather than an async function: one promise fewer on the hot path.
      return client.evalsha(script.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
        if (!isNoScript(error)) throw error;
        return client.eval(script.source, keys.length, ...keys, ...args);
      });
    },
    async ping() {
      await client.ping();
    },
    get: (key) => client.get(key),
    async del(key) {
      await client.del(key);
    },
    async scan(pattern) {
      const nodes = cluster && typeof client.nodes === "function" ? client.nodes("master") : [client];
      return scanNodes(nodes, async (node, cursor) => {
        const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", "1000");
        return { cursor: next, keys };
      });
    },
    async subscribe(channel, onMessage, onReady) {
      const sub = given ?? client.duplicate();
      subscribers.push(sub);
      for (const listener of errorListeners) sub.on("error", listener);
      const listener = (ch: string, message: string): void => {
        if (ch === channel) onMessage(message);
      };
      sub.on("message", listener as (...args: never[]) => void);
      sub.on("ready", onReady);
      await sub.subscribe(channel);
      let done = false;
      return async () => {
        if (done) return;
        done = true;
        off(sub, "message", listener as (...args: never[]) => void);
        off(sub, "ready", onReady);
        subscribers.splice(subscribers.indexOf(sub), 1);
        if (given !== undefined) {
          await sub.unsubscribe(channel).catch(() => undefined);
          return;
        }
        // Ours: close at once, without waiting for a server that may be gone.
        sub.disconnect();
      };
    },
    onError: (listener) => listenForErrors(errorListeners, [client, ...subscribers], listener),
  };
}

function nodeRedisAdapter(client: NodeRedisLike, given: NodeRedisLike | undefined): RedisAdapter {
  const cluster = Array.isArray(client.masters);
  const subscribers: NodeRedisLike[] = [];
  const errorListeners = new Set<(error: unknown) => void>();
  return {
    kind: cluster ? "node-redis-cluster" : "node-redis",
    evalScript(script, keys, args) {
      const options = { keys: [...keys], arguments: [...args] };
      return client.evalSha(script.sha, options).catch((error: unknown) => {
        if (!isNoScript(error)) throw error;
        return client.eval(script.source, options);
      });
    },
    async ping() {
      if (cluster) {
        // A cluster has no single PING: ask the node that owns a fixed slot.
        await client.get("breakwater:ping");
        return;
      }
      await client.ping?.();
    },
    get: (key) => client.get(key),
    async del(key) {
      await client.del(key);
    },
    async scan(pattern) {
      const nodes: NodeRedisLike[] = [];
      if (cluster && typeof client.nodeClient === "function") {
        for (const master of client.masters ?? []) nodes.push(await client.nodeClient(master));
      } else nodes.push(client);
      return scanNodes(nodes, async (node, cursor) => {
        const reply = await node.scan?.(cursor, { MATCH: pattern, COUNT: 1000 });
        return { cursor: reply === undefined ? "0" : String(reply.cursor), keys: reply?.keys ?? [] };
      });
    },
    async subscribe(channel, onMessage, onReady) {
      const sub = given ?? client.duplicate();
      subscribers.push(sub);
      for (const listener of errorListeners) sub.on("error", listener);
      if (given === undefined) await sub.connect();
      sub.on("ready", onReady);
      await sub.subscribe(channel, onMessage);
      let done = false;
      return async () => {
        if (done) return;
        done = true;
        off(sub, "ready", onReady);
        subscribers.splice(subscribers.indexOf(sub), 1);
        if (given !== undefined) {
          await sub.unsubscribe(channel).catch(() => undefined);
          return;
        }
        // Ours: close at once, without waiting for a server that may be gone.
        if (typeof sub.destroy === "function") sub.destroy();
        else await (sub.disconnect ?? sub.quit)?.call(sub).catch(() => undefined);
      };
    },
    onError: (listener) => listenForErrors(errorListeners, [client, ...subscribers], listener),
  };
}
