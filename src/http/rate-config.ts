/**
 * How to pace one upstream API: a plain object, so presets are data and users can write
 * their own. Only `ratePerSec` is required; the HTTP clients fill in the rest (see
 * `resolveRateConfig` for the defaults).
 */
export interface RateConfig {
  /** The sustained rate the upstream documents (requests per second). */
  readonly ratePerSec: number;
  /** Requests that may go at once before pacing starts (the upstream's burst). */
  readonly burst?: number;
  /** The adaptive limiter never paces slower than this. */
  readonly minRatePerSec?: number;
  /** The adaptive limiter never paces faster than this. */
  readonly maxRatePerSec?: number;
  /** Statuses that mean "slow down" (always includes 429). */
  readonly backoffStatuses?: readonly number[];
  /** Cooldown after a back-off status without Retry-After: `cooldownMultiplier / currentRate` seconds, at most `cooldownCapMs`. */
  readonly cooldownMultiplier?: number;
  /** The longest cooldown `cooldownMultiplier` gives before refusals in a row double it (ms; `Infinity` for none), unless a `RateLimit-Policy` sets the pace. Default 150. */
  readonly cooldownCapMs?: number;
  /** How often one request is retried after back-off statuses before `BackoffExhaustedError`. */
  readonly maxRetriesOnBackoff?: number;
}

/** Every key a rate config may have (presets also carry where their figures come from: `source`, `notes`). */
export const RATE_CONFIG_KEYS = [
  "ratePerSec",
  "burst",
  "minRatePerSec",
  "maxRatePerSec",
  "backoffStatuses",
  "cooldownMultiplier",
  "cooldownCapMs",
  "maxRetriesOnBackoff",
  "source",
  "notes",
] as const;
