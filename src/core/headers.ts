/**
 * Reading what an upstream says about its limits: `Retry-After`, the IETF draft
 * `RateLimit-*` fields (every published form) and the common `X-RateLimit-*` fields.
 *
 * Every parser is tolerant: a value it cannot read is ignored (undefined), a negative
 * value is ignored, a time in the past reads as 0 and a time further ahead than
 * `maxMs` reads as `maxMs`. Nothing here throws on input from the network.
 */

import { systemClock } from "./clock.js";

/**
 * Response headers in any of the shapes an HTTP client hands out: a `fetch` `Headers`
 * (or anything with `get(name)`), a plain record (Node's `IncomingHttpHeaders`, any
 * letter case), or a `Map`.
 */
export type HeadersInput =
  | {
      /** The header's value (case-insensitive name), as `Headers.get` answers. */
      get(name: string): string | null | undefined;
    }
  | Readonly<Record<string, string | number | readonly string[] | null | undefined>>
  | ReadonlyMap<string, string | number | readonly string[]>;

/** Options shared by the parsers. */
export interface HeaderParseOptions {
  /** The local clock's reading (ms since the Unix epoch) for dates and epoch resets. Default `systemClock.now()`. */
  readonly nowMs?: number;
  /** The longest wait or reset a header may ask for (ms); longer ones are capped. Default 86,400,000 (one day). */
  readonly maxMs?: number;
}

/** What the rate-limit fields of one response say, every field optional. */
export interface RateLimitInfo {
  /** Which family of fields it came from. */
  readonly source: "ratelimit" | "x-ratelimit";
  /** The quota of the current window (`RateLimit-Limit`, `X-RateLimit-Limit`). */
  readonly limit?: number;
  /** Requests left in the current window. */
  readonly remaining?: number;
  /** Milliseconds until the window resets (the quota is restored). */
  readonly resetMs?: number;
  /** The window (ms) of the binding quota policy, from `RateLimit-Policy` or `w=` parameters. */
  readonly windowMs?: number;
  /**
   * The sustained rate the quota policies allow (requests per second): the smallest
   * `quota / window` over the policies given. Only present when a window is known.
   */
  readonly policyRatePerSec?: number;
}

/** Everything back-off related in one response. */
export interface BackoffHints {
  /** What `Retry-After` asks for (ms), when present and readable. */
  readonly retryAfterMs?: number;
  /** The rate-limit fields, when any is present and readable. */
  readonly rateLimit?: RateLimitInfo;
}

/** The default cap on waits and resets read from headers: one day. */
export const MAX_HEADER_WAIT_MS = 86_400_000;

/**
 * A header's value, case-insensitively, from any {@link HeadersInput}. Repeated values
 * (arrays) are joined with `", "`, as `fetch` does. Undefined when absent.
 */
export function headerValue(headers: HeadersInput | undefined | null, name: string): string | undefined {
  if (headers === undefined || headers === null || typeof headers !== "object") return undefined;
  const lower = name.toLowerCase();
  if (typeof (headers as { get?: unknown }).get === "function" && !(headers instanceof Map)) {
    const value = (headers as { get(name: string): string | null | undefined }).get(lower);
    return typeof value === "string" ? value : undefined;
  }
  if (headers instanceof Map) {
    for (const [key, value] of headers as ReadonlyMap<unknown, unknown>) {
      if (typeof key === "string" && key.toLowerCase() === lower) return stringify(value);
    }
    return undefined;
  }
  const record = headers as Readonly<Record<string, unknown>>;
  if (Object.prototype.hasOwnProperty.call(record, lower)) return stringify(record[lower]);
  for (const key of Object.keys(record)) if (key.toLowerCase() === lower) return stringify(record[key]);
  return undefined;
}

function stringify(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value.join(", ");
  return undefined;
}

/**
 * Parses a `Retry-After` value into milliseconds: delay-seconds (`"120"`; a decimal such
 * as `"1.5"` is accepted too) or an HTTP-date in any of the three forms of RFC 9110
 * (`Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT`,
 * `Sun Nov  6 08:49:37 1994`). A date is measured from `dateHeader` (the response's own
 * `Date`, so a skewed local clock does not matter) when that is readable, else from
 * `nowMs`. Undefined for garbage and negative numbers; 0 for a date in the past; capped
 * at `maxMs`.
 */
