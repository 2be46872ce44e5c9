/**
 * More cases from cockatiel (connor4312/cockatiel), beyond cockatiel-breaker/-policies/-backoff:
 * src/Policy.test.ts (wrap, error and result filters, the context), the half-open backoff cases
 * of src/CircuitBreakerPolicy.test.ts, the events of src/TimeoutPolicy.test.ts,
 * src/common/Event.test.ts (listeners, dispose, once), the windowing case of
 * src/breaker/SamplingBreaker.test.ts, and follow-ups on retry cancellation, bulkhead refusals
 * and listeners.
 *
 * API mapping: `wrap(a, b, c)` => `pipeline(a, b, c)` (outermost first; `.wrapped` =>
 * `.policies`); `retry(handleType(A).orWhen(p), { maxAttempts: n })` =>
 * `new RetryPolicy({ retryOn: (e) => e instanceof A || p(e), maxAttempts: n + 1 })` (cockatiel
 * counts retries); `handleResultType(...).orWhenResult(...)` => `retryOnResult`;
 * `circuitBreaker(h, { halfOpenAfter, breaker: new ConsecutiveBreaker(n) })` =>
 * `new CircuitBreaker({ recovery, trip: consecutiveFailures(n) })`; `onBreak` / `onHalfOpen` /
 * `onReset` => `stateChange` to open / half-open / closed; `TimeoutStrategy.Cooperative` /
 * `Aggressive` => `timeout(ms, { mode })`, `onTimeout` => `on("timeout")`; cockatiel's
 * `EventEmitter` and `addListener(...).dispose()` => `Emitter` and the function `on` returns;
 * `SamplingBreaker({ threshold, duration, minimumRps })` => `failureRatio(threshold, { windowMs,
 * minimumCalls })`.
 * Each case keeps the peer's assertion, translated, except where Breakwater deliberately
 * differs: there the case asserts Breakwater's documented behaviour, and a comment names what
 * cockatiel asserts and where our docs state the difference.
 */
import { describe, expect, it } from "vitest";
import {
  type Backoff,
  BulkheadRejectedError,
  CircuitBreaker,
  CircuitOpenError,
  Emitter,
  ManualClock,
  RetryPolicy,
  TimeoutError,
  bulkhead,
  constant,
  consecutiveFailures,
  failureRatio,
  fallback,
  pipeline,
  timeout,
  type StateChangeEvent,
} from "../../src/index.js";
import { counter, deferred, drive } from "./helpers.js";

class MyError1 extends Error {}
class MyError2 extends Error {}
class MyError3 extends Error {}
class MyException extends Error {}

/** cockatiel's IterableBackoff([...]) as a user-made Backoff; `seen` collects the attempts asked for. */
function iterable(durations: number[], seen: number[] = []): Backoff {
  return {
    spec: { kind: "constant", delayMs: 0, jitter: "none" },
    delay: (attempt: number) => {
      seen.push(attempt);
      return durations[Math.min(attempt, durations.length) - 1] as number;
    },
    phase: () => "fixed",
  };
}

