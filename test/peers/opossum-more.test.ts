/**
 * More cases from opossum (nodeshift/opossum), beyond opossum.test.ts: the fallback, failure-event,
 * status and rolling-count cases of test/test.js, its abortController cases (the signal a call
 * gets under a timeout), test/error-filter-test.js (the counts), test/half-open-test.js (the
 * pending trial), test/enable-disable-test.js, test/warmup-test.js, test/semaphore-test.js
 * (capacity => bulkhead), test/status-test.js (rolling counts), test/options-test.js and
 * test/numeric-options-test.js (option validation), with follow-ups on the order of events.
 *
 * API mapping (as in opossum.test.ts): `new CircuitBreaker(fn, opts).fire(x)` =>
 * `breaker.execute(() => fn(x))`; `errorThresholdPercentage: p`, `rollingCountTimeout: w`,
 * `volumeThreshold: v` => `failureRatio(p / 100, { windowMs: w, minimumCalls: max(1, v) })`;
 * `resetTimeout` => `recovery`; `timeout` => an inner `timeout(ms, { mode: "aggressive" })` in a
 * `pipeline`; `breaker.fallback(f)` => an outer `fallback(f)`; `errorFilter` => `ignore`;
 * `capacity` => `bulkhead({ maxConcurrent })`; `enabled: false` => `mode: "disabled"`;
 * `status.stats` => `status().totals` and the events; `abortController` => the `signal` a
 * timeout hands its callee. opossum's `'open'`/`'halfOpen'`/`'close'` => `stateChange`.
 * Each case keeps the peer's assertion, translated, except where Breakwater deliberately
 * differs: there the case asserts Breakwater's documented behaviour, and a comment names what
 * opossum asserts and where our docs state the difference.
 */
import { describe, expect, it } from "vitest";
import {
  BulkheadRejectedError,
  CircuitBreaker,
  CircuitOpenError,
  InvalidOptionError,
  ManualClock,
  TimeoutError,
  bulkhead,
  consecutiveFailures,
  failureRatio,
  fallback,
  pipeline,
  timeout,
  type StateChangeEvent,
} from "../../src/index.js";
import { deferred, flush, passFail, StatusError } from "./helpers.js";

function mk(opts: { threshold?: number; resetTimeout?: number; window?: number; buckets?: number; ignore?: (e: unknown) => boolean } = {}) {
  const clock = new ManualClock();
  const changes: StateChangeEvent[] = [];
  const breaker = new CircuitBreaker({
    clock,
    trip: failureRatio((opts.threshold ?? 50) / 100, { windowMs: opts.window ?? 10_000, minimumCalls: 1, buckets: opts.buckets ?? 10 }),
    recovery: opts.resetTimeout ?? 10_000,
    ignore: opts.ignore,
    onStateChange: (e) => changes.push(e),
  });
  return { clock, breaker, changes };
}