export function parseRetryAfter(
  value: string | undefined | null,
  options: HeaderParseOptions & { readonly dateHeader?: string } = {},
): number | undefined {
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  const maxMs = options.maxMs ?? MAX_HEADER_WAIT_MS;
  const seconds = /^(\d+(?:\.\d+)?)(?:\s*,.*)?$/.exec(text);
  if (seconds) return Math.min(Number(seconds[1]) * 1000, maxMs);
  const at = parseHttpDate(text);
  if (at === undefined) return undefined;
  const sent = options.dateHeader === undefined ? undefined : parseHttpDate(options.dateHeader.trim());
  const from = sent ?? options.nowMs ?? systemClock.now();
  return clampMs(at - from, maxMs);
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const IMF_FIXDATE = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE = /^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * Parses an HTTP-date (RFC 9110 §5.6.7, all three forms, always GMT) into ms since the
 * Unix epoch. Strict on purpose: `Date.parse` reads `"2"` as the year 2001. Undefined
 * when `text` is not an HTTP-date or names an impossible day or time.
 */
export function parseHttpDate(text: string): number | undefined {
  let parts: [day: string, month: string, year: number, h: string, m: string, s: string] | undefined;
  let match = IMF_FIXDATE.exec(text);
  if (match) parts = [match[1]!, match[2]!, Number(match[3]), match[4]!, match[5]!, match[6]!];
  else if ((match = RFC850_DATE.exec(text))) {
    // Two-digit years: RFC 9110 says to read one more than 50 years ahead as the past century.
    const yy = Number(match[3]);
    const thisYear = new Date(systemClock.now()).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + yy;
    if (year > thisYear + 50) year -= 100;
    parts = [match[1]!, match[2]!, year, match[4]!, match[5]!, match[6]!];
  } else if ((match = ASCTIME_DATE.exec(text))) parts = [match[2]!.trim(), match[1]!, Number(match[6]), match[3]!, match[4]!, match[5]!];
  if (parts === undefined) return undefined;
  const [dayText, monthText, year, h, m, s] = parts;
  const month = MONTHS.indexOf(monthText.toLowerCase());
  const day = Number(dayText);
  const [hour, minute, second] = [Number(h), Number(m), Number(s)];
  if (month < 0 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined;
  const ms = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  // Reject days past the month's end (Date.UTC would roll 31 Feb over into March).
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return ms;
}

/**
 * Reads the rate-limit fields of a response. The IETF draft fields win over
 * `X-RateLimit-*` when both are present. Forms understood:
 *
 * - `RateLimit-Limit: 100`, also with policies: `RateLimit-Limit: 100, 100;w=60, 1000;w=3600`
 * - `RateLimit-Remaining: 42`, `RateLimit-Reset: 30` (delta-seconds)
 * - `RateLimit-Policy: 100;w=60` or `10;w=1, 1000;w=3600` (drafts 03–07) and the
 *   structured form `"default";q=100;w=60` (draft 08 and later)
 * - `RateLimit: limit=100, remaining=42, reset=30` (drafts 06–07) and
 *   `"default";r=42;t=30` (draft 08 and later)
 * - `X-RateLimit-Limit`, `X-RateLimit-Remaining`, and `X-RateLimit-Reset`, which upstreams
 *   write either as seconds from now or as a Unix time. The heuristic: a value of
 *   1,000,000,000 or more (2001-09-09 as epoch seconds, 31 years as a delay) is a Unix
 *   time, in milliseconds when it is 1,000,000,000,000 or more; a smaller one is seconds
 *   from now. `X-RateLimit-Reset-After` (seconds, e.g. Discord's) and durations such as
 *   `"1s"`, `"6m0s"` or `"20ms"` (e.g. OpenAI's) are read too.
 *
 * Undefined when no field is present and readable.
 */
export function parseRateLimit(headers: HeadersInput | undefined | null, options: HeaderParseOptions = {}): RateLimitInfo | undefined {
  return parseIetf(headers, options) ?? parseX(headers, options);
}

/** `Retry-After` (measured from the response's `Date`) and the rate-limit fields, in one call. */
export function parseBackoffHints(headers: HeadersInput | undefined | null, options: HeaderParseOptions = {}): BackoffHints {
  const dateHeader = headerValue(headers, "date");
  const retryAfterMs = parseRetryAfter(headerValue(headers, "retry-after"), {
    ...options,
    ...(dateHeader === undefined ? {} : { dateHeader }),
  });
  const rateLimit = parseRateLimit(headers, options);
  return { ...(retryAfterMs === undefined ? {} : { retryAfterMs }), ...(rateLimit === undefined ? {} : { rateLimit }) };
}

interface Item {
  /** The bare value of the item (a number or a quoted name), lower-cased. */
  readonly value: string;
  readonly params: ReadonlyMap<string, string>;
}

/** Splits a structured-field list (`a;x=1, b;y=2`) or dictionary (`a=1, b=2`) into items. */
function items(text: string): Item[] {
  const out: Item[] = [];
  for (const member of splitOutsideQuotes(text, ",")) {
    const [head, ...rest] = splitOutsideQuotes(member, ";");
    if (head === undefined || head === "") continue;
    const params = new Map<string, string>();
    for (const p of rest) {
      const eq = p.indexOf("=");
      if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), unquote(p.slice(eq + 1).trim()));
      else if (p.trim() !== "") params.set(p.trim().toLowerCase(), "");
    }
    out.push({ value: head.trim(), params });
  }
  return out;
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === separator && !quoted) {
      parts.push(current.trim());
      current = "";
    } else current += ch;
  }
  parts.push(current.trim());
  return parts;
}

