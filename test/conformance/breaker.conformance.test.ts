/**
 * The store conformance suite for breakers: every scenario runs against MemoryStore and
 * RedisStore (ioredis, node-redis, and both on a three-master cluster), all at once, and
 * every store must produce the same log, which must also be the expected one.
 *
 * Time: Redis decides with its server's TIME, so these scenarios use the real clock and
 * are written so that their outcome does not depend on exact milliseconds: recovery
 * intervals of 100–200 ms are waited out with a margin of at least 100 ms, windows are a
 * minute long (nothing leaves them during a test), and retry-after values are logged as
 * ranges. After each step a scenario awaits `breaker.flush()` (immediate in process), so
 * the outcomes sent to Redis in the background have landed before the next step.
 *
 * The last test drives the raw `BreakerDecision` with random input sequences through
 * `Store.apply`: recovery 0 makes every probe due at once, so the sequences reach every
 * state without depending on time.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BreakerDecision,
  type BreakerInput,
  type BreakerRecord,
  CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitOpenError,
  constant,
  consecutiveFailures,
  exponential,
  failureRatio,
  failuresInWindow,
  fixedThenExponential,
  type Store,
} from "../../src/index.js";
import { backendsForFile } from "./backends.js";

const backends = backendsForFile();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A breaker on `store` that logs its transitions, with a fixed random for jitter. */
class Probe {
  readonly log: string[] = [];
  readonly b: CircuitBreaker;
  /**
   * Transitions seen during the current step. In process a transition is reported before
   * the call settles; on Redis once the store has decided, after the caller has its result
   * (recording never delays it). So a step logs its result first, then its transitions.
   */
  private transitions: string[] = [];
  constructor(store: Store, options: CircuitBreakerOptions) {
    this.b = new CircuitBreaker({ name: "conf", random: () => 0.5, ...options, store });
    this.b.on("stateChange", (e) => this.transitions.push(`${e.from}->${e.to}: ${e.reason}`));
  }

  /** Runs one call and logs how it ended, then the transitions it caused. */
  async call(fn: () => unknown): Promise<void> {
    const result = await this.b.execute(fn).then(
      (v) => `ok ${String(v)}`,
      (e: unknown) => (e instanceof CircuitOpenError ? `rejected ${range(e.retryAfterMs)}` : `error ${(e as Error).message}`),
    );
    await this.b.flush();
    this.log.push(result);
    this.drain();
  }

  /** Logs the transitions seen since the last step. */
  drain(): void {
    // A slow call's duration depends on the machine: its reason is logged without it.
    this.log.push(...this.transitions.map((t) => t.replace(/slow call: \d+ ms/, "slow call: N ms")));
    this.transitions = [];
  }

  /** Logs the state and the parts of status() that do not depend on the clock. */
  async snap(): Promise<void> {
    await this.b.flush();
    this.drain();
    const s = this.b.status();
    const interval =
      s.openedAt !== null && s.nextProbeAt !== null && Number.isFinite(s.nextProbeAt) ? Math.round(s.nextProbeAt - s.openedAt) : null;
    this.log.push(
      `${s.state}${s.isolated ? " isolated" : ""} failures=${s.failures} attempt=${s.attempt} phase=${s.retryPhase} interval=${interval} trials=${s.halfOpen.trials}/${s.halfOpen.successes} last=${s.lastFailure?.reason ?? "-"}`,
    );
  }
}

function range(ms: number): string {
  if (ms === Infinity) return "forever";
  if (ms === 0) return "now";
  return ms > 10_000 ? ">10s" : "<=10s";
}

const fail =
  (message = "boom") =>
  (): never => {
    throw new Error(message);
  };

interface Scenario {
  readonly name: string;
  run(store: Store): Promise<string[]>;
  readonly expected: readonly string[];
}

