import { describe, expect, it, vi } from "vitest";
import {
  CircuitBreaker,
  CircuitOpenError,
  consecutiveFailures,
  failureRatio,
  failuresInWindow,
  fixedThenExponential,
  InvalidOptionError,
  ManualClock,
  ReturnValuePolicyError,
  TimeoutError,
} from "../../src/index.js";

const boom = (): never => {
  throw new Error("boom");
};
const fail = (b: CircuitBreaker, n = 1) => Promise.all(Array.from({ length: n }, () => b.execute(boom).catch(() => undefined)));

function breaker(options: ConstructorParameters<typeof CircuitBreaker>[0] = {}) {
  const clock = new ManualClock();
  const changes: string[] = [];
  const b = new CircuitBreaker({ clock, onStateChange: (e) => changes.push(`${e.from}->${e.to}`), ...options });
  return { b, clock, changes };
}

describe("CircuitBreaker: trip rules", () => {
  it("consecutiveFailures opens after n failures in a row; a success restarts the count", async () => {
    const { b, changes } = breaker({ trip: consecutiveFailures(3) });
    await fail(b, 2);
    await b.execute(() => "ok");
    await fail(b, 2);
    expect(b.state).toBe("closed");
    await fail(b);
    expect(b.state).toBe("open");
    expect(changes).toEqual(["closed->open"]);
  });

  it("failuresInWindow with resetOnSuccess: a success clears the failures counted so far", async () => {
    const { b, clock } = breaker({ trip: failuresInWindow(3, 10_000, { resetOnSuccess: true }) });
    await fail(b, 2);
    await b.execute(() => "ok");
    expect(b.status().failures).toBe(0);
    await fail(b, 2);
    expect(b.state).toBe("closed");
    clock.advance(11_000);
    await fail(b, 2);
    expect(b.state).toBe("closed");
    await fail(b);
    expect(b.state).toBe("open");
    expect(failuresInWindow(3, 10_000, { resetOnSuccess: true }).spec).toEqual({
      kind: "failuresInWindow",
      threshold: 3,
      windowMs: 10_000,
      buckets: 10,
      resetOnSuccess: true,
    });
    expect(failuresInWindow(3, 10_000).spec).not.toHaveProperty("resetOnSuccess");
  });

  it("failuresInWindow counts only failures inside the window", async () => {
    const { b, clock } = breaker({ trip: failuresInWindow(3, 10_000) });
    await fail(b, 2);
    clock.advance(11_000);
    await fail(b, 2);
    expect(b.state).toBe("closed");
    expect(b.status().failures).toBe(2);
    clock.advance(1_000);
    await fail(b);
    expect(b.state).toBe("open");
  });

  it("failuresInWindow keeps memory bounded by its buckets whatever the call rate", async () => {
    const { b } = breaker({ trip: failuresInWindow(1_000_000, 60_000, { buckets: 6 }) });
    await fail(b, 5_000);
    const record = b.store.read((b as unknown as { decision: Parameters<typeof b.store.read>[0] }).decision, b.key, 0) as {
      trip: { stamps: number[] };
    };
    expect(record.trip.stamps).toHaveLength(6);
  });

  it("failureRatio(0.4, windowCalls 5) opens on 2 failures of the last 5", async () => {
    const { b } = breaker({ trip: failureRatio(0.4, { windowCalls: 5 }) });
    await b.execute(() => 1);
    await fail(b);
    await b.execute(() => 1);
    await b.execute(() => 1);
    expect(b.state).toBe("closed"); // 1 of 4, below minimumCalls
    await fail(b);
    expect(b.state).toBe("open"); // 2 of 5
  });

  it("failureRatio waits for minimumCalls", async () => {
    const { b } = breaker({ trip: failureRatio(0.5, { windowCalls: 10, minimumCalls: 4 }) });
    await fail(b, 3);
    expect(b.state).toBe("closed");
    await fail(b);
    expect(b.state).toBe("open");
  });

  it("failureRatio over a time window", async () => {
    const { b, clock } = breaker({ trip: failureRatio(0.5, { windowMs: 1_000, minimumCalls: 4 }) });
    await fail(b, 2);
    clock.advance(2_000); // the two failures leave the window
    await b.execute(() => 1);
    await b.execute(() => 1);
    await fail(b);
    expect(b.state).toBe("closed"); // 1 of 3
    await fail(b);
    expect(b.state).toBe("open"); // 2 of 4
  });
});

