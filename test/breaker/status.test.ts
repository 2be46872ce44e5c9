/**
 * statusOf (src/breaker/status.ts): the one function behind CircuitBreaker.status() and the
 * fleet view of breakwater/redis; and readBreakerParams, the inverse of a decision's params.
 * ManualClock throughout.
 */
import { describe, expect, it } from "vitest";
import {
  BreakerDecision,
  type BreakerInput,
  type BreakerRecord,
  CircuitBreaker,
  consecutiveFailures,
  exponential,
  failuresInWindow,
  fixedThenExponential,
  ManualClock,
  MemoryStore,
} from "../../src/index.js";
import { readBreakerParams } from "../../src/breaker/state.js";
import { type StatusOptions, statusOf } from "../../src/breaker/status.js";

const NO_TOTALS = { successes: 0, failures: 0, ignored: 0, rejections: 0 };
const fail: BreakerInput = { type: "failure", epoch: -1, reason: "boom", random: 0.5 };

/** A decision opening on 2 failures in a row, its record, and the options statusOf needs for it. */
function setup(offset = 0) {
  const clock = new ManualClock(10_000);
  const decision = new BreakerDecision({
    trip: consecutiveFailures(2),
    recovery: exponential({ initialMs: 1_000, maxMs: 8_000, jitter: "none" }),
    maxCalls: 2,
    successesToClose: 2,
    trialTimeoutMs: 60_000,
  });
  const r = decision.init();
  const options: StatusOptions = {
    name: "api",
    store: "memory",
    trip: decision.config.trip,
    recovery: decision.config.recovery,
    maxCalls: 2,
    offset,
    totals: NO_TOTALS,
  };
  const step = (input: BreakerInput) => decision.step(r, input, clock.now());
  return { clock, r, options, step };
}

describe("statusOf", () => {
  it("is what CircuitBreaker.status() reports, closed, open, half-open, isolated and closed again", async () => {
    const clock = new ManualClock(1_000);
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const trip = failuresInWindow(3, 60_000);
    const recovery = fixedThenExponential({ intervalMs: 5_000, fixedAttempts: 1, exponentialAttempts: 2 });
    const b = new CircuitBreaker({ name: "api", store, clock, trip, recovery, halfOpen: { maxCalls: 2 } });
    const decision = new BreakerDecision({ trip, recovery, maxCalls: 2, successesToClose: 2, trialTimeoutMs: 60_000 });
    const check = () => {
      const r = store.read(decision, "breaker:api") as BreakerRecord;
      const s = b.status();
      expect(statusOf(r, clock.now(), { name: "api", store: "memory", trip, recovery, maxCalls: 2, offset: 0, totals: s.totals })).toEqual(
        s,
      );
      return s;
    };
    const boom = () => b.execute(() => Promise.reject(new Error("boom"))).catch(() => undefined);

    await boom();
    clock.advance(100);
    expect(check()).toMatchObject({ state: "closed", failures: 1, openedAt: null, nextProbeAt: null, retryAfterMs: 0, retryPhase: null });
    await boom();
    await boom();
    clock.advance(1_000);
    expect(check()).toMatchObject({ state: "open", failures: 3, openedAt: 1_100, nextProbeAt: 6_100, retryAfterMs: 4_000 });
    expect(check().retryPhase).toBe("fixed");
    clock.advance(4_000);
    expect(b.isAvailable()).toBe(true);
    await b.execute(() => 1);
    // Half-open: the trip rule is not consulted, whatever its window still holds.
    expect(check()).toMatchObject({ state: "half-open", failures: 0, halfOpen: { trials: 0, successes: 1, maxCalls: 2 } });
    b.isolate();
    expect(check()).toMatchObject({ state: "open", isolated: true, nextProbeAt: Infinity, retryAfterMs: Infinity });
    b.reset();
    expect(check()).toMatchObject({ state: "closed", isolated: false, failures: 0, attempt: 0, fleet: null });
  });

  it("moves times into the reader's clock by offset; how long until a probe stays relative", () => {
    const { clock, r, options, step } = setup(4_000);
    step(fail);
    step(fail);
    clock.advance(300);
    const s = statusOf(r, clock.now(), options);
    expect([s.openedAt, s.nextProbeAt, s.retryAfterMs, s.lastFailure]).toEqual([6_000, 7_000, 700, { reason: "boom", at: 6_000 }]);
    expect(s).toMatchObject({ state: "open", failures: 2, retryPhase: "exponential", attempt: 1, halfOpen: { maxCalls: 2 } });
    clock.advance(5_000);
    expect(statusOf(r, clock.now(), options).retryAfterMs).toBe(0);
    // The record itself is in the store's clock and untouched.
    expect(r.lastFailure).toEqual({ reason: "boom", at: 10_000 });
  });

  it("reads unknowns as 0 and null where the reader could not rebuild the rule or the schedule", () => {
    const { r, options, step } = setup();
    step(fail);
    step(fail);
    expect(statusOf(r, 10_000, options)).toMatchObject({ failures: 2, retryPhase: "exponential" });
    expect(statusOf(r, 10_000, { ...options, trip: undefined, recovery: undefined })).toMatchObject({
      state: "open",
      failures: 0,
      retryPhase: null,
      attempt: 1,
    });
  });

  it("gives the fleet section only when asked: the fleet's state and the own views still open at now, sorted", () => {
    const { clock, r, options, step } = setup();
    step({ type: "view", origin: "p-b", until: 12_000 });
    step({ type: "view", origin: "p-a", until: 11_000 });
    step({ type: "view", origin: "p-c", until: 20_000 });
    const fleet = { record: r, quorum: 2, processId: "p-a", ownView: "open" as const };
    expect(statusOf(r, clock.now(), options).fleet).toBeNull();
    expect(statusOf(r, clock.now(), { ...options, fleet }).fleet).toEqual({
      state: "closed",
      quorum: 2,
      processId: "p-a",
      ownView: "open",
      ownViewsOpen: ["p-a", "p-b", "p-c"],
    });
    clock.advance(1_000);
    expect(statusOf(r, clock.now(), { ...options, fleet }).fleet?.ownViewsOpen).toEqual(["p-b", "p-c"]);
  });
});