function unquote(text: string): string {
  return text.length >= 2 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
}

/** A non-negative decimal number, or undefined (garbage and negatives are ignored). */
function count(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  return /^\d+(\.\d+)?$/.test(t) ? Number(t) : undefined;
}

function clampMs(ms: number, maxMs: number): number {
  return Math.min(Math.max(0, ms), maxMs);
}

interface Policy {
  readonly quota: number;
  readonly windowMs: number;
}

function policyOf(item: Item, quotaParam: string | undefined): Policy | undefined {
  const quota = count(quotaParam === undefined ? item.value : item.params.get(quotaParam));
  const window = count(item.params.get("w"));
  if (quota === undefined || window === undefined || window <= 0) return undefined;
  return { quota, windowMs: window * 1000 };
}

/** The policy with the smallest sustained rate. */
function binding(policies: readonly (Policy | undefined)[]): Policy | undefined {
  let best: Policy | undefined;
  for (const p of policies) if (p && (!best || p.quota / p.windowMs < best.quota / best.windowMs)) best = p;
  return best;
}

function parseIetf(headers: HeadersInput | undefined | null, options: HeaderParseOptions): RateLimitInfo | undefined {
  const maxMs = options.maxMs ?? MAX_HEADER_WAIT_MS;
  const limitText = headerValue(headers, "ratelimit-limit");
  const remainingText = headerValue(headers, "ratelimit-remaining");
  const resetText = headerValue(headers, "ratelimit-reset");
  const policyText = headerValue(headers, "ratelimit-policy");
  const combinedText = headerValue(headers, "ratelimit");
  let limit: number | undefined;
  let remaining: number | undefined;
  let resetSec: number | undefined;
  const policies: (Policy | undefined)[] = [];

  if (limitText !== undefined) {
    const [first, ...more] = items(limitText);
    if (first) {
      limit = count(first.value);
      if (first.params.has("w")) policies.push(policyOf(first, undefined));
    }
    for (const item of more) policies.push(policyOf(item, undefined));
  }
  if (remainingText !== undefined) remaining = count(items(remainingText)[0]?.value);
  if (resetText !== undefined) resetSec = count(items(resetText)[0]?.value);
  if (policyText !== undefined) {
    for (const item of items(policyText)) {
      // Draft 08+: a named item with q= (quota) and w=; earlier drafts: the quota is the item.
      policies.push(item.params.has("q") ? policyOf(item, "q") : policyOf(item, undefined));
    }
  }
  if (combinedText !== undefined) {
    const parsed = items(combinedText);
    const dictionary = new Map<string, string>();
    for (const item of parsed) {
      const eq = item.value.indexOf("=");
      if (eq > 0) dictionary.set(item.value.slice(0, eq).trim().toLowerCase(), item.value.slice(eq + 1).trim());
    }
    if (dictionary.size > 0) {
      // Drafts 06–07: `RateLimit: limit=100, remaining=42, reset=30`.
      limit ??= count(dictionary.get("limit"));
      remaining ??= count(dictionary.get("remaining"));
      resetSec ??= count(dictionary.get("reset"));
    } else {
      // Draft 08+: `RateLimit: "default";r=42;t=30`; with several policies, the tightest counts.
      for (const item of parsed) {
        const r = count(item.params.get("r"));
        const t = count(item.params.get("t"));
        if (r !== undefined && (remaining === undefined || r < remaining)) {
          remaining = r;
          if (t !== undefined) resetSec = t;
        } else if (resetSec === undefined && t !== undefined) resetSec = t;
      }
    }
  }
  const policy = binding(policies);
  if (limit === undefined && remaining === undefined && resetSec === undefined && policy === undefined) return undefined;
  return build(
    "ratelimit",
    limit ?? policy?.quota,
    remaining,
    resetSec === undefined ? undefined : clampMs(resetSec * 1000, maxMs),
    policy,
  );
}

