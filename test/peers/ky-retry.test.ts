/**
 * Ported from ky test/retry.ts (sindresorhus/ky): the cases whose feature Breakwater's HTTP
 * clients have, run against `ApiClient` on a real `node:http` server on 127.0.0.1.
 *
 * API mapping:
 * - ky's `retry: n` / `retry.limit` (default 2) => `maxRetriesOnBackoff` (default 3).
 * - ky's `retry.statusCodes` and `retry.afterStatusCodes` (413, 429, 503: wait for Retry-After)
 *   => the rate config's `backoffStatuses` (default `[429, 503]`): every back-off status waits
 *   for its Retry-After when it has one, and for the limiter's cooldown when it has none.
 * - ky's `retry.delay` / `backoffLimit` / `jitter` => the limiter's pause after a back-off
 *   without Retry-After: `cooldownMultiplier` pacing intervals, at most `cooldownCapMs`.
 * - ky's `timeout` (one budget for the whole request, retries included) => `timeoutMs`;
 *   `timeout: false` => `timeoutMs: Infinity`.
 * - ky's `HTTPError` after the last retry => `BackoffExhaustedError`; ky's `withPerformance`
 *   (real time) => the waits between requests on an injected ManualClock, noted by the server
 *   as each request arrives.
 * Each case keeps the peer's assertion, translated, except where Breakwater deliberately differs:
 * there the case asserts Breakwater's behaviour, and a comment names what ky asserts and the page
 * that says so (or, for a difference no page states yet, "undocumented").
 */
import { describe, expect, it } from "vitest";
import { BackoffExhaustedError, InvalidOptionError, ManualClock, TimeoutError } from "../../src/index.js";
import { ApiClient, type ApiClientOptions, apiRateConfig, DEFAULT_RATE_CONFIG, type RateConfig } from "../../src/http/index.js";
import { failure, hang, hangUp, reply, sequence, serverForFile } from "../http/server.js";
import { gaps, settleOn, stamped } from "./helpers.js";

const server = serverForFile();
const FAST = { ratePerSec: 1000, burst: 10 };
const fixture = "fixture";
const kyDefaultRetries = 2;

function client(clock: ManualClock, options: Partial<ApiClientOptions> = {}): ApiClient {
  return new ApiClient({ baseUrl: server.url, clock, rateConfig: FAST, timeoutMs: Number.POSITIVE_INFINITY, ...options });
}

function send(api: ApiClient, clock: ManualClock, method = "GET", options = {}): Promise<Response> {
  return settleOn(api.limiter, clock, api.request(method, "/", options));
}

/** Answers `first` until the request numbered `okAt` (from 1), which gets the fixture. */
function failUntil(okAt: number, status: number, headers: Record<string, string> = {}) {
  return sequence(...Array.from({ length: okAt - 1 }, () => reply(status, headers)), reply(200, {}, fixture));
}

