/**
 * Ported from cockatiel src/CircuitBreakerPolicy.test.ts and src/breaker/ConsecutiveBreaker.test.ts,
 * CountBreaker.test.ts, SamplingBreaker.test.ts (connor4312/cockatiel), with follow-ups on the
 * half-open trial (an aborted or synchronously throwing trial) and on handleWhenResult.
 * Each case keeps the peer's assertion, translated to Breakwater's API, except where Breakwater
 * deliberately differs: there the case asserts Breakwater's documented behaviour, and a comment
 * names what cockatiel asserts and where our docs state the difference.
 */
import { beforeEach, describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  CircuitOpenError,
  ManualClock,
  MemoryStore,
  ReturnValuePolicyError,
  consecutiveFailures,
  failureRatio,
  failuresInWindow,
  type StateChangeEvent,
  type TripRule,
} from "../../src/index.js";
import { deferred, flush } from "./helpers.js";

class MyException extends Error {}

describe("cockatiel CircuitBreakerPolicy", () => {
  let clock: ManualClock;
  let p: CircuitBreaker;
  let changes: StateChangeEvent[];

  beforeEach(() => {
    clock = new ManualClock();
    changes = [];
    p = new CircuitBreaker({
      clock,
      store: new MemoryStore({ sweepIntervalMs: 0, clock }),
      failOn: [MyException],
      trip: consecutiveFailures(2),
      recovery: 1000,
      onStateChange: (e) => changes.push(e),
    });
  });

  const openBreaker = async (): Promise<void> => {
    const s = (): never => {
      throw new MyException();
    };
    await expect(p.execute(s)).rejects.toBeInstanceOf(MyException);
    await expect(p.execute(s)).rejects.toBeInstanceOf(MyException);
  };

  it("allows calls when closed", async () => {
    expect(await p.execute(() => 42)).toBe(42);
  });

  it("opens after failing calls", async () => {
    let calls = 0;
    const s = (): never => {
      calls++;
      throw new MyException();
    };
    await expect(p.execute(s)).rejects.toBeInstanceOf(MyException);
    expect(p.state).toBe("closed");
    expect(changes.filter((c) => c.to === "open")).toHaveLength(0);
    await expect(p.execute(s)).rejects.toBeInstanceOf(MyException);
    expect(p.state).toBe("open");
    await expect(p.execute(s)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(p.state).toBe("open");
    expect(p.lastFailure()).toBeDefined();
    expect(changes.filter((c) => c.to === "open")).toHaveLength(1);
    expect(calls).toBe(2);
  });

  it("errors not handled (failOn) do not open", async () => {
    for (let i = 0; i < 5; i++) await expect(p.execute(() => Promise.reject(new Error("other")))).rejects.toThrow("other");
    expect(p.state).toBe("closed");
  });

  it("closes if the half open test succeeds", async () => {
    await openBreaker();
    clock.advance(1000);
    const trial = deferred<number>();
    const result = p.execute(() => trial.promise);
    expect(p.state).toBe("half-open");
    expect(changes.filter((c) => c.to === "half-open")).toHaveLength(1);
    trial.resolve(42);
    expect(await result).toBe(42);
    expect(p.state).toBe("closed");
    expect(changes.filter((c) => c.to === "closed")).toHaveLength(1);
  });

  it("dedupes half-open tests (a second call is refused at once while the trial runs)", async () => {
    // cockatiel asserts the second call waits for the trial, then runs; we refuse it (retryAfterMs 0): docs/circuit-breaker.md, "Half-open".
    await openBreaker();
    clock.advance(1000);
    const trial = deferred();
    let bCalled = false;
    const ra = p.execute(async () => {
      await trial.promise;
      return 1;
    });
    const rb = p.execute(async () => {
      bCalled = true;
      return 2;
    });
    const refused = await rb.catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as CircuitOpenError).retryAfterMs).toBe(0);
    trial.resolve();
    expect(await ra).toBe(1);
    expect(bCalled).toBe(false);
    expect(p.state).toBe("closed");
    expect(await p.execute(() => 2)).toBe(2);
  });

  it("stops deduped half-open tests if the circuit reopens", async () => {
    await openBreaker();
    clock.advance(1000);
    const trial = deferred();
    const ra = p.execute(async () => {
      await trial.promise;
      throw new MyException();
    });
    let bCalled = false;
    const rb = p.execute(async () => {
      bCalled = true;
    });
    rb.catch(() => {});
    await flush();
    trial.resolve();
    await expect(ra).rejects.toBeInstanceOf(MyException);
    await expect(rb).rejects.toBeInstanceOf(CircuitOpenError);
    expect(bCalled).toBe(false);
  });

  it("re-opens if the half open fails", async () => {
    await openBreaker();
    clock.advance(1000);
    await expect(p.execute(() => Promise.reject(new MyException()))).rejects.toBeInstanceOf(MyException);
    expect(p.state).toBe("open");
  });

  it("re-opens if the half open trial throws synchronously (follow-up)", async () => {
    await openBreaker();
    clock.advance(1000);
    await expect(
      p.execute(() => {
        throw new MyException("sync");
      }),
    ).rejects.toThrow("sync");
    expect(p.state).toBe("open");
  });

  it("a half-open trial aborted by its caller frees the trial: the next call probes (follow-up)", async () => {
    await openBreaker();
    clock.advance(1000);
    const ac = new AbortController();
    const trial = p.execute(({ signal }) => new Promise((_, rej) => signal?.addEventListener("abort", () => rej(signal.reason))), {
      signal: ac.signal,
    });
    await expect(p.execute(() => 1)).rejects.toBeInstanceOf(CircuitOpenError);
    ac.abort();
    await expect(trial).rejects.toBe(ac.signal.reason);
    expect(await p.execute(() => 2)).toBe(2);
    expect(p.state).toBe("closed");
  });

  it("handles isolation correctly (reference-counted handles)", async () => {
    const handle1 = p.isolate();
    expect(changes.filter((c) => c.to === "open")).toHaveLength(1);
    const handle2 = p.isolate();
    expect(changes).toHaveLength(1);
    await expect(p.execute(() => 42)).rejects.toBeInstanceOf(CircuitOpenError);
    handle1.dispose();
    // still isolated while handle2 is held
    await expect(p.execute(() => 42)).rejects.toBeInstanceOf(CircuitOpenError);
    handle2.dispose();
    expect(p.state).toBe("closed");
    expect(await p.execute(() => 42)).toBe(42);
  });

  it("links parent cancellation token", async () => {
    const parent = new AbortController();
    const b = new CircuitBreaker({ clock, trip: consecutiveFailures(3), recovery: 1000 });
    const seen: Array<boolean | undefined> = [];
    await b.execute(
      ({ signal }) => {
        seen.push(signal?.aborted);
        parent.abort();
        seen.push(signal?.aborted);
      },
      { signal: parent.signal },
    );
    expect(seen).toEqual([false, true]);
  });

  it("aborts function execution if the caller's signal is already aborted (queued behind half-open trial)", async () => {
    await openBreaker();
    clock.advance(1000);
    const trial = deferred<number>();
    const running = p.execute(() => trial.promise);
    const ac = new AbortController();
    ac.abort();
    let called = false;
    await expect(
      p.execute(
        () => {
          called = true;
        },
        { signal: ac.signal },
      ),
    ).rejects.toBeDefined();
    expect(called).toBe(false);
    trial.resolve(42);
    expect(await running).toBe(42);
    expect(p.state).toBe("closed");
  });
});

