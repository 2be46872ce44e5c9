/**
 * Ported from cockatiel src/RetryPolicy.test.ts, src/TimeoutPolicy.test.ts,
 * src/BulkheadPolicy.test.ts, src/FallbackPolicy.test.ts (connor4312/cockatiel).
 * Each case keeps the peer's assertion, translated to Breakwater's API, except where Breakwater
 * deliberately differs: there the case asserts Breakwater's documented behaviour, and a comment
 * names what cockatiel asserts and where our docs state the difference.
 */
import { describe, expect, it } from "vitest";
import {
  type Backoff,
  BulkheadRejectedError,
  ManualClock,
  RetryError,
  RetryPolicy,
  ReturnValuePolicyError,
  TimeoutError,
  bulkhead,
  exponential,
  fallback,
  timeout,
} from "../../src/index.js";
import { counter, deferred, drive } from "./helpers.js";

class MyErrorA extends Error {
  constructor() {
    super("Error A");
  }
}
class MyErrorB extends Error {
  constructor() {
    super("Error B");
  }
}

/** cockatiel's IterableBackoff([...]) as a user-made Backoff. */
function iterable(durations: number[]): Backoff {
  return {
    spec: { kind: "constant", delayMs: 0, jitter: "none" },
    delay: (attempt: number) => durations[Math.min(attempt, durations.length) - 1] as number,
    phase: () => "fixed",
  };
}

/** Fails every time with a fresh MyErrorB. */
const alwaysB = (): never => {
  throw new MyErrorB();
};

