/**
 * Reading how long a server (or a limiter) asked us to wait: a `retryAfterMs` number, a
 * `Retry-After` header on a `fetch` `Response` (or on an `error.response`), in seconds or
 * as an HTTP date. The header is read by the one parser, {@link parseRetryAfter}.
 */
import { headerValue, type HeadersInput, parseRetryAfter } from "../core/headers.js";

/**
 * The wait (ms) that `subject` asks for, or undefined when it asks for none. `subject` is
 * an error or a result: its own `retryAfterMs`, its `Retry-After` header, then the same
 * two on its `response` property (the shape of HTTP client errors). A header is read
 * strictly (RFC 9110, see {@link parseRetryAfter}) and not capped here: the caller caps
 * it (a `RetryPolicy` at its `maxRetryAfterMs`).
 */
export function retryAfterOf(subject: unknown): number | undefined {
  if (typeof subject !== "object" || subject === null) return undefined;
  const own = readOne(subject);
  if (own !== undefined) return own;
  const response = (subject as { response?: unknown }).response;
  return typeof response === "object" && response !== null ? readOne(response) : undefined;
}

function readOne(subject: object): number | undefined {
  const ms = (subject as { retryAfterMs?: unknown }).retryAfterMs;
  if (typeof ms === "number" && ms >= 0) return ms;
  const headers = (subject as { headers?: unknown }).headers;
  if (typeof headers !== "object" || headers === null) return undefined;
  const value = headerValue(headers as HeadersInput, "retry-after");
  if (value === undefined) return undefined;
  const dateHeader = headerValue(headers as HeadersInput, "date");
  return parseRetryAfter(value, dateHeader === undefined ? UNCAPPED : { dateHeader, maxMs: Infinity });
}

const UNCAPPED = { maxMs: Infinity } as const;
