/**
 * Ported from cockatiel src/backoff/ExponentialBackoff.test.ts and
 * src/backoff/ExponentialBackoffGenerators.test.ts (connor4312/cockatiel).
 * Random draws come from a fixed sequence (helpers.ts `lcg`), so every run checks the same delays.
 */
import { describe, expect, it } from "vitest";
import { exponential, type Jitter } from "../../src/index.js";
import { lcg } from "./helpers.js";

describe("cockatiel ExponentialBackoff", () => {
  it("works (no jitter): 128 doubling, capped at 30 s", () => {
    const b = exponential({ initialMs: 128, maxMs: 30_000, factor: 2, jitter: "none" });
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((n) => b.delay(n))).toEqual([
      128, 256, 512, 1024, 2048, 4096, 8192, 16384, 30000, 30000, 30000,
    ]);
  });

  for (const jitter of ["none", "full", "equal"] as Jitter[]) {
    it(`${jitter} jitter is sane: 0 <= delay <= min(30000, 128 * 2^k)`, () => {
      const b = exponential({ initialMs: 128, maxMs: 30_000, factor: 2, jitter });
      const random = lcg(jitter.length);
      for (let i = 0; i < 10; i++) {
        let prev: number | undefined;
        for (let k = 1; k < 100; k++) {
          const d = b.delay(k, random, prev);
          expect(d).toBeGreaterThanOrEqual(0);
          // cockatiel's bound for attempt k (its first delay is initialDelay * 2^1 at most)
          expect(d).toBeLessThanOrEqual(Math.min(30_000, 128 * 2 ** k));
          prev = d;
        }
      }
    });
  }

  it("decorrelated jitter is sane: 128 <= delay <= min(30000, 3 * the previous delay)", () => {
    // cockatiel asserts delay <= min(30000, 128 * 2^k) by attempt k; ours grows from the previous delay (up to 3x, first 128..384): docs/backoffs.md, the jitter table.
    const b = exponential({ initialMs: 128, maxMs: 30_000, factor: 2, jitter: "decorrelated" });
    const random = lcg(7);
    let aboveAttemptBound = 0;
    for (let i = 0; i < 10; i++) {
      let prev: number | undefined;
      for (let k = 1; k < 100; k++) {
        const d = b.delay(k, random, prev);
        expect(d).toBeGreaterThanOrEqual(128);
        expect(d).toBeLessThanOrEqual(Math.min(30_000, 3 * (prev ?? 128)));
        if (d > Math.min(30_000, 128 * 2 ** k)) aboveAttemptBound++;
        prev = d;
      }
    }
    expect(aboveAttemptBound).toBeGreaterThan(0);
    expect(b.delay(1, () => 0)).toBe(128);
    expect(b.delay(1, () => 0.5)).toBe(256);
  });

  it("fixes issue #86 (decorrelated jitter never NaN over 3000 attempts)", () => {
    const b = exponential({ initialMs: 45_000, maxMs: 15 * 60_000, factor: 2, jitter: "decorrelated" });
    const random = lcg(86);
    let prev: number | undefined;
    for (let k = 1; k < 3000; k++) {
      const d = b.delay(k, random, prev);
      expect(Number.isNaN(d)).toBe(false);
      expect(d).toBeGreaterThanOrEqual(0);
      prev = d;
    }
  });

  it("full jitter with u = 0 at a huge attempt number is 0, not NaN", () => {
    const b = exponential({ initialMs: 100, maxMs: 30_000, jitter: "full" });
    expect(b.delay(5000, () => 0)).toBe(0);
  });
});
