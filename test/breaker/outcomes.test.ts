/**
 * How outcomes are judged and reported: the ratio rules judge every outcome, slow calls
 * count as failures, and an outcome's event comes before the transition it causes.
 * ManualClock throughout.
 */
import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  consecutiveFailures,
  failureRatio,
  InvalidOptionError,
  ManualClock,
  ReturnValuePolicyError,
} from "../../src/index.js";

const boom = (): never => {
  throw new Error("boom");
};

function breaker(options: CircuitBreakerOptions = {}) {
  const clock = new ManualClock();
  const seen: string[] = [];
  const b = new CircuitBreaker({ clock, ...options });
  b.on("success", () => seen.push("success"));
  b.on("failure", (e) => seen.push(`failure:${e.reason}`));
  b.on("ignored", () => seen.push("ignored"));
  b.on("rejected", (e) => seen.push(`rejected:${e.state}`));
  b.on("stateChange", (e) => seen.push(`${e.from}->${e.to}: ${e.reason}`));
  return { b, clock, seen };
}

/** Runs F (failure) and S (success) calls in order. */
async function run(b: CircuitBreaker, outcomes: string): Promise<void> {
  for (const o of outcomes.split(" ")) await b.execute(o === "F" ? boom : () => 1).catch(() => undefined);
}

describe("failureRatio judges every outcome (resilience4j's rule)", () => {
  it("F F F S S with ratio 0.5 over 5 calls opens on the last success, at 60%", async () => {
    const { b, seen } = breaker({ trip: failureRatio(0.5, { minimumCalls: 5, windowCalls: 5 }) });
    await run(b, "F F F S");
    expect(b.state).toBe("closed");
    await run(b, "S");
    expect(b.state).toBe("open");
    expect(seen.slice(-2)).toEqual(["success", "closed->open: trip rule failureRatio reached: boom"]);
  });

  it("F F F S S S F opens too (the ratio is judged when the window fills, not at the next failure)", async () => {
    const { b } = breaker({ trip: failureRatio(0.5, { minimumCalls: 5, windowCalls: 5 }) });
    await run(b, "F F F S S");
    expect(b.state).toBe("open");
  });

  it("a window of successes never opens, and below minimumCalls nothing is judged", async () => {
    const { b } = breaker({ trip: failureRatio(0.5, { minimumCalls: 4, windowCalls: 6 }) });
    await run(b, "F F F");
    expect(b.state).toBe("closed");
    await run(b, "S");
    expect(b.state).toBe("open");
    const other = breaker({ trip: failureRatio(0.2, { minimumCalls: 3, windowCalls: 3 }) });
    await run(other.b, "S S S S S S");
    expect(other.b.state).toBe("closed");
  });

  it("the time-window ratio opens on a success too", async () => {
    const { b, clock } = breaker({ trip: failureRatio(0.5, { minimumCalls: 4, windowMs: 10_000 }) });
    await run(b, "F F");
    clock.advance(1_000);
    await run(b, "S");
    expect(b.state).toBe("closed");
    await run(b, "S");
    expect(b.state).toBe("open");
    expect(b.status().openedAt).toBe(1_000);
  });
});

describe("event order: the outcome, then the transition it caused", () => {
  it("failure before closed->open, success before half-open->closed, rejected after its refusal", async () => {
    const { b, clock, seen } = breaker({ trip: consecutiveFailures(2), recovery: 1_000 });
    await run(b, "F F");
    await b.execute(() => 1).catch(() => undefined);
    clock.advance(1_000);
    await run(b, "S");
    expect(seen).toEqual([
      "failure:boom",
      "failure:boom",
      "closed->open: trip rule consecutiveFailures reached: boom",
      "rejected:open",
      // The permit's transition comes before the trial runs; its outcome before the close.
      "open->half-open: recovery interval elapsed",
      "success",
      "half-open->closed: 1 trial call succeeded",
    ]);
  });

  it("a failed trial reports the failure before half-open->open; recordFailure too", async () => {
    const { b, clock, seen } = breaker({ trip: consecutiveFailures(1), recovery: 500 });
    b.recordFailure("by hand");
    clock.advance(500);
    await run(b, "F");
    expect(seen).toEqual([
      "failure:by hand",
      "closed->open: trip rule consecutiveFailures reached: by hand",
      "open->half-open: recovery interval elapsed",
      "failure:boom",
      "half-open->open: trial call failed: boom",
    ]);
  });

  it("a return-value failure reports the failure before the transition", async () => {
    const { b, seen } = breaker({ trip: consecutiveFailures(1), failOnResult: (v) => v === "bad" });
    await expect(b.execute(() => "bad")).rejects.toBeInstanceOf(ReturnValuePolicyError);
    expect(seen[0]?.startsWith("failure:")).toBe(true);
    expect(seen[1]?.startsWith("closed->open")).toBe(true);
  });
});

describe("slowCallMs: a slow call counts as a failure; its caller still gets its value", () => {
  it("a call over slowCallMs resolves with its value and is a failure with reason 'slow call: N ms'", async () => {
    const { b, clock, seen } = breaker({ trip: consecutiveFailures(2), slowCallMs: 100 });
    const slow = () => clock.sleep(150).then(() => "late");
    const first = b.execute(slow);
    clock.advance(150);
    await expect(first).resolves.toBe("late");
    expect(seen).toEqual(["failure:slow call: 150 ms"]);
    expect(b.lastFailure()).toEqual({ reason: "slow call: 150 ms", at: 150 });
    const second = b.execute(slow);
    clock.advance(150);
    await expect(second).resolves.toBe("late");
    expect(b.state).toBe("open");
    expect(seen.at(-1)).toBe("closed->open: trip rule consecutiveFailures reached: slow call: 150 ms");
  });

  it("exactly slowCallMs is not slow; a fast call is a success; a slow error stays one failure", async () => {
    const { b, clock, seen } = breaker({ trip: consecutiveFailures(5), slowCallMs: 100 });
    const atLimit = b.execute(() => clock.sleep(100).then(() => 1));
    clock.advance(100);
    await atLimit;
    await b.execute(() => 2);
    const slowError = b.execute(() => clock.sleep(300).then(boom));
    clock.advance(300);
    await slowError.catch(() => undefined);
    expect(seen).toEqual(["success", "success", "failure:boom"]);
    expect(b.status().totals).toMatchObject({ successes: 2, failures: 1 });
  });

  it("works with the ratio rules and with a signal", async () => {
    const { b, clock } = breaker({ trip: failureRatio(0.5, { windowCalls: 2 }), slowCallMs: 10 });
    await b.execute(() => 1);
    const controller = new AbortController();
    const slow = b.execute((ctx) => clock.sleep(20, ctx.signal).then(() => 2), { signal: controller.signal });
    clock.advance(20);
    await expect(slow).resolves.toBe(2);
    expect(b.state).toBe("open");
  });

  it("slowCallMs is validated", () => {
    for (const bad of [0, -1, Infinity, Number.NaN, "100"]) {
      expect(() => new CircuitBreaker({ slowCallMs: bad as number })).toThrow(InvalidOptionError);
    }
    expect(() => new CircuitBreaker({ slowCallMs: 0 })).toThrow(/"slowCallMs" must be a finite number > 0; got 0/);
  });
});
