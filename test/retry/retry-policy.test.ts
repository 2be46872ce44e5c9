import { describe, expect, it } from "vitest";
import { constant, exponential } from "../../src/backoff/index.js";
import { ManualClock } from "../../src/core/clock.js";
import { RetryError, ReturnValuePolicyError } from "../../src/core/errors.js";
import type { ExecutionContext } from "../../src/core/policy.js";
import { retry, RetryPolicy, type RetryEvent } from "../../src/retry/index.js";
import { rejection, track } from "../policy/settle.js";

/** An operation that fails `failures` times with `error`, then returns `value`; it logs when and how it ran. */
function flaky<T>(clock: ManualClock, failures: number, value: T, error: (n: number) => unknown = (n) => new Error(`fail ${n}`)) {
  const calls: { at: number; attempt: number; signal: AbortSignal | undefined }[] = [];
  const fn = async (ctx: ExecutionContext): Promise<T> => {
    calls.push({ at: clock.now(), attempt: ctx.attempt, signal: ctx.signal });
    if (calls.length <= failures) throw error(calls.length);
    return value;
  };
  return { fn, calls };
}

describe("RetryPolicy: attempts and backoff", () => {
  it("returns the first success at once, with attempt 1 and no signal", async () => {
    const clock = new ManualClock();
    const { fn, calls } = flaky(clock, 0, "ok");
    await expect(new RetryPolicy({ clock }).execute(fn)).resolves.toBe("ok");
    expect(calls).toEqual([{ at: 0, attempt: 1, signal: undefined }]);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("retries until success, numbering attempts and waiting by the backoff", async () => {
    const clock = new ManualClock();
    const { fn, calls } = flaky(clock, 2, "ok");
    const call = track(new RetryPolicy({ clock, backoff: constant(100) }).execute(fn));
    await clock.advanceAsync(1_000);
    expect(await call.outcome).toEqual({ ok: true, value: "ok" });
    expect(calls.map((c) => [c.attempt, c.at])).toEqual([
      [1, 0],
      [2, 100],
      [3, 200],
    ]);
  });

  it("waits the exponential schedule between attempts", async () => {
    const clock = new ManualClock();
    const { fn, calls } = flaky(clock, 3, 1);
    const policy = new RetryPolicy({ clock, maxAttempts: 4, backoff: exponential({ initialMs: 100, factor: 2, jitter: "none" }) });
    const call = track(policy.execute(fn));
    await clock.advanceAsync(10_000);
    expect((await call.outcome).ok).toBe(true);
    expect(calls.map((c) => c.at)).toEqual([0, 100, 300, 700]);
  });

  it("does not wait before the next attempt while the clock has not reached the delay", async () => {
    const clock = new ManualClock();
    const { fn, calls } = flaky(clock, 1, 1);
    const call = track(new RetryPolicy({ clock, backoff: constant(500) }).execute(fn));
    await clock.advanceAsync(499);
    expect(calls).toHaveLength(1);
    expect(call.done()).toBe(false);
    await clock.advanceAsync(1);
    expect(calls).toHaveLength(2);
    expect((await call.outcome).ok).toBe(true);
  });

  it("rejects with RetryError after maxAttempts, keeping every error and the last as cause", async () => {
    const clock = new ManualClock();
    const { fn, calls } = flaky(clock, 10, 0);
    const call = track(new RetryPolicy({ clock, maxAttempts: 3, backoff: constant(10) }).execute(fn));
    await clock.advanceAsync(100);
    const error = (await rejection(call)) as RetryError;
    expect(error).toBeInstanceOf(RetryError);
    expect(error.attempts).toBe(3);
    expect(error.errors.map((e) => (e as Error).message)).toEqual(["fail 1", "fail 2", "fail 3"]);
    expect((error.cause as Error).message).toBe("fail 3");
    expect(error.message).toContain("3 attempts");
    expect(calls).toHaveLength(3);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("maxAttempts 1 runs once and wraps the failure in RetryError", async () => {
    const clock = new ManualClock();
    const { fn, calls } = flaky(clock, 1, 0);
    const error = (await rejection(new RetryPolicy({ clock, maxAttempts: 1 }).execute(fn))) as RetryError;
    expect(error).toBeInstanceOf(RetryError);
    expect(error.attempts).toBe(1);
    expect(calls).toHaveLength(1);
  });

  it("retries a synchronous function, its throws and non-Error values", async () => {
    const clock = new ManualClock();
    let n = 0;
    const policy = new RetryPolicy({ clock, backoff: constant(0) });
    const value = await policy.execute(({ attempt }) => {
      n++;
      if (attempt < 3) throw `string failure ${attempt}`;
      return attempt * 10;
    });
    expect(value).toBe(30);
    expect(n).toBe(3);
  });

  it("uses `random` for the backoff's jitter, and passes the previous delay (decorrelated)", async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    const { fn } = flaky(clock, 3, 1);
    const policy = new RetryPolicy({
      clock,
      maxAttempts: 4,
      random: () => 0.5,
      backoff: exponential({ initialMs: 100, maxMs: 10_000, jitter: "decorrelated" }),
      onRetry: (e) => delays.push(e.delayMs),
    });
    const call = track(policy.execute(fn));
    await clock.advanceAsync(100_000);
    expect((await call.outcome).ok).toBe(true);
    // base + 0.5 × (3 × previous − base), starting from previous = base.
    expect(delays).toEqual([200, 350, 575]);
  });

  it("full jitter with random 0.25 waits a quarter of the computed delay", async () => {
    const clock = new ManualClock();
    const { fn, calls } = flaky(clock, 2, 1);
    const policy = new RetryPolicy({ clock, random: () => 0.25, backoff: exponential({ initialMs: 400, jitter: "full" }) });
    const call = track(policy.execute(fn));
    await clock.advanceAsync(10_000);
    expect((await call.outcome).ok).toBe(true);
    expect(calls.map((c) => c.at)).toEqual([0, 100, 300]);
  });
});

describe("RetryPolicy: retryOn and retryOnResult", () => {
  class Transient extends Error {}
  class Permanent extends Error {}

  it("retryOn classes: retries those, rethrows others as they are", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ clock, backoff: constant(0), retryOn: [Transient] });
    const first = flaky(clock, 1, "ok", () => new Transient("t"));
    await expect(policy.execute(first.fn)).resolves.toBe("ok");
    const second = flaky(clock, 1, "ok", () => new Permanent("p"));
    const error = await rejection(policy.execute(second.fn));
    expect(error).toBeInstanceOf(Permanent);
    expect(second.calls).toHaveLength(1);
  });

  it("retryOn predicate decides which errors are retried", async () => {
    const clock = new ManualClock();
    const seen: unknown[] = [];
    const policy = new RetryPolicy({
      clock,
      backoff: constant(0),
      retryOn: (e) => {
        seen.push(e);
        return (e as Error).message.startsWith("retry");
      },
    });
    await expect(policy.execute(flaky(clock, 2, "ok", (n) => new Error(`retry ${n}`)).fn)).resolves.toBe("ok");
    const stop = flaky(clock, 2, "ok", () => new Error("stop"));
    expect(((await rejection(policy.execute(stop.fn))) as Error).message).toBe("stop");
    expect(stop.calls).toHaveLength(1);
    expect(seen).toHaveLength(3);
  });

  it("retryOnResult retries a matching value and returns the first that does not match", async () => {
    const clock = new ManualClock();
    const statuses = [503, 503, 200];
    const policy = new RetryPolicy({ clock, backoff: constant(50), retryOnResult: (r: { status: number }) => r.status >= 500 });
    const call = track(policy.execute(({ attempt }) => ({ status: statuses[attempt - 1] ?? 0 })));
    await clock.advanceAsync(1_000);
    expect(await call.outcome).toEqual({ ok: true, value: { status: 200 } });
  });

  it("retryOnResult exhaustion rejects with RetryError of ReturnValuePolicyErrors carrying the values", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ clock, maxAttempts: 2, backoff: constant(0), retryOnResult: (v) => v === null });
    const error = (await rejection(policy.execute(() => null))) as RetryError;
    expect(error).toBeInstanceOf(RetryError);
    expect(error.errors).toHaveLength(2);
    for (const e of error.errors) {
      expect(e).toBeInstanceOf(ReturnValuePolicyError);
      expect((e as ReturnValuePolicyError).value).toBeNull();
    }
  });

  it("a throwing retryOnResult is a failure of the attempt (retried like any error)", async () => {
    const clock = new ManualClock();
    let checks = 0;
    const policy = new RetryPolicy({
      clock,
      backoff: constant(0),
      retryOnResult: () => {
        checks++;
        if (checks === 1) throw new Error("predicate broke");
        return false;
      },
    });
    await expect(policy.execute(() => 7)).resolves.toBe(7);
    expect(checks).toBe(2);
  });
});

