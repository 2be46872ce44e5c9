import { describe, expect, it } from "vitest";
import { startSampler } from "../../examples/lib/sampler.js";

describe("startSampler (a short real run)", () => {
  it("samples every probe at the start, on its interval and at the stop; a throwing probe gives NaN", async () => {
    let n = 0;
    const sampler = startSampler(5, {
      count: () => ++n,
      elapsed: (ms) => ms,
      broken: () => {
        throw new Error("no snapshot");
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 40));
    const points = sampler.stop();
    expect(points.count.length).toBeGreaterThanOrEqual(3);
    expect(points.count.map(([, v]) => v)).toEqual(points.count.map((_, i) => i + 1));
    // Times in seconds, rising, and the value each probe was given is the elapsed time (ms).
    const times = points.elapsed.map(([s]) => s);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    for (const [s, ms] of points.elapsed) expect(ms).toBeCloseTo(s * 1000, 6);
    expect(times[times.length - 1]).toBeGreaterThanOrEqual(0.035);
    expect(points.broken.every(([, v]) => Number.isNaN(v))).toBe(true);
    // Stopped: no more samples, and stop() again returns the same points.
    const length = points.count.length;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sampler.stop().count).toHaveLength(length);
  });

  it("refuses an interval below 1 ms", () => {
    for (const bad of [0, 0.5, NaN, Infinity]) expect(() => startSampler(bad, {})).toThrow(/everyMs must be a finite number >= 1, got/);
  });
});
