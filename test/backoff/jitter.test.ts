import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { randomFrom } from "../../examples/lib/random.js";
import { applyJitter, type Backoff, constant, exponential, fixedThenExponential, type Jitter } from "../../src/backoff/index.js";

interface Stats {
  min: number;
  max: number;
  mean: number;
}

function stats(values: readonly number[]): Stats {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  return { min, max, mean: sum / values.length };
}

const DRAWS = 20_000;

function draw(b: Backoff, attempt: number, random: () => number): number[] {
  return Array.from({ length: DRAWS }, () => b.delay(attempt, random));
}

describe("jitter distribution over many draws", () => {
  const computed = 1_000; // exponential({ initialMs: 250, factor: 2 }) at attempt 3

  /** Uniform in [lo, hi): every draw inside, both ends nearly reached, the mean near the middle. */
  function expectUniform(values: readonly number[], lo: number, hi: number): void {
    const s = stats(values);
    const span = hi - lo;
    expect(s.min).toBeGreaterThanOrEqual(lo);
    expect(s.max).toBeLessThan(hi);
    expect(s.min).toBeLessThan(lo + span * 0.01);
    expect(s.max).toBeGreaterThan(hi - span * 0.01);
    expect(Math.abs(s.mean - (lo + hi) / 2)).toBeLessThan(span * 0.02);
  }

  it("full: uniform in [0, d), mean about d/2", () => {
    expectUniform(draw(exponential({ initialMs: 250, jitter: "full" }), 3, randomFrom(1)), 0, computed);
  });

  it("equal: uniform in [d/2, d), mean about 3d/4", () => {
    expectUniform(draw(exponential({ initialMs: 250, jitter: "equal" }), 3, randomFrom(2)), computed / 2, computed);
  });

  it("none: exactly d, and never consults random", () => {
    let calls = 0;
    const values = draw(exponential({ initialMs: 250, jitter: "none" }), 3, () => (calls++, 0.5));
    expect(new Set(values)).toEqual(new Set([computed]));
    expect(calls).toBe(0);
  });

  it("decorrelated: in [base, min(cap, 3 × previous)), spread across it", () => {
    const b = exponential({ initialMs: 100, maxMs: 10_000, jitter: "decorrelated" });
    const random = randomFrom(3);
    const previous = 800;
    expectUniform(
      Array.from({ length: DRAWS }, () => b.delay(5, random, previous)),
      100,
      3 * previous,
    );
    // Without a previous delay it grows from the base: [base, 3 × base).
    const first = stats(Array.from({ length: DRAWS }, () => b.delay(1, random)));
    expect(first.min).toBeGreaterThanOrEqual(100);
    expect(first.max).toBeLessThan(300);
  });

  it("decorrelated: a chain of delays stays within [base, cap] and reaches the cap", () => {
    const b = exponential({ initialMs: 100, maxMs: 2_000, jitter: "decorrelated" });
    const random = randomFrom(4);
    let previous: number | undefined;
    const chain: number[] = [];
    for (let i = 1; i <= 200; i++) {
      previous = b.delay(i, random, previous);
      chain.push(previous);
    }
    const s = stats(chain);
    expect(s.min).toBeGreaterThanOrEqual(100);
    expect(s.max).toBe(2_000);
  });

  it("fixedThenExponential and constant take jitter too", () => {
    const f = stats(draw(fixedThenExponential({ intervalMs: 400, jitter: "full" }), 1, randomFrom(5)));
    expect(f.min).toBeGreaterThanOrEqual(0);
    expect(f.max).toBeLessThan(400);
    const c = stats(draw(constant(400, { jitter: "equal" }), 9, randomFrom(6)));
    expect(c.min).toBeGreaterThanOrEqual(200);
    expect(c.max).toBeLessThan(400);
  });
});

describe("backoff properties (fast-check)", () => {
  const jitter = fc.constantFrom<Jitter>("none", "full", "equal", "decorrelated");
  const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

  it("exponential: every delay is finite and within [0, maxMs]", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        jitter,
        fc.integer({ min: -5, max: 100_000 }),
        unit,
        fc.option(fc.double({ min: 0, max: 2_000_000, noNaN: true }), { nil: undefined }),
        (initialMs, extra, factor, j, attempt, u, previous) => {
          const maxMs = initialMs + extra;
          const d = exponential({ initialMs, maxMs, factor, jitter: j }).delay(attempt, () => u, previous);
          expect(Number.isFinite(d)).toBe(true);
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThanOrEqual(maxMs);
        },
      ),
    );
  });

  it("exponential without jitter never shrinks from one attempt to the next", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.integer({ min: 1, max: 2_000 }),
        (initialMs, factor, attempt) => {
          const b = exponential({ initialMs, maxMs: 1_000_000, factor, jitter: "none" });
          expect(b.delay(attempt + 1)).toBeGreaterThanOrEqual(b.delay(attempt));
        },
      ),
    );
  });

  it("fixedThenExponential: within [0, the schedule's largest delay]; fixed phase exactly intervalMs without jitter", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60_000 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 10 }),
        jitter,
        fc.integer({ min: 1, max: 50 }),
        unit,
        (intervalMs, fixedAttempts, exponentialAttempts, j, attempt, u) => {
          const b = fixedThenExponential({ intervalMs, fixedAttempts, exponentialAttempts, jitter: j });
          const largest = intervalMs * 2 ** exponentialAttempts;
          const d = b.delay(attempt, () => u);
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThanOrEqual(largest);
          if (j === "none" && attempt <= fixedAttempts) expect(d).toBe(intervalMs);
          expect(b.phase(attempt)).toBe(
            attempt <= fixedAttempts ? "fixed" : attempt <= fixedAttempts + exponentialAttempts ? "exponential" : "capped",
          );
        },
      ),
    );
  });

  it("applyJitter keeps each kind in its documented range", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), unit, (d, u) => {
        expect(applyJitter("none", d, u, 0, d, undefined)).toBe(d);
        const full = applyJitter("full", d, u, 0, d, undefined);
        expect(full).toBeGreaterThanOrEqual(0);
        expect(full).toBeLessThanOrEqual(d);
        const equal = applyJitter("equal", d, u, 0, d, undefined);
        expect(equal).toBeGreaterThanOrEqual(d / 2);
        expect(equal).toBeLessThanOrEqual(d);
      }),
    );
  });
});
