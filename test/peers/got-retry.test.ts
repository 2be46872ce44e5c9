/**
 * Ported from got test/retry.ts (sindresorhus/got): the cases whose feature Breakwater's HTTP
 * clients have, run against `ApiClient` on a real `node:http` server on 127.0.0.1.
 *
 * API mapping:
 * - got's `retry.limit` (default 2) => `maxRetriesOnBackoff` (default 3), retries after the
 *   first attempt in both; got's `retryCount` => `attempts - 1` (`BackoffExhaustedError.attempts`,
 *   or the requests the server saw).
 * - got's `retry.statusCodes` => the rate config's `backoffStatuses` (default `[429, 503]`;
 *   got's default is 408, 413, 429, 500, 502, 503, 504, 521, 522, 524). Only these are
 *   retried; any other status is returned as it is.
 * - got's `throwHttpErrors: false` + exhausted retries (the last response returned) =>
 *   `BackoffExhaustedError` (`status`, `retryAfterMs`, `attempts`).
 * - got's `calculateDelay({ retryAfter })` => what the client parsed, read from
 *   `BackoffExhaustedError.retryAfterMs` with `maxRetriesOnBackoff: 0`, and the waits between
 *   requests on the injected ManualClock (the server notes `clock.now()` as each request arrives).
 * - got's `timeout.request` => `timeoutMs` (one limit for the whole request, cooldowns included).
 * - got's `signal` => `signal`.
 * Each case keeps the peer's assertion, translated, except where Breakwater deliberately differs:
 * there the case asserts Breakwater's behaviour, and a comment names what got asserts and the
 * page that says so (or, for a difference no page states yet, "undocumented").
 */
import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { BackoffExhaustedError, ManualClock, TimeoutError } from "../../src/index.js";
import { ApiClient, type ApiClientOptions } from "../../src/http/index.js";
import { failure, hang, reply, sequence, serverForFile, type Handler } from "../http/server.js";
import { gaps, settleOn, stamped } from "./helpers.js";

const server = serverForFile();
const FAST = { ratePerSec: 1000, burst: 10 };

/** A client whose waits run on `clock` (no time limit unless given). */
function client(clock: ManualClock, options: Partial<ApiClientOptions> = {}): ApiClient {
  return new ApiClient({ baseUrl: server.url, clock, rateConfig: FAST, timeoutMs: Number.POSITIVE_INFINITY, ...options });
}

/** Sends `method /` and settles it on the clock. */
function send(api: ApiClient, clock: ManualClock, method = "GET", path = "/", options = {}): Promise<Response> {
  return settleOn(api.limiter, clock, api.request(method, path, options));
}

/** What the client read from a back-off answer's headers (no retry). */
async function parsedRetryAfter(headers: Record<string, string>, status = 503): Promise<number | undefined> {
  const clock = new ManualClock(0);
  server.handle(reply(status, headers));
  const error = await failure(send(client(clock, { maxRetriesOnBackoff: 0 }), clock));
  expect(error).toBeInstanceOf(BackoffExhaustedError);
  return (error as BackoffExhaustedError).retryAfterMs;
}

