import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Backoff, backoffFromSpec, type BackoffSpec, constant, exponential, fixedThenExponential } from "../../src/backoff/index.js";
import { InvalidOptionError } from "../../src/core/errors.js";

const jitters = ["none", "full", "equal", "decorrelated"] as const;

/** Every backoff the factories can build, from generated options. */
const anyBackoff: fc.Arbitrary<Backoff> = fc.oneof(
  fc
    .record({ delayMs: fc.nat(100_000), jitter: fc.constantFrom("none", "full", "equal") as fc.Arbitrary<"none" | "full" | "equal"> })
    .map((o) => constant(o.delayMs, { jitter: o.jitter })),
  fc
    .record({
      initialMs: fc.nat(10_000),
      extra: fc.nat(100_000),
      factor: fc.double({ min: 1, max: 4, noNaN: true }),
      jitter: fc.constantFrom(...jitters),
    })
    .map((o) => exponential({ initialMs: o.initialMs, maxMs: o.initialMs + o.extra, factor: o.factor, jitter: o.jitter })),
  fc
    .record({
      intervalMs: fc.nat(10_000),
      fixedAttempts: fc.nat(6),
      exponentialAttempts: fc.nat(6),
      factor: fc.double({ min: 1, max: 4, noNaN: true }),
      maxMs: fc.option(fc.nat(1_000_000), { nil: undefined }),
      jitter: fc.constantFrom(...jitters),
    })
    .map((o) => fixedThenExponential({ ...o, maxMs: o.maxMs === undefined ? Infinity : o.intervalMs + o.maxMs })),
);

describe("backoffFromSpec", () => {
  it("rebuilds every backoff from its spec, also after a JSON round trip: same spec, same delays, same phases", () => {
    fc.assert(
      fc.property(anyBackoff, fc.double({ min: 0, max: 0.999, noNaN: true }), (b, u) => {
        for (const rebuilt of [backoffFromSpec(b.spec), backoffFromSpec(JSON.parse(JSON.stringify(b.spec)) as BackoffSpec)]) {
          expect(rebuilt.spec).toEqual(b.spec);
          for (let attempt = 1; attempt <= 12; attempt++) {
            expect(rebuilt.delay(attempt, () => u, 300)).toBe(b.delay(attempt, () => u, 300));
            expect(rebuilt.phase(attempt)).toBe(b.phase(attempt));
          }
        }
      }),
    );
  });

  it("reads an infinite maxMs that JSON wrote as null", () => {
    const b = fixedThenExponential({ intervalMs: 100 });
    const text = JSON.stringify(b.spec);
    expect(text).toContain('"maxMs":null');
    const rebuilt = backoffFromSpec(JSON.parse(text) as BackoffSpec);
    expect(rebuilt.spec).toEqual({ ...b.spec, maxMs: Infinity });
  });

  it("refuses an unknown kind, naming it and the kinds it knows", () => {
    for (const bad of [{ kind: "linear", stepMs: 5 }, { kind: 7 }, {}, null]) {
      expect(() => backoffFromSpec(bad as unknown as BackoffSpec)).toThrow(InvalidOptionError);
    }
    expect(() => backoffFromSpec({ kind: "linear" } as unknown as BackoffSpec)).toThrow(
      'backoffFromSpec(): option "kind" must be one of constant, exponential, fixedThenExponential; got "linear"',
    );
  });

  it("validates a spec as the factory validates its options", () => {
    expect(() => backoffFromSpec({ kind: "constant", delayMs: -1, jitter: "none" })).toThrow(/constant\(\): option "delayMs"/);
    expect(() => backoffFromSpec({ kind: "exponential", initialMs: 10, maxMs: 5, factor: 2, jitter: "none" })).toThrow(/option "maxMs"/);
  });
});
