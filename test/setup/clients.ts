/**
 * Clients for the test servers: ioredis and node-redis, standalone and cluster, each
 * with an `error` listener (a dropped connection must not crash the test process).
 */
import { Cluster, Redis } from "ioredis";
import { createClient, createCluster } from "redis";
import type { RedisCluster, RedisServer } from "./redis.js";

/** Which client library (and topology) a test runs on. */
export type ClientKind = "ioredis" | "node-redis" | "ioredis-cluster" | "node-redis-cluster";

/** A connected client and how to close it. */
export interface TestClient {
  readonly kind: ClientKind;
  readonly client: object;
  close(): Promise<void>;
}

/** Connects a client of `kind` to `server` (standalone kinds) or `cluster` (cluster kinds). */
export async function connect(kind: ClientKind, target: { server?: RedisServer; cluster?: RedisCluster }): Promise<TestClient> {
  const noop = (): void => undefined;
  switch (kind) {
    case "ioredis": {
      const s = need(target.server);
      const client = new Redis({ host: s.host, port: s.port, retryStrategy: () => 50 });
      client.on("error", noop);
      client.setMaxListeners(1_000);
      await client.ping();
      return { kind, client, close: async () => void client.disconnect() };
    }
    case "node-redis": {
      const s = need(target.server);
      const client = createClient({ url: s.url, socket: { reconnectStrategy: () => 50 } });
      client.on("error", noop);
      client.setMaxListeners(1_000);
      await client.connect();
      return { kind, client, close: async () => client.destroy() };
    }
    case "ioredis-cluster": {
      const c = need(target.cluster);
      const client = new Cluster(c.nodes.map((n) => ({ host: n.host, port: n.port })));
      client.on("error", noop);
      client.setMaxListeners(1_000);
      await client.ping();
      return { kind, client, close: async () => void client.disconnect() };
    }
    case "node-redis-cluster": {
      const c = need(target.cluster);
      const client = createCluster({ rootNodes: c.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })) });
      client.on("error", noop);
      client.setMaxListeners(1_000);
      await client.connect();
      return { kind, client, close: async () => client.destroy() };
    }
  }
}

function need<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("missing test server for this client kind");
  return value;
}
