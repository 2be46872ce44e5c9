import { InvalidOptionError } from "./errors.js";

/**
 * Option validation, done once at construction. Each check names the owner (`where`),
 * the option and what is allowed, and returns the value so it can be assigned inline.
 */

/** Rejects option keys that are not in `allowed` (catches typos such as `maxCall`). */
export function checkKeys(where: string, options: object | undefined, allowed: readonly string[], prefix = ""): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError(where, prefix || "options", options, "an object");
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new InvalidOptionError(
        where,
        prefix + key,
        (options as Record<string, unknown>)[key],
        `one of the known options (${allowed.join(", ")})`,
      );
    }
  }
}

/** An integer `>= min`. */
export function integer(where: string, option: string, value: unknown, min = 1): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new InvalidOptionError(where, option, value, `an integer >= ${min}`);
  }
  return value;
}

/** A finite number `> 0`. */
export function positive(where: string, option: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(where, option, value, "a finite number > 0");
  }
  return value;
}

/** A finite number `>= 0`. */
export function nonNegative(where: string, option: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(where, option, value, "a finite number >= 0");
  }
  return value;
}

/** A number `>= 0` that may be `Infinity` (meaning "no limit"). */
export function nonNegativeOrInfinity(where: string, option: string, value: unknown): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new InvalidOptionError(where, option, value, "a number >= 0 (Infinity for no limit)");
  }
  return value;
}

/** A number `>= min` (finite). */
export function atLeast(where: string, option: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new InvalidOptionError(where, option, value, `a finite number >= ${min}`);
  }
  return value;
}

/** A ratio in (0, 1]. */
export function ratio(where: string, option: string, value: unknown): number {
  if (typeof value !== "number" || !(value > 0 && value <= 1)) {
    throw new InvalidOptionError(where, option, value, "a number in (0, 1]");
  }
  return value;
}

/** One of a fixed set of strings. */
export function oneOf<T extends string>(where: string, option: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidOptionError(where, option, value, `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`);
  }
  return value as T;
}

/** A function. */
export function func<T extends (...args: never[]) => unknown>(where: string, option: string, value: unknown): T {
  if (typeof value !== "function") throw new InvalidOptionError(where, option, value, "a function");
  return value as T;
}

/** A non-empty string. */
export function nonEmptyString(where: string, option: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new InvalidOptionError(where, option, value, "a non-empty string");
  }
  return value;
}

/** `value` when defined, else `fallback`: a readable default for optional options. */
export function orDefault<T>(value: T | undefined, fallback: T): T {
  return value === undefined ? fallback : value;
}
