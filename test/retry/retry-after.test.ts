import { describe, expect, it } from "vitest";
import { constant } from "../../src/backoff/index.js";
import { ManualClock } from "../../src/core/clock.js";
import { RateLimitExceededError } from "../../src/core/errors.js";
import { parseRetryAfter as httpParseRetryAfter } from "../../src/http/index.js";
import { parseRetryAfter } from "../../src/index.js";
import { RetryPolicy, retryAfterOf } from "../../src/retry/index.js";
import { track } from "../policy/settle.js";

/** Runs `policy` over `outcomes` (an error to throw, or a value to return) and reports when each attempt ran. */
async function attemptTimes(policy: RetryPolicy, clock: ManualClock, outcomes: readonly unknown[]): Promise<number[]> {
  const times: number[] = [];
  const call = track(
    policy.execute(({ attempt }) => {
      times.push(clock.now());
      const outcome = outcomes[attempt - 1];
      if (outcome instanceof Error) throw outcome;
      return outcome;
    }),
  );
  await clock.advanceAsync(1_000_000);
  await call.outcome;
  return times;
}

function withRetryAfterMs(ms: number): Error {
  return Object.assign(new Error("busy"), { retryAfterMs: ms });
}

describe("respectRetryAfter", () => {
  it("waits an error's retryAfterMs when longer than the backoff", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ clock, backoff: constant(100) });
    expect(await attemptTimes(policy, clock, [withRetryAfterMs(5_000), new Error("plain"), "ok"])).toEqual([0, 5_000, 5_100]);
  });

  it("keeps the backoff when it is longer than the Retry-After", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ clock, backoff: constant(1_000) });
    expect(await attemptTimes(policy, clock, [withRetryAfterMs(10), "ok"])).toEqual([0, 1_000]);
  });

  it("honours a RateLimitExceededError's wait (it is retried)", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ clock, backoff: constant(0) });
    expect(await attemptTimes(policy, clock, [new RateLimitExceededError(2_500), "ok"])).toEqual([0, 2_500]);
  });

  it("honours the Retry-After header of a returned Response that retryOnResult rejects", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ clock, backoff: constant(10), retryOnResult: (r: Response) => r.status === 429 });
    const limited = new Response(null, { status: 429, headers: { "Retry-After": "3" } });
    const times = await attemptTimes(policy, clock, [limited, new Response("ok")]);
    expect(times).toEqual([0, 3_000]);
  });

  it("honours the Retry-After header of error.response (HTTP client errors)", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ clock, backoff: constant(10) });
    const error = Object.assign(new Error("503"), { response: new Response(null, { status: 503, headers: { "retry-after": "2" } }) });
    expect(await attemptTimes(policy, clock, [error, "ok"])).toEqual([0, 2_000]);
  });

  it("reads plain-object headers (axios / node:http shape) in either case", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ clock, backoff: constant(0) });
    const lower = Object.assign(new Error("a"), { response: { headers: { "retry-after": "1" } } });
    const title = Object.assign(new Error("b"), { response: { headers: { "Retry-After": "4" } } });
    expect(await attemptTimes(policy, clock, [lower, title, "ok"])).toEqual([0, 1_000, 5_000]);
  });

  it("an HTTP-date Retry-After is measured from the response's Date header", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ clock, backoff: constant(0) });
    const response = new Response(null, {
      status: 503,
      headers: { "Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT", Date: "Wed, 21 Oct 2026 07:28:00 GMT" },
    });
    const error = Object.assign(new Error("503"), { response });
    expect(await attemptTimes(policy, clock, [error, "ok"])).toEqual([0, 30_000]);
  });

  it("caps a long Retry-After at maxRetryAfterMs (default 60 s)", async () => {
    const clock = new ManualClock();
    expect(await attemptTimes(new RetryPolicy({ clock, backoff: constant(0) }), clock, [withRetryAfterMs(3_600_000), "ok"])).toEqual([
      0, 60_000,
    ]);
    const clock2 = new ManualClock();
    const capped = new RetryPolicy({ clock: clock2, backoff: constant(0), maxRetryAfterMs: 2_000 });
    expect(await attemptTimes(capped, clock2, [new RateLimitExceededError(3_600_000), "ok"])).toEqual([0, 2_000]);
  });

  it("never retries a RateLimitExceededError that can never be admitted (retryAfterMs Infinity)", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ clock, backoff: constant(0), maxRetryAfterMs: 2_000 });
    expect(await attemptTimes(policy, clock, [new RateLimitExceededError(Infinity), "ok"])).toEqual([0]);
  });

  it("respectRetryAfter: false ignores every hint", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ clock, backoff: constant(100), respectRetryAfter: false });
    expect(await attemptTimes(policy, clock, [withRetryAfterMs(5_000), new RateLimitExceededError(9_000), "ok"])).toEqual([0, 100, 200]);
  });

  it("reports the Retry-After wait to onRetry", async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    const policy = new RetryPolicy({ clock, backoff: constant(100), onRetry: (e) => delays.push(e.delayMs) });
    await attemptTimes(policy, clock, [withRetryAfterMs(750), "ok"]);
    expect(delays).toEqual([750]);
  });
});

