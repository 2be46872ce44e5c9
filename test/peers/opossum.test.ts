/**
 * Ported from opossum test/test.js, half-open-test.js, error-filter-test.js,
 * volume-threshold-test.js, closed-test.js, open-test.js, enable-disable-test.js,
 * state-test.js and the semaphore (capacity) cases of test.js (nodeshift/opossum), with
 * follow-ups on the rolling window and the error threshold itself.
 * Each case keeps the peer's assertion, translated to Breakwater's API, except where Breakwater
 * deliberately differs: there the case asserts Breakwater's documented behaviour, and a comment
 * names what opossum asserts and where our docs state the difference.
 *
 * opossum defaults: errorThresholdPercentage 50, rollingCountTimeout 10 s, volumeThreshold 0.
 * `errorThresholdPercentage: 1` => failureRatio(0.01, { windowMs: 10_000, minimumCalls: 1 }).
 */
import { describe, expect, it } from "vitest";
import {
  BulkheadRejectedError,
  CircuitBreaker,
  CircuitOpenError,
  ManualClock,
  TimeoutError,
  bulkhead,
  fallback,
  failureRatio,
  pipeline,
  timeout,
  type StateChangeEvent,
} from "../../src/index.js";
import { deferred, passFail, StatusError } from "./helpers.js";

/** opossum's errorFilter of the error-filter cases: a 4xx is the caller's fault, not the service's. */
const clientError = (e: unknown): boolean => (e as StatusError).statusCode < 500;

function mk(
  opts: { threshold?: number; resetTimeout?: number; volumeThreshold?: number; ignore?: (e: unknown) => boolean; clock?: ManualClock } = {},
) {
  const clock = opts.clock ?? new ManualClock();
  const changes: StateChangeEvent[] = [];
  const breaker = new CircuitBreaker({
    clock,
    trip: failureRatio((opts.threshold ?? 50) / 100, { windowMs: 10_000, minimumCalls: Math.max(1, opts.volumeThreshold ?? 1) }),
    recovery: opts.resetTimeout ?? 10_000,
    ignore: opts.ignore,
    onStateChange: (e) => changes.push(e),
  });
  return { clock, breaker, changes };
}

