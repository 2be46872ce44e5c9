/**
 * A fleet of real processes sharing breakers through RedisStore (issue 6, "Must show"
 * 2–4): each worker (fixtures/fleet-worker.ts) is a child process with its own ioredis
 * connection and store, on a redis-server on 127.0.0.1 that this file starts and, for
 * the outage test, kills by pid and restarts on the same port.
 *
 * The single-process form of the half-open test (three stores in one process) is in
 * redis-store.test.ts; here the trial permits are counted across processes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../setup/redis.js";
import { type FleetProcess, startFleet } from "./fixtures/fleet-process.js";
import type { LoadResult } from "./fixtures/fleet-worker.js";

let server: RedisServer;
let fleet: FleetProcess[] = [];
let seq = 0;
const ns = (): string => `fleet${process.pid}x${seq++}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const at = (list: readonly FleetProcess[], i: number): FleetProcess => {
  const p = list[i];
  if (p === undefined) throw new Error(`no worker ${i}`);
  return p;
};

function unhandled(list: readonly FleetProcess[]): string[] {
  return list.flatMap((p) => p.reports.filter((r) => r.event === "unhandled").map((r) => r.error ?? "?"));
}

describe("fleet: breakers shared by child processes through RedisStore", () => {
  const namespace = ns();

  beforeAll(async () => {
    server = await startRedis();
    fleet = await startFleet(4, server.url, namespace);
  });

  afterAll(async () => {
    await Promise.all(fleet.map((p) => p.stop()));
    await server?.stop();
  });

  it("a breaker opened by one process is unavailable in the other three within 100 ms", async () => {
    await Promise.all(fleet.map((p) => p.call({ cmd: "breaker", name: "payments", threshold: 3, recoveryMs: 30_000 })));
    const watchers = fleet.slice(1).map((p) => p.call<{ seenAt: number }>({ cmd: "watch", name: "payments", limitMs: 2_000 }));
    await sleep(20); // the watchers are polling
    const trip = await at(fleet, 0).call<{ lastCallAt: number; openedAt: number | null }>({ cmd: "trip", name: "payments" });
    const seen = await Promise.all(watchers);
    // From the transition (the script's server time, as the tripping process reported it)…
    expect(trip.openedAt).not.toBeNull();
    const delays = seen.map((s) => s.seenAt - (trip.openedAt ?? 0));
    // …and, an upper bound, from the start of the call that tripped it.
    const bounds = seen.map((s) => s.seenAt - trip.lastCallAt);
    console.info(
      `fleet: open seen by the other processes ${delays.join(", ")} ms after the transition (${bounds.join(", ")} ms after the tripping call began)`,
    );
    for (const d of delays) expect(d).toBeLessThan(100);
    for (const d of bounds) expect(d).toBeLessThan(250);
    expect(unhandled(fleet)).toEqual([]);
  });

  it("across 4 processes × 16 concurrent calls, exactly halfOpen.maxCalls trial calls run", async () => {
    const maxCalls = 3;
    await Promise.all(fleet.map((p) => p.call({ cmd: "breaker", name: "trial", threshold: 1, recoveryMs: 300, maxCalls })));
    const watchers = fleet.slice(1).map((p) => p.call({ cmd: "watch", name: "trial", limitMs: 2_000 }));
    await at(fleet, 0).call({ cmd: "trip", name: "trial" });
    await Promise.all(watchers);
    await sleep(350); // past the recovery interval: the next calls are trials
    // Every process starts together and spreads its 16 calls over 32 ms, while the trials hold for 200 ms.
    const startAt = Date.now() + 50;
    const bursts = await Promise.all(
      fleet.map((p) =>
        p.call<{ ran: number; fulfilled: number; circuitOpen: number; other: string[] }>({
          cmd: "burst",
          name: "trial",
          calls: 16,
          holdMs: 200,
          startAt,
          spreadMs: 2,
        }),
      ),
    );
    const ran = bursts.reduce((n, b) => n + b.ran, 0);
    const fulfilled = bursts.reduce((n, b) => n + b.fulfilled, 0);
    const rejected = bursts.reduce((n, b) => n + b.circuitOpen, 0);
    console.info(`fleet: trial calls per process ${bursts.map((b) => b.ran).join(", ")}`);
    expect(ran).toBe(maxCalls);
    expect(fulfilled).toBe(maxCalls);
    expect(rejected).toBe(4 * 16 - maxCalls);
    expect(bursts.flatMap((b) => b.other)).toEqual([]);
    // Three successful trials close it for everyone: the processes that ran none learn it from
    // the store's broadcast, a few ms later (more on a loaded machine), so ask for up to 1 s.
    let states: string[] = [];
    for (let i = 0; i < 50; i++) {
      states = (await Promise.all(fleet.map((p) => p.call<{ state: string }>({ cmd: "state", name: "trial" })))).map((s) => s.state);
      if (states.every((s) => s === "closed")) break;
      await sleep(20);
    }
    expect(states).toEqual(["closed", "closed", "closed", "closed"]);
    expect(unhandled(fleet)).toEqual([]);
  });
});

describe("fleet: redis-server killed mid-run and restarted on the same port", () => {
  it("no caller sees a Redis error, nothing is lost or run twice, no unhandled rejection, and the state resumes", async () => {
    const own = await startRedis({ ignoreEnv: true });
    const workers = await startFleet(3, own.url, ns());
    try {
      await Promise.all(workers.map((p) => p.call({ cmd: "breaker", name: "orders", threshold: 1_000, recoveryMs: 30_000 })));
      const loads = workers.map((p) =>
        p.call<LoadResult>({ cmd: "load", name: "orders", periodMs: 2, durationMs: 3_000, inFlight: 8 }, 15_000),
      );
      await sleep(600);
      const before = workers.map((p) => p.reports.length);
      await own.kill(); // SIGTERM by pid (SIGKILL after 1 s)
      await sleep(700);
      await own.restart();
      await Promise.all(workers.map((p, i) => p.available(before[i] ?? 0, 5_000)));
      const results = await Promise.all(loads);
      console.info(
        `fleet: calls per process ${results.map((r) => r.calls).join(", ")}; during the outage ${results.map((r) => r.duringOutage).join(", ")}`,
      );
      for (const r of results) {
        expect(r.leaked).toEqual([]);
        expect(r.executions).toBe(r.calls);
        expect(r.succeeded + r.ownErrors + r.circuitOpen).toBe(r.calls);
        expect(r.circuitOpen).toBe(0);
        expect(r.duringOutage).toBeGreaterThan(0);
      }
      for (const p of workers) expect(p.reports.some((r) => r.event === "unavailable")).toBe(true);

      // State resumes: a breaker opened after the restart is seen by the other processes.
      await Promise.all(workers.map((p) => p.call({ cmd: "breaker", name: "after", threshold: 2, recoveryMs: 30_000 })));
      const watchers = workers.slice(1).map((p) => p.call<{ seenAt: number }>({ cmd: "watch", name: "after", limitMs: 2_000 }));
      await sleep(20);
      const trip = await at(workers, 0).call<{ lastCallAt: number }>({ cmd: "trip", name: "after" });
      const seen = await Promise.all(watchers);
      const delays = seen.map((s) => s.seenAt - trip.lastCallAt);
      console.info(`fleet: after the restart, open seen after ${delays.join(", ")} ms`);
      for (const d of delays) expect(d).toBeLessThan(1_000);
      expect(unhandled(workers)).toEqual([]);
    } finally {
      await Promise.all(workers.map((p) => p.stop()));
      await own.stop();
    }
  });
});