describe("CircuitBreaker: open, half-open, close", () => {
  it("rejects while open with retryAfterMs, the name and the last failure", async () => {
    const { b, clock } = breaker({ name: "payments", trip: consecutiveFailures(1), recovery: 5_000 });
    await fail(b);
    clock.advance(1_000);
    const error = await b.execute(() => 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ service: "payments", retryAfterMs: 4_000, lastFailure: { reason: "boom", at: 0 } });
  });

  it("half-open lets a trial through after the interval; success closes", async () => {
    const { b, clock, changes } = breaker({ trip: consecutiveFailures(1), recovery: 1_000 });
    await fail(b);
    clock.advance(1_000);
    expect(b.isAvailable()).toBe(true);
    expect(await b.execute(() => "probe")).toBe("probe");
    expect(b.state).toBe("closed");
    expect(changes).toEqual(["closed->open", "open->half-open", "half-open->closed"]);
  });

  it("a failed trial re-opens and advances the recovery schedule; closing resets it", async () => {
    const recovery = fixedThenExponential({ intervalMs: 1_000, fixedAttempts: 2, exponentialAttempts: 2, factor: 2 });
    const { b, clock } = breaker({ trip: consecutiveFailures(1), recovery });
    await fail(b);
    const seen: [string | null, number, number | null][] = [];
    for (let i = 0; i < 5; i++) {
      const s = b.status();
      seen.push([s.retryPhase, s.attempt, s.nextProbeAt === null ? null : s.nextProbeAt - clock.now()]);
      clock.advance(s.retryAfterMs);
      await fail(b);
    }
    expect(seen).toEqual([
      ["fixed", 1, 1_000],
      ["fixed", 2, 1_000],
      ["exponential", 3, 2_000],
      ["exponential", 4, 4_000],
      ["capped", 5, 4_000],
    ]);
    clock.advance(b.status().retryAfterMs);
    await b.execute(() => 1);
    expect(b.status()).toMatchObject({ state: "closed", attempt: 0, retryPhase: null });
    await fail(b);
    expect(b.status()).toMatchObject({ attempt: 1, retryPhase: "fixed", retryAfterMs: 1_000 });
  });

  it("admits exactly maxCalls of 100 simultaneous calls in half-open and closes after successesToClose", async () => {
    const { b, clock } = breaker({ trip: consecutiveFailures(1), recovery: 1_000, halfOpen: { maxCalls: 3, successesToClose: 3 } });
    await fail(b);
    clock.advance(1_000);
    const gates: (() => void)[] = [];
    let started = 0;
    const calls = Array.from({ length: 100 }, () =>
      b.execute(
        () =>
          new Promise<string>((resolve) => {
            started++;
            gates.push(() => resolve("ok"));
          }),
      ),
    );
    const settled = Promise.allSettled(calls);
    await Promise.resolve();
    expect(started).toBe(3);
    expect(b.state).toBe("half-open");
    for (const open of gates) open();
    const results = await settled;
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(rejected).toHaveLength(97);
    expect(rejected.every((r) => r.reason instanceof CircuitOpenError)).toBe(true);
    expect(b.state).toBe("closed");
  });

  it("stays half-open until successesToClose trials succeed, and any trial failure re-opens", async () => {
    const { b, clock } = breaker({ trip: consecutiveFailures(1), recovery: 1_000, halfOpen: { maxCalls: 2, successesToClose: 2 } });
    await fail(b);
    clock.advance(1_000);
    await b.execute(() => 1);
    expect(b.state).toBe("half-open");
    await fail(b);
    expect(b.state).toBe("open");
  });

  it("ignores the outcome of a call let through before the circuit opened", async () => {
    const { b, clock } = breaker({ trip: consecutiveFailures(1), recovery: 1_000 });
    let release!: () => void;
    const slow = b.execute(() => new Promise<void>((r) => (release = r)));
    await fail(b);
    clock.advance(1_000);
    release();
    await slow;
    expect(b.state).toBe("open"); // the slow success did not count as a trial
    expect(b.status().totals.successes).toBe(1);
  });

  it("takes back trial permits that never return after trialTimeoutMs", async () => {
    const { b, clock } = breaker({ trip: consecutiveFailures(1), recovery: 1_000, halfOpen: { trialTimeoutMs: 5_000 } });
    await fail(b);
    clock.advance(1_000);
    void b.execute(() => new Promise(() => {}));
    await Promise.resolve();
    expect(b.isAvailable()).toBe(false);
    await expect(b.execute(() => 1)).rejects.toBeInstanceOf(CircuitOpenError);
    clock.advance(5_000);
    expect(b.isAvailable()).toBe(true);
    expect(await b.execute(() => 2)).toBe(2);
    expect(b.state).toBe("closed");
  });

  it("isolate() holds it open until reset(), or until the handle is disposed", async () => {
    const { b, clock } = breaker();
    const handle = b.isolate();
    clock.advance(10 ** 9);
    expect(b.isAvailable()).toBe(false);
    const error = await b.execute(() => 1).catch((e: unknown) => e);
    expect(error).toMatchObject({ retryAfterMs: Infinity });
    handle.dispose();
    expect(b.state).toBe("closed");
    expect(await b.execute(() => 1)).toBe(1);
    b.isolate();
    b.reset();
    expect(b.isAvailable()).toBe(true);
  });

  it("isolate() handles count: the circuit closes when the last is disposed, twice is once, and reset() voids older handles", () => {
    const { b } = breaker();
    const first = b.isolate();
    const second = b.isolate();
    first.dispose();
    first.dispose();
    expect(b.status().isolated).toBe(true);
    second.dispose();
    expect(b.status().isolated).toBe(false);
    expect(b.isAvailable()).toBe(true);
    const old = b.isolate();
    b.reset();
    const current = b.isolate();
    old.dispose();
    expect(b.status().isolated).toBe(true);
    current.dispose();
    expect(b.status().isolated).toBe(false);
  });

  it("reset() closes an open circuit and clears its counts", async () => {
    const { b } = breaker({ trip: consecutiveFailures(2) });
    await fail(b, 2);
    b.reset();
    expect(b.state).toBe("closed");
    await fail(b);
    expect(b.state).toBe("closed");
  });
});