describe("retryAfterOf / parseRetryAfter", () => {
  it("reads each source, and nothing from plain values", () => {
    expect(retryAfterOf(new RateLimitExceededError(1_234))).toBe(1_234);
    expect(retryAfterOf({ retryAfterMs: 0 })).toBe(0);
    expect(retryAfterOf({ retryAfterMs: -5 })).toBeUndefined();
    expect(retryAfterOf({ retryAfterMs: "10" })).toBeUndefined();
    expect(retryAfterOf(new Response(null, { headers: { "Retry-After": "7" } }))).toBe(7_000);
    expect(retryAfterOf(new Response(null))).toBeUndefined();
    expect(retryAfterOf({ headers: null })).toBeUndefined();
    expect(retryAfterOf({ response: 5 })).toBeUndefined();
    expect(retryAfterOf(null)).toBeUndefined();
    expect(retryAfterOf("Retry-After: 5")).toBeUndefined();
    expect(retryAfterOf(new Error("plain"))).toBeUndefined();
  });

  it("parses seconds (also fractional), HTTP dates, and rejects junk", () => {
    expect(parseRetryAfter("120")).toBe(120_000);
    expect(parseRetryAfter(" 1.5 ")).toBe(1_500);
    expect(parseRetryAfter("-3")).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter("Tomorrow")).toBeUndefined();
    const now = Date.parse("Mon, 23 Nov 2026 10:00:00 GMT");
    expect(parseRetryAfter("Mon, 23 Nov 2026 10:00:05 GMT", { nowMs: now })).toBe(5_000);
    expect(parseRetryAfter("Mon, 23 Nov 2026 09:59:00 GMT", { nowMs: now })).toBe(0);
    expect(parseRetryAfter("Monday, 23-Nov-26 10:01:00 GMT", { nowMs: now })).toBe(60_000);
    expect(parseRetryAfter("Mon, 23 Nov 2026 10:00:05 GMT", { dateHeader: "not a date", nowMs: now })).toBe(5_000);
  });

  it("the root export is the one strict parser of breakwater/http", () => {
    expect(parseRetryAfter).toBe(httpParseRetryAfter);
  });

  it("retryAfterOf reads a header strictly (RFC 9110): garbage and non-GMT dates ask for nothing", () => {
    const withHeader = (value: string, date?: string): unknown => ({
      response: { headers: new Headers(date === undefined ? { "retry-after": value } : { "retry-after": value, date }) },
    });
    for (const garbage of [
      "soon",
      "",
      "-3",
      "1e3",
      "0x10",
      "Infinity",
      "5 seconds",
      "2026-11-23T10:00:05Z",
      "Mon, 23 Nov 2026 10:00:05 +0000",
    ]) {
      expect(retryAfterOf(withHeader(garbage))).toBeUndefined();
    }
    // A date is measured from the response's own Date header.
    expect(retryAfterOf(withHeader("Mon, 23 Nov 2026 10:00:05 GMT", "Mon, 23 Nov 2026 10:00:00 GMT"))).toBe(5_000);
    // Plain records in any letter case, and numbers, as headerValue reads them.
    expect(retryAfterOf({ headers: { "RETRY-AFTER": "2" } })).toBe(2_000);
    expect(retryAfterOf({ headers: { "retry-after": 3 } })).toBe(3_000);
    // Not capped here: RetryPolicy caps at its maxRetryAfterMs.
    expect(retryAfterOf({ headers: { "retry-after": "172800" } })).toBe(172_800_000);
  });
});
