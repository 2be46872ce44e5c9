import { describe, expect, it, vi } from "vitest";
import { constant } from "../../src/backoff/index.js";
import { ManualClock } from "../../src/core/clock.js";
import { RetryPolicy } from "../../src/retry/index.js";
import { rejection, tick, track } from "../policy/settle.js";

const failing = (): never => {
  throw new Error("down");
};

describe("RetryPolicy: aborts", () => {
  it("an abort during the wait rejects at once with the reason and leaves no sleep behind", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    let calls = 0;
    const policy = new RetryPolicy({ clock, backoff: constant(60_000), maxAttempts: 5 });
    const call = track(
      policy.execute(
        () => {
          calls++;
          return failing();
        },
        { signal: controller.signal },
      ),
    );
    await clock.advanceAsync(1_000);
    expect(clock.pendingSleeps).toBe(1);
    const reason = new Error("user cancelled");
    controller.abort(reason);
    await tick();
    expect(call.done()).toBe(true);
    expect(await rejection(call)).toBe(reason);
    expect(clock.pendingSleeps).toBe(0);
    expect(clock.now()).toBe(1_000);
    expect(calls).toBe(1);
  });

  it("with the real clock, the wait keeps the process alive (a ref'ed timer) and an abort clears it", async () => {
    const set = vi.spyOn(globalThis, "setTimeout");
    const clear = vi.spyOn(globalThis, "clearTimeout");
    try {
      const controller = new AbortController();
      const policy = new RetryPolicy({ backoff: constant(3_600_000) });
      const call = track(policy.execute(failing, { signal: controller.signal }));
      await tick();
      const waits = set.mock.calls.filter((c) => c[1] === 3_600_000);
      expect(waits).toHaveLength(1);
      const timer = set.mock.results[set.mock.calls.indexOf(waits[0] as (typeof set.mock.calls)[number])]?.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(true);
      controller.abort();
      await tick();
      expect(clear).toHaveBeenCalledWith(timer);
      expect(((await rejection(call)) as Error).name).toBe("AbortError");
    } finally {
      set.mockRestore();
      clear.mockRestore();
    }
  });

  it("an abort during an attempt rejects at once, even when fn ignores the signal", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    let release: (v: string) => void = () => {};
    const policy = new RetryPolicy({ clock });
    const call = track(policy.execute(() => new Promise<string>((resolve) => (release = resolve)), { signal: controller.signal }));
    await tick();
    controller.abort(new Error("stop"));
    await tick();
    expect(call.done()).toBe(true);
    expect(((await rejection(call)) as Error).message).toBe("stop");
    release("late");
  });

  it("a synchronous attempt that aborts the signal and then returns rejects with the reason, as an async one does", async () => {
    const controller = new AbortController();
    const reason = new Error("stop");
    const policy = new RetryPolicy({ clock: new ManualClock() });
    const events: string[] = [];
    policy.on("success", () => events.push("success"));
    const error = await rejection(
      policy.execute(
        () => {
          controller.abort(reason);
          return "value";
        },
        { signal: controller.signal },
      ),
    );
    expect(error).toBe(reason);
    expect(events).toEqual([]);
  });

  it("an already-aborted signal never runs fn", async () => {
    let ran = false;
    const policy = new RetryPolicy({ clock: new ManualClock() });
    const error = await rejection(policy.execute(() => (ran = true), { signal: AbortSignal.abort(new Error("early")) }));
    expect((error as Error).message).toBe("early");
    expect(ran).toBe(false);
  });

  it("an error thrown because fn saw the abort is replaced by the abort reason and not retried", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    let calls = 0;
    const policy = new RetryPolicy({ clock, backoff: constant(0) });
    const reason = new Error("cancel");
    const error = await rejection(
      policy.execute(
        () => {
          calls++;
          controller.abort(reason);
          throw new Error("saw abort");
        },
        { signal: controller.signal },
      ),
    );
    expect(error).toBe(reason);
    expect(calls).toBe(1);
  });

  it("the policy's own signal aborts every call; fn receives it", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const policy = new RetryPolicy({ clock, backoff: constant(1_000), signal: controller.signal });
    const seen: (AbortSignal | undefined)[] = [];
    const call = track(
      policy.execute(({ signal }) => {
        seen.push(signal);
        return failing();
      }),
    );
    await clock.advanceAsync(1_000);
    controller.abort(new Error("shutdown"));
    expect(((await rejection(call)) as Error).message).toBe("shutdown");
    expect(seen).toEqual([controller.signal, controller.signal]);
    expect(((await rejection(policy.execute(() => 1))) as Error).message).toBe("shutdown");
  });

  it("combines the policy's signal with the call's: either aborts", async () => {
    const clock = new ManualClock();
    const shutdown = new AbortController();
    const request = new AbortController();
    const policy = new RetryPolicy({ clock, backoff: constant(1_000), signal: shutdown.signal });
    let seen: AbortSignal | undefined;
    const call = track(
      policy.execute(
        ({ signal }) => {
          seen = signal;
          return failing();
        },
        { signal: request.signal },
      ),
    );
    await tick();
    expect(seen).not.toBe(shutdown.signal);
    expect(seen).not.toBe(request.signal);
    request.abort(new Error("request gone"));
    expect(((await rejection(call)) as Error).message).toBe("request gone");
    expect(seen?.aborted).toBe(true);
    expect(shutdown.signal.aborted).toBe(false);
  });

  it("an AbortError thrown by fn (its own fetch aborted) is never retried", async () => {
    let calls = 0;
    const policy = new RetryPolicy({ clock: new ManualClock(), backoff: constant(0) });
    const error = await rejection(
      policy.execute(() => {
        calls++;
        throw new DOMException("aborted", "AbortError");
      }),
    );
    expect((error as Error).name).toBe("AbortError");
    expect(calls).toBe(1);
  });
});