describe("got retry: Retry-After too long to wait", () => {
  it("Retry-After beyond the timer limit does not become an immediate retry", async () => {
    // got: no retry at all, the 503 is thrown at once. Breakwater waits inside the request's
    // time limit (30 s by default) and rejects with TimeoutError when it passes
    // (docs/http-clients.md:32-34, "It covers the whole request: ... every cooldown").
    const clock = new ManualClock(0);
    const api = client(clock, { timeoutMs: 30_000 });
    const s = stamped(clock, sequence(reply(503, { "retry-after": "2592000" }, "try next month"), reply(200, {}, "retried too early")));
    server.handle(s.handler);
    const error = await failure(send(api, clock));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ timeoutMs: 30_000 });
    expect(s.times).toEqual([0]);
  });

  it.each(["2147484", "9999999999999999999999999999999999999999", "Thu, 01 Jan 2099 00:00:00 GMT"])(
    "an overflowing Retry-After %s neither overflows a timer nor retries early",
    async (retryAfter) => {
      // got: no retry (retryCount 0), the 503 preserved. Breakwater reads the wait capped at a
      // day and pauses at most maxCooldownMs (60 s), then retries
      // (docs/adaptive-rate-limiting.md:53; the one-day cap: src/core/headers.ts MAX_HEADER_WAIT_MS).
      const clock = new ManualClock(0);
      const api = client(clock, { maxRetriesOnBackoff: 1 });
      const s = stamped(clock, reply(503, { "retry-after": retryAfter }, "unavailable"));
      server.handle(s.handler);
      const error = await failure(send(api, clock));
      expect(error).toBeInstanceOf(BackoffExhaustedError);
      expect(error).toMatchObject({ status: 503, attempts: 2, retryAfterMs: 86_400_000 });
      // Not an immediate retry (a timer past 2^31 ms fires at once in Node).
      expect(s.times).toEqual([0, 60_000]);
    },
  );

  it("Retry-After uses the request timeout as its cap: a longer wait is not waited out", async () => {
    // got: with timeout.request 30 s, a Retry-After of 60 s is not retried and the 503 is
    // returned at once. Breakwater waits until its time limit and rejects with TimeoutError
    // (docs/http-clients.md:32-34).
    const clock = new ManualClock(0);
    const api = client(clock, { timeoutMs: 30_000 });
    const s = stamped(clock, reply(503, { "retry-after": "60" }));
    server.handle(s.handler);
    const error = await failure(send(api, clock));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ timeoutMs: 30_000 });
    expect(s.times).toEqual([0]);
  });

  it("the longest retry wait remains cancellable", async () => {
    const clock = new ManualClock(0);
    const api = client(clock);
    server.handle(reply(503, { "retry-after": "2147483" }));
    const controller = new AbortController();
    const pending = failure(api.request("GET", "/", { signal: controller.signal }));
    const deadline = Date.now() + 2000;
    while (api.limiter.snapshot().queued === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    controller.abort();
    expect(((await pending) as Error).name).toBe("AbortError");
    expect(server.requests).toHaveLength(1);
    expect(api.limiter.snapshot()).toMatchObject({ queued: 0, inFlight: 0 });
  });
});

