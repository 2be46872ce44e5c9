import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { CircuitBreaker } from "../../src/breaker/index.js";
import { pipeline, timeout } from "../../src/policy/index.js";
import { retry, RetryPolicy } from "../../src/retry/index.js";

/** Counts what a call creates: timers and AbortControllers (with the real clock). */
describe("first-attempt success creates no timer and no AbortController", () => {
  const RealAbortController = globalThis.AbortController;
  let controllers = 0;
  let timers: MockInstance<typeof setTimeout>;
  let cleared: MockInstance<typeof clearTimeout>;

  beforeEach(() => {
    controllers = 0;
    globalThis.AbortController = class extends RealAbortController {
      constructor() {
        super();
        controllers++;
      }
    };
    timers = vi.spyOn(globalThis, "setTimeout");
    cleared = vi.spyOn(globalThis, "clearTimeout");
  });

  afterEach(() => {
    globalThis.AbortController = RealAbortController;
    timers.mockRestore();
    cleared.mockRestore();
  });

  it("retry(fn) and RetryPolicy.execute", async () => {
    const policy = new RetryPolicy();
    for (let i = 0; i < 100; i++) {
      await retry(async () => i);
      await policy.execute(() => i);
    }
    expect(timers).not.toHaveBeenCalled();
    expect(controllers).toBe(0);
  });

  it("pipeline(retry, breaker)", async () => {
    const stack = pipeline(new RetryPolicy(), new CircuitBreaker());
    for (let i = 0; i < 100; i++) await stack.execute(async () => i);
    expect(timers).not.toHaveBeenCalled();
    expect(controllers).toBe(0);
  });

  it("pipeline(retry, breaker, timeout): one timer for the policy, not one per call, ref'd only while a call runs; a controller only when fn reads its signal", async () => {
    const stack = pipeline(new RetryPolicy(), new CircuitBreaker(), timeout(60_000));
    const held: boolean[] = [];
    const alarm = (): NodeJS.Timeout | undefined => timers.mock.results[0]?.value as NodeJS.Timeout | undefined;
    for (let i = 0; i < 10; i++)
      await stack.execute(async () => {
        held.push(alarm()?.hasRef() === true);
        return i;
      });
    expect(timers).toHaveBeenCalledTimes(1);
    expect(cleared).not.toHaveBeenCalled();
    expect(controllers).toBe(0);
    // Ref'ed while a call runs (a callee holding no handle still times out), unref'd after.
    expect(held).toEqual(Array.from({ length: 10 }, () => true));
    expect(alarm()?.hasRef()).toBe(false);
    for (let i = 0; i < 10; i++) await stack.execute(async ({ signal }) => signal?.aborted);
    expect(controllers).toBe(10);
    expect(timers).toHaveBeenCalledTimes(1);
  });
});
