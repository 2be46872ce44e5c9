/**
 * The Lua twins against their TypeScript decisions, exactly: random input sequences at
 * random (integer) times go through `MemoryStore.apply` and through each twin's script on
 * every Redis backend (inputs at the same time in one batch, as RedisStore sends
 * concurrent calls on a key), and every output and the final state must be equal, to the bit.
 *
 * Redis decides with its server's TIME, so here each script runs with its clock replaced
 * by the time the test chose (the prelude's TIME line swapped for the last argument), and
 * with TTLs switched off (a key must not expire in real time while the test's clock
 * stands still). Adaptive numbers may differ in the last bit where `2 ** x` rounds
 * differently in V8 and in C's `pow`. The store's own code path (args, reply decoding) is the one used in
 * production: only the clock differs.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  FixedWindowDecision,
  type LimitInput,
  MemoryStore,
  SlidingCounterDecision,
  SlidingLogDecision,
  type Store,
  TokenBucket,
  TokenBucketDecision,
} from "../../src/index.js";
import { AdaptiveDecision, type AdaptiveInput, type AdaptiveParams, type QuotaInput } from "../../src/limit/adaptive-decision.js";
import { FLIGHT_SPAN_MS } from "../../src/limit/in-flight.js";
import type { LimitDecision } from "../../src/limit/decision.js";
import { ADAPTIVE_TWIN } from "../../src/redis/adaptive-twin.js";
import { RedisStore } from "../../src/redis/index.js";
import { LIMIT_TWINS } from "../../src/redis/limit-twins.js";
import type { LuaScript } from "../../src/redis/scripts/script.js";
import type { Twin } from "../../src/redis/twin.js";
import type { Decision } from "../../src/store/store.js";
import { loadRecipe } from "../docs/recipe.js";
import { backendsForFile } from "./backends.js";

const backends = backendsForFile();
let redisStores: RedisStore[];

beforeAll(() => {
  redisStores = backends.all.filter((b) => b.name !== "memory").map((b) => b.store() as RedisStore);
});

const TIME_LINE = "local __t = redis.call('TIME')";
const NOW_LINE = "local now_ms = tonumber(__t[1]) * 1000 + math.floor(tonumber(__t[2]) / 1000)";
/** The clock is the last argument (after the deadline, 0: none); SET keeps no TTL and PEXPIRE does nothing (see the header). */
const TEST_CLOCK = `
local __t = { '0', '0' }
local __redis = redis
local function __shadow(run)
  return function(cmd, ...)
    local a = { ... }
    if cmd == 'PEXPIRE' then return 1 end
    if cmd == 'SET' then return run('SET', a[1], a[2]) end
    return run(cmd, ...)
  end
end
local redis = { call = __shadow(__redis.call), pcall = __shadow(__redis.pcall) }`;

const clocked = new Map<string, LuaScript>();
/** `script` with its clock read from the last argument. */
function withTestClock(script: LuaScript): LuaScript {
  let out = clocked.get(script.sha);
  if (out === undefined) {
    if (!script.source.includes(TIME_LINE) || !script.source.includes(NOW_LINE)) throw new Error("the prelude's clock lines moved");
    const source = script.source.replace(TIME_LINE, TEST_CLOCK).replace(NOW_LINE, "local now_ms = tonumber(ARGV[#ARGV])");
    out = { name: `${script.name}+clock`, source, sha: createHash("sha1").update(source).digest("hex") };
    clocked.set(script.sha, out);
  }
  return out;
}

/** Applies a batch through the twin on `store`'s server at time `now`, decoding as RedisStore does. */
async function twinApply<S, I, O>(
  store: RedisStore,
  twin: Twin<S, I, O>,
  decision: Decision<S, I, O>,
  key: string,
  inputs: readonly I[],
  now: number,
): Promise<O[]> {
  const reply = await store.adapter.evalScript(
    withTestClock(twin.script),
    [store.redisKey(key)],
    [...twin.args(decision, inputs, store), "0", String(now)],
  );
  return twin.decode(reply, inputs, now);
}

async function twinRead<S, I, O>(store: RedisStore, twin: Twin<S, I, O>, decision: Decision<S, I, O>, key: string): Promise<S | undefined> {
  const reply = await store.adapter.evalScript(
    withTestClock(twin.script),
    [store.redisKey(key)],
    [...twin.readArgs(decision, store), "0", "0"],
  );
  return twin.decodeState(reply);
}