describe("ky retry: which failures are retried", () => {
  it("network error: not retried, fetch's error is rethrown", async () => {
    // ky retries a network failure (its default limit: 3 requests in all). Breakwater's
    // clients retry back-off statuses only: a network failure rejects at once with fetch's
    // TypeError (src/http/api-client.ts:190; undocumented in docs/http-clients.md).
    const clock = new ManualClock(0);
    server.handle(sequence(hangUp, hangUp, reply(200, {}, fixture)));
    const error = await failure(send(client(clock), clock));
    expect(error).toBeInstanceOf(TypeError);
    expect(server.requests).toHaveLength(1);
  });

  it("status code 500: returned as it is by default", async () => {
    // ky retries a 500 (3 requests, then the fixture). Breakwater returns any status that is not
    // a back-off status as it is (docs/http-clients.md:8, default back-off statuses :47).
    const clock = new ManualClock(0);
    server.handle(failUntil(kyDefaultRetries + 1, 500));
    expect((await send(client(clock), clock)).status).toBe(500);
    expect(server.requests).toHaveLength(1);
  });

  it("status code 500 is retried once it is a back-off status", async () => {
    const clock = new ManualClock(0);
    server.handle(failUntil(kyDefaultRetries + 1, 500));
    const api = client(clock, { rateConfig: { ...FAST, backoffStatuses: [500] }, maxRetriesOnBackoff: kyDefaultRetries });
    expect(await (await send(api, clock)).text()).toBe(fixture);
    expect(server.requests).toHaveLength(kyDefaultRetries + 1);
  });

  it("only on defined status codes: a 400 is returned after one request", async () => {
    const clock = new ManualClock(0);
    server.handle(failUntil(kyDefaultRetries + 1, 400));
    expect((await send(client(clock), clock)).status).toBe(400);
    expect(server.requests).toHaveLength(1);
  });

  it("POST is retried after a back-off status", async () => {
    // ky: "not on POST", one request (POST is not in its retry.methods). Breakwater retries a
    // back-off status whatever the method: a 429 or 503 says the request was not processed
    // (undocumented: docs/http-clients.md:6-8 names no methods).
    const clock = new ManualClock(0);
    server.handle(failUntil(kyDefaultRetries + 1, 503));
    expect(await (await send(client(clock), clock, "POST")).text()).toBe(fixture);
    expect(server.requests.map((r) => r.method)).toEqual(["POST", "POST", "POST"]);
  });

  it("respect number of retries (408 as a back-off status, limit 3)", async () => {
    const clock = new ManualClock(0);
    server.handle(reply(408));
    const api = client(clock, { rateConfig: { ...FAST, backoffStatuses: [408] }, maxRetriesOnBackoff: 3 });
    expect(await failure(send(api, clock))).toMatchObject({ status: 408, attempts: 4 });
    expect(server.requests).toHaveLength(4);
  });

  it("doesn't retry when the limit is set to 0", async () => {
    const clock = new ManualClock(0);
    server.handle(reply(408));
    const api = client(clock, { rateConfig: { ...FAST, backoffStatuses: [408], maxRetriesOnBackoff: 0 } });
    expect(await failure(send(api, clock))).toMatchObject({ status: 408, attempts: 1 });
    expect(server.requests).toHaveLength(1);
  });

  it("doesn't retry on 413 without Retry-After header (413 is no default back-off status)", async () => {
    const clock = new ManualClock(0);
    server.handle(reply(413));
    expect((await send(client(clock), clock)).status).toBe(413);
    expect(server.requests).toHaveLength(1);
  });

  it("throws when the status codes are not a list", () => {
    expect(() => client(new ManualClock(0), { rateConfig: { ratePerSec: 1, backoffStatuses: 403 as unknown as number[] } })).toThrow(
      InvalidOptionError,
    );
    // ...or name a status that is not an error.
    expect(() => client(new ManualClock(0), { rateConfig: { ratePerSec: 1, backoffStatuses: [302] } })).toThrow(InvalidOptionError);
  });

  it("retry options ignore undefined overrides and keep defaults", async () => {
    const clock = new ManualClock(0);
    expect(client(clock, { maxRetriesOnBackoff: undefined, rateConfig: undefined }).maxRetriesOnBackoff).toBe(3);
    const api = client(clock, { rateConfig: { ...FAST, maxRetriesOnBackoff: undefined } as RateConfig });
    expect(api.maxRetriesOnBackoff).toBe(DEFAULT_RATE_CONFIG.maxRetriesOnBackoff);
    server.handle(reply(503));
    expect(await failure(send(api, clock))).toMatchObject({ attempts: 4 });
  });
});