describe("got retry: Retry-After parsing", () => {
  it.each([
    [413, { backoffStatuses: [413] }],
    [429, {}],
    [503, {}],
  ])("retries immediately on %i with Retry-After of 0", async (status, extra) => {
    const clock = new ManualClock(0);
    const api = client(clock, { rateConfig: { ...FAST, ...extra } });
    const s = stamped(clock, sequence(reply(status, { "retry-after": "0" }), reply(200, {}, "ok")));
    server.handle(s.handler);
    const res = await send(api, clock);
    expect(res.status).toBe(200);
    expect(s.times).toHaveLength(2);
    // At most the law's own pause (here a few ms): nothing the server did not ask for.
    expect(gaps(s.times)[0]).toBeLessThan(10);
  });

  it("ignores an invalid Retry-After header (and still retries)", async () => {
    expect(await parsedRetryAfter({ "retry-after": "not-a-date" })).toBeUndefined();
    server.reset();
    const clock = new ManualClock(0);
    server.handle(sequence(reply(503, { "retry-after": "not-a-date" }), reply(200)));
    expect((await send(client(clock), clock)).status).toBe(200);
    expect(server.requests).toHaveLength(2);
  });

  it.each(["Infinity", "0x10", ""])("ignores Retry-After with invalid numeric syntax: %j", async (header) => {
    expect(await parsedRetryAfter({ "retry-after": header })).toBeUndefined();
  });

  it('reads a decimal Retry-After "1.5" (got ignores it)', async () => {
    // got: "1.5" is invalid numeric syntax, retryAfter undefined. Breakwater accepts
    // decimal delay-seconds (docs/retry.md:89-90, 'delay-seconds ("120"), also "1.5"').
    expect(await parsedRetryAfter({ "retry-after": "1.5" })).toBe(1500);
  });

  it.each([
    ["0002", 2000],
    ["\t 2 \t", 2000],
    ["86400", 86_400_000],
  ])("Retry-After parses delta-seconds %j without changing its units", async (header, expected) => {
    expect(await parsedRetryAfter({ "retry-after": header })).toBe(expected);
  });

  it.each(["-1", "+1", "1e3"])("Retry-After rejects signed or exponential delta-seconds %s", async (header) => {
    expect(await parsedRetryAfter({ "retry-after": header })).toBeUndefined();
  });

  it.each(["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"])(
    "Retry-After accepts the obsolete HTTP-date %j",
    async (header) => {
      expect(await parsedRetryAfter({ "retry-after": header })).toBe(0);
      const clock = new ManualClock(0);
      const s = stamped(clock, sequence(reply(503, { "retry-after": header }), reply(200)));
      server.handle(s.handler);
      expect((await send(client(clock), clock)).status).toBe(200);
      expect(s.times).toEqual([0, 0]);
    },
  );

  it.each([413, 503])("a past Retry-After date allows an immediate %i retry", async (status) => {
    const clock = new ManualClock(0);
    const api = client(clock, { rateConfig: { ...FAST, backoffStatuses: [413, 503] } });
    const s = stamped(clock, sequence(reply(status, { "retry-after": "Thu, 01 Jan 1970 00:00:00 GMT" }), reply(200, {}, "ok")));
    server.handle(s.handler);
    expect(await (await send(api, clock)).text()).toBe("ok");
    expect(s.times).toHaveLength(2);
    expect(gaps(s.times)[0]).toBeLessThan(10);
  });

  it("a Retry-After HTTP-date gives the remaining milliseconds", async () => {
    // The server's own Date header (whole seconds) is the reference.
    const retryAfterMs = await parsedRetryAfter({ "retry-after": new Date(Date.now() + 60_000).toUTCString() });
    expect(retryAfterMs).toBeGreaterThanOrEqual(59_000);
    expect(retryAfterMs).toBeLessThanOrEqual(61_000);
  });

  it.each([
    ["asctime", "Etc/GMT-2", 6],
    ["asctime", "UTC", 6],
    ["asctime", "Etc/GMT+5", 17],
    ["IMF-fixdate", "Etc/GMT-2", 6],
    ["RFC 850", "Etc/GMT+5", 17],
  ])("Retry-After reads a %s HTTP-date as UTC in time zone %s", async (format, timezone, dayOfMonth) => {
    const previous = process.env.TZ;
    process.env.TZ = timezone;
    try {
      const now = new Date();
      const sentAt = Math.floor(now.getTime() / 1000) * 1000;
      const retryAt = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, dayOfMonth, 8, 49, 37);
      const date = new Date(retryAt);
      const [weekday, day, month, year, time] = date.toUTCString().split(" ");
      let header = date.toUTCString();
      if (format === "asctime") header = `${weekday!.slice(0, -1)} ${month} ${String(Number(day)).padStart(2, " ")} ${time} ${year}`;
      else if (format === "RFC 850") {
        const fullWeekday = date.toLocaleDateString("en-US", { weekday: "long", timeZone: "UTC" });
        header = `${fullWeekday}, ${day}-${month}-${year!.slice(-2)} ${time} GMT`;
      }
      // got caps nothing here; Breakwater caps a header's wait at a day (MAX_HEADER_WAIT_MS).
      expect(await parsedRetryAfter({ date: new Date(sentAt).toUTCString(), "retry-after": header })).toBe(
        Math.min(retryAt - sentAt, 86_400_000),
      );
    } finally {
      if (previous === undefined) delete process.env.TZ;
      else process.env.TZ = previous;
    }
  });
});