describe("opossum test.js: fallback", () => {
  it("Breaker resets for circuits with a fallback function", async () => {
    const { breaker, clock } = mk({ threshold: 1, resetTimeout: 100 });
    const call = (x: number) =>
      pipeline(
        fallback(() => x * 2),
        breaker,
      ).execute(() => passFail(x));
    expect(await call(-1)).toBe(-2);
    expect(breaker.state).toBe("open");
    expect(await call(5)).toBe(10);
    clock.advance(125);
    expect(await call(100)).toBe(100);
    expect(breaker.state).toBe("closed");
  });

  it("Fallback is not called twice for the same execution when action fails after timing out", async () => {
    const clock = new ManualClock();
    const { breaker } = mk();
    let calls = 0;
    const errors: unknown[] = [];
    const p = pipeline(
      fallback((err) => {
        calls++;
        errors.push(err);
        return Promise.reject(err);
      }),
      breaker,
      timeout(100, { mode: "aggressive", clock }),
    );
    const r = p.execute(async () => {
      await clock.sleep(200);
      throw new Error("Failed after 200");
    });
    r.catch(() => {});
    await clock.advanceAsync(100);
    await expect(r).rejects.toBeInstanceOf(TimeoutError);
    await clock.advanceAsync(100);
    await flush();
    expect(calls).toBe(1);
    expect(errors[0]).toBeInstanceOf(TimeoutError);
    expect(breaker.status().totals.failures).toBe(1);
  });

  it("CircuitBreaker emits failure when action throws", async () => {
    const { breaker } = mk();
    const failures: unknown[] = [];
    breaker.on("failure", (e) => failures.push(e.error));
    const err = await breaker
      .execute(() => {
        throw new Error("E_TOOMANYCHICKENTACOS");
      })
      .catch((e: unknown) => e);
    expect((err as Error).message).toBe("E_TOOMANYCHICKENTACOS");
    expect(breaker.status().totals.failures).toBe(1);
    expect(failures).toEqual([err]);
  });

  it("CircuitBreaker executes fallback when an action throws", async () => {
    const { breaker } = mk();
    const fb = fallback(() => "Fallback executed");
    let fallbacks = 0;
    fb.on("fallback", () => fallbacks++);
    const result = await pipeline(fb, breaker).execute(() => {
      throw new Error("E_TOOMANYCHICKENTACOS");
    });
    expect(result).toBe("Fallback executed");
    expect(breaker.status().totals.failures).toBe(1);
    expect(fallbacks).toBe(1);
  });

  it("CircuitBreaker emits failure when falling back", async () => {
    const { breaker } = mk();
    const failures: string[] = [];
    breaker.on("failure", (e) => failures.push(String(e.error)));
    const result = await pipeline(
      fallback(() => "fallback value"),
      breaker,
    ).execute(() => passFail(-1));
    expect(result).toBe("fallback value");
    expect(failures).toEqual(["Error: -1 is < 0"]);
  });

  it("CircuitBreaker status with a fallback: an open circuit counts a reject and a fallback, not a failure", async () => {
    const { breaker } = mk({ threshold: 1 });
    const fb = fallback(() => "Fallback called");
    const replaced: unknown[] = [];
    fb.on("fallback", (e) => replaced.push(e.error));
    const f = breaker.protect(passFail);
    expect(await Promise.all([f(10), f(20), f(30)])).toEqual([10, 20, 30]);
    await expect(f(-10)).rejects.toThrow("-10 is < 0");
    expect(breaker.status().totals).toMatchObject({ successes: 3, failures: 1, rejections: 0 });
    expect(await pipeline(fb, breaker).execute(() => passFail(-20))).toBe("Fallback called");
    expect(breaker.status().totals).toMatchObject({ successes: 3, failures: 1, rejections: 1 });
    expect(replaced).toHaveLength(1);
    expect(replaced[0]).toBeInstanceOf(CircuitOpenError);
  });

  it("CircuitBreaker fallback event carries the fallback's value (ours: the error it replaced)", async () => {
    // opossum emits 'fallback' with the fallback's result (-1 here); our fallback event carries the error replaced: docs/fallback.md.
    const { breaker } = mk({ threshold: 0.01 });
    const fb = fallback(() => -1);
    const events: unknown[] = [];
    fb.on("fallback", (e) => events.push(e));
    expect(await pipeline(fb, breaker).execute(() => passFail(-1))).toBe(-1);
    expect(events).toHaveLength(1);
    expect(String((events[0] as { error: unknown }).error)).toBe("Error: -1 is < 0");
  });

  it("CircuitBreaker fallback as a CircuitBreaker", async () => {
    const { breaker } = mk({ threshold: 1, resetTimeout: 100 });
    const { breaker: other } = mk({ threshold: 1, resetTimeout: 100 });
    const input = -1;
    const p = pipeline(
      fallback(() => other.execute(() => input)),
      breaker,
    );
    expect(await p.execute(() => passFail(input))).toBe(input);
  });
});