describe("cockatiel Policy.test.ts (wrap, filters, context)", () => {
  it("wraps: the retry retries, the breaker opens, the open circuit is not retried", async () => {
    const clock = new ManualClock();
    const s = counter((): never => {
      throw new MyError1();
    });
    const policy = pipeline(
      new RetryPolicy({ retryOn: [MyError1], maxAttempts: 4, backoff: constant(0), clock }),
      new CircuitBreaker({ clock, trip: consecutiveFailures(2), recovery: 100 }),
    );
    await expect(drive(clock, policy.execute(s.fn))).rejects.toBeInstanceOf(CircuitOpenError);
    expect(s.calls()).toBe(2);
  });

  it("wraps and keeps correct types: policies in order, the innermost signal and the attempt reach fn", async () => {
    // cockatiel asserts context.attempt is 0 on the first try; ours is 1: docs/retry.md, the first paragraph.
    const clock = new ManualClock();
    const policies = [
      new RetryPolicy({ maxAttempts: 3, clock }),
      new CircuitBreaker({ clock, trip: consecutiveFailures(2), recovery: 100 }),
      fallback("foo"),
      timeout(1000, { mode: "aggressive", clock }),
    ] as const;
    const policy = pipeline(...policies);
    expect(policy.policies).toEqual(policies);
    const seen: Array<{ signal: unknown; attempt: number }> = [];
    const result: number | string = await policy.execute((context) => {
      seen.push({ signal: context.signal, attempt: context.attempt });
      return 1234;
    });
    expect(result).toBe(1234);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.signal).toBeInstanceOf(AbortSignal);
    expect(seen[0]?.attempt).toBe(1);
  });

  it("noop: a pipeline of no policy runs fn with the caller's signal and attempt 1", async () => {
    const ac = new AbortController();
    const seen: unknown[] = [];
    expect(
      await pipeline().execute(
        ({ signal, attempt }) => {
          seen.push(signal, attempt);
          return 42;
        },
        { signal: ac.signal },
      ),
    ).toBe(42);
    expect(seen).toEqual([ac.signal, 1]);
  });

  it("a breaker, a bulkhead and a fallback given the caller's signal hand fn that signal and attempt 1 (follow-up)", async () => {
    const ac = new AbortController();
    const seen: unknown[] = [];
    const fn = ({ signal, attempt }: { signal: AbortSignal | undefined; attempt: number }): number => {
      seen.push([signal === ac.signal, attempt]);
      return 1;
    };
    await new CircuitBreaker({ clock: new ManualClock() }).execute(fn, { signal: ac.signal });
    await bulkhead({ maxConcurrent: 1 }).execute(fn, { signal: ac.signal });
    await fallback(0).execute(fn, { signal: ac.signal });
    expect(seen).toEqual([
      [true, 1],
      [true, 1],
      [true, 1],
    ]);
  });

  it("applies error filters (classes, a class with a condition, a predicate)", async () => {
    const clock = new ManualClock();
    const errors = [new MyError1(), new MyError2(), new MyError3("foo"), new Error("potato"), new MyError3("bar")];
    const s = counter((n): never => {
      throw errors[n - 1];
    });
    const retryOn = (e: unknown): boolean =>
      e instanceof MyError1 ||
      e instanceof MyError2 ||
      (e instanceof MyError3 && e.message === "foo") ||
      (e instanceof Error && e.message === "potato");
    const err = await drive(clock, new RetryPolicy({ retryOn, maxAttempts: 11, backoff: constant(0), clock }).execute(s.fn)).catch(
      (e: unknown) => e,
    );
    expect(err).toBe(errors[4]);
    expect(s.calls()).toBe(5);
  });

  it("applies result filters (result types, a result type with a condition, a predicate)", async () => {
    const clock = new ManualClock();
    const results: unknown[] = [new MyError1(), new MyError2(), new MyError3("foo"), "potato", "ok!"];
    const s = counter((n) => results[n - 1]);
    const retryOnResult = (r: unknown): boolean =>
      r instanceof MyError1 || r instanceof MyError2 || (r instanceof MyError3 && r.message === "foo") || r === "potato";
    expect(await drive(clock, new RetryPolicy({ retryOnResult, maxAttempts: 11, backoff: constant(0), clock }).execute(s.fn))).toBe("ok!");
    expect(s.calls()).toBe(5);
  });

  it("applies use: fn sees the attempt number (1, 2, 3 where cockatiel's is 0, 1, 2)", async () => {
    // cockatiel's context.attempt counts from 0; ours from 1: docs/retry.md, the first paragraph.
    const clock = new ManualClock();
    const double = (n: number, attempt: number): { n: number; attempt: number } => {
      if (attempt < 3) throw new Error("failed");
      return { n: n * 2, attempt };
    };
    const policy = new RetryPolicy({ maxAttempts: 6, backoff: constant(0), clock });
    expect(
      await drive(
        clock,
        policy.execute(({ attempt }) => double(2, attempt)),
      ),
    ).toEqual({ n: 4, attempt: 3 });
  });
});

