/**
 * What an operator does to a breaker: open it for a while, run it disabled or metrics-only,
 * save its state and restore it after a restart; and what status() says while half-open.
 * ManualClock throughout.
 */
import { describe, expect, it } from "vitest";
import {
  type BreakerSnapshot,
  CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitOpenError,
  consecutiveFailures,
  failureRatio,
  InvalidOptionError,
  ManualClock,
} from "../../src/index.js";

const boom = (): never => {
  throw new Error("boom");
};
const fail = (b: CircuitBreaker) => b.execute(boom).catch(() => undefined);

function breaker(options: CircuitBreakerOptions = {}, clock = new ManualClock()) {
  const changes: string[] = [];
  const b = new CircuitBreaker({ clock, onStateChange: (e) => changes.push(`${e.from}->${e.to}: ${e.reason}`), ...options });
  return { b, clock, changes };
}

describe("open({ forMs }) / open({ until })", () => {
  it("opens for forMs, then a probe is due; the trip rule is not consulted", async () => {
    const { b, clock, changes } = breaker({ recovery: 60_000 });
    b.open({ forMs: 5_000 });
    expect(b.state).toBe("open");
    await expect(b.execute(() => 1)).rejects.toMatchObject({ retryAfterMs: 5_000 });
    clock.advance(4_999);
    expect(b.isAvailable()).toBe(false);
    clock.advance(1);
    await expect(b.execute(() => "probe")).resolves.toBe("probe");
    expect(b.state).toBe("closed");
    expect(changes).toEqual([
      "closed->open: opened by hand",
      "open->half-open: recovery interval elapsed",
      "half-open->closed: 1 trial call succeeded",
    ]);
  });

  it("until is in the breaker's clock; already open, the probe time moves without a transition", async () => {
    const { b, clock, changes } = breaker({ trip: consecutiveFailures(1), recovery: 1_000 }, new ManualClock(10_000));
    await fail(b);
    b.open({ until: 40_000 });
    expect(changes).toEqual(["closed->open: trip rule consecutiveFailures reached: boom"]);
    expect(b.status().nextProbeAt).toBe(40_000);
    clock.advance(29_999);
    expect(b.isAvailable()).toBe(false);
    clock.advance(1);
    expect(b.isAvailable()).toBe(true);
    b.open({ until: 0 });
    expect(b.isAvailable()).toBe(true);
  });

  it("a failed probe after a forced open follows the recovery schedule", async () => {
    const { b, clock } = breaker({ recovery: 2_000 });
    b.open({ forMs: 100 });
    clock.advance(100);
    await fail(b);
    expect(b.status()).toMatchObject({ state: "open", attempt: 2, retryAfterMs: 2_000 });
  });

  it("does not touch an isolated circuit; reset closes a forced one", async () => {
    const { b } = breaker();
    b.isolate();
    b.open({ forMs: 10 });
    expect(b.status()).toMatchObject({ isolated: true, retryAfterMs: Infinity });
    b.reset();
    b.open({ forMs: 10 });
    b.reset();
    expect(b.state).toBe("closed");
  });

  it("validates its options", () => {
    const { b } = breaker();
    expect(() => b.open({} as never)).toThrow(/exactly one of forMs or until/);
    expect(() => b.open({ forMs: 1, until: 2 } as never)).toThrow(InvalidOptionError);
    expect(() => b.open({ forMs: -1 })).toThrow(/"forMs" must be a finite number >= 0; got -1/);
    expect(() => b.open({ forMs: Infinity })).toThrow(/forMs/);
    expect(() => b.open({ until: Number.NaN })).toThrow(/until/);
    expect(() => b.open({ forMs: 1, after: 2 } as never)).toThrow(/after/);
    expect(b.state).toBe("closed");
  });
});

describe("mode: disabled and metricsOnly", () => {
  it("disabled runs every call, records nothing and reports nothing", async () => {
    const { b, changes } = breaker({ trip: consecutiveFailures(1), mode: "disabled" });
    const events: string[] = [];
    b.on("failure", () => events.push("failure"));
    b.on("success", () => events.push("success"));
    for (let i = 0; i < 5; i++) await fail(b);
    b.recordFailure("x");
    await expect(b.execute(() => 7)).resolves.toBe(7);
    await expect(b.execute(boom)).rejects.toThrow("boom");
    expect(b.isAvailable()).toBe(true);
    expect(b.state).toBe("closed");
    expect(b.status().totals).toEqual({ successes: 0, failures: 0, ignored: 0, rejections: 0 });
    expect(events).toEqual([]);
    expect(changes).toEqual([]);
  });

  it("metricsOnly records, reports and changes state, but never rejects", async () => {
    const { b, clock, changes } = breaker({ trip: consecutiveFailures(2), recovery: 1_000, mode: "metricsOnly" });
    await fail(b);
    await fail(b);
    expect(b.state).toBe("open");
    expect(b.isAvailable()).toBe(true);
    let ran = 0;
    // Would be rejected: runs, and its outcome is reported but not counted (no permit).
    await expect(
      b.execute(() => {
        ran++;
        return "through";
      }),
    ).resolves.toBe("through");
    await fail(b);
    expect(ran).toBe(1);
    expect(b.status()).toMatchObject({ state: "open", attempt: 1, totals: { successes: 1, failures: 3, rejections: 0 } });
    clock.advance(1_000);
    await b.execute(() => "trial");
    expect(b.state).toBe("closed");
    expect(changes).toEqual([
      "closed->open: trip rule consecutiveFailures reached: boom",
      "open->half-open: recovery interval elapsed",
      "half-open->closed: 1 trial call succeeded",
    ]);
  });

  it("metricsOnly runs calls beyond the half-open trials too", async () => {
    const { b, clock } = breaker({ trip: consecutiveFailures(1), recovery: 10, mode: "metricsOnly" });
    await fail(b);
    clock.advance(10);
    let release!: () => void;
    const trial = b.execute(() => new Promise<void>((resolve) => (release = resolve)));
    await expect(b.execute(() => "extra")).resolves.toBe("extra");
    expect(b.state).toBe("half-open");
    release();
    await trial;
    expect(b.state).toBe("closed");
  });

  it("mode is validated", () => {
    expect(() => new CircuitBreaker({ mode: "off" as never })).toThrow(
      /"mode" must be one of "normal", "metricsOnly", "disabled"; got "off"/,
    );
  });
});