/** Runs `steps` on a MemoryStore and on every Redis backend; returns the traces, memory first. */
async function traces<S, I, O>(
  twin: Twin<S, I, O>,
  decision: Decision<S, I, O>,
  key: string,
  start: number,
  steps: readonly (readonly [number, I])[],
  state: (s: S | undefined) => unknown,
): Promise<{ name: string; trace: unknown[] }[]> {
  const memory: Store = new MemoryStore({ sweepIntervalMs: 0 });
  const runs = [
    (async () => {
      const trace: unknown[] = [];
      let now = start;
      for (const [dt, input] of steps) trace.push(memory.apply(decision, key, input, (now += dt)));
      trace.push(state(idleAsNone(decision, memory.read(decision, key, now) as S | undefined, now)));
      return { name: "memory", trace };
    })(),
    ...redisStores.map(async (store) => {
      const trace: unknown[] = [];
      let now = start;
      // Steps at the same time go in one batch (as concurrent calls on a key do), up to maxBatch.
      let batch: I[] = [];
      const flush = async (): Promise<void> => {
        if (batch.length > 0) trace.push(...(await twinApply(store, twin, decision, key, batch, now)));
        batch = [];
      };
      for (const [dt, input] of steps) {
        if (dt !== 0 || batch.length >= twin.maxBatch) await flush();
        now += dt;
        batch.push(input);
      }
      await flush();
      trace.push(state(idleAsNone(decision, await twinRead(store, twin, decision, key), now)));
      await store.delete(key);
      return { name: store.adapter.kind, trace };
    }),
  ];
  const out = await Promise.all(runs);
  await memory.close();
  return out;
}

/** A state back to initial is as good as none: MemoryStore keeps it until a sweep, Redis drops it. */
function idleAsNone<S>(decision: Decision<S, unknown, unknown>, s: S | undefined, now: number): S | undefined {
  return s === undefined || decision.isIdle(s, now) ? undefined : s;
}

/**
 * Every backend's trace equals memory's. With `ulps`, numbers may differ in their last
 * bits: V8's `2 ** x` and C's `pow` (Lua's `^`) can round differently, by one ulp.
 */
function sameAsMemory(results: { name: string; trace: unknown[] }[], ulps = false): void {
  const [memory, ...others] = results;
  for (const other of others) {
    const trace = ulps ? snap(other.trace, memory?.trace) : other.trace;
    expect({ backend: other.name, trace }).toEqual({ backend: other.name, trace: memory?.trace });
  }
}

/** `value` with each number replaced by `like`'s when they agree to 12 significant digits. */
function snap(value: unknown, like: unknown): unknown {
  if (typeof value === "number" && typeof like === "number") {
    return value === like || Math.abs(value - like) <= 1e-12 * Math.max(Math.abs(value), Math.abs(like)) ? like : value;
  }
  if (Array.isArray(value) && Array.isArray(like)) return value.map((v, i) => snap(v, like[i]));
  if (value !== null && like !== null && typeof value === "object" && typeof like === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, snap(v, (like as Record<string, unknown>)[k])]));
  }
  return value;
}

let seq = 0;
const START = 1_763_900_000_000;

const limitInput = (limit: number): fc.Arbitrary<LimitInput> => fc.record({ cost: fc.integer({ min: 0, max: limit }), peek: fc.boolean() });
const dt = (windowMs: number): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 6, arbitrary: fc.integer({ min: 1, max: Math.ceil(windowMs / 4) }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: Math.ceil(windowMs * 2.5) }) },
  );

/** A limit state in a comparable shape: the exact log without its compaction details. */
function limitState(kind: string) {
  return (s: unknown): unknown => {
    if (s === undefined || kind !== "slidingLog") return s;
    const log = s as { used: number; head: number; log: number[] };
    return { used: log.used, live: log.log.slice(log.head) };
  };
}

type Make = (limit: number, windowMs: number) => LimitDecision<unknown>;
const kinds: [string, Make][] = [
  ["tokenBucket", (limit, windowMs) => new TokenBucketDecision(limit, (limit * 1000) / windowMs) as LimitDecision<unknown>],
  ["fixedWindow", (limit, windowMs) => new FixedWindowDecision(limit, windowMs) as LimitDecision<unknown>],
  ["slidingLog", (limit, windowMs) => new SlidingLogDecision(limit, windowMs) as LimitDecision<unknown>],
  ["slidingCounter", (limit, windowMs) => new SlidingCounterDecision(limit, windowMs) as LimitDecision<unknown>],
];