describe("cockatiel RetryPolicy: backoff with signals (follow-ups)", () => {
  it("a caller's signal aborted during the backoff wait rejects at once with its reason, no timer left", async () => {
    const clock = new ManualClock();
    const parent = new AbortController();
    const s = counter((): never => {
      throw new MyErrorForRetry();
    });
    const result = new RetryPolicy({ maxAttempts: 4, backoff: constant(1000), clock }).execute(s.fn, { signal: parent.signal });
    result.catch(() => {});
    await clock.advanceAsync(10);
    expect(clock.pendingSleeps).toBe(1);
    parent.abort(new Error("cancelled"));
    await expect(result).rejects.toThrow("cancelled");
    expect(s.calls()).toBe(1);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("each attempt under pipeline(retry, timeout) gets a fresh signal: a timed-out attempt is retried", async () => {
    const clock = new ManualClock();
    const signals: Array<AbortSignal | undefined> = [];
    const policy = pipeline(new RetryPolicy({ maxAttempts: 2, backoff: constant(0), clock }), timeout(10, { mode: "aggressive", clock }));
    const result = policy.execute(({ signal, attempt }) => {
      signals.push(signal);
      return attempt === 1 ? new Promise<string>(() => {}) : "second";
    });
    expect(await drive(clock, result)).toBe("second");
    expect(signals).toHaveLength(2);
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[0]?.reason).toBeInstanceOf(TimeoutError);
    expect(signals[1]?.aborted).toBe(false);
  });
});

class MyErrorForRetry extends Error {}

describe("cockatiel CircuitBreakerPolicy.test.ts: the half-open backoff", () => {
  it("uses the given backoff to decide when to enter the half-open state", async () => {
    const clock = new ManualClock();
    const changes: StateChangeEvent[] = [];
    const p = new CircuitBreaker({
      clock,
      failOn: [MyException],
      trip: consecutiveFailures(2),
      recovery: iterable([1000, 2000]),
      onStateChange: (e) => changes.push(e),
    });
    // Async, as cockatiel's stub runs after execute() returns: a synchronous throw would settle the trial before the state is read.
    const fail = (): Promise<never> => Promise.reject(new MyException());
    await expect(p.execute(fail)).rejects.toBeInstanceOf(MyException);
    await expect(p.execute(fail)).rejects.toBeInstanceOf(MyException);
    clock.advance(1000);
    const failedAttempt = p.execute(fail);
    expect(p.state).toBe("half-open");
    expect(changes.filter((c) => c.to === "half-open")).toHaveLength(1);
    await expect(failedAttempt).rejects.toBeInstanceOf(MyException);
    expect(p.state).toBe("open");
    clock.advance(1000);
    await expect(p.execute(fail)).rejects.toBeInstanceOf(CircuitOpenError);
    clock.advance(1000);
    const result = p.execute(() => Promise.resolve(42));
    expect(p.state).toBe("half-open");
    expect(changes.filter((c) => c.to === "half-open")).toHaveLength(2);
    expect(await result).toBe(42);
    expect(p.state).toBe("closed");
    expect(changes.filter((c) => c.to === "closed")).toHaveLength(1);
  });

  it("resets the backoff when closing the circuit", async () => {
    const clock = new ManualClock();
    const attempts: number[] = [];
    const p = new CircuitBreaker({ clock, trip: consecutiveFailures(2), recovery: iterable([1, 2, 3], attempts) });
    const fail = (): Promise<never> => Promise.reject(new MyException());
    const openBreaker = async (): Promise<void> => {
      await p.execute(fail).catch(() => {});
      await p.execute(fail).catch(() => {});
    };
    await openBreaker();
    expect(attempts).toEqual([1]);
    expect(p.status().attempt).toBe(1);
    clock.advance(1);
    await expect(p.execute(fail)).rejects.toBeInstanceOf(MyException);
    expect(attempts).toEqual([1, 2]);
    expect(p.status().attempt).toBe(2);
    clock.advance(2);
    await p.execute(() => 42);
    expect(p.state).toBe("closed");
    expect(attempts).toEqual([1, 2]);
    await openBreaker();
    expect(attempts).toEqual([1, 2, 1]);
    expect(p.status().attempt).toBe(1);
    clock.advance(1);
    expect(await p.execute(() => 42)).toBe(42);
    expect(attempts).toEqual([1, 2, 1]);
  });
});

describe("cockatiel TimeoutPolicy.test.ts: events", () => {
  const both = (clock: ManualClock) => ({
    coop: timeout(2, { mode: "cooperative", clock }),
    agg: timeout(2, { mode: "aggressive", clock }),
  });

  it("a call that settles in time emits no timeout event (cooperative and aggressive)", async () => {
    const clock = new ManualClock();
    const { coop, agg } = both(clock);
    let timeouts = 0;
    coop.on("timeout", () => timeouts++);
    agg.on("timeout", () => timeouts++);
    expect(await coop.execute(() => 42)).toBe(42);
    expect(await agg.execute(async () => 42)).toBe(42);
    await clock.advanceAsync(3);
    expect(timeouts).toBe(0);
  });

  it("emits a timeout event (cooperative): the call rejects with TimeoutError", async () => {
    // cockatiel asserts the cooperative call still succeeds (onSuccess, the callee's value) after onTimeout; ours rejects: docs/timeout.md, the "cooperative" mode.
    const clock = new ManualClock();
    const { coop } = both(clock);
    const events: unknown[] = [];
    coop.on("timeout", (e) => events.push(e));
    const result = coop.execute(() => clock.sleep(3));
    result.catch(() => {});
    await clock.advanceAsync(3);
    await expect(result).rejects.toBeInstanceOf(TimeoutError);
    expect(events).toEqual([{ timeoutMs: 2, mode: "cooperative" }]);
  });

  it("a callee that throws emits no timeout event and its error comes through (cooperative and aggressive)", async () => {
    const clock = new ManualClock();
    const { coop, agg } = both(clock);
    let timeouts = 0;
    coop.on("timeout", () => timeouts++);
    agg.on("timeout", () => timeouts++);
    const boom = (): never => {
      throw new Error("oh no!");
    };
    await expect(coop.execute(boom)).rejects.toThrow("oh no!");
    await expect(agg.execute(async () => boom())).rejects.toThrow("oh no!");
    await clock.advanceAsync(3);
    expect(timeouts).toBe(0);
  });
});

describe("cockatiel Bulkhead: refusals (follow-ups)", () => {
  it("onReject: a refused call emits rejected with the slots in use", async () => {
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const events: unknown[] = [];
    b.on("rejected", (e) => events.push(e));
    const held = deferred();
    const first = b.execute(() => held.promise);
    const second = b.execute(() => "queued");
    const err = await b.execute(() => "refused").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulkheadRejectedError);
    expect(events).toEqual([{ running: 1, queued: 1 }]);
    held.resolve();
    await first;
    expect(await second).toBe("queued");
  });

  it("a queued call whose signal aborts frees its place in the queue", async () => {
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const held = deferred();
    const first = b.execute(() => held.promise);
    const ac = new AbortController();
    const queued = b.execute(() => "never", { signal: ac.signal });
    queued.catch(() => {});
    ac.abort();
    await expect(queued).rejects.toBe(ac.signal.reason);
    expect(b.queued).toBe(0);
    const next = b.execute(() => "next");
    held.resolve();
    await first;
    expect(await next).toBe("next");
    expect(b.running).toBe(0);
  });
});