describe("RetryPolicy: onRetry, events, wrap", () => {
  it("onRetry gets { attempt, delayMs, error } before each wait", async () => {
    const clock = new ManualClock();
    const events: RetryEvent[] = [];
    const { fn } = flaky(clock, 2, "ok");
    const policy = new RetryPolicy({ clock, backoff: constant(100), onRetry: (e) => events.push(e) });
    const call = track(policy.execute(fn));
    await clock.advanceAsync(0);
    expect(events).toHaveLength(1);
    await clock.advanceAsync(1_000);
    await call.outcome;
    expect(events.map((e) => [e.attempt, e.delayMs, (e.error as Error).message])).toEqual([
      [1, 100, "fail 1"],
      [2, 100, "fail 2"],
    ]);
  });

  it("a throwing onRetry is reported to onListenerError and the retry goes on", async () => {
    const clock = new ManualClock();
    const reported: string[] = [];
    const policy = new RetryPolicy({
      clock,
      backoff: constant(0),
      onRetry: () => {
        throw new Error("listener broke");
      },
      onListenerError: (error, event) => reported.push(`${event}: ${(error as Error).message}`),
    });
    await expect(policy.execute(flaky(clock, 1, "ok").fn)).resolves.toBe("ok");
    expect(reported).toEqual(["retry: listener broke"]);
  });

  it("emits retry, success and giveUp (exhausted, notRetryable, aborted); on() unsubscribes", async () => {
    const clock = new ManualClock();
    const log: string[] = [];
    const policy = new RetryPolicy({ clock, maxAttempts: 2, backoff: constant(0) });
    policy.on("retry", (e) => log.push(`retry ${e.attempt}`));
    policy.on("success", (e) => log.push(`success ${e.attempts}`));
    const off = policy.on("giveUp", (e) => log.push(`giveUp ${e.reason} ${e.attempts} ${(e.error as Error).name}`));
    await policy.execute(flaky(clock, 1, 1).fn);
    await rejection(policy.execute(flaky(clock, 5, 1).fn));
    await rejection(policy.execute(flaky(clock, 5, 1, () => new TypeError("bug")).fn));
    await rejection(policy.execute(() => 1, { signal: AbortSignal.abort(new Error("gone")) }));
    off();
    await rejection(policy.execute(flaky(clock, 5, 1).fn));
    expect(log).toEqual([
      "retry 1",
      "success 2",
      "retry 1",
      "giveUp exhausted 2 RetryError",
      "giveUp notRetryable 1 TypeError",
      "giveUp aborted 0 Error",
      "retry 1",
    ]);
  });

  it("wrap keeps arguments and `this`, and retries", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ clock, backoff: constant(0) });
    let n = 0;
    const target = {
      base: 10,
      add(x: number): number {
        if (++n < 2) throw new Error("once");
        return this.base + x;
      },
    };
    const add = policy.wrap(target.add);
    await expect(add.call(target, 5)).resolves.toBe(15);
    expect(n).toBe(2);
  });
});