describe("cockatiel RetryPolicy", () => {
  // cockatiel's maxAttempts counts RETRIES (maxAttempts: n => n + 1 calls); ours counts attempts in all.
  it("sets the retry delay (user-made iterable backoff)", async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    const s = counter(() => {
      throw new MyErrorA();
    });
    const p = new RetryPolicy({ maxAttempts: 2, backoff: iterable([50]), clock, onRetry: ({ delayMs }) => delays.push(delayMs) });
    await expect(drive(clock, p.execute(s.fn))).rejects.toBeInstanceOf(RetryError);
    expect(delays).toEqual([50]);
    expect(s.calls()).toBe(2);
  });

  it("sets the retry sequence", async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    const s = counter(() => {
      throw new MyErrorA();
    });
    const p = new RetryPolicy({ maxAttempts: 4, backoff: iterable([10, 20, 20]), clock, onRetry: ({ delayMs }) => delays.push(delayMs) });
    await expect(drive(clock, p.execute(s.fn))).rejects.toBeInstanceOf(RetryError);
    expect(delays).toEqual([10, 20, 20]);
    expect(s.calls()).toBe(4);
  });

  it("retries all errors", async () => {
    const clock = new ManualClock();
    const s = counter((n) => {
      if (n === 1) throw new MyErrorA();
      return "ok";
    });
    expect(await drive(clock, new RetryPolicy({ clock, random: () => 0.5 }).execute(s.fn))).toBe("ok");
    expect(s.calls()).toBe(2);
  });

  it("filters error types", async () => {
    const clock = new ManualClock();
    const s = counter((n) => {
      throw n === 1 ? new MyErrorA() : new MyErrorB();
    });
    const p = new RetryPolicy({ retryOn: [MyErrorA], maxAttempts: 6, clock, random: () => 0.5 });
    await expect(drive(clock, p.execute(s.fn))).rejects.toBeInstanceOf(MyErrorB);
    expect(s.calls()).toBe(2);
  });

  it("filters returns", async () => {
    const clock = new ManualClock();
    const s = counter((n) => n);
    const p = new RetryPolicy({ retryOnResult: (r: unknown) => typeof r === "number" && r < 2, maxAttempts: 6, clock, random: () => 0.5 });
    expect(await drive(clock, p.execute(s.fn))).toBe(2);
    expect(s.calls()).toBe(2);
  });

  it("permits specifying exponential backoffs", async () => {
    const clock = new ManualClock();
    const s = counter(() => 1);
    const delays: number[] = [];
    const p = new RetryPolicy({
      retryOnResult: (r: unknown) => typeof r === "number",
      backoff: exponential({ jitter: "none" }),
      maxAttempts: 3,
      clock,
      onRetry: ({ delayMs }) => delays.push(delayMs),
    });
    await drive(clock, p.execute(s.fn)).catch(() => {});
    expect(delays).toEqual([100, 200]);
    expect(s.calls()).toBe(3);
  });

  it("bubbles returns when retry attempts exceeded (as a RetryError carrying the value)", async () => {
    // cockatiel asserts the last result is returned; we reject with RetryError, its cause a ReturnValuePolicyError with the value: docs/retry.md, below the options table.
    const clock = new ManualClock();
    const s = counter(() => 1);
    const p = new RetryPolicy({ retryOnResult: (r: unknown) => typeof r === "number" && r < 2, maxAttempts: 6, clock, random: () => 0.5 });
    const err = await drive(clock, p.execute(s.fn)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryError);
    expect((err as RetryError).cause).toBeInstanceOf(ReturnValuePolicyError);
    expect(((err as RetryError).cause as ReturnValuePolicyError).value).toBe(1);
    expect(s.calls()).toBe(6);
  });

  it("bubbles errors when retry attempts exceeded (as a RetryError whose cause is the last error)", async () => {
    // cockatiel asserts the last error itself is rethrown; we reject with RetryError (attempts, errors, cause): docs/retry.md, below the options table.
    const clock = new ManualClock();
    const s = counter(alwaysB);
    const err = await drive(clock, new RetryPolicy({ maxAttempts: 6, clock, random: () => 0.5 }).execute(s.fn)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryError);
    expect((err as RetryError).cause).toBeInstanceOf(MyErrorB);
    expect((err as RetryError).attempts).toBe(6);
    expect((err as RetryError).errors).toHaveLength(6);
    expect(s.calls()).toBe(6);
  });

  it("stops retries if cancellation is requested (rejects with the signal's reason)", async () => {
    // cockatiel asserts the call rejects with the attempt's own error; we reject with the signal's reason: docs/retry.md, below the options table.
    const parent = new AbortController();
    const clock = new ManualClock();
    const seen: Array<boolean | undefined> = [];
    const s = counter((): never => {
      throw new Error("attempt error");
    });
    const result = new RetryPolicy({ maxAttempts: 4, clock }).execute(
      ({ signal }) => {
        seen.push(signal?.aborted);
        parent.abort();
        seen.push(signal?.aborted);
        return s.fn();
      },
      { signal: parent.signal },
    );
    await expect(result).rejects.toBe(parent.signal.reason);
    expect(seen).toEqual([false, true]);
    expect(s.calls()).toBe(1);
  });

  it("fires onGiveUp", async () => {
    const clock = new ManualClock();
    const err = new MyErrorA();
    const p = new RetryPolicy({ retryOn: [MyErrorA], maxAttempts: 6, clock, random: () => 0.5 });
    const giveUps: Array<{ error: unknown }> = [];
    p.on("giveUp", (e) => giveUps.push(e));
    await drive(
      clock,
      p.execute(() => {
        throw err;
      }),
    ).catch(() => {});
    expect(giveUps).toHaveLength(1);
    expect((giveUps[0]?.error as RetryError).cause).toBe(err);
  });

  it("provides the attempt to the onRetry callback", async () => {
    const clock = new ManualClock();
    const attempts: number[] = [];
    const p = new RetryPolicy({ maxAttempts: 4, clock, random: () => 0.5 });
    p.on("retry", ({ attempt }) => attempts.push(attempt));
    await drive(
      clock,
      p.execute(() => {
        throw new MyErrorA();
      }),
    ).catch(() => {});
    expect(attempts).toEqual([1, 2, 3]);
  });
});

