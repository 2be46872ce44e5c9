import { CircuitOpenError, InvalidOptionError, RateLimitExceededError } from "../core/errors.js";

/**
 * The messages with which `fetch` implementations reject on a network failure. They are
 * `TypeError`s, but transient ones, so they stay retryable.
 */
const NETWORK_MESSAGES: ReadonlySet<string> = new Set([
  "fetch failed", // undici (Node.js)
  "terminated", // undici, connection closed mid-body
  "Failed to fetch", // Chromium
  "network error", // Chromium
  "NetworkError when attempting to fetch resource.", // Firefox
  "Load failed", // Safari
  "The Internet connection appears to be offline.", // Safari
  "Network request failed", // whatwg-fetch, cross-fetch
  "Network connection lost", // Cloudflare Workers
]);

/** True for a `TypeError` that a `fetch` raised because the network failed. */
export function isNetworkTypeError(error: unknown): boolean {
  return error instanceof TypeError && NETWORK_MESSAGES.has(error.message);
}

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
