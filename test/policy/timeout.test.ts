import { describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../src/core/clock.js";
import { TimeoutError } from "../../src/core/errors.js";
import type { ExecutionContext } from "../../src/core/policy.js";
import { timeout, type TimeoutMode } from "../../src/policy/index.js";
import { type BadInput, invalidOption, refusesBadInput } from "./invalid.js";
import { rejection, tick, track } from "./settle.js";

/** An operation that finishes after `ms` on `clock`, and stops early (rejecting with the reason) only if `honour` is set. */
function slow(clock: ManualClock, ms: number, honour: boolean) {
  const seen: ExecutionContext[] = [];
  const fn = async (ctx: ExecutionContext): Promise<string> => {
    seen.push(ctx);
    await clock.sleep(ms, honour ? ctx.signal : undefined);
    return "done";
  };
  return { fn, seen };
}

describe("timeout: cooperative (default)", () => {
  it("returns a result within the limit and leaves no pending sleep", async () => {
    const clock = new ManualClock();
    const policy = timeout(1_000, { clock });
    expect(policy.mode).toBe("cooperative");
    const { fn, seen } = slow(clock, 500, true);
    const call = track(policy.execute(fn));
    await clock.advanceAsync(500);
    expect(await call.outcome).toEqual({ ok: true, value: "done" });
    expect(clock.pendingSleeps).toBe(0);
    expect(seen[0]?.signal?.aborted).toBe(false);
  });

  it("aborts the callee's signal with a TimeoutError at the limit and rejects with it", async () => {
    const clock = new ManualClock();
    const { fn, seen } = slow(clock, 5_000, true);
    const call = track(timeout(1_000, { clock }).execute(fn));
    await clock.advanceAsync(999);
    expect(call.done()).toBe(false);
    await clock.advanceAsync(1);
    const error = (await rejection(call)) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.timeoutMs).toBe(1_000);
    expect(seen[0]?.signal?.reason).toBe(error);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("waits for a callee that ignores the signal, then rejects with TimeoutError anyway", async () => {
    const clock = new ManualClock();
    const { fn } = slow(clock, 3_000, false);
    const call = track(timeout(1_000, { clock }).execute(fn));
    await clock.advanceAsync(1_000);
    expect(call.done()).toBe(false);
    await clock.advanceAsync(2_000);
    expect(await rejection(call)).toBeInstanceOf(TimeoutError);
  });

  it("passes the caller's attempt through with its own signal", async () => {
    const clock = new ManualClock();
    const seen: ExecutionContext[] = [];
    const fn = (ctx: ExecutionContext): number => seen.push(ctx);
    const caller = new AbortController();
    await timeout(100, { clock }).execute(fn, { attempt: 4, signal: caller.signal });
    expect(seen[0]?.attempt).toBe(4);
    expect(seen[0]?.signal).not.toBe(caller.signal);
    await timeout(100, { clock }).execute(fn);
    expect(seen[1]?.attempt).toBe(1);
  });

  it("rethrows the callee's own error (sync or async) and disarms", async () => {
    const clock = new ManualClock();
    const policy = timeout(100, { clock });
    const sync = await rejection(
      policy.execute(() => {
        throw new Error("sync");
      }),
    );
    expect((sync as Error).message).toBe("sync");
    expect(((await rejection(policy.execute(async () => Promise.reject(new Error("async"))))) as Error).message).toBe("async");
    expect(clock.pendingSleeps).toBe(0);
  });

  it("emits `timeout` when the limit passes", async () => {
    const clock = new ManualClock();
    const policy = timeout(50, { clock });
    const events: unknown[] = [];
    const off = policy.on("timeout", (e) => events.push(e));
    const call = track(policy.execute(slow(clock, 100, true).fn));
    await clock.advanceAsync(100);
    await call.outcome;
    off();
    expect(events).toEqual([{ timeoutMs: 50, mode: "cooperative" }]);
  });

  it("a call a `timeout` listener starts at once gets its own whole limit, and no sleep is left once it settles", async () => {
    const clock = new ManualClock();
    const policy = timeout(50, { clock });
    let retried: ReturnType<typeof track> | undefined;
    policy.on("timeout", () => {
      retried ??= track(policy.execute(slow(clock, 30, true).fn));
    });
    const first = track(policy.execute(slow(clock, 100, true).fn));
    await clock.advanceAsync(50);
    expect(await rejection(first)).toBeInstanceOf(TimeoutError);
    await clock.advanceAsync(30);
    expect(await retried?.outcome).toEqual({ ok: true, value: "done" });
    expect(clock.pendingSleeps).toBe(0);
    // The next call still times out at its own limit.
    const next = track(policy.execute(slow(clock, 100, true).fn));
    await clock.advanceAsync(49);
    expect(next.done()).toBe(false);
    await clock.advanceAsync(1);
    expect(await rejection(next)).toBeInstanceOf(TimeoutError);
  });
});

describe("timeout: the callee's signal", () => {
  it("is one signal per call, the same on every read, made only when read", async () => {
    const clock = new ManualClock();
    const policy = timeout(100, { clock });
    const signals = await policy.execute(({ signal }) => [signal, signal]);
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    expect(signals[0]).toBe(signals[1]);
    const other = await policy.execute(({ signal }) => signal);
    expect(other).not.toBe(signals[0]);
  });

  it("read for the first time after the limit passed, it is already aborted with the TimeoutError", async () => {
    const clock = new ManualClock();
    let late: AbortSignal | undefined;
    const call = track(
      timeout(100, { clock }).execute(async (ctx) => {
        await clock.sleep(150);
        late = ctx.signal;
        return "done";
      }),
    );
    await clock.advanceAsync(150);
    const error = await rejection(call);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(late?.aborted).toBe(true);
    expect(late?.reason).toBe(error);
  });

  it("is not aborted when the call settles in time, nor when the limit passes afterwards", async () => {
    const clock = new ManualClock();
    for (const mode of ["cooperative", "aggressive"] as const) {
      const signal = await timeout(100, { clock, mode }).execute(({ signal }) => signal);
      await clock.advanceAsync(200);
      expect(signal).toBeInstanceOf(AbortSignal);
      expect(signal?.aborted).toBe(false);
    }
  });

  it("aggressive: a synchronous callee's value is returned as is", async () => {
    await expect(timeout(100, { clock: new ManualClock(), mode: "aggressive" }).execute(() => 5)).resolves.toBe(5);
  });
});

describe("timeout: aggressive", () => {
  it("stops waiting at the limit even when the callee ignores the signal", async () => {
    const clock = new ManualClock();
    const { fn, seen } = slow(clock, 10_000, false);
    const call = track(timeout(1_000, { clock, mode: "aggressive" }).execute(fn));
    await clock.advanceAsync(1_000);
    expect(call.done()).toBe(true);
    expect(await rejection(call)).toBeInstanceOf(TimeoutError);
    expect(seen[0]?.signal?.aborted).toBe(true);
    // The abandoned callee finishes later without any unhandled rejection or effect.
    await clock.advanceAsync(9_000);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("a late rejection of the abandoned callee is swallowed", async () => {
    const clock = new ManualClock();
    const call = track(
      timeout(10, { clock, mode: "aggressive" }).execute(async () => {
        await clock.sleep(20);
        throw new Error("late");
      }),
    );
    await clock.advanceAsync(30);
    expect(await rejection(call)).toBeInstanceOf(TimeoutError);
  });

  it("returns a result within the limit", async () => {
    const clock = new ManualClock();
    const call = track(timeout(1_000, { clock, mode: "aggressive" }).execute(slow(clock, 10, false).fn));
    await clock.advanceAsync(10);
    expect(await call.outcome).toEqual({ ok: true, value: "done" });
    expect(clock.pendingSleeps).toBe(0);
  });
});

describe("timeout: the caller's abort", () => {
  const modes: TimeoutMode[] = ["cooperative", "aggressive"];
  for (const mode of modes) {
    it(`${mode}: relays the caller's reason to the callee and rejects with it`, async () => {
      const clock = new ManualClock();
      const caller = new AbortController();
      const { fn, seen } = slow(clock, 10_000, true);
      const call = track(timeout(5_000, { clock, mode }).execute(fn, { signal: caller.signal }));
      await clock.advanceAsync(100);
      const reason = new Error("caller left");
      caller.abort(reason);
      await tick();
      expect(seen[0]?.signal?.reason).toBe(reason);
      expect(await rejection(call)).toBe(reason);
      expect(clock.pendingSleeps).toBe(0);
    });
  }

  it("aggressive: rejects at once even when the callee ignores the caller's abort", async () => {
    const clock = new ManualClock();
    const caller = new AbortController();
    const call = track(timeout(5_000, { clock, mode: "aggressive" }).execute(slow(clock, 10_000, false).fn, { signal: caller.signal }));
    await tick();
    caller.abort(new Error("gone"));
    await tick();
    expect(call.done()).toBe(true);
  });

  it("an already-aborted caller never runs the callee", async () => {
    let ran = false;
    const error = await rejection(
      timeout(100, { clock: new ManualClock() }).execute(() => (ran = true), { signal: AbortSignal.abort(new Error("no")) }),
    );
    expect((error as Error).message).toBe("no");
    expect(ran).toBe(false);
  });
});

describe("timeout: cooperative grace period (graceMs)", () => {
  it("defaults to 1,000 ms: a callee ignoring its signal is abandoned at limit + 1,000 with the TimeoutError", async () => {
    const clock = new ManualClock();
    const policy = timeout(1_000, { clock });
    expect(policy.graceMs).toBe(1_000);
    const { fn, seen } = slow(clock, 60_000, false);
    const call = track(policy.execute(fn));
    await clock.advanceAsync(1_000);
    expect(seen[0]?.signal?.aborted).toBe(true);
    await clock.advanceAsync(999);
    expect(call.done()).toBe(false);
    await clock.advanceAsync(1);
    const error = (await rejection(call)) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.timeoutMs).toBe(1_000);
    expect(seen[0]?.signal?.reason).toBe(error);
    // Only the abandoned callee's own sleep is left; its late result changes nothing.
    expect(clock.pendingSleeps).toBe(1);
    await clock.advanceAsync(58_000);
    expect(clock.pendingSleeps).toBe(0);
    expect(await rejection(call)).toBe(error);
  });

  // [graceMs, when the call rejects]: the grace passes first, so the limit (1,000) + graceMs; 0 stops waiting at the limit.
  it.each([
    [250, 1_250],
    [0, 1_000],
  ])("graceMs %d: a callee ignoring its signal is abandoned with the TimeoutError at %d ms", async (graceMs, at) => {
    const clock = new ManualClock();
    const call = track(timeout(1_000, { clock, graceMs }).execute(slow(clock, 100_000, false).fn));
    await clock.advanceAsync(at - 1);
    expect(call.done()).toBe(false);
    await clock.advanceAsync(1);
    expect(call.done()).toBe(true);
    expect(await rejection(call)).toBeInstanceOf(TimeoutError);
  });

  it("a callee settling within the grace: the call rejects with the TimeoutError then, as before, and the grace timer is cleared", async () => {
    const clock = new ManualClock();
    const policy = timeout(1_000, { clock, graceMs: 5_000 });
    // Ignores its signal but finishes 300 ms after the limit.
    const late = track(policy.execute(slow(clock, 1_300, false).fn));
    await clock.advanceAsync(1_299);
    expect(late.done()).toBe(false);
    await clock.advanceAsync(1);
    expect(await rejection(late)).toBeInstanceOf(TimeoutError);
    expect(clock.pendingSleeps).toBe(0);
    // Fails with its own error 300 ms after the limit: still the TimeoutError.
    const failing = track(
      policy.execute(async () => {
        await clock.sleep(1_300);
        throw new Error("own");
      }),
    );
    await clock.advanceAsync(1_300);
    expect(await rejection(failing)).toBeInstanceOf(TimeoutError);
    expect(clock.pendingSleeps).toBe(0);
    // Honours its signal: rejects at the limit, nothing left pending.
    const honours = track(policy.execute(slow(clock, 60_000, true).fn));
    await clock.advanceAsync(1_000);
    expect(await rejection(honours)).toBeInstanceOf(TimeoutError);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("a call settling before the limit starts no grace timer", async () => {
    const clock = new ManualClock();
    const call = track(timeout(1_000, { clock, graceMs: 5_000 }).execute(slow(clock, 999, false).fn));
    await clock.advanceAsync(999);
    expect(await call.outcome).toEqual({ ok: true, value: "done" });
    expect(clock.pendingSleeps).toBe(0);
  });

  it("Infinity waits for the callee however long it takes", async () => {
    const clock = new ManualClock();
    const call = track(timeout(1_000, { clock, graceMs: Infinity }).execute(slow(clock, 100_000, false).fn));
    await clock.advanceAsync(99_999);
    expect(call.done()).toBe(false);
    // The callee's sleep only: no grace timer.
    expect(clock.pendingSleeps).toBe(1);
    await clock.advanceAsync(1);
    expect(await rejection(call)).toBeInstanceOf(TimeoutError);
  });

  it("an abandoned callee's later rejection is not an unhandled rejection", async () => {
    const clock = new ManualClock();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const call = track(
        timeout(100, { clock, graceMs: 100 }).execute(async () => {
          await clock.sleep(1_000);
          throw new Error("late");
        }),
      );
      await clock.advanceAsync(200);
      expect(await rejection(call)).toBeInstanceOf(TimeoutError);
      await clock.advanceAsync(800);
      expect(clock.pendingSleeps).toBe(0);
      await tick();
      await tick();
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("the caller's abort still waits for the callee (the grace follows the limit only)", async () => {
    const clock = new ManualClock();
    const caller = new AbortController();
    const call = track(timeout(1_000, { clock, graceMs: 100 }).execute(slow(clock, 5_000, false).fn, { signal: caller.signal }));
    await clock.advanceAsync(10);
    const reason = new Error("caller left");
    caller.abort(reason);
    await clock.advanceAsync(4_989);
    expect(call.done()).toBe(false);
    await clock.advanceAsync(1);
    expect(await rejection(call)).toBe(reason);
  });

  it("aggressive: graceMs changes nothing, the call rejects at the limit", async () => {
    const clock = new ManualClock();
    const call = track(timeout(1_000, { clock, mode: "aggressive", graceMs: 60_000 }).execute(slow(clock, 100_000, false).fn));
    await clock.advanceAsync(1_000);
    expect(call.done()).toBe(true);
    expect(await rejection(call)).toBeInstanceOf(TimeoutError);
  });

  it("accepts 0, Infinity and any number >= 0", () => {
    expect(timeout(100, { graceMs: 0 }).graceMs).toBe(0);
    expect(timeout(100, { graceMs: Infinity }).graceMs).toBe(Infinity);
    expect(timeout(100, { graceMs: 2 ** 40 }).graceMs).toBe(2 ** 40);
    expect(timeout(100, { mode: "aggressive", graceMs: 2.5 }).graceMs).toBe(2.5);
  });

  it("refuses a bad graceMs naming the option, the value and what is allowed", () => {
    const error = invalidOption(() => timeout(100, { graceMs: -1 }));
    expect(error.message).toBe('timeout(): option "graceMs" must be a number >= 0 (Infinity for no limit); got -1');
  });
});

describe("timeout: policies of one limit share one alarm", () => {
  it("two policies of one clock and limit keep one sleep between them; another limit keeps its own; none once every call settled", async () => {
    const clock = new ManualClock();
    const [a, b, other] = [
      timeout(100, { clock, mode: "aggressive" }),
      timeout(100, { clock, mode: "aggressive" }),
      timeout(70, { clock, mode: "aggressive" }),
    ];
    const never = (): Promise<never> => new Promise<never>(() => undefined);
    const calls = [track(a.execute(never)), track(b.execute(never))];
    expect(clock.pendingSleeps).toBe(1);
    const third = track(other.execute(never));
    expect(clock.pendingSleeps).toBe(2);
    await clock.advanceAsync(70);
    expect(await rejection(third)).toBeInstanceOf(TimeoutError);
    expect(calls.map((c) => c.done())).toEqual([false, false]);
    await clock.advanceAsync(30);
    for (const c of calls) expect(await rejection(c)).toBeInstanceOf(TimeoutError);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("a policy made per call arms no timer of its own (real timers)", async () => {
    const timers = vi.spyOn(globalThis, "setTimeout");
    try {
      for (let i = 0; i < 200; i++) await timeout(43_210).execute(async () => i);
      expect(timers).toHaveBeenCalledTimes(1);
    } finally {
      timers.mockRestore();
    }
  });

  it("policies with limits computed per call do not leave a timer set per call", async () => {
    const set = vi.spyOn(globalThis, "setTimeout");
    const cleared = vi.spyOn(globalThis, "clearTimeout");
    try {
      for (let i = 0; i < 400; i++) await timeout(90_000 + i).execute(async () => i);
      expect(set.mock.calls.length - cleared.mock.calls.length).toBeLessThanOrEqual(128);
    } finally {
      set.mockRestore();
      cleared.mockRestore();
    }
  });

  it("fake timers turned on after the alarm was set still drive it", async () => {
    const policy = timeout(54_321, { mode: "aggressive" });
    await policy.execute(async () => "real timers"); // sets the alarm with the real setTimeout
    vi.useFakeTimers();
    try {
      const call = track(policy.execute(() => new Promise<never>(() => undefined)));
      await vi.advanceTimersByTimeAsync(54_320);
      expect(call.done()).toBe(false);
      await vi.advanceTimersByTimeAsync(2);
      expect(await rejection(call)).toBeInstanceOf(TimeoutError);
    } finally {
      vi.useRealTimers();
    }
    await expect(policy.execute(async () => "real again")).resolves.toBe("real again");
  });
});

describe("timeout: bad input", () => {
  const bad: BadInput[] = [
    ["ms 0", () => timeout(0), "ms"],
    ["ms negative", () => timeout(-10), "ms"],
    ["ms NaN", () => timeout(Number.NaN), "ms"],
    ["ms Infinity", () => timeout(Infinity), "ms"],
    ["ms longer than a timer can hold (2^31 ms)", () => timeout(2 ** 31), "ms"],
    ["ms string", () => timeout("100" as never), "ms"],
    ["unknown mode", () => timeout(100, { mode: "eager" as never }), "mode"],
    ["bad clock", () => timeout(100, { clock: {} as never }), "clock"],
    ["unknown key", () => timeout(100, { strategy: "aggressive" } as never), "strategy"],
    ["graceMs negative", () => timeout(100, { graceMs: -1 }), "graceMs"],
    ["graceMs -Infinity", () => timeout(100, { graceMs: -Infinity }), "graceMs"],
    ["graceMs NaN", () => timeout(100, { graceMs: Number.NaN }), "graceMs"],
    ["graceMs string", () => timeout(100, { graceMs: "1000" as never }), "graceMs"],
    ["graceMs null", () => timeout(100, { graceMs: null as never }), "graceMs"],
    ["graceMs negative in aggressive mode", () => timeout(100, { mode: "aggressive", graceMs: -5 }), "graceMs"],
  ];
  refusesBadInput(/^timeout\(\): /, bad);
});