describe("cockatiel TimeoutPolicy", () => {
  it("works when no timeout happens", async () => {
    expect(await timeout(1000, { clock: new ManualClock() }).execute(() => 42)).toBe(42);
  });

  it("properly cooperatively cancels (the signal aborts; the call rejects with TimeoutError)", async () => {
    // cockatiel asserts the callee's value (42) is returned after its signal aborted; we reject with TimeoutError whatever it returned: docs/timeout.md, the "cooperative" mode.
    const clock = new ManualClock();
    const policy = timeout(2, { clock });
    const seen: Array<boolean | undefined> = [];
    const result = policy.execute(async ({ signal }) => {
      seen.push(signal?.aborted);
      await clock.sleep(3);
      seen.push(signal?.aborted);
      return 42;
    });
    result.catch(() => {});
    await clock.advanceAsync(3);
    await expect(result).rejects.toBeInstanceOf(TimeoutError);
    expect(seen).toEqual([false, true]);
  });

  it("properly aggressively cancels", async () => {
    const clock = new ManualClock();
    const policy = timeout(5, { mode: "aggressive", clock });
    const seen: Array<boolean | undefined> = [];
    const callee = deferred();
    const result = policy.execute(async ({ signal }) => {
      await Promise.resolve();
      seen.push(signal?.aborted);
      await clock.sleep(5);
      seen.push(signal?.aborted);
      callee.resolve();
    });
    result.catch(() => {});
    await clock.advanceAsync(5);
    await expect(result).rejects.toBeInstanceOf(TimeoutError);
    await callee.promise;
    expect(seen).toEqual([false, true]);
  });

  it("links parent cancellation token", async () => {
    const parent = new AbortController();
    const seen: Array<boolean | undefined> = [];
    const r = timeout(1000, { clock: new ManualClock() }).execute(
      ({ signal }) => {
        seen.push(signal?.aborted);
        parent.abort();
        seen.push(signal?.aborted);
      },
      { signal: parent.signal },
    );
    await expect(r).rejects.toBe(parent.signal.reason);
    expect(seen).toEqual([false, true]);
  });

  it("still has own timeout if given parent", async () => {
    const clock = new ManualClock();
    const parent = new AbortController();
    const seen: Array<boolean | undefined> = [];
    const r = timeout(1, { clock, graceMs: 10 }).execute(
      async ({ signal }) => {
        seen.push(signal?.aborted);
        await clock.sleep(3);
        seen.push(signal?.aborted);
      },
      { signal: parent.signal },
    );
    r.catch(() => {});
    await clock.advanceAsync(3);
    await expect(r).rejects.toBeInstanceOf(TimeoutError);
    expect(seen).toEqual([false, true]);
    expect(parent.signal.aborted).toBe(false);
  });

  it("does not abort the signal on return", async () => {
    // cockatiel asserts the signal is aborted once the call returns (abortOnReturn, on by default); ours stays unaborted: docs/timeout.md, below the modes.
    let signal: AbortSignal | undefined;
    expect(
      await timeout(1000, { clock: new ManualClock() }).execute(async (ctx) => {
        signal = ctx.signal;
        return 1;
      }),
    ).toBe(1);
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(signal?.aborted).toBe(false);
  });

  it("emits a timeout event (aggressive)", async () => {
    const clock = new ManualClock();
    const agg = timeout(2, { mode: "aggressive", clock });
    let timeouts = 0;
    agg.on("timeout", () => timeouts++);
    const r = agg.execute(() => clock.sleep(3));
    r.catch(() => {});
    await clock.advanceAsync(3);
    await expect(r).rejects.toBeInstanceOf(TimeoutError);
    expect(timeouts).toBe(1);
  });
});