describe("opossum test.js: abortController (the signal a timeout hands its callee)", () => {
  it("the signal is not aborted when the call completes before the timeout", async () => {
    const clock = new ManualClock();
    const { breaker } = mk();
    let signal: AbortSignal | undefined;
    const p = pipeline(breaker, timeout(1_000, { clock }));
    expect(
      await p.execute((ctx) => {
        signal = ctx.signal;
        return 1;
      }),
    ).toBe(1);
    await clock.advanceAsync(2_000);
    expect(signal?.aborted).toBe(false);
  });

  it("the signal is aborted when the timeout occurs, and the breaker counts the failure", async () => {
    const clock = new ManualClock();
    const { breaker } = mk();
    let signal: AbortSignal | undefined;
    const p = pipeline(breaker, timeout(10, { clock, mode: "aggressive" }));
    const r = p.execute((ctx) => {
      signal = ctx.signal;
      return new Promise(() => {});
    });
    r.catch(() => {});
    await clock.advanceAsync(10);
    await expect(r).rejects.toBeInstanceOf(TimeoutError);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(TimeoutError);
    expect(breaker.status().totals.failures).toBe(1);
  });

  it("autoRenewAbortController: after a timeout the next call gets a fresh, unaborted signal", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, trip: consecutiveFailures(5) });
    const signals: Array<AbortSignal | undefined> = [];
    const p = pipeline(breaker, timeout(10, { clock, mode: "aggressive" }));
    const first = p.execute((ctx) => {
      signals.push(ctx.signal);
      return new Promise(() => {});
    });
    first.catch(() => {});
    await clock.advanceAsync(10);
    await expect(first).rejects.toBeInstanceOf(TimeoutError);
    expect(
      await p.execute((ctx) => {
        signals.push(ctx.signal);
        return "ok";
      }),
    ).toBe("ok");
    expect(signals.map((s) => s?.aborted)).toEqual([true, false]);
  });

  it("Fails when the circuit function times out, with the default (cooperative) timeout: after ms + graceMs", async () => {
    // opossum rejects at `timeout` whatever the function does; our default cooperative mode waits up to graceMs (1,000) for a
    // callee that ignores its signal: docs/timeout.md, the "cooperative" mode. Aggressive mode rejects at ms (opossum.test.ts).
    const clock = new ManualClock();
    const { breaker } = mk();
    const r = pipeline(breaker, timeout(10, { clock })).execute(() => new Promise(() => {}));
    let settled = false;
    r.then(
      () => (settled = true),
      () => (settled = true),
    );
    await clock.advanceAsync(10);
    expect(settled).toBe(false);
    await clock.advanceAsync(1_000);
    await expect(r).rejects.toBeInstanceOf(TimeoutError);
    expect(breaker.status().totals.failures).toBe(1);
  });

  it("a call aborted by its caller is not counted as a failure (follow-up)", async () => {
    const { breaker } = mk({ threshold: 1 });
    const ac = new AbortController();
    let ignored = 0;
    breaker.on("ignored", () => ignored++);
    const r = breaker.execute(({ signal }) => new Promise((_, rej) => signal?.addEventListener("abort", () => rej(signal.reason))), {
      signal: ac.signal,
    });
    ac.abort();
    await expect(r).rejects.toBe(ac.signal.reason);
    expect(ignored).toBe(1);
    expect(breaker.status().totals.failures).toBe(0);
    expect(breaker.state).toBe("closed");
  });
});

/** What Node's own APIs (node:timers/promises, events.once, stream.pipeline) reject with when their signal aborts: a new AbortError, the reason as its cause. */
function nodeAbortError(signal: AbortSignal): Error {
  const error = new Error("The operation was aborted", { cause: signal.reason });
  error.name = "AbortError";
  return error;
}

describe("opossum test.js: a caller's abort that surfaces as the callee's own error (follow-up)", () => {
  it("a call aborted by its caller is not counted when the callee rejects with its own AbortError (reason as cause)", async () => {
    const { breaker } = mk({ threshold: 1 });
    const ac = new AbortController();
    let ignored = 0;
    breaker.on("ignored", () => ignored++);
    const r = breaker.execute(
      ({ signal }) => new Promise((_, rej) => signal?.addEventListener("abort", () => rej(nodeAbortError(signal)))),
      { signal: ac.signal },
    );
    ac.abort();
    const err = await r.catch((e: unknown) => e);
    expect((err as Error).name).toBe("AbortError");
    expect(ignored).toBe(1);
    expect(breaker.status().totals.failures).toBe(0);
    expect(breaker.state).toBe("closed");
  });
});

describe("opossum test.js: events and their order (follow-up)", () => {
  it("success, failure then open, reject, half-open, success then close", async () => {
    const { breaker, clock } = mk({ threshold: 1, resetTimeout: 500 });
    const order: string[] = [];
    breaker.on("success", () => order.push("success"));
    breaker.on("failure", () => order.push("failure"));
    breaker.on("rejected", () => order.push("reject"));
    breaker.on("stateChange", ({ to }) => order.push(to));
    const f = breaker.protect(passFail);
    await f(10);
    await f(-1).catch(() => {});
    await f(10).catch(() => {});
    clock.advance(500);
    await f(10);
    // opossum emits halfOpen from a timer at resetTimeout, before the call; ours when the call is admitted as the trial: docs/fleet-breakers.md, "Events, and their order".
    expect(order).toEqual(["success", "failure", "open", "reject", "half-open", "success", "closed"]);
  });
});

