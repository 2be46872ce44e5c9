import { CircuitOpenError, InvalidOptionError, RateLimitExceededError } from "../core/errors.js";
import { NETWORK_MESSAGES } from "../core/network.js";

export { isNetworkTypeError } from "../core/network.js";

/**
 * Errors that are never transient, whatever the options say: a bug in the calling code
 * (`TypeError` other than a `fetch` network failure, `ReferenceError`, `SyntaxError`,
 * `RangeError`), a bad option (`InvalidOptionError`), an open circuit (`CircuitOpenError`:
 * retrying would only hammer a service known to be down), a rate-limit refusal that can never be
 * admitted (`RateLimitExceededError` with `retryAfterMs` Infinity: its cost exceeds the
 * limit) and an abort (any error named `AbortError`).
 */
export function isNeverRetried(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof CircuitOpenError || error instanceof InvalidOptionError || error.name === "AbortError") return true;
  // Waiting would not help: the request is larger than the limiter could ever admit.
  if (error instanceof RateLimitExceededError && error.retryAfterMs === Infinity) return true;
  if (error instanceof ReferenceError || error instanceof SyntaxError || error instanceof RangeError) return true;
  return error instanceof TypeError && !NETWORK_MESSAGES.has(error.message);
}