describe("retry()", () => {
  it("runs with the default policy (3 attempts) when given no options", async () => {
    let n = 0;
    const error = (await rejection(
      retry(() => {
        n++;
        throw new RangeError("never transient");
      }),
    )) as Error;
    expect(error).toBeInstanceOf(RangeError);
    expect(n).toBe(1);
    await expect(retry(({ attempt }) => attempt)).resolves.toBe(1);
  });

  it("takes the policy's options, signal included", async () => {
    const clock = new ManualClock();
    const { fn, calls } = flaky(clock, 1, "ok");
    const controller = new AbortController();
    const call = track(retry(fn, { clock, backoff: constant(10), signal: controller.signal }));
    await clock.advanceAsync(10);
    expect(await call.outcome).toEqual({ ok: true, value: "ok" });
    expect(calls[1]?.signal).toBe(controller.signal);
  });

  it("rejects (never throws) on bad options, before running fn", async () => {
    let ran = false;
    const attempt = (): Promise<unknown> =>
      retry(
        () => {
          ran = true;
        },
        { maxAttempts: 0 },
      );
    let pending: Promise<unknown> | undefined;
    expect(() => (pending = attempt())).not.toThrow();
    expect(((await rejection(pending as Promise<unknown>)) as Error).name).toBe("InvalidOptionError");
    expect(ran).toBe(false);
  });
});
