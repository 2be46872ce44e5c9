import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rateLimitHeaders } from "../../src/limit/headers.js";
import {
  headerValue,
  MAX_HEADER_WAIT_MS,
  parseBackoffHints,
  parseHttpDate,
  parseRateLimit,
  parseRetryAfter,
} from "../../src/core/headers.js";

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const at = { nowMs: NOW };
/** An IMF-fixdate `ms` milliseconds from NOW. */
const imf = (ms: number): string => new Date(NOW + ms).toUTCString();

describe("headerValue", () => {
  it("reads a fetch Headers, a plain record in any letter case, and a Map", () => {
    expect(headerValue(new Headers({ "Retry-After": "5" }), "retry-after")).toBe("5");
    expect(headerValue({ "Retry-After": "5" }, "RETRY-AFTER")).toBe("5");
    expect(headerValue({ "retry-after": 5 }, "Retry-After")).toBe("5");
    expect(headerValue(new Map([["Retry-After", "5"]]), "retry-after")).toBe("5");
  });

  it("joins repeated values and ignores what is not a header", () => {
    expect(headerValue({ "x-ratelimit-limit": ["10", "20"] }, "x-ratelimit-limit")).toBe("10, 20");
    expect(headerValue({ a: null }, "a")).toBeUndefined();
    expect(headerValue({ a: Number.NaN }, "a")).toBeUndefined();
    expect(headerValue(null, "a")).toBeUndefined();
    expect(headerValue(undefined, "a")).toBeUndefined();
    expect(headerValue(new Headers(), "a")).toBeUndefined();
  });
});

describe("parseRetryAfter", () => {
  it.each([
    ["0", 0],
    ["1", 1000],
    ["120", 120_000],
    ["  7 ", 7000],
    ["1.5", 1500],
  ])("reads delay-seconds %j as %d ms", (value, ms) => {
    expect(parseRetryAfter(value)).toBe(ms);
  });

  it("reads an HTTP-date in all three forms of RFC 9110, measured from now", () => {
    const date = Date.UTC(1994, 10, 6, 8, 49, 37);
    const from = { nowMs: date - 30_000 };
    expect(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", from)).toBe(30_000);
    expect(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", from)).toBe(30_000);
    expect(parseRetryAfter("Sun Nov  6 08:49:37 1994", from)).toBe(30_000);
  });

  it("measures a date from the response's Date header when it is readable", () => {
    expect(parseRetryAfter(imf(10_000), { nowMs: NOW + 1_000_000, dateHeader: imf(4000) })).toBe(6000);
    // An unreadable Date falls back to now.
    expect(parseRetryAfter(imf(10_000), { nowMs: NOW, dateHeader: "yesterday" })).toBe(10_000);
  });

  it("reads a date in the past as 0", () => {
    expect(parseRetryAfter(imf(-60_000), at)).toBe(0);
    expect(parseRetryAfter("Thu, 01 Jan 1970 00:00:00 GMT", at)).toBe(0);
  });

  it("caps a far future at maxMs (one day by default)", () => {
    expect(parseRetryAfter(imf(10 * 86_400_000), at)).toBe(MAX_HEADER_WAIT_MS);
    expect(parseRetryAfter("999999999999")).toBe(MAX_HEADER_WAIT_MS);
    expect(parseRetryAfter(imf(60_000), { ...at, maxMs: 5000 })).toBe(5000);
    expect(parseRetryAfter("60", { maxMs: 5000 })).toBe(5000);
    expect(MAX_HEADER_WAIT_MS).toBe(86_400_000);
  });

  it.each([
    "-1",
    "-0.5",
    "soon",
    "",
    "   ",
    "1e3",
    "0x10",
    "Infinity",
    "NaN",
    "5 seconds",
    "Mon, 32 Jan 2024 00:00:00 GMT",
    "Fri, 31 Feb 2025 10:00:00 GMT",
    "Mon, 01 Foo 2024 00:00:00 GMT",
    "Mon, 01 Jan 2024 25:00:00 GMT",
    "2024-01-01T00:00:00Z",
  ])("ignores garbage and negatives: %j", (value) => {
    expect(parseRetryAfter(value, at)).toBeUndefined();
  });

  it("ignores values that are not strings", () => {
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it("never throws and never returns a negative or an over-cap value for any input (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 10 ** 7 }), (text, maxMs) => {
        const ms = parseRetryAfter(text, { nowMs: NOW, maxMs });
        if (ms !== undefined) {
          expect(ms).toBeGreaterThanOrEqual(0);
          expect(ms).toBeLessThanOrEqual(maxMs);
        }
      }),
    );
  });
});

