import { describe, expect, it, vi } from "vitest";
import { background, ManualClock, systemClock } from "../../src/core/clock.js";

describe("ManualClock", () => {
  it("starts where told and only moves when advanced", () => {
    const clock = new ManualClock(1_000);
    expect(clock.now()).toBe(1_000);
    clock.advance(250);
    expect(clock.now()).toBe(1_250);
  });

  it("settles due sleeps in due order, then creation order", async () => {
    const clock = new ManualClock();
    const order: string[] = [];
    void clock.sleep(30).then(() => order.push("c30"));
    void clock.sleep(10).then(() => order.push("a10"));
    void clock.sleep(10).then(() => order.push("b10"));
    void clock.sleep(50).then(() => order.push("late"));
    clock.advance(40);
    await Promise.resolve();
    await Promise.resolve();
    expect(order).toEqual(["a10", "b10", "c30"]);
    expect(clock.pendingSleeps).toBe(1);
  });

  it("advanceAsync settles sleeps scheduled by woken code within the span", async () => {
    const clock = new ManualClock();
    const seen: number[] = [];
    void (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(100);
        seen.push(clock.now());
      }
    })();
    await clock.advanceAsync(1_000);
    expect(seen).toEqual([100, 200, 300]);
    expect(clock.now()).toBe(1_000);
  });

  it("rejects a sleep at once when its signal aborts, and forgets it", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(1_000, controller.signal);
    controller.abort(new Error("stop"));
    await expect(sleeping).rejects.toThrow("stop");
    expect(clock.pendingSleeps).toBe(0);
  });

  it("rejects at once on an already-aborted signal", async () => {
    const clock = new ManualClock();
    await expect(clock.sleep(10, AbortSignal.abort(new Error("gone")))).rejects.toThrow("gone");
  });
});

describe("systemClock", () => {
  it("sleeps for real (short) and honours abort", async () => {
    const start = Date.now();
    await systemClock.sleep(5);
    expect(Date.now() - start).toBeGreaterThanOrEqual(4);
    const controller = new AbortController();
    const p = systemClock.sleep(10_000, controller.signal);
    controller.abort(new Error("abort"));
    await expect(p).rejects.toThrow("abort");
  });

  it("a sleep keeps the process alive (a ref'ed timer): a caller is waiting on it", async () => {
    const set = vi.spyOn(globalThis, "setTimeout");
    try {
      const sleeping = systemClock.sleep(5);
      const timer = set.mock.results[0]?.value as NodeJS.Timeout;
      expect(set.mock.calls[0]?.[1]).toBe(5);
      expect(timer.hasRef()).toBe(true);
      await sleeping;
    } finally {
      set.mockRestore();
    }
  });

  it("an aborted sleep leaves no active timer behind", async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const controller = new AbortController();
    const sleeps = [systemClock.sleep(60_000, controller.signal), systemClock.sleep(3_600_000, controller.signal)];
    expect(timers()).toBe(before + 2);
    controller.abort(new Error("stop"));
    for (const sleeping of sleeps) await expect(sleeping).rejects.toThrow("stop");
    expect(timers()).toBe(before);
  });
});

describe("background", () => {
  it("unrefs the timer it is given and returns it (timers nobody awaits never hold the process)", () => {
    const interval = background(setInterval(() => undefined, 60_000));
    const once = background(setTimeout(() => undefined, 60_000));
    try {
      expect(interval.hasRef()).toBe(false);
      expect(once.hasRef()).toBe(false);
    } finally {
      clearInterval(interval);
      clearTimeout(once);
    }
  });

  it("accepts a timer without unref (a browser's number) and returns it as it is", () => {
    expect(background({})).toEqual({});
  });
});

describe("systemClock.sleep longer than a timer can hold", () => {
  const MAX_TIMER_MS = 2 ** 31 - 1;

  it("arms no timer above 2^31 - 1 ms (Node would fire it after 1 ms) and settles at the full delay", async () => {
    vi.useFakeTimers();
    try {
      const timers = vi.spyOn(globalThis, "setTimeout");
      let done = false;
      const sleeping = systemClock.sleep(MAX_TIMER_MS + 5_000).then(() => (done = true));
      expect(timers.mock.calls.map((c) => c[1])).toEqual([MAX_TIMER_MS]);
      await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(5_000);
      await sleeping;
      expect(done).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
      timers.mockRestore();
    } finally {
      vi.useRealTimers();
    }
  });
});