describe("cockatiel Bulkhead", () => {
  const makeFns = (clock: ManualClock, order: string[], count: number) =>
    Array.from({ length: count }, (_, index) => async () => {
      order.push(`${index}: enter`);
      await clock.sleep(index * 2);
      order.push(`${index}: exit`);
      return index;
    });

  it("rejects calls after limit is hit", async () => {
    const clock = new ManualClock();
    const order: string[] = [];
    const b = bulkhead({ maxConcurrent: 2 });
    const output = makeFns(clock, order, 3).map((fn) => b.execute(fn));
    output[2]?.catch(() => {});
    await clock.advanceAsync(10);
    expect(await output[0]).toBe(0);
    expect(await output[1]).toBe(1);
    await expect(output[2]).rejects.toBeInstanceOf(BulkheadRejectedError);
    expect(order).toEqual(["0: enter", "1: enter", "0: exit", "1: exit"]);
  });

  it("queues requests, and rejects after queue limit", async () => {
    const clock = new ManualClock();
    const order: string[] = [];
    const b = bulkhead({ maxConcurrent: 2, maxQueue: 2 });
    const output = makeFns(clock, order, 5).map((fn) => b.execute(fn));
    output[4]?.catch(() => {});
    await clock.advanceAsync(20);
    expect(await Promise.all(output.slice(0, 4))).toEqual([0, 1, 2, 3]);
    await expect(output[4]).rejects.toBeInstanceOf(BulkheadRejectedError);
    expect(order).toEqual(["0: enter", "1: enter", "0: exit", "2: enter", "1: exit", "3: enter", "2: exit", "3: exit"]);
  });

  it("maintains proper state", async () => {
    const b = bulkhead({ maxConcurrent: 2, maxQueue: 2 });
    const defs = [0, 1, 2, 3].map(() => deferred());
    const slots = () => ({ exec: b.maxConcurrent - b.running, queue: b.maxQueue - b.queued });
    const run = (i: number) => b.execute(() => defs[i]?.promise);
    expect(slots()).toEqual({ exec: 2, queue: 2 });
    const out1 = run(0);
    expect(slots()).toEqual({ exec: 1, queue: 2 });
    const out2 = run(1);
    expect(slots()).toEqual({ exec: 0, queue: 2 });
    const out3 = run(2);
    expect(slots()).toEqual({ exec: 0, queue: 1 });
    const out4 = run(3);
    expect(slots()).toEqual({ exec: 0, queue: 0 });
    defs[0]?.resolve();
    await out1;
    expect(slots()).toEqual({ exec: 0, queue: 1 });
    defs[1]?.resolve();
    await out2;
    expect(slots()).toEqual({ exec: 0, queue: 2 });
    defs[2]?.resolve();
    await out3;
    expect(slots()).toEqual({ exec: 1, queue: 2 });
    defs[3]?.resolve();
    await out4;
    expect(slots()).toEqual({ exec: 2, queue: 2 });
  });

  it("links parent abort signal; initially-aborted and aborted-while-queued calls never run", async () => {
    const clock = new ManualClock();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 1_000_000 });
    const todo: Promise<unknown>[] = [];
    const seen: Array<boolean | undefined> = [];
    for (let i = 0; i < 3; i++) {
      const parent = new AbortController();
      todo.push(
        b.execute(
          async ({ signal }) => {
            await clock.sleep(1);
            seen.push(signal?.aborted);
            parent.abort();
            seen.push(signal?.aborted);
          },
          { signal: parent.signal },
        ),
      );
    }
    const aborted = new AbortController();
    aborted.abort();
    let called = 0;
    const r1 = b.execute(
      () => {
        called++;
      },
      { signal: aborted.signal },
    );
    r1.catch(() => {});
    const later = new AbortController();
    const r2 = b.execute(
      () => {
        called++;
      },
      { signal: later.signal },
    );
    r2.catch(() => {});
    await clock.advanceAsync(1);
    later.abort();
    await clock.advanceAsync(5);
    await Promise.all(todo);
    await expect(r1).rejects.toBe(aborted.signal.reason);
    await expect(r2).rejects.toBe(later.signal.reason);
    expect(called).toBe(0);
    expect(seen).toEqual([false, true, false, true, false, true]);
  });
});

describe("cockatiel FallbackPolicy", () => {
  it("does not fall back when not necessary", async () => {
    expect(await fallback("error").execute(() => "ok")).toBe("ok");
  });

  it("returns a fallback and emits an event if necessary", async () => {
    const policy = fallback("error");
    const seen: unknown[] = [];
    policy.on("fallback", (e) => seen.push(e.error));
    const error = new Error("oh no!");
    expect(
      await policy.execute(() => {
        throw error;
      }),
    ).toBe("error");
    expect(seen).toEqual([error]);
  });
});