describe("ky retry: Retry-After and RateLimit-Reset", () => {
  it("respect Retry-After: 0 and retry immediately", async () => {
    const clock = new ManualClock(0);
    const s = stamped(clock, failUntil(5, 413, { "retry-after": "0" }));
    server.handle(s.handler);
    const api = client(clock, { rateConfig: { ...FAST, backoffStatuses: [413] }, maxRetriesOnBackoff: 4 });
    expect(await (await send(api, clock)).text()).toBe(fixture);
    expect(s.times).toHaveLength(5);
    expect(clock.now()).toBeLessThan(40);
  });

  it("respect 413 Retry-After", async () => {
    const clock = new ManualClock(0);
    const s = stamped(clock, failUntil(kyDefaultRetries + 1, 413, { "retry-after": "2" }));
    server.handle(s.handler);
    const api = client(clock, { rateConfig: { ...FAST, backoffStatuses: [413] }, maxRetriesOnBackoff: kyDefaultRetries });
    expect(await (await send(api, clock)).text()).toBe(fixture);
    expect(gaps(s.times)).toEqual([2000, 2000]);
  });

  it("respect 413 Retry-After with timestamp", async () => {
    const clock = new ManualClock(0);
    let n = 0;
    const s = stamped(clock, (_req, res) => {
      if (++n === kyDefaultRetries + 1) return void res.end(fixture);
      const now = Date.now();
      res.writeHead(413, { date: new Date(now).toUTCString(), "retry-after": new Date(now + 3000).toUTCString() }).end();
    });
    server.handle(s.handler);
    const api = client(clock, { rateConfig: { ...FAST, backoffStatuses: [413] }, maxRetriesOnBackoff: kyDefaultRetries });
    expect(await (await send(api, clock)).text()).toBe(fixture);
    for (const gap of gaps(s.times)) expect(gap).toBeGreaterThanOrEqual(2000);
  });

  it("respect a custom back-off status (500) with Retry-After header", async () => {
    const clock = new ManualClock(0);
    const s = stamped(clock, failUntil(kyDefaultRetries + 1, 500, { "retry-after": "2" }));
    server.handle(s.handler);
    const api = client(clock, { rateConfig: { ...FAST, backoffStatuses: [500] }, maxRetriesOnBackoff: kyDefaultRetries });
    expect(await (await send(api, clock)).text()).toBe(fixture);
    expect(gaps(s.times)).toEqual([2000, 2000]);
  });

  it("a 429's Retry-After of 1 s only caps the pause; a longer one is waited out in full", async () => {
    // ky ("jitter is not applied when Retry-After header is present"): two 429s with
    // "Retry-After: 1" wait at least 2 s in all. Breakwater reads a Retry-After of up to 1 s on
    // a refusal as possible whole-second rounding and pauses at most that long
    // (docs/adaptive-rate-limiting.md:53); above 1 s it waits exactly what was asked, no jitter.
    const clock = new ManualClock(0);
    const one = stamped(clock, failUntil(3, 429, { "retry-after": "1" }));
    server.handle(one.handler);
    expect(await (await send(client(clock), clock)).text()).toBe(fixture);
    for (const gap of gaps(one.times)) expect(gap).toBeLessThan(1000);

    const later = new ManualClock(0);
    const two = stamped(later, failUntil(3, 429, { "retry-after": "2" }));
    server.handle(two.handler);
    expect(await (await send(client(later), later)).text()).toBe(fixture);
    expect(gaps(two.times)).toEqual([2000, 2000]);
  });

  it("RateLimit-Reset on a 429 without RateLimit-Remaining is not waited out", async () => {
    // ky: "RateLimit-Reset is treated the same as Retry-After" (1 s waited). Breakwater reads
    // the reset only with a remaining budget: alone it opens no cooldown, and the retry goes
    // after the law's pause (undocumented; docs/adaptive-rate-limiting.md:54 describes only
    // "none remaining pauses until the reset").
    const clock = new ManualClock(0);
    const s = stamped(clock, failUntil(2, 429, { "ratelimit-reset": "1" }));
    server.handle(s.handler);
    expect(await (await send(client(clock), clock)).text()).toBe(fixture);
    expect(gaps(s.times)[0]).toBeLessThan(150);
  });

  it("RateLimit-Reset with RateLimit-Remaining: 0 on a 429 is waited out", async () => {
    const clock = new ManualClock(0);
    const s = stamped(clock, failUntil(2, 429, { "ratelimit-remaining": "0", "ratelimit-reset": "2" }));
    server.handle(s.handler);
    expect(await (await send(client(clock), clock)).text()).toBe(fixture);
    expect(gaps(s.times)).toEqual([2000]);
  });

  it("RateLimit-Reset with time since epoch is read as delta-seconds (a wait cut to 60 s)", async () => {
    // ky: a RateLimit-Reset of epoch seconds waits until that time (about 1 s here).
    // Breakwater reads RateLimit-Reset as delta-seconds only, as the IETF draft defines it (the
    // epoch heuristic is for X-RateLimit-Reset: src/core/headers.ts parseRateLimit), so
    // 1.7e9 s is cut to the longest cooldown, maxCooldownMs (docs/adaptive-rate-limiting.md:53).
    // Undocumented in the docs pages.
    const clock = new ManualClock(0);
    const epoch = String(Math.floor(Date.now() / 1000) + 1);
    const s = stamped(clock, failUntil(2, 429, { "ratelimit-remaining": "0", "ratelimit-reset": epoch }));
    server.handle(s.handler);
    expect(await (await send(client(clock), clock)).text()).toBe(fixture);
    expect(gaps(s.times)).toEqual([60_000]);
  });

  it("an X-RateLimit-Reset of epoch seconds is read as a time", async () => {
    const clock = new ManualClock(0);
    const s = stamped(clock, (_req, res) => {
      if (s.times.length > 1) return void res.end(fixture);
      const nowSec = Math.floor(Date.now() / 1000);
      res.writeHead(429, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(nowSec + 2) }).end();
    });
    server.handle(s.handler);
    expect(await (await send(client(clock), clock)).text()).toBe(fixture);
    expect(gaps(s.times)[0]).toBeGreaterThan(900);
    expect(gaps(s.times)[0]).toBeLessThanOrEqual(2000);
  });

  it("invalid Retry-After header falls back to the retry delay", async () => {
    const clock = new ManualClock(0);
    const s = stamped(clock, failUntil(2, 429, { "retry-after": "not-a-valid-value" }));
    server.handle(s.handler);
    expect(await (await send(client(clock), clock)).text()).toBe(fixture);
    expect(s.times).toHaveLength(2);
    expect(gaps(s.times)[0]).toBeLessThan(150);
  });
});

