/**
 * A late joiner's first calls wait for the fleet's state, but never longer than
 * `commandTimeoutMs`: when Redis does not answer, `onRedisError` decides as for any call.
 * The "Redis" here is a real TCP server on 127.0.0.1 that accepts and never answers.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitBreaker, CircuitOpenError } from "../../src/index.js";
import { RedisStore } from "../../src/redis/index.js";

let silent: Server;
let port = 0;
const sockets = new Set<Socket>();

beforeAll(async () => {
  silent = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  port = (silent.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

describe("late joiner when Redis does not answer", () => {
  for (const mode of ["local", "deny"] as const) {
    it(`waits at most commandTimeoutMs, then onRedisError "${mode}" decides every first call`, async () => {
      const client = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 0, enableOfflineQueue: true, lazyConnect: false });
      client.on("error", () => undefined);
      const store = new RedisStore({
        client,
        commandTimeoutMs: 150,
        retryIntervalMs: 10_000,
        onRedisError: mode,
        logger: { warn: () => undefined },
      });
      try {
        const b = new CircuitBreaker({ name: "silent", store });
        let ran = 0;
        const started = Date.now();
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, () =>
            b.execute(() => {
              ran++;
              return 1;
            }),
          ),
        );
        const waited = Date.now() - started;
        console.info(`late joiner, Redis silent, ${mode}: first calls answered after ${waited} ms`);
        expect(waited).toBeGreaterThanOrEqual(140);
        expect(waited).toBeLessThan(1_000);
        if (mode === "local") {
          expect(ran).toBe(20);
          expect(results.every((r) => r.status === "fulfilled")).toBe(true);
        } else {
          expect(ran).toBe(0);
          expect(results.every((r) => r.status === "rejected" && r.reason instanceof CircuitOpenError)).toBe(true);
        }
      } finally {
        await store.close();
        client.disconnect();
      }
    });
  }
});