describe("opossum test.js", () => {
  it("Passes parameters to the circuit function (protect)", async () => {
    const { breaker } = mk();
    expect(await breaker.protect(passFail)(34)).toBe(34);
  });

  it("Fails when the circuit function fails", async () => {
    const { breaker } = mk();
    await expect(breaker.protect(passFail)(-1)).rejects.toThrow("-1 is < 0");
  });

  it("Fails when the circuit function times out (breaker + timeout)", async () => {
    const clock = new ManualClock();
    const { breaker } = mk({ clock });
    const p = pipeline(breaker, timeout(10, { clock, mode: "aggressive" }));
    const r = p.execute(() => new Promise(() => {}));
    r.catch(() => {});
    await clock.advanceAsync(10);
    const e = await r.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TimeoutError);
    expect((e as Error).message).toBe("Timed out after 10 ms");
    expect(breaker.status().totals.failures).toBe(1);
  });

  it("Works with functions that do not return a promise", async () => {
    const { breaker } = mk();
    expect(await breaker.execute(() => "foo")).toBe("foo");
  });

  it("Breaker opens after a configurable number of failures", async () => {
    const { breaker } = mk({ threshold: 10 });
    await expect(breaker.protect(passFail)(-1)).rejects.toThrow();
    await expect(breaker.protect(passFail)(100)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it("Breaker resets after a configurable amount of time", async () => {
    const { breaker, clock } = mk({ threshold: 1, resetTimeout: 100 });
    await expect(breaker.protect(passFail)(-1)).rejects.toThrow();
    clock.advance(125);
    expect(await breaker.protect(passFail)(100)).toBe(100);
  });

  it("Executes fallback action, if one exists, when breaker is open", async () => {
    const { breaker } = mk({ threshold: 1 });
    const p = pipeline(
      fallback(() => 100),
      breaker,
    );
    expect(await p.execute(() => passFail(-1))).toBe(100);
    expect(breaker.state).toBe("open");
    expect(await p.execute(() => passFail(1))).toBe(100);
  });

  it("Passes error as last argument to the fallback function", async () => {
    const { breaker } = mk({ threshold: 1 });
    const p = pipeline(
      fallback((e) => String(e)),
      breaker,
    );
    expect(await p.execute(() => passFail(-1))).toBe("Error: -1 is < 0");
  });

  it("CircuitBreaker fallback as a rejected promise", async () => {
    const { breaker } = mk({ threshold: 1 });
    const p = pipeline(
      fallback(() => Promise.reject(new Error("nope"))),
      breaker,
    );
    await expect(p.execute(() => passFail(-1))).rejects.toThrow("nope");
  });

  it("CircuitBreaker fallback as a CircuitBreaker that fails", async () => {
    const { breaker } = mk({ threshold: 1 });
    const { breaker: other } = mk({ threshold: 1 });
    const p = pipeline(
      fallback(() => other.execute(() => passFail(-1))),
      breaker,
    );
    await expect(p.execute(() => passFail(-1))).rejects.toThrow("-1 is < 0");
  });

  it("CircuitBreaker status counts fires/failures/rejects", async () => {
    const { breaker } = mk({ threshold: 1 });
    const f = breaker.protect(passFail);
    expect(await Promise.all([f(10), f(20), f(30)])).toEqual([10, 20, 30]);
    await expect(f(-10)).rejects.toThrow("-10 is < 0");
    expect(breaker.status().totals.failures).toBe(1);
    await expect(f(-20)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(breaker.status().totals).toMatchObject({ successes: 3, failures: 1, rejections: 1 });
  });

  it("CircuitBreaker events (success/failure/reject/open/halfOpen/close)", async () => {
    const { breaker, clock, changes } = mk({ threshold: 1, resetTimeout: 500 });
    const counts = { success: 0, failure: 0, rejected: 0 };
    breaker.on("success", () => counts.success++);
    breaker.on("failure", () => counts.failure++);
    breaker.on("rejected", () => counts.rejected++);
    const f = breaker.protect(passFail);
    await f(10);
    expect(counts).toEqual({ success: 1, failure: 0, rejected: 0 });
    await f(-1).catch(() => {});
    expect(counts).toEqual({ success: 1, failure: 1, rejected: 0 });
    expect(changes.map((c) => c.to)).toEqual(["open"]);
    await f(10).catch(() => {});
    expect(counts).toEqual({ success: 1, failure: 1, rejected: 1 });
    clock.advance(500);
    // opossum asserts a timer emits halfOpen at resetTimeout, before any call; ours moves when a call is admitted as the trial: docs/fleet-breakers.md, "Events, and their order".
    expect(changes.map((c) => c.to)).toEqual(["open"]);
    await f(10);
    expect(counts).toEqual({ success: 2, failure: 1, rejected: 1 });
    expect(changes.map((c) => c.to)).toEqual(["open", "half-open", "closed"]);
  });

  it("circuit halfOpen: fail reopens, later success closes", async () => {
    const { breaker, clock } = mk({ threshold: 1, resetTimeout: 100 });
    const f = breaker.protect(passFail);
    await f(-1).catch(() => {});
    expect(breaker.state).toBe("open");
    clock.advance(130);
    await f(-1).catch(() => {});
    expect(breaker.state).toBe("open");
    clock.advance(130);
    expect(await f(1)).toBe(1);
    expect(breaker.state).toBe("closed");
  });

  it("once resetTimeout elapsed, before any call, the state is still open but a probe is due", async () => {
    // opossum asserts breaker.halfOpen is true once resetTimeout elapsed; ours stays open until a call is admitted as the trial: docs/circuit-breaker.md, "Half-open".
    const { breaker, clock } = mk({ threshold: 1, resetTimeout: 100 });
    await breaker
      .protect(passFail)(-1)
      .catch(() => {});
    clock.advance(150);
    expect(breaker.state).toBe("open");
    expect(breaker.isAvailable()).toBe(true);
    expect(breaker.status().retryAfterMs).toBe(0);
  });
});

describe("opossum half-open-test.js", () => {
  it("When half-open, the circuit only allows one request through", async () => {
    const { breaker, clock } = mk({ threshold: 1, resetTimeout: 100 });
    await breaker.execute(() => Promise.reject(new Error("Failed after 1"))).catch(() => {});
    expect(breaker.state).toBe("open");
    clock.advance(150);
    const trial = deferred();
    const running = breaker.execute(() => trial.promise);
    await expect(breaker.execute(() => 1)).rejects.toBeInstanceOf(CircuitOpenError);
    trial.reject(new Error("Failed after 500"));
    await expect(running).rejects.toThrow("Failed after 500");
    expect(breaker.state).toBe("open");
    await expect(breaker.execute(() => 1)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it("When half-open, a filtered error frees the trial without closing: the next call probes", async () => {
    // opossum asserts a filtered error in the trial closes the circuit; ours is ignored (never a transition): docs/fleet-breakers.md, "Events, and their order".
    const { breaker, clock, changes } = mk({ threshold: 1, resetTimeout: 100, ignore: clientError });
    let ignored = 0;
    breaker.on("ignored", () => ignored++);
    await breaker.execute(() => Promise.reject(new StatusError(500))).catch(() => {});
    expect(breaker.state).toBe("open");
    clock.advance(150);
    await expect(breaker.execute(() => Promise.reject(new StatusError(400)))).rejects.toThrow("Failed with 400 status code");
    expect(ignored).toBe(1);
    expect(breaker.state).toBe("half-open");
    expect(changes.map((c) => c.to)).toEqual(["open", "half-open"]);
    expect(breaker.isAvailable()).toBe(true);
    expect(await breaker.execute(() => 1)).toBe(1);
    expect(breaker.state).toBe("closed");
  });
});

describe("opossum error-filter-test.js", () => {
  it("Bypasses failure stats if errorFilter returns true", async () => {
    const { breaker } = mk({ threshold: 1, ignore: clientError });
    const err = await breaker.execute(() => Promise.reject(new StatusError(400))).catch((e: unknown) => e);
    expect((err as StatusError).statusCode).toBe(400);
    expect(breaker.status().totals.failures).toBe(0);
    expect(breaker.state).toBe("closed");
  });

  it("Increments failure stats if errorFilter returns false", async () => {
    const { breaker } = mk({ threshold: 1, ignore: clientError });
    await breaker.execute(() => Promise.reject(new StatusError(500))).catch(() => {});
    expect(breaker.status().totals.failures).toBe(1);
    expect(breaker.state).toBe("open");
  });

  it("Should not call fallback if errorFilter returns true (fallback on: same filter inverted)", async () => {
    const { breaker } = mk({ threshold: 1, ignore: clientError });
    let called = 0;
    const p = pipeline(
      fallback(
        () => {
          called++;
          return "fb";
        },
        { on: (e) => !clientError(e) },
      ),
      breaker,
    );
    await expect(p.execute(() => Promise.reject(new StatusError(400)))).rejects.toBeInstanceOf(StatusError);
    expect(called).toBe(0);
  });
});

describe("opossum volume-threshold-test.js", () => {
  it("By default does not have a volume threshold", async () => {
    const { breaker } = mk({ threshold: 1 });
    await breaker
      .protect(passFail)(-1)
      .catch(() => {});
    expect(breaker.state).toBe("open");
  });

  it("Has a volume threshold before tripping when option is provided", async () => {
    const { breaker } = mk({ threshold: 1, volumeThreshold: 3 });
    const f = breaker.protect(passFail);
    await f(-1).catch(() => {});
    expect(breaker.state).toBe("closed");
    await f(-1).catch(() => {});
    expect(breaker.state).toBe("closed");
    await f(-1).catch(() => {});
    expect(breaker.state).toBe("open");
  });

  it("volume threshold does not affect halfOpen state", async () => {
    const { breaker, clock } = mk({ threshold: 1, volumeThreshold: 2, resetTimeout: 300 });
    const f = breaker.protect(passFail);
    await f(-1).catch(() => {});
    expect(breaker.state).toBe("closed");
    await f(-1).catch(() => {});
    expect(breaker.state).toBe("open");
    clock.advance(450);
    await f(-1).catch(() => {});
    expect(breaker.state).toBe("open");
  });

  it("failures that left the rolling window do not count towards the volume threshold (follow-up)", () => {
    const { breaker, clock } = mk({ threshold: 1, volumeThreshold: 3 });
    breaker.recordFailure("a");
    breaker.recordFailure("b");
    clock.advance(11_000);
    breaker.recordFailure("c");
    expect(breaker.state).toBe("closed");
    breaker.recordFailure("d");
    breaker.recordFailure("e");
    expect(breaker.state).toBe("open");
  });

  it("exactly at errorThresholdPercentage (5 of 10 at 50%) the circuit opens (follow-up)", () => {
    // opossum opens only above errorThresholdPercentage (5 of 10 stays closed); we open at it: docs/circuit-breaker.md, "Trip rules: when to open".
    const { breaker } = mk({ threshold: 50, volumeThreshold: 10 });
    for (let i = 0; i < 5; i++) breaker.recordSuccess();
    for (let i = 0; i < 4; i++) breaker.recordFailure("x");
    expect(breaker.state).toBe("closed");
    breaker.recordFailure("x");
    expect(breaker.state).toBe("open");
  });
});

describe("opossum closed-test.js / open-test.js", () => {
  it("When open, an existing request resolving does not close circuit", async () => {
    const { breaker } = mk({ threshold: 1, resetTimeout: 60_000 });
    const slowCall = deferred<string>();
    const slow = breaker.execute(() => slowCall.promise);
    await breaker.execute(() => Promise.reject(new Error("test-error"))).catch(() => {});
    expect(breaker.state).toBe("open");
    slowCall.resolve("success");
    expect(await slow).toBe("success");
    expect(breaker.state).toBe("open");
  });

  it("when open() is called (held open) the reset timeout does not move it to half-open", async () => {
    const { breaker, clock } = mk({ threshold: 1, resetTimeout: 100 });
    await breaker.execute(() => Promise.reject(new Error("Failed after 0"))).catch(() => {});
    breaker.isolate();
    clock.advance(150);
    expect(breaker.isAvailable()).toBe(false);
    await expect(breaker.execute(() => 1)).rejects.toBeInstanceOf(CircuitOpenError);
  });
});

describe("opossum enable-disable-test.js", () => {
  it("When disabled the circuit should always be closed", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, mode: "disabled", trip: failureRatio(0.01, { windowMs: 10_000, minimumCalls: 1 }) });
    const f = breaker.protect(passFail);
    await f(-1).catch(() => {});
    await f(-1).catch(() => {});
    expect(breaker.state).toBe("closed");
    expect(await f(3)).toBe(3);
  });
});

describe("opossum state-test.js", () => {
  it("export the state (toJSON) and re-initialise a breaker as open; it resets after the timeout", async () => {
    const { breaker, clock } = mk({ threshold: 1, resetTimeout: 100 });
    await breaker
      .protect(passFail)(-1)
      .catch(() => {});
    const saved = JSON.parse(JSON.stringify(breaker.toJSON()));
    const clone = new CircuitBreaker({
      clock,
      trip: failureRatio(0.01, { windowMs: 10_000, minimumCalls: 1 }),
      recovery: 100,
      initialState: saved,
    });
    expect(clone.state).toBe("open");
    await expect(clone.execute(() => 1)).rejects.toBeInstanceOf(CircuitOpenError);
    clock.advance(125);
    expect(await clone.execute(() => 100)).toBe(100);
    expect(clone.state).toBe("closed");
  });

  it("a closed snapshot initialises a closed breaker that still opens on failure", async () => {
    const { breaker, clock } = mk({ threshold: 1 });
    const clone = new CircuitBreaker({
      clock,
      trip: failureRatio(0.01, { windowMs: 10_000, minimumCalls: 1 }),
      initialState: breaker.toJSON(),
    });
    expect(clone.state).toBe("closed");
    await clone.execute(() => passFail(-1)).catch(() => {});
    expect(clone.state).toBe("open");
  });
});

describe("opossum capacity (semaphore) ~ bulkhead", () => {
  it("CircuitBreaker semaphore rate limiting: second call rejected while capacity 1 is held", async () => {
    const { breaker } = mk();
    const p = pipeline(breaker, bulkhead({ maxConcurrent: 1 }));
    const held = deferred();
    const first = p.execute(() => held.promise);
    await expect(p.execute(() => 0)).rejects.toBeInstanceOf(BulkheadRejectedError);
    held.resolve();
    await first;
  });

  it("timeout with semaphore released", async () => {
    const clock = new ManualClock();
    const b = bulkhead({ maxConcurrent: 2 });
    const p = pipeline(b, timeout(10, { clock, mode: "aggressive" }));
    const r = p.execute(() => new Promise(() => {}));
    r.catch(() => {});
    await clock.advanceAsync(10);
    await expect(r).rejects.toBeInstanceOf(TimeoutError);
    expect(b.running).toBe(0);
  });
});