function build(
  source: RateLimitInfo["source"],
  limit: number | undefined,
  remaining: number | undefined,
  resetMs: number | undefined,
  policy: Policy | undefined,
): RateLimitInfo {
  return {
    source,
    ...(limit === undefined ? {} : { limit }),
    ...(remaining === undefined ? {} : { remaining }),
    ...(resetMs === undefined ? {} : { resetMs }),
    ...(policy === undefined ? {} : { windowMs: policy.windowMs, policyRatePerSec: (policy.quota * 1000) / policy.windowMs }),
  };
}

/** Unix times at or above this many seconds (2001-09-09) are read as dates, not delays. */
const EPOCH_SECONDS_FROM = 1e9;
/** ... and at or above this, as milliseconds. */
const EPOCH_MS_FROM = 1e12;

function parseX(headers: HeadersInput | undefined | null, options: HeaderParseOptions): RateLimitInfo | undefined {
  const maxMs = options.maxMs ?? MAX_HEADER_WAIT_MS;
  const limit = count(firstItem(headerValue(headers, "x-ratelimit-limit")));
  const remaining = count(firstItem(headerValue(headers, "x-ratelimit-remaining")));
  let resetMs: number | undefined;
  const after = headerValue(headers, "x-ratelimit-reset-after");
  if (after !== undefined) resetMs = durationMs(firstItem(after));
  const reset = firstItem(headerValue(headers, "x-ratelimit-reset"));
  if (resetMs === undefined && reset !== undefined) {
    const n = count(reset);
    if (n === undefined) resetMs = durationMs(reset);
    else if (n >= EPOCH_MS_FROM) resetMs = n - (options.nowMs ?? systemClock.now());
    else if (n >= EPOCH_SECONDS_FROM) resetMs = n * 1000 - (options.nowMs ?? systemClock.now());
    else resetMs = n * 1000;
  }
  if (limit === undefined && remaining === undefined && resetMs === undefined) return undefined;
  return build("x-ratelimit", limit, remaining, resetMs === undefined ? undefined : clampMs(resetMs, maxMs), undefined);
}

function firstItem(text: string | undefined): string | undefined {
  return text === undefined ? undefined : text.split(",")[0]?.trim();
}

const DURATION = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$/;

/** Seconds (`"1.5"`) or a Go-style duration (`"1h2m3.5s"`, `"20ms"`), in ms; undefined otherwise. */
function durationMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  const seconds = count(t);
  if (seconds !== undefined) return seconds * 1000;
  const match = DURATION.exec(t);
  if (!match || t === "") return undefined;
  const [, h, m, s, ms] = match;
  return Number(h ?? 0) * 3_600_000 + Number(m ?? 0) * 60_000 + Number(s ?? 0) * 1000 + Number(ms ?? 0);
}