describe("Lua twins of the limiters: the same outputs and state as the TypeScript decisions", () => {
  for (const [kind, make] of kinds) {
    it(`${kind}: random costs, peeks and times`, async () => {
      const twin = LIMIT_TWINS.get(kind) as Twin<unknown, LimitInput, unknown>;
      await fc.assert(
        fc.asyncProperty(
          fc
            .tuple(fc.integer({ min: 1, max: 12 }), fc.constantFrom(1_000, 2_500, 333.3, 60_000))
            .chain(([limit, windowMs]) =>
              fc.tuple(
                fc.constant(limit),
                fc.constant(windowMs),
                fc.array(fc.tuple(dt(windowMs), limitInput(limit)), { minLength: 1, maxLength: 30 }),
              ),
            ),
          fc.integer({ min: 0, max: 10_000_000 }),
          async ([limit, windowMs, steps], offset) => {
            const decision = make(limit, windowMs);
            sameAsMemory(await traces(twin, decision, `twin${process.pid}:${seq++}`, START + offset, steps, limitState(kind)));
          },
        ),
        { numRuns: Number(process.env.TWIN_RUNS ?? 25) },
      );
    });
  }
});

/** An input of any op, a return's ticket left out (filled in from the last lease by {@link withTickets}). */
const anyInput = (limit: number): fc.Arbitrary<LimitInput> =>
  fc.oneof(
    { weight: 4, arbitrary: limitInput(limit) },
    {
      weight: 2,
      arbitrary: fc.record({
        cost: fc.integer({ min: 0, max: 2 * limit }),
        peek: fc.constant(false),
        op: fc.constantFrom("penalty" as const, "reward" as const, "set" as const),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        cost: fc.integer({ min: 1, max: limit }),
        peek: fc.constant(false),
        op: fc.constant("lease" as const),
        arg: fc.integer({ min: 1, max: 3 }),
        holdMs: fc.constantFrom(50, 500, 5_000),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ cost: fc.integer({ min: 0, max: limit }), peek: fc.constant(false), op: fc.constant("return" as const) }),
    },
  );

/** `steps` with each return quoting the ticket of the last lease before it (as MemoryStore answers it), or a stale one. */
function withTickets(
  decision: LimitDecision<unknown>,
  start: number,
  steps: readonly (readonly [number, LimitInput])[],
): [number, LimitInput][] {
  const memory = new MemoryStore({ sweepIntervalMs: 0 });
  let now = start;
  let ticket = start - 1;
  const out: [number, LimitInput][] = [];
  for (const [dt, input] of steps) {
    now += dt;
    const filled = input.op === "return" ? { ...input, arg: ticket } : input;
    const d = memory.apply(decision, "k", filled, now) as { ticket?: number };
    if (input.op === "lease" && d.ticket !== undefined && d.ticket !== 0) ticket = d.ticket;
    out.push([dt, filled]);
  }
  void memory.close();
  return out;
}

describe("Lua twins of the leasable limiters: penalty, reward, set, lease, return and blockMs as in TypeScript", () => {
  const leasable: [string, (limit: number, windowMs: number, blockMs: number) => LimitDecision<unknown>][] = [
    [
      "tokenBucket",
      (limit, windowMs, blockMs) => new TokenBucketDecision(limit, (limit * 1000) / windowMs, blockMs) as LimitDecision<unknown>,
    ],
    ["fixedWindow", (limit, windowMs, blockMs) => new FixedWindowDecision(limit, windowMs, blockMs) as LimitDecision<unknown>],
  ];
  for (const [kind, make] of leasable) {
    it(`${kind}: random operations, blocks and times`, async () => {
      const twin = LIMIT_TWINS.get(kind) as Twin<unknown, LimitInput, unknown>;
      await fc.assert(
        fc.asyncProperty(
          fc
            .tuple(fc.integer({ min: 1, max: 12 }), fc.constantFrom(1_000, 2_500, 333.3, 60_000), fc.constantFrom(0, 100, 5_000))
            .chain(([limit, windowMs, blockMs]) =>
              fc.tuple(
                fc.constant(limit),
                fc.constant(windowMs),
                fc.constant(blockMs),
                fc.array(fc.tuple(dt(windowMs), anyInput(limit)), { minLength: 1, maxLength: 30 }),
              ),
            ),
          fc.integer({ min: 0, max: 10_000_000 }),
          async ([limit, windowMs, blockMs, steps], offset) => {
            const decision = make(limit, windowMs, blockMs);
            const filled = withTickets(decision, START + offset, steps);
            sameAsMemory(await traces(twin, decision, `ops${process.pid}:${seq++}`, START + offset, filled, limitState(kind)));
          },
        ),
        { numRuns: Number(process.env.TWIN_RUNS ?? 40) },
      );
    });
  }
});

