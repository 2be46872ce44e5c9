/**
 * The stores the conformance suite runs every scenario against: MemoryStore, and
 * RedisStore on ioredis, on node-redis, and on a three-master cluster through both.
 * `openBackends()` starts the servers (or uses REDIS_URL / REDIS_CLUSTER_NODES) and
 * `close()` stops everything it started.
 */
import { afterAll, beforeAll } from "vitest";
import { MemoryStore, type Store } from "../../src/index.js";
import { RedisStore } from "../../src/redis/index.js";
import { type ClientKind, connect, type TestClient } from "../setup/clients.js";
import { type RedisCluster, type RedisServer, startCluster, startRedis } from "../setup/redis.js";

/** One store kind. `store()` gives a fresh, isolated store (its own namespace). */
export interface Backend {
  readonly name: string;
  store(): Store;
}

/** The backends, and how to release them. */
export interface Backends {
  readonly all: readonly Backend[];
  close(): Promise<void>;
}

let seq = 0;

/** Starts the servers and connects one client of each kind. */
export async function openBackends(): Promise<Backends> {
  const [server, cluster] = await Promise.all([startRedis(), startCluster()]);
  const kinds: ClientKind[] = ["ioredis", "node-redis", "ioredis-cluster", "node-redis-cluster"];
  const clients: TestClient[] = [];
  const stores: Store[] = [];
  try {
    for (const kind of kinds) clients.push(await connect(kind, { server, cluster }));
  } catch (error) {
    await release(clients, stores, server, cluster);
    throw error;
  }
  const quiet = { warn: () => undefined };
  const track = <S extends Store>(s: S): S => {
    stores.push(s);
    return s;
  };
  const all: Backend[] = [
    { name: "memory", store: () => track(new MemoryStore({ sweepIntervalMs: 0 })) },
    ...clients.map((c) => ({
      name: `redis:${c.kind}`,
      store: () => track(new RedisStore({ client: c.client, namespace: `conf${process.pid}n${seq++}`, logger: quiet })),
    })),
  ];
  return { all, close: () => release(clients, stores, server, cluster) };
}

async function release(clients: TestClient[], stores: Store[], server: RedisServer, cluster: RedisCluster): Promise<void> {
  for (const s of stores) await s.close();
  for (const c of clients) await c.close();
  await server.stop();
  await cluster.stop();
}

/**
 * The backends for the calling test file: opened before its tests (hooks the file
 * registers later run after), closed after them. `all` reads the opened backends, so use
 * it inside tests or hooks.
 */
export function backendsForFile(): Backends {
  let opened: Backends | undefined;
  beforeAll(async () => {
    opened = await openBackends();
  }, 60_000);
  afterAll(async () => {
    await opened?.close();
  });
  return {
    get all() {
      if (opened === undefined) throw new Error("the backends have not opened (use them inside tests or hooks)");
      return opened.all;
    },
    close: async () => opened?.close(),
  };
}
