/**
 * What a Redis test file needs around its tests: one standalone server for the file (see
 * `startRedis`), an admin connection to inspect it, fresh namespaces, and everything the
 * tests opened closed afterwards, in reverse order.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { RedisStore, type RedisStoreOptions } from "../../src/redis/index.js";
import { type RedisServer, startRedis } from "./redis.js";

/** Something a test opened and the suite closes. */
interface Closable {
  close(): Promise<void>;
}

/** The file's server and its helpers; `server` and `admin` exist once `beforeAll` has run. */
export interface RedisSuite {
  readonly server: RedisServer;
  readonly admin: Redis;
  /** A namespace no other test uses: `<prefix><pid>x<n>`. */
  ns(): string;
  /** Closes `o` after the file's tests; returns it. */
  track<T extends Closable>(o: T): T;
  /** EVAL and EVALSHA calls the server has run so far. */
  evalCalls(): Promise<number>;
  /** A quiet RedisStore on an ioredis connection of its own, both closed after the file. */
  store(options?: Omit<RedisStoreOptions, "client">): RedisStore;
}

/** Registers the file's `beforeAll` / `afterAll` and answers the suite. */
export function redisSuite(prefix: string): RedisSuite {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  const open: Closable[] = [];
  let seq = 0;
  beforeAll(async () => {
    server = await startRedis();
    admin = new Redis({ host: server.host, port: server.port });
  });
  afterAll(async () => {
    for (const o of open.reverse()) await o.close();
    admin?.disconnect();
    await server?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the Redis suite has not started (use it inside tests or hooks)");
    return value;
  };
  return {
    get server() {
      return started(server);
    },
    get admin() {
      return started(admin);
    },
    ns: () => `${prefix}${process.pid}x${seq++}`,
    track: (o) => {
      open.push(o);
      return o;
    },
    store(options = {}) {
      const { host, port } = started(server);
      const client = new Redis({ host, port });
      client.on("error", () => undefined);
      const store = new RedisStore({ client, logger: quiet, ...options });
      open.push({
        close: async () => {
          await store.close();
          client.disconnect();
        },
      });
      return store;
    },
    async evalCalls() {
      const info = await started(admin).info("commandstats");
      let total = 0;
      for (const m of info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) total += Number(m[1]);
      return total;
    },
  };
}

/** A RedisStore logger that says nothing. */
export const quiet = { warn: (): void => undefined };

/** A real wait (integration tests only). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