/**
 * A user's own decision, registered with registerTwin: the throttle of
 * docs/custom-decisions.md, as the page shows it, must agree with its TypeScript step
 * like the built-in twins do (fractional intervals make its replies exact text).
 */
describe("a user's own decision and its registered twin (docs/custom-decisions.md): the same outputs and state", () => {
  it("throttle: random intervals and times", async () => {
    const { ThrottleDecision, THROTTLE_TWIN } = await loadRecipe();
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom(1, 250, 333.3, 60_000)
          .chain((intervalMs) =>
            fc.tuple(
              fc.constant(intervalMs),
              fc.array(fc.tuple(dt(intervalMs), fc.constant<"call">("call")), { minLength: 1, maxLength: 30 }),
            ),
          ),
        fc.integer({ min: 0, max: 10_000_000 }),
        async ([intervalMs, steps], offset) => {
          const decision = new ThrottleDecision(intervalMs);
          sameAsMemory(await traces(THROTTLE_TWIN, decision, `twin${process.pid}:${seq++}`, START + offset, steps, (s) => s));
        },
      ),
      { numRuns: Number(process.env.TWIN_RUNS ?? 25) },
    );
  });
});

/**
 * The many-key form of each limiter script (RedisStore sends concurrent calls on different
 * keys of a standalone server in one call): batches over several keys at one time give
 * the same outputs and states as MemoryStore applying the calls in arrival order. Standalone
 * backends only: a cluster's keys live in different slots, and RedisStore does not batch
 * across keys there.
 */
describe("Lua twins of the limiters, many keys in one script: the same outputs and states", () => {
  const KEYS = 3;
  for (const [kind, make] of kinds) {
    it(`${kind}: random batches over ${KEYS} keys`, async () => {
      const twin = LIMIT_TWINS.get(kind) as Twin<unknown, LimitInput, unknown>;
      const standalone = redisStores.filter((store) => !store.adapter.kind.includes("cluster"));
      expect(standalone.length).toBeGreaterThanOrEqual(2);
      await fc.assert(
        fc.asyncProperty(
          fc.tuple(fc.integer({ min: 1, max: 12 }), fc.constantFrom(1_000, 2_500, 333.3, 60_000)).chain(([limit, windowMs]) =>
            fc.tuple(
              fc.constant(limit),
              fc.constant(windowMs),
              fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: KEYS - 1 }), limitInput(limit)), { minLength: 1, maxLength: 8 }), {
                minLength: 1,
                maxLength: 8,
              }),
              fc.array(dt(windowMs), { minLength: 8, maxLength: 8 }),
            ),
          ),
          fc.integer({ min: 0, max: 10_000_000 }),
          async ([limit, windowMs, batches, gaps], offset) => {
            const decision = make(limit, windowMs);
            const keys = Array.from({ length: KEYS }, () => `multi${process.pid}:${seq++}`);
            const memory = new MemoryStore({ sweepIntervalMs: 0 });
            const expected: unknown[] = [];
            let now = START + offset;
            batches.forEach((batch, b) => {
              now += gaps[b] ?? 0;
              for (const [k, input] of batch) expected.push(memory.apply(decision, keys[k] as string, input, now));
            });
            for (const key of keys) expected.push(limitState(kind)(idleAsNone(decision, memory.read(decision, key), now)));
            await memory.close();
            for (const store of standalone) {
              const trace: unknown[] = [];
              let at = START + offset;
              for (const [b, batch] of batches.entries()) {
                at += gaps[b] ?? 0;
                trace.push(...(await twinApplyMany(store, twin, decision, keys, batch, at)));
              }
              for (const key of keys) trace.push(limitState(kind)(idleAsNone(decision, await twinRead(store, twin, decision, key), at)));
              for (const key of keys) await store.delete(key);
              expect({ backend: store.adapter.kind, trace }).toEqual({ backend: store.adapter.kind, trace: expected });
            }
          },
        ),
        { numRuns: Number(process.env.TWIN_RUNS ?? 20) },
      );
    });
  }
});

