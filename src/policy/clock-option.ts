import { type Clock, systemClock } from "../core/clock.js";
import { InvalidOptionError } from "../core/errors.js";

/** Validates a `clock` option: `systemClock` when absent, else an object with `now()` and `sleep()`. */
export function clockOption(where: string, value: unknown): Clock {
  if (value === undefined) return systemClock;
  const clock = value as Partial<Clock> | null;
  if (typeof clock !== "object" || clock === null || typeof clock.now !== "function" || typeof clock.sleep !== "function") {
    throw new InvalidOptionError(where, "clock", value, "a Clock with now() and sleep(ms, signal)");
  }
  return value as Clock;
}
