/**
 * Limiters shared by processes through RedisStore: real child processes (`node --import
 * tsx`), each with its own connection (two on ioredis, two on node-redis), on one
 * redis-server.
 *
 * - 4 processes × 32 calls in flight on one key never admit more than the limit, and admit
 *   it fully, for every limiter algorithm.
 * - Two processes whose clocks disagree by minutes still enforce the limit exactly (the
 *   server's TIME decides), and their waits still come out right.
 * - AdaptiveRateLimiter: a 429 seen by one process lowers the rate, and its Retry-After
 *   pauses, another process; behind an upstream that caps requests in flight, the processes
 *   learn one cap and hold the fleet's requests in flight to it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../http/server.js";
import { type RedisServer, startRedis } from "../setup/redis.js";
import type { LimiterSpec } from "./fixtures/limit-worker.js";
import { type BurstResult, startWorker, stopWorkers, type Worker } from "./fixtures/limit-workers.js";

let server: RedisServer;
let workers: Worker[] = [];

beforeAll(async () => {
  server = await startRedis();
  const namespace = `procs${process.pid}`;
  workers = await Promise.all(
    (["ioredis", "node-redis", "ioredis", "node-redis"] as const).map((kind) => startWorker(server.url, namespace, kind)),
  );
}, 40_000);

afterAll(async () => {
  await stopWorkers(workers);
  await server?.stop();
});

const MINUTE = 60_000;
const specs: [string, LimiterSpec][] = [
  // Refills nothing worth a token during the test: the limit is the capacity.
  ["token bucket", { kind: "tokenBucket", capacity: 300, ratePerSec: 0.001 }],
  ["fixed window", { kind: "fixedWindow", limit: 300, windowMs: MINUTE }],
  ["exact sliding window", { kind: "slidingLog", limit: 300, windowMs: MINUTE }],
  // An hour-long window: the test never straddles two (that would weigh the previous one).
  ["approximate sliding window", { kind: "slidingCounter", limit: 300, windowMs: 60 * MINUTE }],
];

describe("limiters on RedisStore across processes", () => {
  for (const [label, spec] of specs) {
    it(`${label}: 4 processes × 32 in flight on one key admit exactly the limit`, async () => {
      const startAt = Date.now() + 200;
      const results = await Promise.all(
        workers.map((w) =>
          w.call<BurstResult>({
            cmd: "burst",
            name: `burst-${spec.kind}`,
            spec,
            key: "shared",
            calls: 20_000,
            durationMs: 300,
            inFlight: 32,
            startAt,
            offsetMs: 0,
          }),
        ),
      );
      const admitted = results.reduce((n, r) => n + r.admitted, 0);
      expect(admitted).toBe(300);
      const calls = results.reduce((n, r) => n + r.calls, 0);
      expect(calls).toBeGreaterThan(4 * 300);
      expect(results.reduce((n, r) => n + r.refused, 0)).toBe(calls - 300);
      for (const r of results) expect(r.maxInFlight).toBe(32);
      // The four bursts (each calling for 300 ms) overlapped in time: they really competed.
      expect(Math.max(...results.map((r) => r.started))).toBeLessThan(Math.min(...results.map((r) => r.ended)));
      for (const w of workers) expect(w.unhandled).toEqual([]);
    });
  }

  it("two processes whose clocks are minutes apart enforce the limit exactly", async () => {
    const [early, late] = workers as [Worker, Worker];
    const offsets = [-5 * MINUTE, 7 * MINUTE];
    // Had either decided with its own clock, the late one would see a bucket refilled by
    // 7 minutes of tokens and windows long closed.
    const skewSpecs: LimiterSpec[] = [
      { kind: "tokenBucket", capacity: 40, ratePerSec: 40 / ((10 * MINUTE) / 1000) },
      { kind: "fixedWindow", limit: 40, windowMs: MINUTE },
      { kind: "slidingLog", limit: 40, windowMs: MINUTE },
    ];
    for (const spec of skewSpecs) {
      const startAt = Date.now() + 100;
      const first = await early.call<BurstResult>({
        cmd: "burst",
        name: `skew-${spec.kind}`,
        spec,
        key: "k",
        calls: 25,
        inFlight: 8,
        startAt,
        offsetMs: offsets[0] as number,
      });
      const second = await late.call<BurstResult>({
        cmd: "burst",
        name: `skew-${spec.kind}`,
        spec,
        key: "k",
        calls: 25,
        inFlight: 8,
        startAt,
        offsetMs: offsets[1] as number,
      });
      expect({ spec: spec.kind, admitted: first.admitted + second.admitted }).toEqual({ spec: spec.kind, admitted: 40 });
      expect(first.admitted).toBe(25);
    }
    // Waits are relative, so they come out right on any clock: 12 acquires of an exact
    // window of 4 per 300 ms need two full windows after the first.
    const spec: LimiterSpec = { kind: "slidingLog", limit: 4, windowMs: 300 };
    const startAt = Date.now() + 200;
    const runs = await Promise.all([
      early.call<{ times: number[] }>({
        cmd: "acquire",
        name: "skew-wait",
        spec,
        key: "w",
        count: 6,
        startAt,
        offsetMs: offsets[0] as number,
      }),
      late.call<{ times: number[] }>({
        cmd: "acquire",
        name: "skew-wait",
        spec,
        key: "w",
        count: 6,
        startAt,
        offsetMs: offsets[1] as number,
      }),
    ]);
    const times = runs.flatMap((r) => r.times).sort((a, b) => a - b);
    expect(times).toHaveLength(12);
    expect((times[11] as number) - startAt).toBeGreaterThanOrEqual(550);
    // No window of 300 ms (less a few ms of delivery jitter) saw more than 4 admissions.
    for (let i = 4; i < times.length; i++) expect((times[i] as number) - (times[i - 4] as number)).toBeGreaterThan(280);
  });

  it("adaptive limiter: a 429 seen in one process lowers the rate and pauses another", async () => {
    const [a, b] = workers as [Worker, Worker];
    type Snap = { ratePerSec: number; epoch: number; backoffs: number; cooldownMs: number; cooldownUntil: number | null };
    type Acquired = { permit?: { epoch: number; waitedMs: number }; refused?: number; snapshot: Snap };
    const before = await b.call<Acquired>({ cmd: "adaptive", name: "fleet", action: "acquire", offsetMs: 7 * MINUTE });
    expect(before.snapshot.ratePerSec).toBe(20);
    expect(before.permit?.epoch).toBe(0);
    await a.call<Acquired>({ cmd: "adaptive", name: "fleet", action: "acquire", offsetMs: -5 * MINUTE });
    const cut = await a.call<{ congestion: boolean; snapshot: Snap }>({
      cmd: "adaptive",
      name: "fleet",
      action: "backoff",
      offsetMs: -5 * MINUTE,
    });
    expect(cut.congestion).toBe(true);
    expect(cut.snapshot.ratePerSec).toBe(14);
    // The other process sees the lower rate and the new epoch on its next permit.
    const after = await b.call<Acquired>({ cmd: "adaptive", name: "fleet", action: "acquire", offsetMs: 7 * MINUTE });
    expect(after.permit?.epoch).toBe(1);
    expect(after.snapshot.ratePerSec).toBe(14);
    expect(after.snapshot.backoffs).toBe(1);
    // A Retry-After seen by one pauses the other for that long, whatever its clock says.
    await a.call({ cmd: "adaptive", name: "fleet", action: "acquire", offsetMs: -5 * MINUTE });
    await a.call({ cmd: "adaptive", name: "fleet", action: "backoff", retryAfterMs: 2_000, offsetMs: -5 * MINUTE });
    const paused = await b.call<Acquired>({ cmd: "adaptive", name: "fleet", action: "acquire", maxWaitMs: 0, offsetMs: 7 * MINUTE });
    expect(paused.refused).toBeGreaterThan(1_500);
    expect(paused.refused).toBeLessThanOrEqual(2_000);
    expect(paused.snapshot.cooldownMs).toBeGreaterThan(1_500);
    expect(paused.snapshot.cooldownMs).toBeLessThanOrEqual(2_000);
    for (const w of workers) expect(w.unhandled).toEqual([]);
  });

  it("adaptive limiter behind a cap on requests in flight: the fleet learns one cap and holds its requests in flight to it", async () => {
    // The upstream refuses a request that finds 3 in flight already, and answers the others in 40 ms: 75 a second at most.
    const CAP = 3;
    const SERVICE_MS = 40;
    const upstream = await startServer();
    let inFlight = 0;
    const answers: { at: number; ok: boolean }[] = [];
    upstream.handle((_seen, res) => {
      const at = Date.now();
      if (inFlight >= CAP) {
        answers.push({ at, ok: false });
        res.writeHead(429).end();
        return;
      }
      inFlight++;
      answers.push({ at, ok: true });
      setTimeout(() => {
        inFlight--;
        res.writeHead(200).end("ok");
      }, SERVICE_MS);
    });
    type Capped = { statuses: Record<string, number>; errors: string[]; caps: (number | null)[]; backoffs: string[] };
    // Slow start reaches the cap after about 2 s; a first refusal that reached the upstream
    // behind requests granted later (by another process) reads as a rate limit, and the
    // evidence then takes another 2 s: judged over the last 3 s of 8.
    const startAt = Date.now() + 300;
    const durationMs = 8_000;
    const sampleMs = 3_000;
    try {
      const results = await Promise.all(
        workers.map((w) =>
          w.call<Capped>({ cmd: "capped", name: "capped", url: upstream.url, lanes: 4, startAt, durationMs, sampleMs }, 30_000),
        ),
      );
      // The cap each process held: the fleet's, or the window its probe has just widened.
      const held = results.map((r) => r.caps.filter((c) => c !== null && c >= CAP && c <= CAP + 1).length / Math.max(1, r.caps.length));
      const late = answers.filter((a) => a.at >= startAt + durationMs - sampleMs && a.at < startAt + durationMs);
      const ok = late.filter((a) => a.ok).length;
      const refused = late.length - ok;
      const places = (sampleMs / SERVICE_MS) * CAP;
      console.log(
        `fleet behind a cap of ${CAP}, last ${sampleMs} ms: ${ok} answered of ${places} places, ${refused} refused; cap held ${held.map((h) => h.toFixed(2)).join(", ")} of the time`,
      );
      if (held.some((h) => h < 0.8)) for (const r of results) console.log(`back-offs of one process:\n${r.backoffs.join("\n")}`);
      for (const [i, r] of results.entries()) {
        expect(r.errors).toEqual([]);
        expect(r.caps.length).toBeGreaterThanOrEqual(20);
        expect(held[i]).toBeGreaterThanOrEqual(0.8);
      }
      // Few refused (the window's probes), and the places used (most of them on a quiet
      // machine; a busy one, running other tests, slows the callers).
      expect(refused).toBeLessThanOrEqual(0.05 * late.length);
      expect(ok).toBeGreaterThanOrEqual(0.5 * places);
      for (const w of workers) expect(w.unhandled).toEqual([]);
    } finally {
      await upstream.close();
    }
  }, 45_000);
});
