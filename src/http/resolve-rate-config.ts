import { InvalidOptionError } from "../core/errors.js";
import { backoffStatuses, checkKeys, integer, nonNegative, nonNegativeOrInfinity, positive } from "../core/validate.js";
import { DEFAULT_COOLDOWN_CAP_MS } from "../limit/adaptive.js";
import { RATE_CONFIG_KEYS, type RateConfig } from "./rate-config.js";

/** A {@link RateConfig} with every field filled in. */
export interface ResolvedRateConfig {
  readonly ratePerSec: number;
  readonly burst: number;
  readonly minRatePerSec: number;
  readonly maxRatePerSec: number;
  readonly backoffStatuses: readonly number[];
  readonly cooldownMultiplier: number;
  readonly cooldownCapMs: number;
  readonly maxRetriesOnBackoff: number;
}

/**
 * What a client uses when given no rate config: start at 10 requests/s and find the
 * upstream's limit (slow start doubles the rate every 700 ms until the first back-off).
 */
export const DEFAULT_RATE_CONFIG: ResolvedRateConfig = Object.freeze({
  ratePerSec: 10,
  burst: 1,
  minRatePerSec: 0.5,
  maxRatePerSec: 10_000,
  backoffStatuses: Object.freeze([429, 503]),
  cooldownMultiplier: 2,
  cooldownCapMs: DEFAULT_COOLDOWN_CAP_MS,
  maxRetriesOnBackoff: 3,
});

const WHERE = "resolveRateConfig";
/** How far above a configured rate the limiter may probe by default: presets are often conservative. */
export const MAX_RATE_FACTOR = 10;
// Presets (`apiRateConfig`) carry where their figures come from; those keys are allowed and ignored.

/**
 * Fills in a rate config's defaults and validates it. Without a config, the conservative
 * {@link DEFAULT_RATE_CONFIG}. With one (only `ratePerSec` is required):
 *
 * | field | default |
 * | --- | --- |
 * | `burst` | 1 (strict pacing) |
 * | `minRatePerSec` | `ratePerSec / 20`, at least 0.1 (and at most `ratePerSec`) |
 * | `maxRatePerSec` | `10 * ratePerSec` (a documented rate below the real limit is corrected: the limiter probes above it) |
 * | `backoffStatuses` | `[429, 503]`; statuses from 400 to 599, 429 always included (added when missing) |
 * | `cooldownMultiplier` | 2 (two pacing intervals after a back-off without `Retry-After`) |
 * | `cooldownCapMs` | 150 (those intervals pause at most 150 ms, before refusals in a row double it) |
 * | `maxRetriesOnBackoff` | 3 |
 *
 * `ratePerSec` is where the adaptive limiter starts.
 */
export function resolveRateConfig(config?: RateConfig): ResolvedRateConfig {
  if (config === undefined) return DEFAULT_RATE_CONFIG;
  checkKeys(WHERE, config, RATE_CONFIG_KEYS);
  const ratePerSec = positive(WHERE, "ratePerSec", config.ratePerSec);
  const minRatePerSec = positive(WHERE, "minRatePerSec", config.minRatePerSec ?? Math.min(ratePerSec, Math.max(0.1, ratePerSec / 20)));
  const maxRatePerSec = positive(WHERE, "maxRatePerSec", config.maxRatePerSec ?? MAX_RATE_FACTOR * ratePerSec);
  if (minRatePerSec > ratePerSec)
    throw new InvalidOptionError(WHERE, "minRatePerSec", minRatePerSec, `a number <= ratePerSec (${ratePerSec})`);
  if (maxRatePerSec < ratePerSec)
    throw new InvalidOptionError(WHERE, "maxRatePerSec", maxRatePerSec, `a number >= ratePerSec (${ratePerSec})`);
  return Object.freeze({
    ratePerSec,
    burst: integer(WHERE, "burst", config.burst ?? 1),
    minRatePerSec,
    maxRatePerSec,
    backoffStatuses: backoffStatuses(WHERE, config.backoffStatuses ?? DEFAULT_RATE_CONFIG.backoffStatuses),
    cooldownMultiplier: nonNegative(WHERE, "cooldownMultiplier", config.cooldownMultiplier ?? 2),
    cooldownCapMs: nonNegativeOrInfinity(WHERE, "cooldownCapMs", config.cooldownCapMs ?? DEFAULT_COOLDOWN_CAP_MS),
    maxRetriesOnBackoff: integer(WHERE, "maxRetriesOnBackoff", config.maxRetriesOnBackoff ?? 3, 0),
  });
}