describe("RedisStore with batchAcrossKeys on a cluster (as behind a sharding proxy)", () => {
  it("the first CROSSSLOT turns batching across keys off; every call is still answered by Redis, exactly, each key in order", async () => {
    const clusters = redisStores.filter((store) => store.adapter.kind.includes("cluster"));
    expect(clusters.length).toBe(2);
    for (const clustered of clusters) {
      const warnings: string[] = [];
      const s = new RedisStore({
        client: clustered.adapter,
        namespace: `xslot${process.pid}n${seq++}`,
        batchAcrossKeys: true,
        logger: { warn: (_, m) => void warnings.push(String(m)) },
      });
      const errors: string[] = [];
      s.on("error", ({ error }) => errors.push(String(error)));
      try {
        const bucket = new TokenBucket({ name: "xslot", capacity: 2, ratePerSec: 0.001, store: s });
        const calls: { key: string; decision: Promise<{ allowed: boolean; remaining: number }> }[] = [];
        // 300 calls at once: the first goes alone, the next 128 in a many-key script that the
        // cluster refuses, and the rest queue behind it; all go again per key, in order.
        for (let round = 0; round < 3; round++) {
          for (let k = 0; k < 100; k++) calls.push({ key: `u${k}`, decision: bucket.tryAcquire(`u${k}`) });
        }
        const answered = await Promise.all(calls.map(async (c) => ({ key: c.key, decision: await c.decision })));
        for (let k = 0; k < 100; k++) {
          const mine = answered.filter((c) => c.key === `u${k}`).map((c) => (c.decision.allowed ? c.decision.remaining : -1));
          expect({ kind: clustered.adapter.kind, key: k, mine }).toEqual({ kind: clustered.adapter.kind, key: k, mine: [1, 0, -1] });
        }
        expect(errors.length).toBeGreaterThan(0);
        expect(errors.every((e) => e.includes("CROSSSLOT"))).toBe(true);
        expect(warnings.filter((m) => m.includes("CROSSSLOT"))).toHaveLength(1);
        expect(s.available).toBe(true);
        // Batching across keys is off now: the next burst raises no error.
        const before = errors.length;
        await Promise.all(Array.from({ length: 40 }, (_, k) => bucket.tryAcquire(`v${k}`)));
        expect(errors.length).toBe(before);
      } finally {
        await s.close();
      }
    }
  });
});

/**
 * Applies one batch of (key index, input) calls through the twin's many-key script at
 * `now`: each key's inputs in order, keys in the order they first appear (as RedisStore
 * groups them); answers one output per call, in call order.
 */
async function twinApplyMany<S, I, O>(
  store: RedisStore,
  twin: Twin<S, I, O>,
  decision: Decision<S, I, O>,
  keys: readonly string[],
  batch: readonly (readonly [number, I])[],
  now: number,
): Promise<O[]> {
  const order: number[] = [];
  const byKey = new Map<number, { inputs: I[]; at: number[] }>();
  batch.forEach(([k, input], i) => {
    let segment = byKey.get(k);
    if (segment === undefined) {
      byKey.set(k, (segment = { inputs: [], at: [] }));
      order.push(k);
    }
    segment.inputs.push(input);
    segment.at.push(i);
  });
  const args: string[] = [];
  for (const k of order) {
    const own = twin.args(decision, (byKey.get(k) as { inputs: I[] }).inputs, store);
    args.push(String(own.length), ...own);
  }
  const multi = twin.multi as LuaScript;
  const reply = (await store.adapter.evalScript(
    withTestClock(multi),
    order.map((k) => store.redisKey(keys[k] as string)),
    [...args, "0", String(now)],
  )) as unknown[];
  expect(reply).toHaveLength(order.length + 1);
  const out = new Array<O>(batch.length);
  order.forEach((k, j) => {
    const segment = byKey.get(k) as { inputs: I[]; at: number[] };
    twin.decode(reply[j], segment.inputs, now).forEach((o, n) => {
      out[segment.at[n] as number] = o;
    });
  });
  return out;
}