describe("toJSON() and initialState: a restarted process does not forget an open circuit", () => {
  it("an open circuit stays open after a restart, with its schedule and last failure", async () => {
    const clock = new ManualClock(1_000);
    const first = breaker({ trip: consecutiveFailures(1), recovery: 30_000 }, clock).b;
    await fail(first);
    const saved = JSON.parse(JSON.stringify(first)) as BreakerSnapshot;
    clock.advance(10_000);
    const second = breaker({ trip: consecutiveFailures(1), recovery: 30_000, initialState: saved }, clock).b;
    expect(second.state).toBe("open");
    await expect(second.execute(() => 1)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(second.status()).toMatchObject({ retryAfterMs: 20_000, attempt: 1, lastFailure: { reason: "boom", at: 1_000 } });
    clock.advance(20_000);
    await expect(second.execute(() => "probe")).resolves.toBe("probe");
    expect(second.state).toBe("closed");
  });

  it("keeps the counts under the same trip rule and drops them under another; isolation survives as JSON", async () => {
    const clock = new ManualClock();
    const trip = () => failureRatio(0.5, { windowCalls: 4 });
    const first = breaker({ trip: trip() }, clock).b;
    await fail(first);
    await fail(first);
    const saved = first.toJSON();
    const same = breaker({ trip: trip(), initialState: saved }, clock).b;
    expect(same.status().failures).toBe(2);
    await same.execute(() => 1);
    await same.execute(() => 1);
    expect(same.state).toBe("open");
    const other = breaker({ trip: consecutiveFailures(3), initialState: saved }, clock).b;
    expect(other.status().failures).toBe(0);

    first.isolate();
    const isolated = breaker({ initialState: JSON.parse(JSON.stringify(first.toJSON())) as BreakerSnapshot }, clock).b;
    expect(isolated.status()).toMatchObject({ state: "open", isolated: true, retryAfterMs: Infinity });
  });

  it("a half-open snapshot restores without the dead process's trial permits", async () => {
    const clock = new ManualClock();
    const first = breaker({ trip: consecutiveFailures(1), recovery: 10 }, clock).b;
    await fail(first);
    clock.advance(10);
    void first.execute(() => new Promise(() => undefined));
    expect(first.status().halfOpen.trials).toBe(1);
    const second = breaker({ initialState: first.toJSON() }, clock).b;
    expect(second.status()).toMatchObject({ state: "half-open", halfOpen: { trials: 0 } });
    expect(second.isAvailable()).toBe(true);
  });

  it("a bad snapshot names the field", () => {
    const good = new CircuitBreaker().toJSON();
    expect(() => new CircuitBreaker({ initialState: { ...good, version: 2 } as never })).toThrow(/initialState.version/);
    expect(() => new CircuitBreaker({ initialState: { ...good, state: "ajar" } as never })).toThrow(/initialState.state.*"ajar"/);
    expect(() => new CircuitBreaker({ initialState: { ...good, epoch: "1" } as never })).toThrow(/initialState.epoch/);
    expect(() => new CircuitBreaker({ initialState: { ...good, lastFailure: 3 } as never })).toThrow(/initialState.lastFailure/);
    expect(() => new CircuitBreaker({ initialState: null as never })).toThrow(/initialState/);
  });
});

describe("status().failures while half-open", () => {
  it("is 0 while half-open (a failed trial reopens; the trip rule is not consulted) and the count while open", async () => {
    const { b, clock } = breaker({ trip: consecutiveFailures(2), recovery: 100 });
    await fail(b);
    await fail(b);
    expect(b.status()).toMatchObject({ state: "open", failures: 2 });
    clock.advance(100);
    let release!: () => void;
    const trial = b.execute(() => new Promise<void>((resolve) => (release = resolve)));
    expect(b.status()).toMatchObject({ state: "half-open", failures: 0 });
    release();
    await trial;
    expect(b.status()).toMatchObject({ state: "closed", failures: 0 });
  });
});
