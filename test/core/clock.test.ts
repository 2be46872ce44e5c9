import { describe, expect, it, vi } from "vitest";
import { background, createPreciseClock, ManualClock, onRealTimers, preciseClock, systemClock } from "../../src/core/clock.js";
import { ApiClient } from "../../src/http/index.js";
import { AdaptiveRateLimiter } from "../../src/limit/adaptive.js";

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
  it.each([
    ["systemClock", systemClock],
    ["preciseClock", preciseClock],
  ])("%s sleeps for real (short) and honours abort", async (_name, clock) => {
    const start = clock.now();
    await clock.sleep(5);
    expect(clock.now() - start).toBeGreaterThanOrEqual(4);
    const controller = new AbortController();
    const p = clock.sleep(10_000, controller.signal);
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

describe("onRealTimers", () => {
  it("is true of the clocks that sleep on Node's timers, false of the others", () => {
    expect(onRealTimers(systemClock)).toBe(true);
    expect(onRealTimers(preciseClock)).toBe(true);
    expect(onRealTimers(createPreciseClock())).toBe(true);
    expect(onRealTimers(new ManualClock())).toBe(false);
    expect(onRealTimers({ now: () => 0, sleep: (ms) => systemClock.sleep(ms) })).toBe(false);
  });
});

describe("createPreciseClock (fake time lines)", () => {
  /** A wall clock that reads whole ms of `truth` (plus `step`), and a monotonic one `start` ms behind the truth. */
  function lines(start: number, truth: { ms: number; step?: number }) {
    let wallReads = 0;
    const sources = {
      wall: () => {
        wallReads++;
        return Math.floor(truth.ms + (truth.step ?? 0));
      },
      mono: () => truth.ms - start,
    };
    return { sources, reads: () => wallReads };
  }

  it("reads the fraction of a millisecond that Date.now() drops", () => {
    const truth = { ms: 1_000_000.25 };
    const clock = createPreciseClock(lines(999_000, truth).sources);
    const first = clock.now();
    truth.ms += 12.5;
    expect(clock.now() - first).toBeCloseTo(12.5, 9);
    truth.ms += 0.4;
    expect(clock.now() - first).toBeCloseTo(12.9, 9);
    // On the wall clock: at most one millisecond behind the truth (the anchor's dropped fraction).
    expect(truth.ms - clock.now()).toBeGreaterThanOrEqual(0);
    expect(truth.ms - clock.now()).toBeLessThan(1);
  });

  it("keeps its readings steady while the wall clock agrees, and asks it at most once a second", () => {
    const truth = { ms: 5_000.75 };
    const { sources, reads } = lines(4_000, truth);
    const clock = createPreciseClock(sources);
    expect(reads()).toBe(0); // nothing read before the first reading
    let last = clock.now();
    expect(reads()).toBe(1);
    for (let i = 0; i < 3_000; i++) {
      truth.ms += 1.37;
      const now = clock.now();
      expect(now - last).toBeCloseTo(1.37, 9);
      last = now;
    }
    // 3,000 readings over 4.1 s: four checks against the wall clock, no step.
    expect(reads()).toBe(5);
  });

  it("sets itself back on the wall clock after a step (NTP, a resumed VM) within a second, forward or back", () => {
    const truth: { ms: number; step: number } = { ms: 10_000.5, step: 0 };
    const clock = createPreciseClock(lines(0, truth).sources);
    clock.now();
    truth.ms += 500;
    truth.step = 60_000; // the wall clock jumps a minute ahead
    expect(clock.now()).toBeLessThan(truth.ms + 1); // not yet checked
    truth.ms += 600;
    expect(Math.abs(clock.now() - (truth.ms + truth.step))).toBeLessThan(1);
    truth.step = -30_000; // and back, behind where it was
    truth.ms += 1_001;
    expect(Math.abs(clock.now() - (truth.ms + truth.step))).toBeLessThan(1);
  });

  it("sets itself on the wall clock at once when the monotonic line goes back (a process restored from a snapshot)", () => {
    const truth = { ms: 50_000.5 };
    let start = 40_000; // the monotonic line is 10 s into the process
    const clock = createPreciseClock({ wall: () => Math.floor(truth.ms), mono: () => truth.ms - start });
    clock.now();
    truth.ms += 3_000;
    start = truth.ms - 5; // restored: the monotonic line restarts near 0
    expect(Math.abs(clock.now() - truth.ms)).toBeLessThan(1);
  });

  it("ignores a wall reading taken across a pause (preemption between the reads), and tries again", () => {
    const truth: { ms: number; step: number } = { ms: 1_000.5, step: 0 };
    let preempt = 0;
    const clock = createPreciseClock({
      wall: () => {
        truth.ms += preempt; // a pause while reading the wall clock
        return Math.floor(truth.ms + truth.step);
      },
      mono: () => truth.ms,
    });
    clock.now();
    truth.step = 10_000;
    truth.ms += 1_000;
    preempt = 5;
    clock.now(); // the pair is 5 ms apart: not trusted, no step taken
    preempt = 0;
    truth.ms += 0.1;
    expect(Math.abs(clock.now() - (truth.ms + truth.step))).toBeLessThan(1); // the next reading aligns
  });
});

describe("the limiter's default clock", () => {
  it("AdaptiveRateLimiter and ApiClient pace on preciseClock unless given a clock", () => {
    const limiter = new AdaptiveRateLimiter();
    expect(Reflect.get(limiter, "clock")).toBe(preciseClock);
    const client = new ApiClient({ baseUrl: "http://127.0.0.1:9" });
    expect(Reflect.get(client.limiter, "clock")).toBe(preciseClock);
    const clock = new ManualClock();
    expect(Reflect.get(new AdaptiveRateLimiter({ clock }), "clock")).toBe(clock);
  });

  it("moves with fake timers (they replace Date and performance): a 5 s Retry-After ends after 5 s of fake time", async () => {
    vi.useFakeTimers();
    try {
      const limiter = new AdaptiveRateLimiter({ initialRatePerSec: 10 });
      limiter.onBackoff({ status: 429, retryAfterMs: 5_000 });
      let granted = false;
      const waiting = limiter.acquire().then(() => (granted = true));
      await vi.advanceTimersByTimeAsync(4_900);
      expect(granted).toBe(false);
      await vi.advanceTimersByTimeAsync(200);
      await waiting;
      expect(granted).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("preciseClock", () => {
  it("agrees with Date.now() within 2 ms and reads fractions of a millisecond", async () => {
    let fractional = 0;
    for (let i = 0; i < 50; i++) {
      const before = Date.now();
      const now = preciseClock.now();
      const after = Date.now();
      expect(now).toBeGreaterThan(before - 2);
      expect(now).toBeLessThan(after + 3);
      if (!Number.isInteger(now)) fractional++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(fractional).toBeGreaterThan(40);
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
