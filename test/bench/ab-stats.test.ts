import { describe, expect, it } from "vitest";
import { instructionsOf } from "../../bench/lib/ab-callgrind.js";
import { compare, compareCounts, verdict } from "../../bench/lib/ab-stats.js";

describe("compare (paired rounds)", () => {
  it("takes the median of the per-round ratios, so that drift shared by a round cancels", () => {
    // The machine slows down 3x over the rounds; after is 10 % slower in every round.
    const before = [100, 200, 300, 150, 250];
    const after = before.map((x) => x * 1.1);
    const row = compare("p", before, after);
    expect(row.ratio).toBeCloseTo(1.1, 9);
    expect(row.noise).toBeCloseTo(0, 9);
    expect(row.before).toBe(200);
    expect(verdict(row)).toBe("SLOWER by 10.0 %");
  });

  it("calls a difference within half the interquartile range of the ratios the same", () => {
    const before = [100, 100, 100, 100, 100];
    const after = [90, 95, 102, 108, 112];
    const row = compare("p", before, after);
    expect(row.ratio).toBeCloseTo(1.02, 9);
    expect(row.noise).toBeCloseTo((1.08 - 0.95) / 2, 9);
    expect(verdict(row)).toBe("same within noise");
    expect(verdict({ ...row, ratio: 0.9 }, ["MORE", "fewer"])).toBe("fewer by 10.0 %");
  });
});

describe("compareCounts (independent estimates)", () => {
  it("divides the medians and adds both sides' relative spreads", () => {
    const row = compareCounts("p", [1_000, 1_000, 1_010, 990, 1_000], [1_100, 1_100, 1_100, 1_100, 1_100]);
    expect(row.ratio).toBeCloseTo(1.1, 9);
    expect(row.noise).toBeCloseTo(0, 9);
    expect(compareCounts("p", [990, 1_000, 1_010], [1_000, 1_000, 1_000]).noise).toBeCloseTo(5 / 1_000, 9);
  });
});

describe("instructionsOf (a callgrind dump)", () => {
  it("subtracts the inclusive cost of every call into V8's compiler entry points, named once and then by id", () => {
    const dump = [
      "events: Ir",
      "summary: 10000",
      "fn=(1) Builtins_CEntry",
      "0 100",
      "cfn=(2) v8::internal::Runtime_CompileOptimized(int, unsigned long*, v8::internal::Isolate*)",
      "calls=1 0",
      "0 3000",
      "cfn=(3) v8::internal::Runtime_StringToNumber(int)",
      "calls=5 0",
      "0 500",
      "fn=(4) Builtins_InterpreterEntryTrampoline",
      "cfn=(2)",
      "calls=2 0",
      "* 1500",
      "cfn=(5) v8::internal::Runtime_CompileLazy(int, unsigned long*, v8::internal::Isolate*)",
      "calls=1 0",
      "+2 200",
      "",
    ].join("\n");
    expect(instructionsOf(dump)).toBe(10_000 - 3_000 - 1_500 - 200);
  });
});