describe("parseHttpDate", () => {
  it("is strict: only the three HTTP-date forms, and only real days", () => {
    expect(parseHttpDate("Tue, 29 Feb 2028 00:00:00 GMT")).toBe(Date.UTC(2028, 1, 29));
    expect(parseHttpDate("Sat, 29 Feb 2025 00:00:00 GMT")).toBeUndefined();
    expect(parseHttpDate("2")).toBeUndefined();
    expect(parseHttpDate("Sun, 06 Nov 1994 08:49:37 UTC")).toBeUndefined();
  });
});

describe("parseRateLimit: the IETF draft fields", () => {
  it("reads RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (delta-seconds)", () => {
    expect(parseRateLimit({ "RateLimit-Limit": "100", "RateLimit-Remaining": "42", "RateLimit-Reset": "30" })).toEqual({
      source: "ratelimit",
      limit: 100,
      remaining: 42,
      resetMs: 30_000,
    });
  });

  it("reads any one field alone", () => {
    expect(parseRateLimit({ "ratelimit-remaining": "3" })).toEqual({ source: "ratelimit", remaining: 3 });
    expect(parseRateLimit({ "ratelimit-reset": "2" })).toEqual({ source: "ratelimit", resetMs: 2000 });
    expect(parseRateLimit({ "ratelimit-limit": "9" })).toEqual({ source: "ratelimit", limit: 9 });
  });

  it("reads RateLimit-Policy (drafts 03-07) and the binding policy's rate", () => {
    expect(parseRateLimit({ "RateLimit-Policy": "100;w=60" })).toEqual({
      source: "ratelimit",
      limit: 100,
      windowMs: 60_000,
      policyRatePerSec: 100 / 60,
    });
    // Several policies: the smallest sustained rate binds (1000 per hour < 10 per second).
    expect(parseRateLimit({ "RateLimit-Limit": "10", "RateLimit-Policy": "10;w=1, 1000;w=3600" })).toMatchObject({
      limit: 10,
      windowMs: 3_600_000,
      policyRatePerSec: 1000 / 3600,
    });
  });

  it("reads policies given in RateLimit-Limit", () => {
    expect(parseRateLimit({ "RateLimit-Limit": "100, 100;w=60, 1000;w=3600", "RateLimit-Remaining": "5" })).toMatchObject({
      limit: 100,
      remaining: 5,
      windowMs: 3_600_000,
      policyRatePerSec: 1000 / 3600,
    });
  });

  it("reads the structured RateLimit-Policy of draft 08 and later", () => {
    expect(parseRateLimit({ "RateLimit-Policy": '"default";q=100;w=60' })).toMatchObject({
      limit: 100,
      windowMs: 60_000,
      policyRatePerSec: 100 / 60,
    });
    expect(parseRateLimit({ "RateLimit-Policy": '"burst";q=10;w=1, "daily";q=1000;w=86400' })).toMatchObject({ windowMs: 86_400_000 });
  });

  it("reads the combined RateLimit field: the dictionary of drafts 06-07", () => {
    expect(parseRateLimit({ RateLimit: "limit=100, remaining=42, reset=30" })).toEqual({
      source: "ratelimit",
      limit: 100,
      remaining: 42,
      resetMs: 30_000,
    });
  });

  it("reads the combined RateLimit field of draft 08 and later; the tightest policy counts", () => {
    expect(parseRateLimit({ RateLimit: '"default";r=42;t=30' })).toEqual({ source: "ratelimit", remaining: 42, resetMs: 30_000 });
    expect(parseRateLimit({ RateLimit: '"hour";r=900;t=3000, "second";r=2;t=1' })).toEqual({
      source: "ratelimit",
      remaining: 2,
      resetMs: 1000,
    });
    expect(parseRateLimit({ RateLimit: '"default";r=5;t=10', "RateLimit-Policy": '"default";q=100;w=60' })).toMatchObject({
      limit: 100,
      remaining: 5,
      resetMs: 10_000,
      windowMs: 60_000,
    });
  });

  it("the separate fields win over the combined one", () => {
    expect(parseRateLimit({ "RateLimit-Remaining": "1", RateLimit: "limit=100, remaining=42, reset=30" })).toMatchObject({
      limit: 100,
      remaining: 1,
      resetMs: 30_000,
    });
  });

  it("wins over X-RateLimit-* when both are present", () => {
    expect(parseRateLimit({ "RateLimit-Remaining": "1", "X-RateLimit-Remaining": "99" })).toEqual({ source: "ratelimit", remaining: 1 });
  });

  it("caps a far-future reset at maxMs", () => {
    expect(parseRateLimit({ "RateLimit-Reset": "999999999" })?.resetMs).toBe(MAX_HEADER_WAIT_MS);
    expect(parseRateLimit({ "RateLimit-Reset": "120" }, { maxMs: 60_000 })?.resetMs).toBe(60_000);
  });

  it("ignores garbage and negative values, field by field", () => {
    expect(parseRateLimit({ "RateLimit-Limit": "many", "RateLimit-Remaining": "-1", "RateLimit-Reset": "-30" })).toBeUndefined();
    expect(parseRateLimit({ "RateLimit-Limit": "100", "RateLimit-Remaining": "-1", "RateLimit-Reset": "soon" })).toEqual({
      source: "ratelimit",
      limit: 100,
    });
    expect(parseRateLimit({ "RateLimit-Policy": "100;w=0" })).toBeUndefined();
    expect(parseRateLimit({ "RateLimit-Policy": "100;w=-60" })).toBeUndefined();
    expect(parseRateLimit({ "RateLimit-Policy": "lots;w=60" })).toBeUndefined();
    expect(parseRateLimit({ RateLimit: "limit=x, remaining=-2" })).toBeUndefined();
    expect(parseRateLimit({ RateLimit: '"default";r=-1;t=abc' })).toBeUndefined();
    expect(parseRateLimit({ RateLimit: ";;,,==" })).toBeUndefined();
  });
});