describe("opossum error-filter-test.js: the counts", () => {
  it("Bypasses failure stats if errorFilter returns true (ours: counted as ignored, not as a success)", async () => {
    // opossum counts a filtered error as a success (stats.successes 1); ours is ignored, never counted: docs/circuit-breaker.md, "What counts as a failure" (ignore).
    const { breaker } = mk({ threshold: 1, ignore: (e) => (e as StatusError).statusCode < 500 });
    const err = await breaker.execute(() => Promise.reject(new StatusError(400))).catch((e: unknown) => e);
    expect((err as StatusError).statusCode).toBe(400);
    expect(breaker.status().totals).toMatchObject({ successes: 0, failures: 0, ignored: 1 });
    expect(breaker.state).toBe("closed");
  });

  it("Increments failure stats if no filter is provided", async () => {
    const { breaker } = mk({ threshold: 1 });
    const err = await breaker.execute(() => Promise.reject(new StatusError(500))).catch((e: unknown) => e);
    expect((err as StatusError).statusCode).toBe(500);
    expect(breaker.status().totals.failures).toBe(1);
    expect(breaker.state).toBe("open");
  });
});

describe("opossum half-open-test.js: the pending trial", () => {
  it("while the trial runs the circuit is half-open with the trial pending; a failed trial reopens it", async () => {
    const { breaker, clock } = mk({ threshold: 1, resetTimeout: 100 });
    await breaker.execute(() => Promise.reject(new Error("Failed after 1"))).catch(() => {});
    expect(breaker.status()).toMatchObject({ state: "open", halfOpen: { trials: 0 } });
    clock.advance(150);
    const trial = deferred();
    const running = breaker.execute(() => trial.promise);
    expect(breaker.status()).toMatchObject({ state: "half-open", halfOpen: { trials: 1, maxCalls: 1 } });
    trial.reject(new Error("Failed after 500"));
    await expect(running).rejects.toThrow("Failed after 500");
    expect(breaker.status()).toMatchObject({ state: "open", halfOpen: { trials: 0 } });
    const refused = await breaker.execute(() => 1).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as CircuitOpenError).message).toMatch(/is open/);
  });
});

describe("opossum enable-disable-test.js", () => {
  it("Defaults to enabled", () => {
    expect(new CircuitBreaker({ clock: new ManualClock() }).mode).toBe("normal");
  });

  it("Accepts options.enabled (mode: disabled): every call runs, nothing is recorded", async () => {
    const breaker = new CircuitBreaker({ clock: new ManualClock(), mode: "disabled", trip: consecutiveFailures(1) });
    expect(breaker.mode).toBe("disabled");
    for (let i = 0; i < 3; i++) await expect(breaker.execute(() => passFail(-1))).rejects.toThrow("-1 is < 0");
    breaker.recordFailure("x");
    expect(breaker.state).toBe("closed");
    expect(breaker.status().totals).toMatchObject({ successes: 0, failures: 0, rejections: 0 });
  });
});

describe("opossum semaphore-test.js (capacity => bulkhead)", () => {
  it("Semaphore rate limiting: a refusal is counted and says what is in use", async () => {
    const { breaker } = mk();
    const b = bulkhead({ maxConcurrent: 1 });
    let rejections = 0;
    b.on("rejected", () => rejections++);
    const p = pipeline(breaker, b);
    const held = deferred();
    const first = p.execute(() => held.promise);
    const err = await p.execute(() => 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulkheadRejectedError);
    expect(err).toMatchObject({ running: 1, queued: 0 });
    expect(rejections).toBe(1);
    held.resolve();
    await first;
  });

  it("Acquiring reduces the locks available; releasing restores them", async () => {
    const b = bulkhead({ maxConcurrent: 1 });
    expect(b.maxConcurrent - b.running).toBe(1);
    const held = deferred();
    const first = b.execute(() => held.promise);
    expect(b.maxConcurrent - b.running).toBe(0);
    held.resolve();
    await first;
    expect(b.maxConcurrent - b.running).toBe(1);
  });

  it("Semaphores wait until a lock is available (a queue)", async () => {
    const clock = new ManualClock();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    let waited = false;
    const first = b.execute(async () => {
      await clock.sleep(500);
      waited = true;
    });
    const second = b.execute(() => {
      expect(b.running).toBe(1);
      return waited;
    });
    await clock.advanceAsync(500);
    await first;
    expect(await second).toBe(true);
    expect(b.running).toBe(0);
  });

  it("User code cannot change the lock count", () => {
    const b = bulkhead({ maxConcurrent: 1 });
    expect(() => {
      (b as unknown as { running: number }).running = 4;
    }).toThrow(TypeError);
    expect(b.running).toBe(0);
  });

  it("A semaphore can time out waiting for a lock (an outer timeout takes the call out of the queue)", async () => {
    const clock = new ManualClock();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const held = deferred();
    const first = b.execute(() => held.promise);
    let ran = false;
    const waiting = pipeline(timeout(100, { clock, mode: "aggressive" }), b).execute(() => {
      ran = true;
    });
    waiting.catch(() => {});
    expect(b.queued).toBe(1);
    await clock.advanceAsync(100);
    await expect(waiting).rejects.toBeInstanceOf(TimeoutError);
    expect(b.queued).toBe(0);
    held.resolve();
    await first;
    expect(ran).toBe(false);
    expect(b.running).toBe(0);
  });
});

