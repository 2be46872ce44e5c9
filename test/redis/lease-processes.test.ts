/**
 * Leased units across real processes: child processes (two on ioredis, two on node-redis),
 * each with its own RedisStore, on one redis-server started by the test.
 *
 * - 4 processes × 32 calls in flight on one key with a lease, for FixedWindow and
 *   TokenBucket: together they never admit more than the limit and admit at least 99% of
 *   it, with far fewer scripts than calls.
 * - Redis killed and restarted (without persistence) mid-run, in every onRedisError mode:
 *   no caller sees an error, no rejection goes unhandled, every leased unit is spent,
 *   returned or lost exactly once, and in the "deny" mode the fleet admits at most one
 *   limit per life of the key (what a restart without persistence costs: the forgotten
 *   state is a second full limit).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../setup/redis.js";
import type { LimiterSpec } from "./fixtures/limit-worker.js";
import { type BurstResult, startWorker, stopWorkers, type Worker } from "./fixtures/limit-workers.js";

const KINDS = ["ioredis", "node-redis", "ioredis", "node-redis"] as const;
const MINUTE = 60_000;

/** The lease every spec here uses: up to 64 units, held at most 2 s. */
const lease = { units: 64, maxHoldMs: 2_000 };
const specs: [string, LimiterSpec][] = [
  ["fixed window", { kind: "fixedWindow", limit: 3_000, windowMs: MINUTE, lease }],
  // Refills nothing worth a token during the test: the limit is the capacity.
  ["token bucket", { kind: "tokenBucket", capacity: 3_000, ratePerSec: 0.001, lease }],
];

/** Every process's burst, started together (on a store with `store` options added, if any). */
function bursts(
  workers: readonly Worker[],
  name: string,
  spec: LimiterSpec,
  durationMs: number,
  startAt: number,
  store?: Record<string, unknown>,
): Promise<BurstResult[]> {
  return Promise.all(
    workers.map((w) =>
      w.call<BurstResult>(
        {
          cmd: "burst",
          name,
          spec,
          key: "hot",
          calls: 10_000_000,
          durationMs,
          inFlight: 32,
          startAt,
          offsetMs: 0,
          ...(store && { store }),
        },
        durationMs + 20_000,
      ),
    ),
  );
}

/** No caller saw an error; every leased unit went exactly one way; nothing is held after close(). */
function clean(results: readonly BurstResult[], workers: readonly Worker[]): void {
  for (const r of results) {
    expect(r.errors).toEqual([]);
    const l = r.leases;
    expect(l).toBeDefined();
    expect(l?.held).toBe(0);
    expect((l?.spent ?? 0) + (l?.returned ?? 0) + (l?.expired ?? 0)).toBe(l?.granted);
  }
  for (const w of workers) expect(w.unhandled).toEqual([]);
}

const total = (results: readonly BurstResult[]): number => results.reduce((n, r) => n + r.admitted, 0);

let server: RedisServer;
let workers: Worker[] = [];
let admin: Redis;

beforeAll(async () => {
  // A server of its own: the second half kills and restarts it.
  server = await startRedis({ ignoreEnv: true });
  admin = new Redis(server.url, { lazyConnect: true });
  admin.on("error", () => undefined);
  await admin.connect();
  workers = await Promise.all(KINDS.map((kind) => startWorker(server.url, `lease${process.pid}`, kind)));
}, 40_000);

afterAll(async () => {
  await stopWorkers(workers);
  admin?.disconnect();
  await server?.stop();
});

describe("leased limiters on RedisStore across processes", () => {
  for (const [label, spec] of specs) {
    it(`${label}: 4 processes × 32 in flight on one key admit at most the limit and at least 99% of it, in few scripts`, async () => {
      await admin.config("RESETSTAT");
      const results = await bursts(workers, `hot-${spec.kind}`, spec, 1_000, Date.now() + 200);
      const admitted = total(results);
      expect(admitted).toBeLessThanOrEqual(3_000);
      expect(admitted).toBeGreaterThanOrEqual(2_970);
      clean(results, workers);
      for (const r of results) expect(r.maxInFlight).toBe(32);
      // The processes competed: their bursts overlapped in time.
      expect(Math.max(...results.map((r) => r.started))).toBeLessThan(Math.min(...results.map((r) => r.ended)));
      // Leases answered most calls locally: the scripts run are a small fraction of the calls admitted.
      const stats = await admin.info("commandstats");
      const scripts = [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      expect(scripts).toBeGreaterThan(0);
      expect(scripts).toBeLessThan(admitted / 4);
    });
  }
});

describe("leased limiters across processes while Redis is killed and restarted", () => {
  const modes = ["deny", "local", "allow"] as const;
  for (const mode of modes) {
    it(`onRedisError "${mode}": no caller error, no unhandled rejection, no leased unit spent twice${mode === "deny" ? ", at most one limit per life of the key" : ""}`, async () => {
      const store = { onRedisError: mode, commandTimeoutMs: 200, retryIntervalMs: 100 };
      for (const [, base] of specs) {
        const spec: LimiterSpec = { ...base, ...(base.kind === "fixedWindow" ? { limit: 2_000 } : { capacity: 2_000 }) };
        const startAt = Date.now() + 300;
        const running = bursts(workers, `crash-${mode}-${spec.kind}`, spec, 3_000, startAt, store);
        // Down 400 ms into the run, back 600 ms later, empty (no persistence).
        await new Promise((resolve) => setTimeout(resolve, startAt + 400 - Date.now()));
        await server.kill();
        await new Promise((resolve) => setTimeout(resolve, 600));
        await server.restart();
        const results = await running;
        clean(results, workers);
        const admitted = total(results);
        if (mode === "deny") {
          // Nothing is admitted without Redis but units leased before the crash (counted in the
          // key's first life); the restarted key is a second life with its own full limit.
          expect(admitted).toBeLessThanOrEqual(2 * 2_000);
        }
        expect(admitted).toBeGreaterThanOrEqual(2_000);
      }
    }, 60_000);
  }
});
