import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { FixedWindow } from "../../src/limit/index.js";
import { track } from "./settle.js";

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Node fires a timer longer than 2^31 - 1 ms after 1 ms: long waits must be chunked (the plain chunking: test/core/clock.test.ts). */
describe("waits longer than a timer can hold", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("an abort in any chunk rejects with the reason and leaves no timer", async () => {
    const controller = new AbortController();
    const call = track(systemClock.sleep(3 * MAX_TIMER_MS, controller.signal));
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS + 10);
    controller.abort(new Error("stop"));
    expect(await call.outcome).toMatchObject({ ok: false, error: { message: "stop" } });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a limiter whose window is a month long makes acquire wait the month, not 1 ms", async () => {
    const month = 30 * 24 * 3600 * 1000;
    const limiter = new FixedWindow({ limit: 1, windowMs: month, clock: systemClock });
    await limiter.acquire("k");
    const second = track(limiter.acquire("k"));
    await vi.advanceTimersByTimeAsync(month - 1_000);
    expect(second.done()).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await second.outcome).ok).toBe(true);
    await limiter.close();
  });
});