describe("parseRateLimit: X-RateLimit-*", () => {
  it("reads limit, remaining and a reset in seconds from now", () => {
    expect(parseRateLimit({ "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999", "X-RateLimit-Reset": "60" }, at)).toEqual({
      source: "x-ratelimit",
      limit: 5000,
      remaining: 4999,
      resetMs: 60_000,
    });
  });

  it("reads a reset given as a Unix time in seconds or milliseconds", () => {
    expect(parseRateLimit({ "x-ratelimit-reset": String((NOW + 90_000) / 1000) }, at)?.resetMs).toBe(90_000);
    expect(parseRateLimit({ "x-ratelimit-reset": String(NOW + 1500) }, at)?.resetMs).toBe(1500);
  });

  it("reads a Unix time in the past as 0, and one far ahead as the cap", () => {
    expect(parseRateLimit({ "x-ratelimit-reset": String((NOW - 90_000) / 1000) }, at)?.resetMs).toBe(0);
    expect(parseRateLimit({ "x-ratelimit-reset": String(NOW - 1) }, at)?.resetMs).toBe(0);
    expect(parseRateLimit({ "x-ratelimit-reset": String(NOW / 1000 + 30 * 86_400) }, at)?.resetMs).toBe(MAX_HEADER_WAIT_MS);
  });

  it("reads X-RateLimit-Reset-After and duration forms", () => {
    expect(parseRateLimit({ "X-RateLimit-Reset-After": "1.25" })?.resetMs).toBe(1250);
    expect(parseRateLimit({ "X-RateLimit-Reset": "6m0s" })?.resetMs).toBe(360_000);
    expect(parseRateLimit({ "X-RateLimit-Reset": "20ms" })?.resetMs).toBe(20);
    expect(parseRateLimit({ "X-RateLimit-Reset": "1h2m3.5s" })?.resetMs).toBe(3_723_500);
    // Reset-After wins over Reset.
    expect(parseRateLimit({ "X-RateLimit-Reset-After": "2", "X-RateLimit-Reset": "60" })?.resetMs).toBe(2000);
  });

  it("takes the first of repeated values", () => {
    expect(parseRateLimit({ "x-ratelimit-remaining": ["7", "9"] })).toEqual({ source: "x-ratelimit", remaining: 7 });
  });

  it("ignores garbage and negatives", () => {
    expect(parseRateLimit({ "X-RateLimit-Limit": "-1", "X-RateLimit-Remaining": "lots", "X-RateLimit-Reset": "-5" }, at)).toBeUndefined();
    expect(parseRateLimit({ "X-RateLimit-Reset": "tomorrow" }, at)).toBeUndefined();
    expect(parseRateLimit({ "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "5x" }, at)).toEqual({
      source: "x-ratelimit",
      remaining: 3,
    });
  });

  it("is undefined without any rate-limit field", () => {
    expect(parseRateLimit({ "content-type": "text/plain" })).toBeUndefined();
    expect(parseRateLimit(undefined)).toBeUndefined();
  });
});

describe("parseBackoffHints", () => {
  it("reads Retry-After (from the response's Date) and the rate-limit fields together", () => {
    const headers = new Headers({ "Retry-After": imf(8000), Date: imf(3000), "RateLimit-Remaining": "0", "RateLimit-Reset": "5" });
    expect(parseBackoffHints(headers, { nowMs: NOW + 999_999 })).toEqual({
      retryAfterMs: 5000,
      rateLimit: { source: "ratelimit", remaining: 0, resetMs: 5000 },
    });
  });

  it("leaves out what is absent or unreadable", () => {
    expect(parseBackoffHints({ "retry-after": "later" })).toEqual({});
    expect(parseBackoffHints(null)).toEqual({});
  });

  it("reads back what rateLimitHeaders writes", () => {
    const written = rateLimitHeaders(
      { allowed: false, remaining: 0, limit: 10, retryAfterMs: 1500, resetAfterMs: 4000 },
      { policy: "10;w=4" },
    );
    expect(parseBackoffHints(written)).toEqual({
      retryAfterMs: 2000,
      rateLimit: { source: "ratelimit", limit: 10, remaining: 0, resetMs: 4000, windowMs: 4000, policyRatePerSec: 2.5 },
    });
  });

  it("never throws on any header values (property)", () => {
    const names = [
      "retry-after",
      "date",
      "ratelimit",
      "ratelimit-limit",
      "ratelimit-remaining",
      "ratelimit-reset",
      "ratelimit-policy",
      "x-ratelimit-limit",
      "x-ratelimit-remaining",
      "x-ratelimit-reset",
      "x-ratelimit-reset-after",
    ];
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...names), fc.string()), (headers) => {
        const hints = parseBackoffHints(headers, at);
        for (const v of [hints.retryAfterMs, hints.rateLimit?.resetMs, hints.rateLimit?.remaining, hints.rateLimit?.limit]) {
          if (v !== undefined) expect(v).toBeGreaterThanOrEqual(0);
        }
        if (hints.rateLimit?.resetMs !== undefined) expect(hints.rateLimit.resetMs).toBeLessThanOrEqual(MAX_HEADER_WAIT_MS);
      }),
    );
  });
});
