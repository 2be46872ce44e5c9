/**
 * Reading how long a server (or a limiter) asked us to wait: a `retryAfterMs` number, a
 * `Retry-After` header on a `fetch` `Response` (or on an `error.response`), in seconds or
 * as an HTTP date.
 */

interface HeaderBag {
  get(name: string): string | null | undefined;
}

/**
 * The wait (ms) that `subject` asks for, or undefined when it asks for none. `subject` is
 * an error or a result: its own `retryAfterMs`, its `Retry-After` header, then the same
 * two on its `response` property (the shape of HTTP client errors).
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
  const value = header(headers, "retry-after");
  return typeof value === "string" ? parseRetryAfter(value, header(headers, "date")) : undefined;
}

/** A header from a `Headers`-like object (with `get`) or a plain record of header names. */
function header(headers: object, name: string): string | undefined {
  if (typeof (headers as Partial<HeaderBag>).get === "function") return (headers as HeaderBag).get(name) ?? undefined;
  const record = headers as Record<string, unknown>;
  const value = record[name] ?? record[name.replace(/(^|-)[a-z]/g, (c) => c.toUpperCase())];
  return typeof value === "string" ? value : undefined;
}

/**
 * Parses a `Retry-After` value: delay-seconds (`"120"`, also `"1.5"`) or an HTTP date,
 * which is measured from the response's `Date` header when given (so a skewed local
 * clock does not matter), else from `nowMs`. Undefined when unparseable; never negative.
 */
export function parseRetryAfter(value: string, dateHeader?: string, nowMs: number = Date.now()): number | undefined {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  // Every HTTP-date form starts with the day's name; anything else (e.g. "-3") is not one.
  const at = /^[A-Za-z]{3}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) return undefined;
  const sent = dateHeader === undefined ? Number.NaN : Date.parse(dateHeader);
  return Math.max(0, at - (Number.isNaN(sent) ? nowMs : sent));
}
