import { describe, expect, it } from "vitest";
import { seriesFromRecords, seriesFromTimeline, stepPoints } from "../../bench/lib/chart-series.js";

describe("seriesFromRecords", () => {
  it("counts each kind of answer per bucket as a rate per second, at the bucket's middle", () => {
    const records = [
      { atMs: 10, status: 200 },
      { atMs: 20, status: 204 },
      { atMs: 300, status: 429 },
      { atMs: 499.9, status: 200 },
      { atMs: 1_200, status: 503 },
      { atMs: 1_300, status: 502 },
      { atMs: 1_400, status: 404 },
    ];
    const s = seriesFromRecords(records, 500);
    expect(s.goodput).toEqual([
      [0.25, 6],
      [0.75, 0],
      [1.25, 0],
    ]);
    expect(s.throttled).toEqual([
      [0.25, 2],
      [0.75, 0],
      [1.25, 0],
    ]);
    expect(s.unavailable).toEqual([
      [0.25, 0],
      [0.75, 0],
      [1.25, 4],
    ]);
  });

  it("returns empty series for no records, skips records at bad times, and refuses a bad bucket", () => {
    expect(seriesFromRecords([], 100)).toEqual({ goodput: [], throttled: [], unavailable: [] });
    expect(
      seriesFromRecords(
        [
          { atMs: NaN, status: 200 },
          { atMs: -5, status: 200 },
          { atMs: 50, status: 200 },
        ],
        100,
      ).goodput,
    ).toEqual([[0.05, 10]]);
    for (const bad of [0, -1, NaN, Infinity]) expect(() => seriesFromRecords([], bad)).toThrow(/bucketMs must be a finite number > 0, got/);
  });
});

describe("seriesFromTimeline", () => {
  it("regroups the upstream's 100 ms counts into larger buckets up to the duration", () => {
    const timeline = { ok: [1, 2, 3, 4, 5], throttled: [0, 0, 0, 0, 6], unavailable: [] };
    const s = seriesFromTimeline(timeline, 200, 600);
    expect(s.goodput).toEqual([
      [0.1, 15],
      [0.3, 35],
      [0.5, 25],
    ]);
    expect(s.throttled).toEqual([
      [0.1, 0],
      [0.3, 0],
      [0.5, 30],
    ]);
    expect(s.unavailable.map(([, v]) => v)).toEqual([0, 0, 0]);
    expect(() => seriesFromTimeline(timeline, 150, 600)).toThrow(/multiple of 100, got 150/);
    expect(() => seriesFromTimeline(timeline, 200, -1)).toThrow(/durationMs must be a finite number >= 0, got -1/);
  });
});

describe("stepPoints", () => {
  it("has one point per change and one at the end", () => {
    const limitAt = (ms: number): number => (ms < 1_000 ? 50 : ms < 2_000 ? 20 : 80);
    expect(stepPoints(limitAt, 3_000, 100)).toEqual([
      [0, 50],
      [1, 20],
      [2, 80],
      [3, 80],
    ]);
  });
});