describe("opossum test.js / status-test.js: rolling counts", () => {
  it("CircuitBreaker rolling counts: the window forgets, the totals do not", async () => {
    const { breaker, clock } = mk({ threshold: 100, window: 200, buckets: 2 });
    const f = breaker.protect(passFail);
    expect(await Promise.all([f(10), f(20), f(30)])).toEqual([10, 20, 30]);
    await f(-1).catch(() => {});
    expect(breaker.status()).toMatchObject({ failures: 1, totals: { successes: 3, failures: 1 } });
    clock.advance(300);
    expect(breaker.status()).toMatchObject({ failures: 0, totals: { successes: 3, failures: 1 } });
  });

  it("breaker stats reset after rollingCountTimeout (10 ms) without a rotate controller", async () => {
    const { breaker, clock } = mk({ threshold: 100, window: 10, buckets: 1 });
    await breaker
      .protect(passFail)(-1)
      .catch(() => {});
    expect(breaker.status().failures).toBe(1);
    clock.advance(100);
    expect(breaker.status().failures).toBe(0);
  });
});

describe("opossum warmup-test.js", () => {
  it("By default does not allow for warmup: the first failure opens", async () => {
    const { breaker } = mk({ threshold: 1, resetTimeout: 100 });
    await expect(breaker.protect(passFail)(-1)).rejects.toThrow("-1 is < 0");
    expect(breaker.state).toBe("open");
  });
});

describe("opossum options-test.js / numeric-options-test.js", () => {
  it("resetTimeout defaults to 30000 (recovery)", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, trip: consecutiveFailures(1) });
    breaker.recordFailure("x");
    expect(breaker.status().retryAfterMs).toBe(30_000);
  });

  it("resetTimeout can be set to 0: the next call is the trial", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, trip: consecutiveFailures(1), recovery: 0 });
    await breaker.execute(() => passFail(-1)).catch(() => {});
    expect(breaker.state).toBe("open");
    expect(breaker.isAvailable()).toBe(true);
    expect(await breaker.execute(() => passFail(1))).toBe(1);
    expect(breaker.state).toBe("closed");
  });

  it("errorThresholdPercentage can be set to 0 (ours: refused; consecutiveFailures(1) opens on the first failure)", () => {
    // opossum accepts errorThresholdPercentage: 0 (any failure opens); failureRatio needs a ratio in (0, 1]: docs/circuit-breaker.md, "Trip rules".
    expect(() => failureRatio(0, { windowMs: 10_000 })).toThrow(InvalidOptionError);
    const breaker = new CircuitBreaker({ clock: new ManualClock(), trip: consecutiveFailures(1) });
    breaker.recordFailure("x");
    expect(breaker.state).toBe("open");
  });

  it("Numeric options reject NaN", () => {
    expect(() => timeout(NaN)).toThrow(InvalidOptionError);
    expect(() => new CircuitBreaker({ recovery: NaN })).toThrow(InvalidOptionError);
    expect(() => failureRatio(NaN, { windowMs: 10_000 })).toThrow(InvalidOptionError);
    expect(() => failureRatio(0.5, { windowMs: NaN })).toThrow(InvalidOptionError);
    expect(() => failureRatio(0.5, { windowMs: 10_000, buckets: NaN })).toThrow(InvalidOptionError);
  });

  it("Numeric options reject Infinity", () => {
    expect(() => timeout(Infinity)).toThrow(InvalidOptionError);
    expect(() => new CircuitBreaker({ recovery: Infinity })).toThrow(InvalidOptionError);
    expect(() => failureRatio(Infinity, { windowMs: 10_000 })).toThrow(InvalidOptionError);
    expect(() => failureRatio(0.5, { windowMs: Infinity })).toThrow(InvalidOptionError);
    expect(() => failureRatio(0.5, { windowMs: 10_000, buckets: Infinity })).toThrow(InvalidOptionError);
  });

  it("Numeric options reject non-numeric types", () => {
    expect(() => timeout("1000" as unknown as number)).toThrow(InvalidOptionError);
    expect(() => new CircuitBreaker({ recovery: {} as unknown as number })).toThrow(InvalidOptionError);
  });
});