describe("Lua twin of the adaptive limiter: the same outputs and record as AdaptiveDecision", () => {
  const quota: fc.Arbitrary<QuotaInput | null> = fc.option(
    fc.record({
      limit: fc.constantFrom(-1, 10, 100),
      remaining: fc.constantFrom(-1, 0, 0.5, 3, 50),
      resetMs: fc.constantFrom(-1, 0, 800, 5_000),
      policyRate: fc.constantFrom(-1, 2, 40),
    }),
    { freq: 3 },
  );
  // -1 the current epoch, -2 none (a refusal the limiter's concurrency cap explains).
  const epoch = fc.integer({ min: -2, max: 4 });
  // -1 none; either side of the one-second rounding bound (a Retry-After up to it may pause less).
  const retryAfter = fc.constantFrom(-1, 0, 250, 1_000, 1_001, 2_000, 90_000);
  // The pace a refused request went out at: absent or -1 (unknown), or below, at or above the pace now.
  const issuedRate = fc.constantFrom(undefined, -1, 0.7, 12.5, 20, 55.25, 400);
  // The span an answered permit was counted in: absent, unknown (-1), none (-2), or this span
  // or the one before or one older (SPAN_NOW - k, made concrete at the step's time).
  const flight = fc.constantFrom(undefined, -1, -2, SPAN_NOW, SPAN_NOW - 1, SPAN_NOW - 2);
  // A permit's others in flight at its grant and its number: unknown (-1), or a few.
  const others = fc.constantFrom(undefined, -1, 0, 1, 2, 3, 5);
  const permitSeq = fc.constantFrom(undefined, -1, 0, 2, 3, 7, 12);
  // The least count the shell's successes allow a cap at: -1 too few to tell.
  const closeFrom = fc.constantFrom(undefined, -1, 0, 1, 2, 3, 6);
  const answered = fc.record({ flight, others, seq: permitSeq }, { requiredKeys: [] });
  const input: fc.Arbitrary<AdaptiveInput> = fc.oneof(
    {
      weight: 6,
      // How long the caller waited already: -1 (a one-shot try), 0 (just came), or a waiter of several processes.
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: 4 }), fc.constantFrom(-1, 0, 0.4, 1, 1.6, 35, 260))
        .map<AdaptiveInput>(([cost, waitedMs]) => ({ type: "acquire", cost, waitedMs })),
    },
    {
      weight: 4,
      arbitrary: fc
        .tuple(epoch, quota, answered)
        .map<AdaptiveInput>(([e, q, a]) => ({ type: "success", epoch: e, quota: q, ...defined(a) })),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(epoch, fc.constantFrom(429, 403, 503, 500, 502), retryAfter, quota, issuedRate, answered, closeFrom)
        .map<AdaptiveInput>(([e, status, retryAfterMs, q, issued, a, close]) => ({
          type: "backoff",
          epoch: e,
          status,
          retryAfterMs,
          quota: q,
          ...defined({ issuedRate: issued, closeFrom: close, ...a }),
        })),
    },
    // A request without an answer (onUnavailable): an outage, like a 5xx.
    {
      weight: 2,
      arbitrary: fc
        .tuple(epoch, retryAfter, flight)
        .map<AdaptiveInput>(([e, retryAfterMs, f]) => ({ type: "outage", epoch: e, retryAfterMs, ...defined({ flight: f }) })),
    },
    { weight: 1, arbitrary: flight.map<AdaptiveInput>((f) => ({ type: "release", ...defined({ flight: f }) })) },
    { weight: 1, arbitrary: fc.constant<AdaptiveInput>({ type: "reset" }) },
  );
  const params: fc.Arbitrary<AdaptiveParams> = fc.record({
    initialRate: fc.constantFrom(1, 10, 37.5),
    minRate: fc.constantFrom(0.5),
    maxRate: fc.constantFrom(100, 10_000),
    burst: fc.constantFrom(1, 3),
    decrease: fc.constantFrom(0.7, 0.5),
    headroom: fc.constantFrom(0.05, 0),
    holdMs: fc.constantFrom(500, 1_000, 0),
    holdPerCooldown: fc.constantFrom(2, 4),
    doublingMs: fc.constantFrom(700),
    probeGain: fc.constantFrom(0.5, 1, 0.3),
    cooldownMultiplier: fc.constantFrom(2, 0),
    cooldownCapMs: fc.constantFrom(100, 25, 60_000),
    maxCooldownMs: fc.constantFrom(60_000, 500),
    forgetAfterMs: fc.constantFrom(600_000),
  });
  const gap = fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 400 }) },
    { weight: 1, arbitrary: fc.integer({ min: 400, max: 5_000 }) },
  );

  /** Runs random traces through the decision and its Lua twin: the same outputs and record at every step. */
  const sameAsTwin = <T>(
    traceOf: fc.Arbitrary<[number, T][]>,
    numRuns: number,
    concretize: (decision: AdaptiveDecision, steps: [number, T][], start: number) => [number, AdaptiveInput][],
    paramsOf = params,
  ): Promise<void> =>
    fc.assert(
      fc.asyncProperty(paramsOf, traceOf, fc.integer({ min: 0, max: 10_000_000 }), async (p, steps, offset) => {
        const decision = new AdaptiveDecision(p);
        // Outputs hold absolute times; the twin moves them onto the caller's clock, which here is the same one.
        const concrete = concretize(decision, steps, START + offset);
        sameAsMemory(await traces(ADAPTIVE_TWIN, decision, `adaptive${process.pid}:${seq++}`, START + offset, concrete, (s) => s), true);
      }),
      { numRuns: Number(process.env.TWIN_RUNS ?? numRuns) },
    );

  it("random acquires, successes, back-offs (4xx refusals and 5xx outages, with and without quota headers), outages and resets", async () => {
    await sameAsTwin(fc.array(fc.tuple(gap, input), { minLength: 1, maxLength: 40 }), 60, withSpans);
  });

  // The sequences above seldom reach the law's later branches (a measured probe hit, refusals
  // confirmed while holding, the climb back to the ceiling, a trickle): a busy caller does,
  // with answers 0-40 ms apart and refusals mostly of the current epoch.
  const busyInput: fc.Arbitrary<AdaptiveInput> = fc.oneof(
    { weight: 5, arbitrary: fc.constant<AdaptiveInput>({ type: "success", epoch: -1, quota: null, flight: SPAN_NOW }) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(-1, 0, 3, 20, 21.5, 300).map<AdaptiveInput>((waitedMs) => ({ type: "acquire", cost: 1, waitedMs })),
    },
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.constantFrom(-1, -1, 0, 1, 2), fc.constantFrom(429, 429, 503), retryAfter, issuedRate)
        .map<AdaptiveInput>(([e, status, retryAfterMs, issued]) => ({
          type: "backoff",
          epoch: e,
          status,
          retryAfterMs,
          quota: null,
          ...(issued === undefined ? {} : { issuedRate: issued }),
        })),
    },
    { weight: 1, arbitrary: retryAfter.map<AdaptiveInput>((retryAfterMs) => ({ type: "outage", epoch: -1, retryAfterMs })) },
  );
  const busyGap = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 40 }) },
    { weight: 1, arbitrary: fc.integer({ min: 200, max: 1_500 }) },
  );

  it("a busy caller: probe hits, refusals while holding, outages and the probe's climb", async () => {
    await sameAsTwin(fc.array(fc.tuple(busyGap, busyInput), { minLength: 1, maxLength: 150 }), 150, withSpans);
  });

  // Long runs of refusals with few successes between (a window that stays full): the pause
  // doubling across cuts, with and without a quota policy in force.
  const refusedInput: fc.Arbitrary<AdaptiveInput> = fc.oneof(
    { weight: 1, arbitrary: fc.constant<AdaptiveInput>({ type: "success", epoch: -1, quota: null }) },
    {
      weight: 1,
      arbitrary: fc.constant<AdaptiveInput>({
        type: "success",
        epoch: -1,
        quota: { limit: 50, remaining: 10, resetMs: 1000, policyRate: 50 },
      }),
    },
    { weight: 2, arbitrary: fc.constant<AdaptiveInput>({ type: "acquire", cost: 1, waitedMs: 0 }) },
    {
      weight: 8,
      arbitrary: fc
        .tuple(fc.constantFrom(-1, -1, -1, -1, 0), fc.constantFrom(-1, -1, -1, 300))
        .map<AdaptiveInput>(([e, retryAfterMs]) => ({ type: "backoff", epoch: e, status: 429, retryAfterMs, quota: null })),
    },
  );

  it("a window that stays full: refusals in a row across cuts", async () => {
    await sameAsTwin(fc.array(fc.tuple(busyGap, refusedInput), { minLength: 1, maxLength: 100 }), 60, withSpans);
  });

  // An upstream that caps requests in flight, seen by several processes: grants counted,
  // answered (in any order) with their counts and numbers, refusals at the cap that close the
  // gate, probes that widen and narrow it, refusals below it that open it, releases, permits
  // never answered, and callers held at the cap.
  const action: fc.Arbitrary<FleetAction> = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(-1, 0, 3, 40, 100).map<FleetAction>((waitedMs) => ({ kind: "acquire", waitedMs })) },
    { weight: 4, arbitrary: fc.nat(20).map<FleetAction>((pick) => ({ kind: "success", pick })) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.nat(20), fc.constantFrom(-1, 0, 2, 3, 4, 6))
        .map<FleetAction>(([pick, closeFrom]) => ({ kind: "refusal", pick, closeFrom })),
    },
    { weight: 1, arbitrary: fc.nat(20).map<FleetAction>((pick) => ({ kind: "release", pick })) },
    { weight: 1, arbitrary: fc.nat(20).map<FleetAction>((pick) => ({ kind: "outage", pick })) },
    { weight: 1, arbitrary: fc.nat(20).map<FleetAction>((pick) => ({ kind: "unavailable", pick })) },
    { weight: 1, arbitrary: fc.constant<FleetAction>({ kind: "reset" }) },
  );
  const fleetGap = fc.oneof(
    { weight: 10, arbitrary: fc.integer({ min: 0, max: 12 }) },
    { weight: 4, arbitrary: fc.integer({ min: 13, max: 60 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 20_000 }) },
  );

  it("a fleet behind a cap on requests in flight: the shared count, refused requests counted out, the gate", async () => {
    // A pace that lets many requests be in flight at once, so that the cap holds callers.
    const fast = params.map((p) => ({ ...p, initialRate: 400, maxRate: 10_000, burst: 3 }));
    await sameAsTwin(fc.array(fc.tuple(fleetGap, action), { minLength: 30, maxLength: 200, size: "max" }), 100, fleetInputs, fast);
  });
});

