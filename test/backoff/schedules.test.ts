import { describe, expect, it } from "vitest";
import { constant, exponential, fixedThenExponential } from "../../src/backoff/index.js";
import { type BadInput, refusesBadInput } from "../policy/invalid.js";

const delays = (b: { delay(a: number): number }, n: number): number[] => Array.from({ length: n }, (_, i) => b.delay(i + 1));

describe("constant", () => {
  it("waits the same every time, phase fixed", () => {
    const b = constant(250);
    expect(delays(b, 5)).toEqual([250, 250, 250, 250, 250]);
    expect(b.phase(1)).toBe("fixed");
    expect(b.spec).toEqual({ kind: "constant", delayMs: 250, jitter: "none" });
  });

  it("zero is allowed", () => {
    expect(delays(constant(0), 3)).toEqual([0, 0, 0]);
  });
});

describe("exponential", () => {
  it("defaults: 100 ms doubling, capped at 30 s, full jitter", () => {
    const b = exponential();
    expect(b.spec).toEqual({ kind: "exponential", initialMs: 100, maxMs: 30_000, factor: 2, jitter: "full" });
    expect(b.delay(1, () => 0.5)).toBe(50);
  });

  it("grows by factor and stops at maxMs (1 s, 2 s, 4 s, 8 s, … capped)", () => {
    const b = exponential({ initialMs: 1_000, maxMs: 30_000, factor: 2, jitter: "none" });
    expect(delays(b, 7)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect([b.phase(1), b.phase(5), b.phase(6), b.phase(99)]).toEqual(["exponential", "exponential", "capped", "capped"]);
  });

  it("a non-integer factor", () => {
    expect(delays(exponential({ initialMs: 100, factor: 1.5, jitter: "none" }), 3)).toEqual([100, 150, 225]);
  });

  it("factor 1 is constant and never 'capped'", () => {
    const b = exponential({ initialMs: 100, maxMs: 100, factor: 1, jitter: "none" });
    expect(delays(b, 3)).toEqual([100, 100, 100]);
    expect(b.phase(50)).toBe("exponential");
  });

  it("huge attempt numbers stay finite (capped), and initialMs 0 stays 0, never NaN", () => {
    expect(exponential({ initialMs: 10, maxMs: 500, jitter: "none" }).delay(5_000)).toBe(500);
    expect(exponential({ initialMs: 0, jitter: "none" }).delay(5_000)).toBe(0);
    expect(exponential({ initialMs: 0, jitter: "full" }).delay(5_000, () => 0.9)).toBe(0);
  });

  it("attempt numbers below 1, fractional or NaN count as attempt 1 (floor)", () => {
    const b = exponential({ initialMs: 100, jitter: "none" });
    expect([b.delay(0), b.delay(-3), b.delay(Number.NaN), b.delay(2.9)]).toEqual([100, 100, 100, 200]);
  });
});

describe("fixedThenExponential (a breaker's recovery schedule)", () => {
  it("fixed intervals, then growth, then capped at the last exponential value", () => {
    const b = fixedThenExponential({ intervalMs: 1_000, fixedAttempts: 2, exponentialAttempts: 3 });
    expect(delays(b, 7)).toEqual([1_000, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    expect(Array.from({ length: 7 }, (_, i) => b.phase(i + 1))).toEqual([
      "fixed",
      "fixed",
      "exponential",
      "exponential",
      "exponential",
      "capped",
      "capped",
    ]);
  });

  it("maxMs caps every phase", () => {
    const b = fixedThenExponential({ intervalMs: 1_000, fixedAttempts: 1, exponentialAttempts: 10, maxMs: 3_000 });
    expect(delays(b, 5)).toEqual([1_000, 2_000, 3_000, 3_000, 3_000]);
  });

  it("defaults: 3 fixed, 5 exponential, factor 2, no cap, no jitter", () => {
    const b = fixedThenExponential({ intervalMs: 10 });
    expect(b.spec).toEqual({
      kind: "fixedThenExponential",
      intervalMs: 10,
      fixedAttempts: 3,
      exponentialAttempts: 5,
      factor: 2,
      maxMs: Infinity,
      jitter: "none",
    });
    expect(delays(b, 10)).toEqual([10, 10, 10, 20, 40, 80, 160, 320, 320, 320]);
  });

  it("zero fixed or zero exponential attempts", () => {
    expect(delays(fixedThenExponential({ intervalMs: 10, fixedAttempts: 0, exponentialAttempts: 2 }), 4)).toEqual([20, 40, 40, 40]);
    const flat = fixedThenExponential({ intervalMs: 10, fixedAttempts: 2, exponentialAttempts: 0 });
    expect(delays(flat, 4)).toEqual([10, 10, 10, 10]);
    expect(flat.phase(3)).toBe("capped");
  });

  it("intervalMs 0 with a huge exponential phase stays 0, never NaN", () => {
    const b = fixedThenExponential({ intervalMs: 0, exponentialAttempts: 5_000, jitter: "decorrelated" });
    expect(b.delay(6_000, () => 0.5)).toBe(0);
  });
});

describe("bad input", () => {
  const bad: BadInput[] = [
    ["constant: negative delay", () => constant(-1), "delayMs"],
    ["constant: NaN", () => constant(Number.NaN), "delayMs"],
    ["constant: unknown jitter", () => constant(10, { jitter: "random" as never }), "jitter"],
    ["constant: decorrelated jitter (it could never vary)", () => constant(10, { jitter: "decorrelated" as never }), "jitter"],
    ["constant: unknown key", () => constant(10, { jiter: "full" } as never), "jiter"],
    ["exponential: negative initialMs", () => exponential({ initialMs: -5 }), "initialMs"],
    ["exponential: maxMs < initialMs", () => exponential({ initialMs: 500, maxMs: 100 }), "maxMs"],
    ["exponential: factor < 1", () => exponential({ factor: 0.5 }), "factor"],
    ["exponential: unknown jitter", () => exponential({ jitter: "partial" as never }), "jitter"],
    ["exponential: unknown key", () => exponential({ base: 2 } as never), "base"],
    ["fixedThenExponential: missing options", () => fixedThenExponential(undefined as never), "intervalMs"],
    ["fixedThenExponential: negative interval", () => fixedThenExponential({ intervalMs: -1 }), "intervalMs"],
    ["fixedThenExponential: fractional fixedAttempts", () => fixedThenExponential({ intervalMs: 1, fixedAttempts: 1.5 }), "fixedAttempts"],
    [
      "fixedThenExponential: negative exponentialAttempts",
      () => fixedThenExponential({ intervalMs: 1, exponentialAttempts: -1 }),
      "exponentialAttempts",
    ],
    ["fixedThenExponential: factor < 1", () => fixedThenExponential({ intervalMs: 1, factor: 0 }), "factor"],
    ["fixedThenExponential: maxMs < intervalMs", () => fixedThenExponential({ intervalMs: 100, maxMs: 50 }), "maxMs"],
    ["fixedThenExponential: unknown jitter", () => fixedThenExponential({ intervalMs: 1, jitter: "x" as never }), "jitter"],
  ];
  refusesBadInput(/^(constant|exponential|fixedThenExponential)\(\): /, bad);

  it("the jitter message lists the allowed names", () => {
    expect(() => exponential({ jitter: "partial" as never })).toThrow(/"none", "full", "equal", "decorrelated"/);
  });
});