describe("got retry: which statuses are retried", () => {
  it("respects a 413 Retry-After when 413 is a back-off status", async () => {
    const clock = new ManualClock(0);
    const api = client(clock, { maxRetriesOnBackoff: 1, rateConfig: { ...FAST, backoffStatuses: [413] } });
    const s = stamped(clock, reply(413, { "retry-after": "2" }));
    server.handle(s.handler);
    expect(await failure(send(api, clock))).toMatchObject({ status: 413, attempts: 2, retryAfterMs: 2000 });
    expect(gaps(s.times)).toEqual([2000]);
  });

  it("does not retry a 413 with Retry-After by default", async () => {
    // got retries a 413 that carries Retry-After (413 is in its statusCodes). Breakwater's
    // default back-off statuses are 429 and 503; any other response is returned as it is
    // (docs/http-clients.md:8 and :47).
    const clock = new ManualClock(0);
    server.handle(reply(413, { "retry-after": "2" }));
    const res = await send(client(clock), clock);
    expect(res.status).toBe(413);
    expect(server.requests).toHaveLength(1);
  });

  it("respects a 413 Retry-After given as an RFC 1123 timestamp", async () => {
    const clock = new ManualClock(0);
    const api = client(clock, { maxRetriesOnBackoff: 1, rateConfig: { ...FAST, backoffStatuses: [413] } });
    const s = stamped(clock, (_req, res) => {
      const now = Date.now();
      res.writeHead(413, { date: new Date(now).toUTCString(), "retry-after": new Date(now + 2000).toUTCString() });
      res.end();
    });
    server.handle(s.handler);
    expect(await failure(send(api, clock))).toMatchObject({ status: 413, attempts: 2 });
    expect(gaps(s.times)).toEqual([2000]);
  });

  it.each([404, 413])("doesn't retry %i without Retry-After", async (status) => {
    const clock = new ManualClock(0);
    server.handle(reply(status));
    expect((await send(client(clock), clock)).status).toBe(status);
    expect(server.requests).toHaveLength(1);
  });

  it("retries on 503 without Retry-After header", async () => {
    const clock = new ManualClock(0);
    server.handle(reply(503));
    const error = await failure(send(client(clock, { maxRetriesOnBackoff: 1 }), clock));
    expect(error).toMatchObject({ status: 503, attempts: 2, retryAfterMs: undefined });
    expect(server.requests).toHaveLength(2);
  });

  it("doesn't retry when set to 0", async () => {
    // got returns the 413 with retryCount 0; Breakwater rejects with BackoffExhaustedError
    // after its one attempt (docs/http-clients.md:6-8).
    const clock = new ManualClock(0);
    server.handle(reply(429, { "retry-after": "2" }));
    expect(await failure(send(client(clock, { maxRetriesOnBackoff: 0 }), clock))).toMatchObject({ status: 429, attempts: 1 });
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    ["the client's option", { maxRetriesOnBackoff: 2 }],
    ["the rate config's", { rateConfig: { ...FAST, maxRetriesOnBackoff: 2 } }],
  ])("stops at the retry limit set by %s, however short the waits", async (_where, options) => {
    const clock = new ManualClock(0);
    server.handle(reply(503, { "retry-after": "0" }));
    expect(await failure(send(client(clock, options), clock))).toMatchObject({ status: 503, attempts: 3 });
    expect(server.requests).toHaveLength(3);
  });

  it("does not break on redirect: the final 500 is returned and the redirect is followed once", async () => {
    // got retries the 500 (and throws it at the end); Breakwater returns a 500 as it is
    // (docs/http-clients.md:8). The redirect is fetch's own.
    const clock = new ManualClock(0);
    server.handle((req, res) => {
      if (req.url === "/redirect") res.writeHead(302, { location: "/" }).end();
      else res.writeHead(500).end();
    });
    const res = await send(client(clock), clock, "GET", "/redirect");
    expect(res.status).toBe(500);
    expect(server.requests.map((r) => r.url)).toEqual(["/redirect", "/"]);
  });

  it("a retry after a redirect starts again from the original URL", async () => {
    const clock = new ManualClock(0);
    let destination = 0;
    server.handle((req, res) => {
      if (req.url === "/original") res.writeHead(302, { location: "/destination" }).end();
      else res.writeHead(++destination === 1 ? 503 : 200).end("done");
    });
    const res = await send(client(clock), clock, "GET", "/original");
    expect(await res.text()).toBe("done");
    expect(res.url).toBe(`${server.url}/destination`);
    expect(server.requests.map((r) => r.url)).toEqual(["/original", "/destination", "/original", "/destination"]);
  });
});