/** What a process of a fleet does next: ask for a permit, or answer one in flight (picked by its place). */
type FleetAction =
  | { readonly kind: "acquire"; readonly waitedMs: number }
  | { readonly kind: "success" | "release" | "outage" | "unavailable"; readonly pick: number }
  | { readonly kind: "reset" }
  | { readonly kind: "refusal"; readonly pick: number; readonly closeFrom: number };

/**
 * The inputs a fleet sends for `actions`: the permits the decision grants (on a record of its
 * own, as the store would) are answered with the span, count and number they were granted with.
 */
function fleetInputs(decision: AdaptiveDecision, actions: [number, FleetAction][], start: number): [number, AdaptiveInput][] {
  let now = start;
  const record = decision.init(now);
  const out: { flight: number; others: number; seq: number; epoch: number }[] = [];
  return actions.map(([dt, a]) => {
    now += dt;
    let input: AdaptiveInput;
    if (a.kind === "reset") input = { type: "reset" };
    else if (a.kind === "acquire" || out.length === 0)
      input = { type: "acquire", cost: 1, waitedMs: a.kind === "acquire" ? a.waitedMs : 0 };
    else {
      const p = out.splice(a.pick % out.length, 1)[0]!;
      if (a.kind === "success") input = { type: "success", epoch: p.epoch, quota: null, flight: p.flight, others: p.others, seq: p.seq };
      else if (a.kind === "refusal") {
        const { flight, others, seq } = p;
        input = {
          type: "backoff",
          epoch: p.epoch,
          status: 429,
          retryAfterMs: -1,
          quota: null,
          flight,
          others,
          seq,
          closeFrom: a.closeFrom,
        };
      } else if (a.kind === "unavailable") {
        // A 5xx answer: an outage, which the gate does not hear of.
        const { flight, others, seq } = p;
        input = { type: "backoff", epoch: p.epoch, status: 503, retryAfterMs: -1, quota: null, flight, others, seq, closeFrom: 2 };
      } else if (a.kind === "release") input = { type: "release", flight: p.flight };
      else input = { type: "outage", epoch: p.epoch, retryAfterMs: -1, flight: p.flight };
    }
    const answer = decision.step(record, input, now);
    if (answer.allowed) out.push({ flight: answer.flightSpan, others: answer.inFlight, seq: answer.seq, epoch: answer.epoch });
    return [dt, input];
  });
}

/** A stand-in for "the span of the step's time" in an answer's `flight` (SPAN_NOW - k: k spans before). */
const SPAN_NOW = -1_000;

/** The steps with each `flight` stand-in made the span it stands for, at the step's time. */
function withSpans(
  _decision: AdaptiveDecision,
  steps: readonly (readonly [number, AdaptiveInput])[],
  start: number,
): [number, AdaptiveInput][] {
  let now = start;
  return steps.map(([dt, input]) => {
    now += dt;
    if (!("flight" in input) || input.flight === undefined || input.flight > SPAN_NOW + 10) return [dt, input];
    return [dt, { ...input, flight: Math.floor(now / FLIGHT_SPAN_MS) - (SPAN_NOW - input.flight) }];
  });
}

/** `o` without its undefined entries (an input's optional fields are absent, not undefined). */
function defined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