describe("ky retry: the delay between retries", () => {
  it("respect the maximum delay (cooldownCapMs) after back-offs without Retry-After", async () => {
    // ky: 300, 600, 1200, 2400 ms, or at most backoffLimit. Breakwater: cooldownMultiplier
    // pacing intervals, at most cooldownCapMs (docs/http-clients.md, `cooldownMultiplier`), doubled by each
    // refusal in a row from the fourth on, up to x8 (docs/adaptive-rate-limiting.md:52).
    const clock = new ManualClock(0);
    const s = stamped(clock, failUntil(6, 429));
    server.handle(s.handler);
    const api = client(clock, { rateConfig: { ratePerSec: 100, burst: 10, cooldownCapMs: 20, maxRetriesOnBackoff: 5 } });
    expect(await (await send(api, clock)).text()).toBe(fixture);
    const waits = gaps(s.times);
    expect(waits.slice(0, 2)).toEqual([20, 20]);
    expect(waits[2]).toBeCloseTo(20, 0);
    expect(waits[3]).toBeGreaterThanOrEqual(40);
    expect(waits[4]).toBeGreaterThanOrEqual(80);
    for (const wait of waits) expect(wait).toBeLessThanOrEqual(8 * 20);
  });

  it.each([
    [429, "notion"],
    [503, "notion"],
    [529, "notion"],
    [503, "jira"],
  ])("a %i without Retry-After (%s preset) is retried after the limiter's pause, not at once", async (status, preset) => {
    // ky waits 300 ms before its first retry. Breakwater promises a pause after any back-off
    // without Retry-After: cooldownMultiplier pacing intervals, at most cooldownCapMs
    // (docs/http-clients.md, `cooldownMultiplier`); for these presets min(2 / rate, 150 ms) = 150 ms.
    // A 5xx back-off is an outage to the limiter (no cooldown for the others); the request that
    // got it waits that pause before it is sent again, not at once with the bucket's burst.
    const clock = new ManualClock(0);
    const s = stamped(clock, failUntil(3, status));
    server.handle(s.handler);
    const api = client(clock, { rateConfig: apiRateConfig(preset) });
    expect(await (await send(api, clock)).text()).toBe(fixture);
    for (const gap of gaps(s.times)) expect(gap).toBeGreaterThanOrEqual(150);
  });
});

describe("ky retry: timeouts", () => {
  it("does not retry on timeout", async () => {
    const api = new ApiClient({ baseUrl: server.url, rateConfig: FAST, timeoutMs: 50, maxRetriesOnBackoff: 3 });
    server.handle(hang);
    expect(await failure(api.request("GET", "/"))).toBeInstanceOf(TimeoutError);
    expect(server.requests).toHaveLength(1);
  });

  it("timeoutMs: Infinity does not throw TimeoutError during retries", async () => {
    const clock = new ManualClock(0);
    server.handle(failUntil(2, 503));
    expect(await (await send(client(clock, { timeoutMs: Number.POSITIVE_INFINITY }), clock)).text()).toBe(fixture);
    expect(server.requests).toHaveLength(2);
  });

  it("the time limit allows a retry when enough time remains", async () => {
    const clock = new ManualClock(0);
    server.handle(failUntil(2, 503, { "retry-after": "0.5" }));
    expect(await (await send(client(clock, { timeoutMs: 1000 }), clock)).text()).toBe(fixture);
    expect(server.requests).toHaveLength(2);
  });

  it.each([
    ["delay-seconds", () => "5"],
    // ky's server writes epoch seconds into Retry-After: Breakwater reads them as a (huge) delay.
    ["epoch seconds", () => String(Math.ceil(Date.now() / 1000) + 5)],
  ])("a Retry-After (%s) is bounded by the total time limit", async (_form, header) => {
    const clock = new ManualClock(0);
    const s = stamped(clock, (_req, res) => res.writeHead(429, { "retry-after": header() }).end());
    server.handle(s.handler);
    const error = await failure(send(client(clock, { timeoutMs: 1000, maxRetriesOnBackoff: 15 }), clock));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ timeoutMs: 1000 });
    expect(s.times).toHaveLength(1);
    expect(error).not.toBeInstanceOf(BackoffExhaustedError);
  });
});