describe("cockatiel FallbackPolicy: the caller's abort (follow-ups)", () => {
  it("the caller's abort is never replaced: rejected with the reason", async () => {
    const ac = new AbortController();
    const r = fallback("fb").execute(({ signal }) => new Promise((_, rej) => signal?.addEventListener("abort", () => rej(signal.reason))), {
      signal: ac.signal,
    });
    ac.abort();
    await expect(r).rejects.toBe(ac.signal.reason);
  });

  it("the caller's abort is never replaced, also when the callee rejects with its own AbortError (Node's APIs: the reason as cause)", async () => {
    const ac = new AbortController();
    const r = fallback("fb").execute(
      ({ signal }) =>
        new Promise((_, rej) =>
          signal?.addEventListener("abort", () => {
            const error = new Error("The operation was aborted", { cause: signal.reason });
            error.name = "AbortError";
            rej(error);
          }),
        ),
      { signal: ac.signal },
    );
    ac.abort();
    const err = await r.catch((e: unknown) => e);
    expect((err as Error).name).toBe("AbortError");
    expect((err as Error).cause).toBe(ac.signal.reason);
  });
});

describe("cockatiel common/Event.test.ts (Emitter)", () => {
  type Events = { n: number };

  it("emits events; a disposed listener hears no more", () => {
    const emitter = new Emitter<Events>();
    const s1: number[] = [];
    const s2: number[] = [];
    const s3: number[] = [];
    const l1 = emitter.on("n", (v) => s1.push(v));
    emitter.emit("n", 1);
    const l2 = emitter.on("n", (v) => s2.push(v));
    emitter.emit("n", 2);
    const l3 = emitter.on("n", (v) => s3.push(v));
    emitter.emit("n", 3);
    l1();
    emitter.emit("n", 4);
    l2();
    emitter.emit("n", 5);
    l3();
    emitter.emit("n", 6);
    expect(s1).toEqual([1, 2, 3]);
    expect(s2).toEqual([2, 3, 4]);
    expect(s3).toEqual([3, 4, 5]);
    expect(emitter.has("n")).toBe(false);
  });

  it("emits events once (a listener that unsubscribes itself)", () => {
    const emitter = new Emitter<Events>();
    const s: number[] = [];
    const other: number[] = [];
    const off = emitter.on("n", (v) => {
      off();
      s.push(v);
    });
    emitter.on("n", (v) => other.push(v));
    emitter.emit("n", 42);
    emitter.emit("n", 43);
    expect(s).toEqual([42]);
    expect(other).toEqual([42, 43]);
  });

  it("the same function subscribed twice: disposing one subscription keeps the other (follow-up)", () => {
    const emitter = new Emitter<Events>();
    const s: number[] = [];
    const listener = (v: number): void => {
      s.push(v);
    };
    const first = emitter.on("n", listener);
    emitter.on("n", listener);
    emitter.emit("n", 1);
    first();
    emitter.emit("n", 2);
    first();
    emitter.emit("n", 3);
    expect(s).toEqual([1, 1, 2, 3]);
  });

  it("a throwing listener is reported and does not stop the others (follow-up)", () => {
    const reported: Array<[unknown, string]> = [];
    const emitter = new Emitter<Events>((error, event) => reported.push([error, event]));
    const s: number[] = [];
    const boom = new Error("listener");
    emitter.on("n", () => {
      throw boom;
    });
    emitter.on("n", (v) => s.push(v));
    emitter.emit("n", 7);
    expect(s).toEqual([7]);
    expect(reported).toEqual([[boom, "n"]]);
  });
});

