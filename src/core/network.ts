/**
 * The messages with which `fetch` implementations reject on a network failure. They are
 * `TypeError`s, but transient ones.
 */
export const NETWORK_MESSAGES: ReadonlySet<string> = new Set([
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

/** Socket error codes of a request that got no answer (node:net, undici). */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** True for a `TypeError` that a `fetch` raised because the network failed. */
export function isNetworkTypeError(error: unknown): boolean {
  return error instanceof TypeError && NETWORK_MESSAGES.has(error.message);
}

/** True when a request got no answer: `fetch`'s network `TypeError`, or a socket error code (on the error or its `cause`). */
export function isNetworkFailure(error: unknown, depth = 0): boolean {
  if (typeof error !== "object" || error === null || depth > 4) return false;
  if (isNetworkTypeError(error)) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
  return isNetworkFailure((error as { cause?: unknown }).cause, depth + 1);
}
