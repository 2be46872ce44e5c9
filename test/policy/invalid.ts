import { expect, it } from "vitest";
import { InvalidOptionError } from "../../src/core/errors.js";

/** A bad-input case: its title, what to build, and the option the error must name. */
export type BadInput = readonly [title: string, make: () => unknown, option: string];

/** The InvalidOptionError that `make` throws; fails the test if it throws nothing or something else. */
export function invalidOption(make: () => unknown): InvalidOptionError {
  try {
    make();
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error("expected an InvalidOptionError, but nothing was thrown");
}

/**
 * One test per case: building must throw InvalidOptionError naming the option, in a
 * message of the form `<where>: option "<option>" must be …; got …`.
 */
export function refusesBadInput(where: RegExp, cases: readonly BadInput[]): void {
  for (const [title, make, option] of cases) {
    it(title, () => {
      const error = invalidOption(make);
      expect(error.option).toBe(option);
      expect(error.message).toMatch(where);
      expect(error.message).toContain(`option "${option}" must be `);
      expect(error.message).toContain("; got ");
    });
  }
}