describe("cockatiel SamplingBreaker.test.ts: windowing", () => {
  it("increments and wraps buckets correctly: the last 5 one-second buckets count", () => {
    // cockatiel: threshold 0.5, 5 s in 5 buckets, minimumRps 3; each second i records i failures and 2i successes. Its rps floor keeps
    // it from judging the first failures; ours judges every outcome once minimumCalls are in, and a run F S S F is at 50%: ratio 0.6 here.
    const clock = new ManualClock();
    const b = new CircuitBreaker({ clock, trip: failureRatio(0.6, { windowMs: 5000, buckets: 5, minimumCalls: 4 }), recovery: 1000 });
    for (let i = 0; i < 7; i++) {
      for (let k = 0; k < i; k++) {
        b.recordFailure("x");
        b.recordSuccess();
        b.recordSuccess();
      }
      clock.advance(i === 6 ? 999 : 1000);
    }
    expect(b.state).toBe("closed");
    // cockatiel's windows after 7 s: failures 2 + 3 + 4 + 5 + 6 = 20 (successes 40). It reads them at 7 s without rolling; ours ages an
    // outcome's slot out when it is windowMs old, so the 2 recorded at 2 s count until 6.999 s: docs/circuit-breaker.md,
    // "Trip rules" (the far edge is exact to one slot).
    expect(b.status().failures).toBe(20);
    clock.advance(1);
    expect(b.status().failures).toBe(18);
  });
});
