/**
 * The timeout's real timers (systemClock, short real waits): the limit's timer and the
 * cooperative grace timer are ref'ed while a caller waits, and none is left once the call
 * has settled, however it settled.
 */
import { describe, expect, it } from "vitest";
import { TimeoutError } from "../../src/core/errors.js";
import { timeout } from "../../src/policy/index.js";

/** How many ref'ed timers the process holds now. */
function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
}

/** A promise that rejects when `signal` aborts, and never settles otherwise. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true }));
}

describe("timeout: no timer outlives its call", () => {
  it("a callee ignoring its signal: the TimeoutError after limit + grace, then no timer left", async () => {
    const before = timers();
    const start = performance.now();
    const call = timeout(20, { graceMs: 30 }).execute(() => new Promise<never>(() => undefined));
    expect(timers()).toBe(before + 1);
    await expect(call).rejects.toBeInstanceOf(TimeoutError);
    expect(performance.now() - start).toBeGreaterThanOrEqual(45);
    expect(timers()).toBe(before);
  });

  it("a callee honouring its signal within a long grace: the TimeoutError at the limit, the grace timer cleared", async () => {
    const before = timers();
    const call = timeout(20, { graceMs: 600_000 }).execute(({ signal }) => untilAborted(signal as AbortSignal));
    await expect(call).rejects.toBeInstanceOf(TimeoutError);
    expect(timers()).toBe(before);
  });

  it("a call settling before the limit: its limit timer cleared, no grace timer", async () => {
    const before = timers();
    await expect(timeout(600_000).execute(async () => "done")).resolves.toBe("done");
    expect(timers()).toBe(before);
  });
});
