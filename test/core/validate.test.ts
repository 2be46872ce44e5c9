import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock, systemClock } from "../../src/core/clock.js";
import { InvalidOptionError } from "../../src/core/errors.js";
import { backoffStatuses, clockOption } from "../../src/core/validate.js";
import { registerApiRateConfig, resolveRateConfig } from "../../src/http/index.js";
import { AdaptiveRateLimiter } from "../../src/limit/adaptive.js";

let names = 0;

/** The statuses each owner of a `backoffStatuses` option ends up with, or the error it throws. */
const owners: Record<string, (value: unknown) => readonly number[]> = {
  validator: (value) => backoffStatuses("test", value),
  AdaptiveRateLimiter: (value) => new AdaptiveRateLimiter({ backoffStatuses: value as number[] }).backoffStatuses,
  resolveRateConfig: (value) => resolveRateConfig({ ratePerSec: 1, backoffStatuses: value as number[] }).backoffStatuses,
  registerApiRateConfig: (value) =>
    registerApiRateConfig(`validate-test-${names++}`, { ratePerSec: 1, backoffStatuses: value as number[] }).backoffStatuses ?? [],
};

function outcome(fn: () => readonly number[]): readonly number[] | { option: string; value: unknown } {
  try {
    return fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    const e = error as InvalidOptionError;
    expect(e.message).toContain(`option "${e.option}"`);
    expect(e.message).toContain("from 400 to 599");
    return { option: e.option, value: e.value };
  }
}

describe("backoffStatuses: one rule for every owner", () => {
  it.each([
    [[], [429]],
    [[503], [429, 503]],
    [
      [503, 429, 503, 400, 599],
      [400, 429, 503, 599],
    ],
  ])("%o reads as %o (429 added, duplicates dropped, sorted)", (value, expected) => {
    for (const [owner, read] of Object.entries(owners)) {
      expect([owner, read(value)]).toEqual([owner, expected]);
      expect(Object.isFrozen(read(value))).toBe(true);
    }
  });

  it.each([
    ["429", "backoffStatuses", "429"],
    [[200], "backoffStatuses[0]", 200],
    [[429, 399], "backoffStatuses[1]", 399],
    [[429, 600], "backoffStatuses[1]", 600],
    [[429.5], "backoffStatuses[0]", 429.5],
    [[429, "503"], "backoffStatuses[1]", "503"],
    [[Number.NaN], "backoffStatuses[0]", Number.NaN],
  ])("%o is refused, naming %s", (value, option, bad) => {
    for (const [owner, read] of Object.entries(owners)) {
      expect([owner, outcome(() => read(value))]).toEqual([owner, { option, value: bad }]);
    }
  });

  it("every owner agrees on any list (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 700 }), fc.double(), fc.string()), { maxLength: 6 }), (value) => {
        const results = Object.values(owners).map((read) => outcome(() => read(value)));
        for (const r of results) expect(r).toEqual(results[0]);
      }),
    );
  });
});

describe("clockOption: the one clock check", () => {
  it("is systemClock when absent, and the given clock otherwise", () => {
    const clock = new ManualClock();
    expect(clockOption("x", undefined)).toBe(systemClock);
    expect(clockOption("x", clock)).toBe(clock);
    expect(clockOption("x", { now: () => 1 }, false).now()).toBe(1);
  });

  it.each([null, 5, "clock", {}, { now: 1, sleep: () => undefined }, { now: () => 0 }])(
    "refuses %o, naming the option and the value",
    (value) => {
      expect(() => clockOption("Owner", value)).toThrow(new InvalidOptionError("Owner", "clock", value, "a Clock with now() and sleep()"));
    },
  );

  it("without sleep, asks only for now()", () => {
    expect(() => clockOption("Store", { sleep: () => undefined }, false)).toThrow('Store: option "clock" must be a Clock with now()');
  });
});