const scenarios: Scenario[] = [
  {
    name: "failureRatio judges every outcome: F F F S S over 5 calls opens on the last success",
    async run(store) {
      const p = new Probe(store, { trip: failureRatio(0.5, { minimumCalls: 5, windowCalls: 5 }), recovery: 60_000 });
      for (let i = 0; i < 3; i++) await p.call(fail());
      await p.call(() => 1);
      await p.snap();
      await p.call(() => 2);
      await p.snap();
      return p.log;
    },
    expected: [
      "error boom",
      "error boom",
      "error boom",
      "ok 1",
      "closed failures=3 attempt=0 phase=null interval=null trials=0/0 last=boom",
      "ok 2",
      "closed->open: trip rule failureRatio reached: boom",
      "open failures=3 attempt=1 phase=fixed interval=60000 trials=0/0 last=boom",
    ],
  },
  {
    name: "slowCallMs: slow calls return their value and count as failures",
    async run(store) {
      const p = new Probe(store, { trip: consecutiveFailures(2), recovery: 60_000, slowCallMs: 40 });
      const slow = (): Promise<string> => sleep(80).then(() => "late");
      await p.call(slow);
      await p.call(() => "fast");
      await p.call(slow);
      await p.call(slow);
      await p.call(() => "refused");
      return p.log;
    },
    expected: [
      "ok late",
      "ok fast",
      "ok late",
      "ok late",
      "closed->open: trip rule consecutiveFailures reached: slow call: N ms",
      "rejected >10s",
    ],
  },
  {
    name: "open({ forMs }) opens on every store; after forMs a probe closes it",
    async run(store) {
      const p = new Probe(store, { recovery: 60_000 });
      // Long enough that a loaded machine still refuses the next call.
      p.b.open({ forMs: 2_000 });
      await p.snap();
      await p.call(() => "refused");
      await sleep(2_200);
      await p.call(() => "probe");
      return p.log;
    },
    expected: [
      "closed->open: opened by hand",
      "open failures=0 attempt=1 phase=fixed interval=2000 trials=0/0 last=-",
      "rejected <=10s",
      "ok probe",
      "open->half-open: recovery interval elapsed",
      "half-open->closed: 1 trial call succeeded",
    ],
  },
  {
    name: "consecutiveFailures opens on the nth failure in a row; a success restarts the count",
    async run(store) {
      const p = new Probe(store, { trip: consecutiveFailures(3), recovery: 60_000 });
      await p.call(fail());
      await p.call(fail());
      await p.call(() => 1);
      await p.call(fail());
      await p.call(fail());
      await p.snap();
      await p.call(fail("third"));
      await p.snap();
      await p.call(() => 2);
      return p.log;
    },
    expected: [
      "error boom",
      "error boom",
      "ok 1",
      "error boom",
      "error boom",
      "closed failures=2 attempt=0 phase=null interval=null trials=0/0 last=boom",
      "error third",
      "closed->open: trip rule consecutiveFailures reached: third",
      "open failures=3 attempt=1 phase=fixed interval=60000 trials=0/0 last=third",
      "rejected >10s",
    ],
  },
  {
    name: "failureRatio over the last 5 calls opens on 2 failures of 5",
    async run(store) {
      const p = new Probe(store, { trip: failureRatio(0.4, { windowCalls: 5 }), recovery: 60_000 });
      await p.call(() => 1);
      await p.call(fail());
      await p.call(() => 1);
      await p.call(() => 1);
      await p.snap();
      await p.call(fail());
      await p.snap();
      return p.log;
    },
    expected: [
      "ok 1",
      "error boom",
      "ok 1",
      "ok 1",
      "closed failures=1 attempt=0 phase=null interval=null trials=0/0 last=boom",
      "error boom",
      "closed->open: trip rule failureRatio reached: boom",
      "open failures=2 attempt=1 phase=fixed interval=60000 trials=0/0 last=boom",
    ],
  },
  {
    name: "time windows: failuresInWindow and failureRatio({ windowMs }) count inside the window",
    async run(store) {
      const a = new Probe(store, { name: "window", trip: failuresInWindow(3, 60_000), recovery: 60_000 });
      const b = new Probe(store, { name: "ratio", trip: failureRatio(0.5, { windowMs: 60_000, minimumCalls: 4 }), recovery: 60_000 });
      for (const p of [a, b]) {
        await p.call(fail());
        await p.call(() => 1);
        await p.call(fail());
        await p.snap();
        await p.call(fail());
        await p.snap();
      }
      return [...a.log, "--", ...b.log];
    },
    expected: [
      "error boom",
      "ok 1",
      "error boom",
      "closed failures=2 attempt=0 phase=null interval=null trials=0/0 last=boom",
      "error boom",
      "closed->open: trip rule failuresInWindow reached: boom",
      "open failures=3 attempt=1 phase=fixed interval=60000 trials=0/0 last=boom",
      "--",
      "error boom",
      "ok 1",
      "error boom",
      "closed failures=2 attempt=0 phase=null interval=null trials=0/0 last=boom",
      "error boom",
      "closed->open: trip rule failureRatioInTime reached: boom",
      "open failures=3 attempt=1 phase=fixed interval=60000 trials=0/0 last=boom",
    ],
  },
  {
    name: "half-open admits exactly maxCalls of 10 concurrent calls, and successesToClose closes",
    async run(store) {
      const p = new Probe(store, { trip: consecutiveFailures(1), recovery: 100, halfOpen: { maxCalls: 2, successesToClose: 2 } });
      await p.call(fail());
      await sleep(200);
      let ran = 0;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const calls = Array.from({ length: 10 }, () =>
        p.b.execute(async () => {
          ran++;
          await gate;
          return "trial";
        }),
      );
      const settled = Promise.allSettled(calls);
      await sleep(50);
      p.log.push(`running ${ran}`);
      release();
      const results = await settled;
      p.log.push(`fulfilled ${results.filter((r) => r.status === "fulfilled").length}`);
      await p.snap();
      return p.log;
    },
    expected: [
      "error boom",
      "closed->open: trip rule consecutiveFailures reached: boom",
      "running 2",
      "fulfilled 2",
      "open->half-open: recovery interval elapsed",
      "half-open->closed: 2 trial calls succeeded",
      "closed failures=0 attempt=0 phase=null interval=null trials=0/0 last=boom",
    ],
  },
  {
    name: "a failed trial re-opens and advances the recovery schedule (fixedThenExponential)",
    async run(store) {
      const recovery = fixedThenExponential({ intervalMs: 100, fixedAttempts: 1, exponentialAttempts: 2 });
      const p = new Probe(store, { trip: consecutiveFailures(1), recovery });
      await p.call(fail());
      await p.snap();
      await sleep(200);
      await p.call(fail("probe"));
      await p.snap();
      await sleep(300);
      await p.call(() => "recovered");
      await p.snap();
      return p.log;
    },
    expected: [
      "error boom",
      "closed->open: trip rule consecutiveFailures reached: boom",
      "open failures=1 attempt=1 phase=fixed interval=100 trials=0/0 last=boom",
      "error probe",
      "open->half-open: recovery interval elapsed",
      "half-open->open: trial call failed: probe",
      "open failures=1 attempt=2 phase=exponential interval=200 trials=0/0 last=probe",
      "ok recovered",
      "open->half-open: recovery interval elapsed",
      "half-open->closed: 1 trial call succeeded",
      "closed failures=0 attempt=0 phase=null interval=null trials=0/0 last=probe",
    ],
  },
  {
    name: "jitter uses the caller's pre-drawn random: full jitter with 0.5 halves the interval",
    async run(store) {
      const p = new Probe(store, {
        trip: consecutiveFailures(1),
        recovery: exponential({ initialMs: 30_000, maxMs: 60_000, jitter: "full" }),
      });
      await p.call(fail());
      await p.snap();
      return p.log;
    },
    expected: [
      "error boom",
      "closed->open: trip rule consecutiveFailures reached: boom",
      "open failures=1 attempt=1 phase=exponential interval=15000 trials=0/0 last=boom",
    ],
  },
  {
    name: "an outcome from before the circuit opened changes nothing",
    async run(store) {
      const p = new Probe(store, { trip: consecutiveFailures(2), recovery: 60_000 });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const slow = p.b.execute(async () => {
        await gate;
        throw new Error("late");
      });
      const slowDone = slow.catch((e: Error) => p.log.push(`slow ${e.message}`));
      await p.call(fail());
      await p.call(fail());
      release();
      await slowDone;
      await p.snap();
      return p.log;
    },
    expected: [
      "error boom",
      "error boom",
      "closed->open: trip rule consecutiveFailures reached: boom",
      "slow late",
      "open failures=2 attempt=1 phase=fixed interval=60000 trials=0/0 last=late",
    ],
  },
  {
    name: "isolate() holds it open until reset(); reset() clears the counts",
    async run(store) {
      const p = new Probe(store, { trip: consecutiveFailures(3), recovery: 100 });
      await p.call(fail());
      const handle = p.b.isolate();
      await p.snap();
      await sleep(150);
      await p.call(() => 1);
      handle.dispose();
      await p.snap();
      await p.call(() => 2);
      return p.log;
    },
    expected: [
      "error boom",
      "closed->open: isolated",
      "open isolated failures=1 attempt=1 phase=fixed interval=null trials=0/0 last=boom",
      "rejected forever",
      "open->closed: reset",
      "closed failures=0 attempt=0 phase=null interval=null trials=0/0 last=boom",
      "ok 2",
    ],
  },
  {
    name: "manual recordFailure / recordSuccess (a queue worker); a manual success once due closes",
    async run(store) {
      const p = new Probe(store, { trip: consecutiveFailures(2), recovery: 100 });
      p.b.recordFailure("db down");
      p.b.recordFailure(new Error("db still down"));
      await p.snap();
      p.log.push(`available ${p.b.isAvailable()}`);
      p.b.recordSuccess(); // not due yet: ignored
      await p.snap();
      await sleep(200);
      p.log.push(`available ${p.b.isAvailable()}`);
      p.b.recordSuccess();
      await p.snap();
      return p.log;
    },
    expected: [
      "closed->open: trip rule consecutiveFailures reached: db still down",
      "open failures=2 attempt=1 phase=fixed interval=100 trials=0/0 last=db still down",
      "available false",
      "open failures=2 attempt=1 phase=fixed interval=100 trials=0/0 last=db still down",
      "available true",
      "open->closed: 1 trial call succeeded",
      "closed failures=0 attempt=0 phase=null interval=null trials=0/0 last=db still down",
    ],
  },
  {
    name: "an ignored error returns its trial permit; a trial that never settles is taken back after trialTimeoutMs",
    async run(store) {
      const p = new Probe(store, {
        trip: consecutiveFailures(1),
        recovery: 100,
        ignore: [TypeError],
        halfOpen: { maxCalls: 1, trialTimeoutMs: 200 },
      });
      await p.call(fail());
      await sleep(200);
      await p.call(() => {
        throw new TypeError("not counted");
      });
      await p.snap();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const hung = p.b.execute(() => gate.then(() => "late"));
      await sleep(30);
      await p.call(() => "refused");
      await sleep(300);
      await p.call(() => "taken back");
      release();
      p.log.push(`hung ${await hung}`);
      await p.snap();
      return p.log;
    },
    expected: [
      "error boom",
      "closed->open: trip rule consecutiveFailures reached: boom",
      "error not counted",
      "open->half-open: recovery interval elapsed",
      "half-open failures=0 attempt=1 phase=fixed interval=null trials=0/0 last=boom",
      "rejected now",
      "ok taken back",
      "half-open->closed: 1 trial call succeeded",
      "hung late",
      "closed failures=0 attempt=0 phase=null interval=null trials=0/0 last=boom",
    ],
  },
];