describe("cockatiel ConsecutiveBreaker", () => {
  it("works", async () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker({ clock, trip: consecutiveFailures(3), recovery: 1000 });
    b.recordFailure("x");
    b.recordFailure("x");
    expect(b.state).toBe("closed");
    b.recordFailure("x");
    expect(b.state).toBe("open");
    b.reset();
    b.recordFailure("x");
    b.recordFailure("x");
    b.recordSuccess();
    b.recordFailure("x");
    b.recordFailure("x");
    expect(b.state).toBe("closed");
    b.recordFailure("x");
    expect(b.state).toBe("open");
  });
});

/** Opens a breaker with `failures` failures, lets a probe close it, and checks that one failure after that does not reopen it. */
async function resetsWhenRecovering(trip: TripRule, failures: number): Promise<void> {
  const clock = new ManualClock();
  const b = new CircuitBreaker({ clock, trip, recovery: 1000 });
  for (let i = 0; i < failures; i++) b.recordFailure("x");
  expect(b.state).toBe("open");
  clock.advance(1000);
  await b.execute(() => 1);
  expect(b.state).toBe("closed");
  b.recordFailure("x");
  expect(b.state).toBe("closed");
}

describe("cockatiel CountBreaker (failureRatio over calls)", () => {
  const mk = () =>
    new CircuitBreaker({ clock: new ManualClock(), trip: failureRatio(0.5, { windowCalls: 100, minimumCalls: 50 }), recovery: 1000 });

  it("rejects if threshold is out of range", () => {
    for (const t of [-1, 0, 10]) expect(() => failureRatio(t, { windowCalls: 100 })).toThrow();
  });

  it("rejects if size is invalid", () => {
    for (const s of [-1, 0, 0.5]) expect(() => failureRatio(0.5, { windowCalls: s })).toThrow();
  });

  it("rejects if minimumNumberOfCalls is invalid", () => {
    for (const m of [-1, 0, 0.5, 101]) expect(() => failureRatio(0.5, { windowCalls: 100, minimumCalls: m })).toThrow();
  });

  it("does not open as long as the minimum number of calls has not been reached", () => {
    const b = mk();
    for (let i = 0; i < 49; i++) b.recordFailure("x");
    expect(b.state).toBe("closed");
  });

  it("opens at the minimum number of calls when the failures reach the threshold exactly", () => {
    // cockatiel asserts 25 of 50 (= 0.5) stays closed (it opens above the threshold); we open at it: docs/circuit-breaker.md, "Trip rules: when to open".
    const b = mk();
    for (let i = 0; i < 25; i++) b.recordSuccess();
    for (let i = 0; i < 24; i++) b.recordFailure("x");
    expect(b.state).toBe("closed");
    b.recordFailure("x");
    expect(b.state).toBe("open");
  });

  it("opens when the minimum number of calls has been reached and threshold has been surpassed", () => {
    const b = mk();
    for (let i = 0; i < 24; i++) b.recordSuccess();
    for (let i = 0; i < 25; i++) b.recordFailure("x");
    expect(b.state).toBe("closed");
    b.recordFailure("x");
    expect(b.state).toBe("open");
  });

  it("correctly wraps around when reaching the end of the window", () => {
    // size 5: F S S F S S F S S -> the last 5 are S F S S ... 1 of 5 failed: stays closed
    const b = new CircuitBreaker({ clock: new ManualClock(), trip: failureRatio(0.5, { windowCalls: 5 }), recovery: 1000 });
    for (let i = 0; i < 9; i++) {
      if (i % 3 === 0) b.recordFailure("x");
      else b.recordSuccess();
    }
    expect(b.state).toBe("closed");
  });

  it("resets when recovering from a half-open", () => resetsWhenRecovering(failureRatio(0.5, { windowCalls: 100, minimumCalls: 50 }), 100));
});

