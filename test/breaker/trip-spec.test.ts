import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  consecutiveFailures,
  failureRatio,
  failuresInWindow,
  type TripRule,
  tripRuleFromSpec,
  type TripSpec,
} from "../../src/breaker/index.js";
import { InvalidOptionError } from "../../src/core/errors.js";

/** Every rule the factories can build, from generated options. */
const anyRule: fc.Arbitrary<TripRule> = fc.oneof(
  fc.integer({ min: 1, max: 10 }).map((n) => consecutiveFailures(n)),
  fc
    .record({
      threshold: fc.integer({ min: 1, max: 10 }),
      windowMs: fc.integer({ min: 1, max: 60_000 }),
      buckets: fc.integer({ min: 1, max: 20 }),
      resetOnSuccess: fc.boolean(),
    })
    .map((o) => failuresInWindow(o.threshold, o.windowMs, { buckets: o.buckets, resetOnSuccess: o.resetOnSuccess })),
  fc
    .record({
      ratio: fc.integer({ min: 1, max: 100 }).map((n) => n / 100),
      windowCalls: fc.integer({ min: 1, max: 20 }),
      fraction: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map((o) => failureRatio(o.ratio, { windowCalls: o.windowCalls, minimumCalls: Math.max(1, Math.floor(o.fraction * o.windowCalls)) })),
  fc
    .record({
      ratio: fc.integer({ min: 1, max: 100 }).map((n) => n / 100),
      windowMs: fc.integer({ min: 1, max: 60_000 }),
      minimumCalls: fc.integer({ min: 1, max: 20 }),
      buckets: fc.integer({ min: 1, max: 20 }),
    })
    .map((o) => failureRatio(o.ratio, { windowMs: o.windowMs, minimumCalls: o.minimumCalls, buckets: o.buckets })),
);

describe("tripRuleFromSpec", () => {
  it("rebuilds every rule from its spec, also after a JSON round trip: same spec, same decisions on the same outcomes", () => {
    fc.assert(
      fc.property(anyRule, fc.array(fc.tuple(fc.boolean(), fc.nat(5_000)), { maxLength: 40 }), (rule, outcomes) => {
        const rebuilt = tripRuleFromSpec(JSON.parse(JSON.stringify(rule.spec)) as TripSpec);
        expect(tripRuleFromSpec(rule.spec).spec).toEqual(rule.spec);
        expect(rebuilt.spec).toEqual(rule.spec);
        expect(rebuilt.timeBased).toBe(rule.timeBased);
        const a = rule.init();
        const b = rebuilt.init();
        let now = 0;
        for (const [failed, step] of outcomes) {
          now += step;
          expect(rebuilt.record(b, failed, now)).toBe(rule.record(a, failed, now));
          expect(rebuilt.failures(b, now)).toBe(rule.failures(a, now));
          expect(rebuilt.isEmpty(b, now)).toBe(rule.isEmpty(a, now));
        }
        expect(b).toEqual(a);
      }),
    );
  });

  it("refuses an unknown kind, naming it and the kinds it knows", () => {
    for (const bad of [{ kind: "slowCalls", threshold: 3 }, { kind: 1 }, {}, null]) {
      expect(() => tripRuleFromSpec(bad as unknown as TripSpec)).toThrow(InvalidOptionError);
    }
    expect(() => tripRuleFromSpec({ kind: "toString" } as unknown as TripSpec)).toThrow(
      'tripRuleFromSpec(): option "kind" must be one of consecutiveFailures, failuresInWindow, failureRatio, failureRatioInTime; got "toString"',
    );
  });

  it("validates a spec as the factory validates its options", () => {
    expect(() => tripRuleFromSpec({ kind: "consecutiveFailures", threshold: 0 })).toThrow(/consecutiveFailures\(\): option "threshold"/);
    expect(() => tripRuleFromSpec({ kind: "failureRatio", ratio: 0.5, minimumCalls: 9, windowCalls: 4 })).toThrow(/option "minimumCalls"/);
  });
});