describe("CircuitBreaker: what counts as a failure", () => {
  class Transient extends Error {}
  class BadRequest extends Error {}

  it("failOn counts only the listed classes; others propagate without counting", async () => {
    const { b } = breaker({ trip: consecutiveFailures(1), failOn: [Transient] });
    await expect(b.execute(() => Promise.reject(new BadRequest("400")))).rejects.toThrow("400");
    expect(b.state).toBe("closed");
    await expect(b.execute(() => Promise.reject(new Transient("t")))).rejects.toThrow("t");
    expect(b.state).toBe("open");
  });

  it("ignore wins over failOn, and a predicate selects failures like a list of classes", async () => {
    const { b } = breaker({ trip: consecutiveFailures(1), failOn: (e) => e instanceof Error, ignore: [BadRequest], historySize: 5 });
    await expect(b.execute(boomWith(new BadRequest("x")))).rejects.toThrow("x");
    expect(b.state).toBe("closed");
    expect(b.history.at(-1)).toMatchObject({ outcome: "ignored" });
    await expect(b.execute(boomWith(new Error("y")))).rejects.toThrow("y");
    expect(b.state).toBe("open");
  });

  it("a caller's abort is not counted, but a timeout is", async () => {
    const { b } = breaker({ trip: consecutiveFailures(1) });
    const controller = new AbortController();
    const reason = new Error("caller went away");
    controller.abort(reason);
    await expect(b.execute(({ signal }) => Promise.reject(signal?.reason), { signal: controller.signal })).rejects.toBe(reason);
    expect(b.state).toBe("closed");
    await expect(b.execute(() => Promise.reject(new TimeoutError(10)))).rejects.toBeInstanceOf(TimeoutError);
    expect(b.state).toBe("open");
  });

  it("a TimeoutError still counts when the caller aborted too (an inner timeout that fired first)", async () => {
    const { b } = breaker({ trip: consecutiveFailures(1) });
    const controller = new AbortController();
    const call = b.execute(
      ({ signal }) => new Promise((_, reject) => signal?.addEventListener("abort", () => reject(new TimeoutError(10)))),
      { signal: controller.signal },
    );
    controller.abort(new Error("caller went away"));
    await expect(call).rejects.toBeInstanceOf(TimeoutError);
    expect(b.state).toBe("open");
  });

  it("a caller's abort that surfaces as the callee's own AbortError (the reason as its cause) is not counted either", async () => {
    const { b } = breaker({ trip: consecutiveFailures(1) });
    const controller = new AbortController();
    const reason = new Error("caller went away");
    // As Node's own APIs (timers/promises, events.once, stream.pipeline) reject on an abort.
    const nodeAbort = Object.assign(new Error("The operation was aborted", { cause: reason }), { name: "AbortError" });
    const call = b.execute(({ signal }) => new Promise((_, reject) => signal?.addEventListener("abort", () => reject(nodeAbort))), {
      signal: controller.signal,
    });
    controller.abort(reason);
    await expect(call).rejects.toBe(nodeAbort);
    expect(b.state).toBe("closed");
    expect(b.history.at(-1)?.outcome).not.toBe("failure");
  });

  it("failOnResult with a return-value policy: path, in, and ReturnValuePolicyError", async () => {
    const policy = { path: "status", in: [500, 502] };
    const { b } = breaker({ trip: consecutiveFailures(2), failOnResult: policy });
    expect(await b.execute(() => ({ status: 200 }))).toEqual({ status: 200 });
    const error = await b.execute(() => ({ status: 502 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReturnValuePolicyError);
    expect(error).toMatchObject({ value: { status: 502 }, policy });
    expect(b.lastFailure()?.reason).toBe("status is 502");
  });

  it("failOnResult: isNull, equals, a dotted path and a method called with pathArgs", async () => {
    const res = { data: { code: "E1" }, headers: new Map([["x-err", "1"]]) };
    const cases: [object, unknown, boolean][] = [
      [{ isNull: true }, null, true],
      [{ isNull: true }, 0, false],
      [{ equals: "bad" }, "bad", true],
      [{ path: "data.code", equals: "E1" }, res, true],
      [{ path: "data.missing.deep", isNull: true }, res, true],
      [{ path: "headers.get", pathArgs: ["x-err"], equals: "1" }, res, true],
      [{ path: "headers.get", pathArgs: ["nope"], equals: "1" }, res, false],
    ];
    for (const [failOnResult, value, failed] of cases) {
      const { b } = breaker({ failOnResult });
      const outcome = await b
        .execute(() => value)
        .then(
          () => false,
          (e: unknown) => e instanceof ReturnValuePolicyError,
        );
      expect([failOnResult, outcome]).toEqual([failOnResult, failed]);
    }
  });

  it("failOnResult as a predicate, with a custom failureReason", async () => {
    const { b } = breaker({ failOnResult: (v) => v === -1, failureReason: "sentinel -1" });
    await expect(b.execute(() => -1)).rejects.toThrow("sentinel -1");
    expect(b.lastFailure()).toEqual({ reason: "sentinel -1", at: 0 });
  });
});

describe("CircuitBreaker: manual use, events, status, history", () => {
  it("records outcomes by hand (the queue-worker pattern)", () => {
    const { b, clock } = breaker({ trip: consecutiveFailures(2), recovery: 1_000 });
    b.recordFailure("db down");
    b.recordFailure(new Error("db still down"));
    expect(b.isAvailable()).toBe(false);
    expect(b.lastFailure()).toEqual({ reason: "db still down", at: 0 });
    clock.advance(1_000);
    expect(b.isAvailable()).toBe(true);
    b.recordSuccess();
    expect(b.state).toBe("closed");
  });

  it("a manual failure once a probe is due re-opens with the next interval", () => {
    const { b, clock } = breaker({ trip: consecutiveFailures(1), recovery: fixedThenExponential({ intervalMs: 100, fixedAttempts: 1 }) });
    b.recordFailure("x");
    clock.advance(50);
    b.recordFailure("early");
    expect(b.status().attempt).toBe(1);
    clock.advance(50);
    b.recordFailure("probe failed");
    expect(b.status()).toMatchObject({ state: "open", attempt: 2, retryAfterMs: 200 });
  });

  it("emits success, failure, rejected and stateChange; a throwing listener breaks nothing", async () => {
    const errors: unknown[] = [];
    const { b } = breaker({ trip: consecutiveFailures(1), onListenerError: (e) => errors.push(e) });
    const seen: string[] = [];
    b.on("success", () => seen.push("success"));
    b.on("failure", (e) => seen.push(`failure:${e.reason}`));
    b.on("rejected", (e) => seen.push(`rejected:${e.state}`));
    const off = b.on("stateChange", (e) => seen.push(`${e.from}->${e.to}`));
    b.on("stateChange", () => {
      throw new Error("listener bug");
    });
    await b.execute(() => 1);
    await fail(b);
    await b.execute(() => 1).catch(() => undefined);
    off();
    b.reset();
    expect(seen).toEqual(["success", "failure:boom", "closed->open", "rejected:open"]);
    expect(errors).toHaveLength(2);
  });

  it("status() reports state, counts, next probe and recovery phase", async () => {
    const { b, clock } = breaker({ name: "api", trip: consecutiveFailures(1), recovery: 2_000 });
    await fail(b);
    clock.advance(500);
    expect(b.status()).toEqual({
      name: "api",
      state: "open",
      isolated: false,
      store: "memory",
      failures: 1,
      totals: { successes: 0, failures: 1, ignored: 0, rejections: 0 },
      openedAt: 0,
      nextProbeAt: 2_000,
      retryAfterMs: 1_500,
      retryPhase: "fixed",
      attempt: 1,
      halfOpen: { trials: 0, successes: 0, maxCalls: 1 },
      lastFailure: { reason: "boom", at: 0 },
      fleet: null,
    });
  });

  it("keeps a bounded history, oldest first", async () => {
    const { b, clock } = breaker({ historySize: 3, trip: consecutiveFailures(10) });
    for (let i = 0; i < 5; i++) {
      clock.advance(1);
      await (i % 2 ? fail(b) : b.execute(() => i));
    }
    expect(b.history.map((h) => [h.at, h.outcome])).toEqual([
      [3, "success"],
      [4, "failure"],
      [5, "success"],
    ]);
  });

  it("runs sync functions and sync throws, and protect() wraps a function", async () => {
    const { b } = breaker();
    expect(await b.execute(() => 5)).toBe(5);
    await expect(b.execute(boom)).rejects.toThrow("boom");
    const add = b.protect((x: number, y: number) => x + y);
    expect(await add(2, 3)).toBe(5);
  });

  it("passes the caller's signal and attempt to fn", async () => {
    const { b } = breaker();
    const controller = new AbortController();
    const fn = vi.fn((ctx: { signal: AbortSignal | undefined; attempt: number }) => ctx);
    const ctx = await b.execute(fn, { signal: controller.signal, attempt: 3 });
    expect(ctx.signal).toBe(controller.signal);
    expect(ctx.attempt).toBe(3);
    expect((await b.execute((c) => c)).attempt).toBe(1);
  });
});

describe("CircuitBreaker: bad options fail at construction", () => {
  const bad: [string, object, RegExp][] = [
    ["unknown key", { maxFailures: 3 }, /option "maxFailures" must be one of the known options/],
    ["maxCalls 0", { halfOpen: { maxCalls: 0 } }, /"halfOpen.maxCalls" must be an integer >= 1; got 0/],
    ["maxCalls 1.5", { halfOpen: { maxCalls: 1.5 } }, /"halfOpen.maxCalls" must be an integer >= 1; got 1.5/],
    ["unknown halfOpen key", { halfOpen: { max: 1 } }, /"halfOpen.max"/],
    ["negative recovery", { recovery: -1 }, /"recovery" must be a finite number >= 0; got -1/],
    ["recovery not a backoff", { recovery: "5s" }, /"recovery" must be a number of ms/],
    ["trip not a rule", { trip: 5 }, /"trip" must be a trip rule/],
    ["failOn not classes", { failOn: ["Error"] }, /"failOn" must be an array of error classes or a predicate/],
    ["failOnResult empty", { failOnResult: { path: "status" } }, /at least one of isNull, equals, in/],
    ["failOnResult bad path", { failOnResult: { path: "a..b", isNull: true } }, /"failOnResult.path"/],
    ["failOnResult unknown key", { failOnResult: { retval_in: [1] } }, /"failOnResult.retval_in"/],
    ["empty name", { name: "" }, /"name" must be a non-empty string/],
    ["historySize -1", { historySize: -1 }, /"historySize" must be an integer >= 0/],
    ["bad clock", { clock: {} }, /"clock" must be a Clock/],
  ];
  it.each(bad)("%s", (_label, options, message) => {
    expect(() => new CircuitBreaker(options as never)).toThrow(InvalidOptionError);
    expect(() => new CircuitBreaker(options as never)).toThrow(message);
  });

  it.each([
    ["consecutiveFailures(0)", () => consecutiveFailures(0), /"threshold" must be an integer >= 1; got 0/],
    ["failuresInWindow(2, -5)", () => failuresInWindow(2, -5), /"windowMs" must be a finite number > 0; got -5/],
    [
      "failuresInWindow resetOnSuccess",
      () => failuresInWindow(2, 5, { resetOnSuccess: "yes" as never }),
      /"resetOnSuccess" must be true or false; got "yes"/,
    ],
    [
      "failuresInWindow resetOnSuccess null",
      () => failuresInWindow(2, 5, { resetOnSuccess: null as never }),
      /"resetOnSuccess" must be true or false; got null/,
    ],
    ["failureRatio(1.5)", () => failureRatio(1.5, { windowCalls: 5 }), /"ratio" must be a number in \(0, 1\]; got 1.5/],
    ["failureRatio(0)", () => failureRatio(0, { windowCalls: 5 }), /"ratio" must be a number in \(0, 1\]; got 0/],
    ["failureRatio both windows", () => failureRatio(0.5, { windowCalls: 5, windowMs: 10 }), /exactly one of windowCalls or windowMs/],
    [
      "failureRatio minimumCalls 0",
      () => failureRatio(0.5, { windowCalls: 5, minimumCalls: 0 }),
      /"minimumCalls" must be an integer >= 1; got 0/,
    ],
    ["failureRatio minimumCalls > window", () => failureRatio(0.5, { windowCalls: 5, minimumCalls: 6 }), /<= windowCalls/],
    ["fixedThenExponential negative", () => fixedThenExponential({ intervalMs: -1 }), /"intervalMs" must be a finite number >= 0; got -1/],
  ])("%s", (_label, make, message) => {
    expect(make).toThrow(InvalidOptionError);
    expect(make).toThrow(message);
  });
});

function boomWith(error: Error) {
  return () => Promise.reject(error);
}
