import { type Clock, systemClock } from "./clock.js";
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

/** `true` or `false`. */
export function boolean(where: string, option: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new InvalidOptionError(where, option, value, "true or false");
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

/**
 * A `clock` option: `fallback` (default `systemClock`) when absent, else an object with
 * `now()` (and, unless `needsSleep` is false, `sleep(ms, signal)`). The one check of every
 * policy's and store's clock.
 */
export function clockOption(where: string, value: unknown, needsSleep = true, fallback: Clock = systemClock): Clock {
  if (value === undefined) return fallback;
  const clock = value as Partial<Clock> | null;
  if (typeof clock !== "object" || clock === null || typeof clock.now !== "function" || (needsSleep && typeof clock.sleep !== "function")) {
    throw new InvalidOptionError(where, "clock", value, needsSleep ? "a Clock with now() and sleep()" : "a Clock with now()");
  }
  return value as Clock;
}

/** The status every back-off list holds: 429 Too Many Requests. */
export const TOO_MANY_REQUESTS = 429;

/**
 * A `backoffStatuses` option, by the one rule every owner follows: an array of integer
 * HTTP statuses from 400 to 599 (a success or a redirect is never a back-off). 429 is
 * always a back-off status and is added when missing. Returned deduplicated, sorted and
 * frozen. An entry that is not such a status is named by its index (`backoffStatuses[1]`).
 */
export function backoffStatuses(where: string, value: unknown, option = "backoffStatuses"): readonly number[] {
  if (!Array.isArray(value)) throw new InvalidOptionError(where, option, value, "an array of integer HTTP statuses from 400 to 599");
  const list: readonly unknown[] = value;
  const result = new Set<number>([TOO_MANY_REQUESTS]);
  list.forEach((status, i) => {
    if (typeof status !== "number" || !Number.isInteger(status) || status < 400 || status > 599) {
      throw new InvalidOptionError(where, `${option}[${i}]`, status, "an integer HTTP status from 400 to 599");
    }
    result.add(status);
  });
  return Object.freeze([...result].sort((a, b) => a - b));
}

/**
 * The entry of `table` for `spec.kind` (a spec read back from JSON included), or an
 * {@link InvalidOptionError} naming the kinds the table knows.
 */
export function byKind<T>(where: string, table: Readonly<Record<string, T>>, spec: unknown): T {
  const kind = (spec as { kind?: unknown } | null)?.kind;
  if (typeof kind !== "string" || !Object.hasOwn(table, kind)) {
    throw new InvalidOptionError(where, "kind", kind, `one of ${Object.keys(table).join(", ")}`);
  }
  return table[kind] as T;
}
