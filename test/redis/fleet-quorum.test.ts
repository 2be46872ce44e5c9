/**
 * Late joiners and quorum across real processes (fixtures/fleet-worker.ts), each with its
 * own ioredis connection and RedisStore, on a redis-server and on a three-master Redis
 * Cluster that this file starts (test/setup/redis.ts) and stops by pid.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BreakerStatus } from "../../src/index.js";
import { type RedisCluster, type RedisServer, startCluster, startRedis } from "../setup/redis.js";
import { type FleetProcess, startFleet } from "./fixtures/fleet-process.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
let seq = 0;
const ns = (): string => `quorum${process.pid}x${seq++}`;

function at(list: readonly FleetProcess[], i: number): FleetProcess {
  const p = list[i];
  if (p === undefined) throw new Error(`no worker ${i}`);
  return p;
}

function unhandled(list: readonly FleetProcess[]): string[] {
  return list.flatMap((p) => p.reports.filter((r) => r.event === "unhandled").map((r) => r.error ?? "?"));
}

interface Target {
  readonly name: string;
  url(): string;
}

let server: RedisServer | undefined;
let cluster: RedisCluster | undefined;
const targets: Target[] = [
  {
    name: "redis-server",
    url: () => {
      if (server === undefined) throw new Error("no server");
      return server.url;
    },
  },
  {
    name: "Redis Cluster",
    url: () => {
      if (cluster === undefined) throw new Error("no cluster");
      return `cluster:${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(",")}`;
    },
  },
];

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedis(), startCluster()]);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await cluster?.stop();
});

describe.each(targets)("fleet on a $name: late joiners and quorum", (target) => {
  let fleet: FleetProcess[] = [];
  const namespace = ns();

  beforeAll(async () => {
    fleet = await startFleet(3, target.url(), namespace);
  }, 30_000);

  afterAll(async () => {
    await Promise.all(fleet.map((p) => p.stop()));
  });

  it("a process started while the circuit is open runs none of its 50 concurrent first calls", async () => {
    await at(fleet, 0).call({ cmd: "breaker", name: "late", threshold: 1, recoveryMs: 60_000 });
    await at(fleet, 0).call({ cmd: "trip", name: "late" });
    const [joiner] = await startFleet(1, target.url(), namespace);
    if (joiner === undefined) throw new Error("no joiner");
    try {
      const first = await joiner.call<{ ran: number; circuitOpen: number; other: string[] }>({
        cmd: "lateJoin",
        name: "late",
        threshold: 1,
        recoveryMs: 60_000,
        calls: 50,
      });
      console.info(`${target.name}: a late joiner's 50 first calls: ${first.ran} ran, ${first.circuitOpen} rejected`);
      expect(first).toEqual({ ran: 0, circuitOpen: 50, other: [] });
      expect(unhandled([joiner])).toEqual([]);
    } finally {
      await joiner.stop();
    }
  });

  it("quorum 2 of 3: one failing process rejects only its own calls; a second one opens the circuit for every process within 100 ms", async () => {
    // Failures in a window (not in a row): the healthy calls of the others do not wipe out the first process's failures.
    const breaker = { cmd: "breaker", name: "q", threshold: 3, windowMs: 60_000, recoveryMs: 60_000, quorum: 2 } as const;
    const ids = await Promise.all(fleet.map((p) => p.call<{ processId: string }>(breaker)));

    // Process 0's own path is broken: its own view opens, the fleet's circuit does not.
    await at(fleet, 0).call({ cmd: "trip", name: "q" });
    const own = await at(fleet, 0).call<{ outcome: string; ran: boolean }>({ cmd: "callOnce", name: "q" });
    expect(own).toEqual({ outcome: "rejected", ran: false });
    const other = await at(fleet, 1).call<{ outcome: string; ran: boolean }>({ cmd: "callOnce", name: "q" });
    expect(other).toEqual({ outcome: "ok", ran: true });
    const third = await at(fleet, 2).call<{ state: string; status: BreakerStatus }>({ cmd: "state", name: "q" });
    expect(third.state).toBe("closed");
    expect(third.status.fleet).toMatchObject({ state: "closed", quorum: 2, ownView: "closed", ownViewsOpen: [ids[0]?.processId] });
    const first = await at(fleet, 0).call<{ state: string; status: BreakerStatus }>({ cmd: "state", name: "q" });
    expect(first.state).toBe("open");
    expect(first.status.fleet).toMatchObject({ state: "closed", ownView: "open", processId: ids[0]?.processId });

    // A second process fails: now the failures come from two processes, and the fleet's circuit opens.
    const watchers = [0, 2].map((i) => at(fleet, i).call<{ seenAt: number }>({ cmd: "watch", name: "q", limitMs: 3_000 }));
    const watchThird = at(fleet, 2).call<{ seenAt: number }>({ cmd: "watch", name: "q", limitMs: 3_000 });
    await sleep(20);
    const trip = await at(fleet, 1).call<{ lastCallAt: number; openedAt: number | null; status: BreakerStatus }>({
      cmd: "trip",
      name: "q",
    });
    expect(trip.openedAt).not.toBeNull();
    expect(trip.status.fleet?.state).toBe("open");
    const seen = await watchThird;
    await Promise.all(watchers);
    const delay = seen.seenAt - (trip.openedAt ?? 0);
    console.info(
      `${target.name}: quorum met, open seen by the third process ${delay} ms after the transition (${seen.seenAt - trip.lastCallAt} ms after the call began)`,
    );
    expect(delay).toBeLessThan(100);
    const states = await Promise.all(fleet.map((p) => p.call<{ status: BreakerStatus; available: boolean }>({ cmd: "state", name: "q" })));
    for (const s of states) {
      expect(s.available).toBe(false);
      expect(s.status.fleet?.state).toBe("open");
    }
    const rejected = await Promise.all(fleet.map((p) => p.call<{ outcome: string }>({ cmd: "callOnce", name: "q" })));
    expect(rejected.map((r) => r.outcome)).toEqual(["rejected", "rejected", "rejected"]);
    expect(unhandled(fleet)).toEqual([]);
  });
});
