import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/clock.js";
import { TimeoutError } from "../../src/core/errors.js";
import type { ExecutionContext } from "../../src/core/policy.js";
import { timeout, type TimeoutMode } from "../../src/policy/index.js";
import { type BadInput, refusesBadInput } from "./invalid.js";
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
  ];
  refusesBadInput(/^timeout\(\): /, bad);
});