describe("readBreakerParams", () => {
  it("rebuilds the rule and the schedule a decision's params hold", () => {
    const trip = failuresInWindow(4, 30_000, { buckets: 6 });
    const recovery = fixedThenExponential({ intervalMs: 200, fixedAttempts: 2, exponentialAttempts: 3, factor: 3 });
    const params = new BreakerDecision({ trip, recovery, maxCalls: 3, successesToClose: 2, trialTimeoutMs: 1_000, quorum: 2 }).params;
    // As a store keeps them: JSON, where the schedule's infinite maxMs is null.
    const read = readBreakerParams(JSON.parse(JSON.stringify(params)) as typeof params);
    expect(read.tripSpec).toEqual(trip.spec);
    expect(read.trip?.spec).toEqual(trip.spec);
    expect(read.recovery?.spec).toEqual(recovery.spec);
    expect(read).toMatchObject({ maxCalls: 3, quorum: 2 });
  });

  it("reads each part on its own and never throws: what does not rebuild is undefined", () => {
    const known = JSON.stringify(consecutiveFailures(3).spec);
    expect(readBreakerParams({ trip: known, recovery: '{"kind":"fromTheFuture"}', maxCalls: 1 })).toMatchObject({
      tripSpec: { kind: "consecutiveFailures", threshold: 3 },
      recovery: undefined,
      maxCalls: 1,
      quorum: 1,
    });
    const future = readBreakerParams({ trip: '{"kind":"fromTheFuture"}', recovery: "not json" });
    expect(future).toMatchObject({ tripSpec: { kind: "fromTheFuture" }, trip: undefined, recovery: undefined, maxCalls: Infinity });
    expect(readBreakerParams(undefined)).toEqual({
      tripSpec: undefined,
      trip: undefined,
      recovery: undefined,
      maxCalls: Infinity,
      quorum: 1,
    });
  });
});