describe("got retry: methods, bodies and connections", () => {
  it("retries QUERY with a JSON body, sending the same method, body and content type", async () => {
    // got's case answers 500 (in its statusCodes); 503 is Breakwater's default back-off status.
    const clock = new ManualClock(0);
    server.handle(sequence(reply(503), (req, res) => res.end(req.body)));
    const res = await send(client(clock, { maxRetriesOnBackoff: 1 }), clock, "QUERY", "/", { json: { query: true } });
    expect(JSON.parse(await res.text())).toEqual({ query: true });
    expect(server.requests.map((r) => ({ method: r.method, body: r.body, contentType: r.headers["content-type"] }))).toEqual([
      { method: "QUERY", body: '{"query":true}', contentType: "application/json" },
      { method: "QUERY", body: '{"query":true}', contentType: "application/json" },
    ]);
  });

  it("does not retry on POST when the request times out (a timeout is never retried)", async () => {
    const api = new ApiClient({ baseUrl: server.url, rateConfig: FAST, timeoutMs: 50 });
    server.handle(hang);
    expect(await failure(api.request("POST", "/"))).toBeInstanceOf(TimeoutError);
    expect(server.requests).toHaveLength(1);
  });

  it("reuses the request's options (headers) on retry", async () => {
    // got's first attempt hangs until its timeout, and got retries it. Breakwater's time limit
    // covers the whole request, so a timed-out attempt ends it (docs/http-clients.md:32-34);
    // the retry here follows a 503 instead.
    const clock = new ManualClock(0);
    const api = client(clock, { defaultHeaders: { authorization: "Bearer t" } });
    server.handle(sequence(reply(503), (req, res) => res.end(JSON.stringify(req.headers))));
    const res = await send(api, clock, "GET", "/", { headers: { accept: "application/json" } });
    expect(await res.json()).toMatchObject({ accept: "application/json", authorization: "Bearer t" });
    expect(server.requests.map((r) => [r.headers.accept, r.headers.authorization])).toEqual([
      ["application/json", "Bearer t"],
      ["application/json", "Bearer t"],
    ]);
  });

  it("does not destroy the socket on a back-off answer: its body is read and the connection kept", async () => {
    // got checks that the retry goes out on the same socket of a one-connection agent; fetch's
    // pool may hand the retry another idle connection, so this checks the first one survives.
    const clock = new ManualClock(0);
    const sockets: Socket[] = [];
    const answer = sequence(reply(503, {}, "busy"), reply(200));
    server.handle((req, res, raw) => {
      sockets.push(raw.socket);
      answer(req, res, raw);
    });
    expect((await send(client(clock), clock)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sockets).toHaveLength(2);
    expect(sockets[0]!.destroyed).toBe(false);
  });

  it("promise does not retry when the body is a stream", async () => {
    const clock = new ManualClock(0);
    server.handle(reply(503, {}, "not ok"));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("hello"));
        controller.close();
      },
    });
    expect(await failure(send(client(clock), clock, "POST", "/", { body }))).toMatchObject({ status: 503, attempts: 1 });
    expect(server.requests.map((r) => r.body)).toEqual(["hello"]);
  });

  it("does not retry with a consumed async generator body (sends it once)", async () => {
    // An async iterable body (fetch and RequestBody accept one) is a stream: sent once, with
    // `duplex: "half"`, and never replayed (docs/http-clients.md, ApiClient).
    const clock = new ManualClock(0);
    server.handle(reply(503));
    async function* body(): AsyncGenerator<Uint8Array> {
      yield new TextEncoder().encode("part1");
      yield new TextEncoder().encode("part2");
    }
    const error = await failure(send(client(clock), clock, "POST", "/", { body: body() }));
    expect(error).toMatchObject({ status: 503, attempts: 1 });
    expect(server.requests.map((r) => r.body)).toEqual(["part1part2"]);
  });

  it("retries with a FormData body, sending it whole each time", async () => {
    const clock = new ManualClock(0);
    server.handle(sequence(reply(503), reply(503), reply(200)));
    const form = new FormData();
    form.append("field", "value");
    expect((await send(client(clock), clock, "POST", "/", { body: form })).status).toBe(200);
    expect(server.requests).toHaveLength(3);
    for (const r of server.requests) {
      expect(r.body).toContain("value");
      expect(r.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    }
  });

  it.each([
    ["UTF-8 text", "€🙂", "€🙂", "7"],
    ["a byte view", new Uint8Array([0, 110, 101, 119, 0]).subarray(1, 4), "new", "3"],
    ["empty text", "", "", "0"],
  ])("resends %s with the same framing", async (_name, body, expected, length) => {
    const clock = new ManualClock(0);
    server.handle(sequence(reply(503), reply(200)));
    await send(client(clock), clock, "PUT", "/", { body });
    expect(server.requests.map((r) => [r.body, r.headers["content-length"]])).toEqual([
      [expected, length],
      [expected, length],
    ]);
  });
});

describe("got retry: a handler per attempt", () => {
  it("the request that finally succeeds carries the attempt count in its event", async () => {
    const clock = new ManualClock(0);
    const api = client(clock);
    const events: { attempts: number; status: number | null; outcome: string }[] = [];
    api.on("request", (e) => events.push({ attempts: e.attempts, status: e.status, outcome: e.outcome }));
    const answers: Handler = sequence(reply(500), reply(200, {}, "who`s there?"));
    server.handle(answers);
    // got retries the 500; Breakwater returns it (docs/http-clients.md:8) ...
    expect((await send(api, clock)).status).toBe(500);
    // ... and a 503 is retried.
    server.handle(sequence(reply(503), reply(200, {}, "who`s there?")));
    expect(await (await send(api, clock)).text()).toBe("who`s there?");
    expect(events).toEqual([
      { attempts: 1, status: 500, outcome: "server-error" },
      { attempts: 2, status: 200, outcome: "ok" },
    ]);
  });
});