describe("Store conformance: CircuitBreaker scenarios", () => {
  for (const scenario of scenarios) {
    it(scenario.name, async () => {
      const logs = await Promise.all(backends.all.map((b) => scenario.run(b.store())));
      const byBackend = Object.fromEntries(backends.all.map((b, i) => [b.name, logs[i]]));
      expect(byBackend).toEqual(Object.fromEntries(backends.all.map((b) => [b.name, scenario.expected])));
    });
  }
});

describe("Store conformance: the breaker decision under random inputs", () => {
  const trips = [
    consecutiveFailures(2),
    failureRatio(0.5, { windowCalls: 4 }),
    failuresInWindow(3, 3_600_000),
    failuresInWindow(3, 3_600_000, { resetOnSuccess: true }),
    failureRatio(0.5, { windowMs: 3_600_000, minimumCalls: 3 }),
  ];
  const input: fc.Arbitrary<BreakerInput> = fc.oneof(
    { weight: 4, arbitrary: fc.constant<BreakerInput>({ type: "acquire" }) },
    { weight: 3, arbitrary: fc.integer({ min: -1, max: 6 }).map<BreakerInput>((epoch) => ({ type: "success", epoch })) },
    {
      // A ratio rule's success carries the random its open would use.
      weight: 2,
      arbitrary: fc
        .tuple(fc.integer({ min: -1, max: 6 }), fc.double({ min: 0, max: 0.99, noNaN: true }))
        .map<BreakerInput>(([epoch, random]) => ({ type: "success", epoch, random })),
    },
    { weight: 1, arbitrary: fc.constantFrom(0, 3_600_000).map<BreakerInput>((forMs) => ({ type: "open", forMs })) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.integer({ min: -1, max: 6 }), fc.double({ min: 0, max: 0.99, noNaN: true }), fc.constantFrom("a", "b", "c"))
        .map<BreakerInput>(([epoch, random, origin]) => ({ type: "failure", epoch, reason: `f${epoch}`, random, origin })),
    },
    {
      // A process's own view opening (for an hour) or closing.
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom("a", "b"), fc.boolean())
        .map<BreakerInput>(([origin, open]) => ({ type: "view", origin, until: open ? Date.now() + 3_600_000 : 0 })),
    },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 6 }).map<BreakerInput>((epoch) => ({ type: "release", epoch })) },
    { weight: 1, arbitrary: fc.constantFrom<BreakerInput>({ type: "isolate" }, { type: "reset" }) },
  );

  it("every store gives the same outputs and records for the same inputs", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: trips.length - 1 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(input, { minLength: 1, maxLength: 25 }),
        async (t, quorum, inputs) => {
          const trip = trips[t] ?? consecutiveFailures(2);
          const decision = new BreakerDecision({
            trip,
            recovery: constant(0),
            maxCalls: 2,
            successesToClose: 2,
            trialTimeoutMs: 3_600_000,
            quorum,
          });
          const key = `prop${run++}`;
          const stores = backends.all.map((b) => b.store());
          const traces = await Promise.all(
            stores.map(async (store) => {
              const trace: unknown[] = [];
              for (const i of inputs) trace.push(normalise(await store.apply(decision, key, i, Date.now())));
              trace.push(normaliseRecord(await store.read(decision, key, Date.now())));
              return trace;
            }),
          );
          for (const s of stores) await s.close();
          for (const trace of traces.slice(1)) expect(trace).toEqual(traces[0]);
        },
      ),
      { numRuns: 60 },
    );
  });
});