describe("cockatiel SamplingBreaker (failureRatio over time)", () => {
  it("does not start failing if below the minimum calls", () => {
    const clock = new ManualClock();
    // cockatiel: threshold 0.5, 5 s, minimumRps 3 => 15 calls in the window
    const b = new CircuitBreaker({ clock, trip: failureRatio(0.5, { windowMs: 5000, minimumCalls: 15 }), recovery: 1000 });
    for (let i = 0; i < 10; i++) {
      b.recordFailure("x");
      expect(b.state).toBe("closed");
      clock.advance(500);
    }
  });

  it("fails once above the minimum", () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker({ clock, trip: failureRatio(0.5, { windowMs: 5000, minimumCalls: 15 }), recovery: 1000 });
    for (let i = 0; i < 14; i++) {
      clock.advance(334);
      b.recordFailure("x");
      expect(b.state).toBe("closed");
    }
    clock.advance(334);
    b.recordFailure("x");
    b.recordFailure("x");
    expect(b.state).toBe("open");
  });

  it("resets when recovering from a half-open", () => resetsWhenRecovering(failureRatio(0.5, { windowMs: 5000, minimumCalls: 5 }), 10));

  it("failuresInWindow counts failures in the window only", () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker({ clock, trip: failuresInWindow(3, 1000), recovery: 1000 });
    b.recordFailure("x");
    b.recordFailure("x");
    clock.advance(1001);
    b.recordFailure("x");
    expect(b.state).toBe("closed");
    b.recordFailure("x");
    b.recordFailure("x");
    expect(b.state).toBe("open");
  });
});

describe("cockatiel handleWhenResult on a breaker (failOnResult)", () => {
  it("a returned value that matches counts as a failure and opens", async () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker({
      clock,
      trip: failureRatio(0.5, { windowCalls: 2 }),
      recovery: 1000,
      failOnResult: (v: unknown) => v === "bad",
    });
    await expect(b.execute(() => "bad")).rejects.toBeInstanceOf(ReturnValuePolicyError);
    expect(b.state).toBe("closed");
    await expect(b.execute(() => "bad")).rejects.toBeInstanceOf(ReturnValuePolicyError);
    expect(b.state).toBe("open");
  });
});
