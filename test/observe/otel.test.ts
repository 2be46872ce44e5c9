import { describe, expect, it } from "vitest";
import { CircuitBreaker, CircuitBreakers, consecutiveFailures, InvalidOptionError, ManualClock } from "../../src/index.js";
import { instrumentOpenTelemetry } from "../../src/otel/index.js";
import { METRICS } from "../../src/prometheus/index.js";
import { inMemoryMeter, pointOf } from "./otel-reader.js";

const boom = (): never => {
  throw new Error("boom");
};

describe("instrumentOpenTelemetry: circuit breaker", () => {
  it("records state, totals and transitions through an in-memory reader", async () => {
    const { meter, collect, shutdown } = inMemoryMeter();
    const metrics = instrumentOpenTelemetry({ meter });
    const clock = new ManualClock();
    const breakers = new CircuitBreakers({ clock, defaults: { trip: consecutiveFailures(2), recovery: 500 } });
    metrics.observe(breakers);

    await breakers.execute("billing", () => "ok");
    await breakers.execute("billing", boom).catch(() => undefined);
    await breakers.execute("billing", boom).catch(() => undefined);
    await breakers.execute("billing", () => "refused").catch(() => undefined);
    let points = await collect();
    expect(pointOf(points, "circuit_breaker_state", { name: "billing", state: "open" })).toBe(1);
    expect(pointOf(points, "circuit_breaker_state", { name: "billing", state: "closed" })).toBe(0);
    expect(pointOf(points, "circuit_breaker_successes_total", { name: "billing" })).toBe(1);
    expect(pointOf(points, "circuit_breaker_failures_total", { name: "billing" })).toBe(2);
    expect(pointOf(points, "circuit_breaker_rejections_total", { name: "billing" })).toBe(1);
    expect(pointOf(points, "circuit_breaker_state_changes_total", { name: "billing", state: "open" })).toBe(1);

    clock.advance(500);
    await breakers.execute("billing", () => "probe");
    points = await collect();
    expect(pointOf(points, "circuit_breaker_state", { name: "billing", state: "closed" })).toBe(1);
    expect(pointOf(points, "circuit_breaker_state_changes_total", { name: "billing", state: "closed" })).toBe(1);
    expect(pointOf(points, "circuit_breaker_successes_total", { name: "billing" })).toBe(2);
    await shutdown();
  });

  it("close() detaches the observable callbacks and the listeners", async () => {
    const { meter, collect, shutdown } = inMemoryMeter();
    const metrics = instrumentOpenTelemetry({ meter });
    const breaker = new CircuitBreaker({ name: "a", trip: consecutiveFailures(1) });
    metrics.observe(breaker);
    metrics.close();
    await breaker.execute(boom).catch(() => undefined);
    const points = await collect();
    expect(pointOf(points, "circuit_breaker_state", { name: "a", state: "open" })).toBeUndefined();
    expect(pointOf(points, "circuit_breaker_state_changes_total", { name: "a", state: "open" })).toBeUndefined();
    await shutdown();
  });

  it("uses the catalogue's names, with the prefix", () => {
    const { meter } = inMemoryMeter();
    expect(instrumentOpenTelemetry({ meter, prefix: "app_" }).names).toEqual(Object.values(METRICS).map((m) => `app_${m.name}`));
  });

  it("rejects a missing meter and unknown options", () => {
    const { meter } = inMemoryMeter();
    expect(() => instrumentOpenTelemetry({} as never)).toThrow(/meter/);
    expect(() => instrumentOpenTelemetry({ meter, unit: "s" } as never)).toThrow(InvalidOptionError);
  });
});