/** An output without its timestamps (each store has its own clock). */
function normalise(output: unknown): unknown {
  if (output === undefined || output === null || typeof output !== "object") return output;
  const o = { ...(output as Record<string, unknown>) };
  if ("at" in o) o.at = "t";
  // A wait until a forced open ends depends on each store's clock: its size is checked elsewhere.
  if (typeof o.retryAfterMs === "number" && o.retryAfterMs > 0 && Number.isFinite(o.retryAfterMs)) o.retryAfterMs = "ms";
  if (o.transition !== undefined && o.transition !== null) o.transition = normalise(o.transition);
  return o;
}

function normaliseRecord(r: BreakerRecord | undefined): unknown {
  if (r === undefined) return undefined;
  const t = (x: number) => (x < 0 ? x : Number.isFinite(x) ? "t" : x);
  const trip = r.trip as unknown as Record<string, unknown>;
  const counts = "stamps" in trip ? { calls: sum(trip.calls), failures: sum(trip.failures) } : trip;
  // A time window's quorum marks and the own views' probe times are each store's clock.
  const times = (m: Record<string, number>) => Object.fromEntries(Object.keys(m).map((k) => [k, "stamps" in trip ? "t" : m[k]]));
  return {
    ...r,
    failers: times(r.failers),
    views: Object.fromEntries(Object.keys(r.views).map((k) => [k, "t"])),
    openedAt: t(r.openedAt),
    halfOpenAt: t(r.halfOpenAt),
    nextProbeAt: t(r.nextProbeAt),
    lastFailure: r.lastFailure === null ? null : r.lastFailure.reason,
    trip: counts,
  };
}

function sum(values: unknown): number {
  return (values as number[]).reduce((a, b) => a + b, 0);
}
