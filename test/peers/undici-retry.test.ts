/**
 * Ported from undici test/retry-handler.js and test/retry-agent.js (nodejs/undici): the cases
 * whose feature Breakwater's HTTP clients have, run against `ApiClient` on a real `node:http`
 * server on 127.0.0.1. Cases got-retry, ky-retry and axios-retry already cover (a 400 returned
 * as it is, Retry-After of 1 s, the retry limit, POST and PATCH retried) are not repeated.
 *
 * API mapping:
 * - undici's `maxRetries` (default 5) => `maxRetriesOnBackoff` (default 3); undici's
 *   `state.counter` / `err.data.count` => `BackoffExhaustedError.attempts` (or the requests the
 *   server saw).
 * - undici's `statusCodes` (default 500, 502, 503, 504, 429) => the rate config's
 *   `backoffStatuses` (default `[429, 503]`).
 * - undici's `errorCodes` (ECONNRESET, UND_ERR_SOCKET, ...: network errors retried) => none in
 *   `ApiClient`: a `RetryPolicy` around the call, as docs/http-clients.md:9-13 advises.
 * - undici's `RequestRetryError` (`UND_ERR_REQ_RETRY`, `statusCode`) => `BackoffExhaustedError`
 *   (`status`, `attempts`, `retryAfterMs`).
 * - undici's `retry` callback and `setTimeout(done, ms)` => the limiter's cooldown (and a
 *   `RetryPolicy`'s backoff), all on an injected ManualClock; the server notes `clock.now()`.
 * Each case keeps the peer's assertion, translated, except where Breakwater deliberately
 * differs: there the case asserts Breakwater's behaviour and a comment names what undici asserts
 * and the page that says so.
 */
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { BackoffExhaustedError, constant, ManualClock, RetryPolicy } from "../../src/index.js";
import { ApiClient, type ApiClientOptions } from "../../src/http/index.js";
import { failure, hangUp, reply, sequence, serverForFile } from "../http/server.js";
import { gaps, settleOn, stamped } from "./helpers.js";

const server = serverForFile();
const FAST = { ratePerSec: 1000, burst: 10 };
const HELLO = JSON.stringify({ hello: "world" });

function client(clock: ManualClock, options: Partial<ApiClientOptions> = {}): ApiClient {
  return new ApiClient({ baseUrl: server.url, clock, rateConfig: FAST, timeoutMs: Number.POSITIVE_INFINITY, ...options });
}

function send(api: ApiClient, clock: ManualClock, method = "GET", options = {}): Promise<Response> {
  return settleOn(api.limiter, clock, api.request(method, "/", options));
}

/** undici's server in most cases: the 1st request's connection dropped, then a 500, then 200 "hello world!". */
const dropThen500Then200 = () => sequence(hangUp, reply(500, {}, "failed"), reply(200, {}, "hello world!"));

describe("undici RetryHandler / RetryAgent: what is retried", () => {
  it.each([
    ["RetryHandler (retry callback, 500 ms between tries)", 3, 500],
    ["RetryAgent (maxRetries 5, timeout 1, timeoutFactor 1)", 6, 1],
  ])("Should retry status code, %s: a dropped connection, a 500, then 200", async (_peer, maxAttempts, delayMs) => {
    // undici retries both the socket error and the 500 by itself. ApiClient never retries a
    // network error and retries only back-off statuses (docs/http-clients.md:9-13): the
    // documented recipe is 500 as a back-off status plus a RetryPolicy around the call.
    const clock = new ManualClock(0);
    const api = client(clock, { maxRetriesOnBackoff: maxAttempts - 1, rateConfig: { ...FAST, backoffStatuses: [500] } });
    const policy = new RetryPolicy({ maxAttempts, backoff: constant(delayMs), clock, retryOn: (e) => e instanceof TypeError });
    const s = stamped(clock, dropThen500Then200());
    server.handle(s.handler);
    const res = await settleOn(
      api.limiter,
      clock,
      policy.execute(() => api.request("GET", "/", { headers: { "content-type": "application/json" } })),
      5_000,
    );
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("hello world!");
    expect(server.requests).toHaveLength(3);
    expect(server.requests.every((r) => r.headers["content-type"] === "application/json")).toBe(true);
    // The RetryPolicy's wait after the dropped connection.
    expect(gaps(s.times)[0]).toBeGreaterThanOrEqual(delayMs);
  });

  it("Should retry with defaults: a dropped connection is not retried by default", async () => {
    // undici's defaults retry ECONNRESET / UND_ERR_SOCKET and then the 500, and resolve 200.
    // ApiClient rejects with fetch's TypeError after one request (docs/http-clients.md:9-12).
    const clock = new ManualClock(0);
    server.handle(dropThen500Then200());
    const error = await failure(send(client(clock), clock));
    expect(error).toBeInstanceOf(TypeError);
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    [429, true],
    [503, true],
    [500, false],
    [502, false],
    [504, false],
  ])("undici's default status code %i: retried by default? %s", async (status, retried) => {
    // undici's default statusCodes are 500, 502, 503, 504 and 429. Breakwater's default
    // back-off statuses are 429 and 503; another 5xx is returned as it is
    // (docs/http-clients.md:8-9 and the backoffStatuses row, :52).
    const clock = new ManualClock(0);
    server.handle(sequence(reply(status, {}, "failed"), reply(200, {}, "hello world!")));
    const res = await send(client(clock), clock);
    expect(res.status).toBe(retried ? 200 : status);
    expect(server.requests).toHaveLength(retried ? 2 : 1);
  });

  it("RequestRetryError after the retries: the status and the count of attempts", async () => {
    // undici: err.code UND_ERR_REQ_RETRY, err.statusCode 500, err.data.count = attempts made.
    const clock = new ManualClock(0);
    server.handle(reply(500, { "content-type": "application/json" }, '{"message": "failed"}'));
    const api = client(clock, { maxRetriesOnBackoff: 5, rateConfig: { ...FAST, backoffStatuses: [500] } });
    const error = await failure(send(api, clock));
    expect(error).toBeInstanceOf(BackoffExhaustedError);
    expect(error).toMatchObject({ status: 500, attempts: 6, retryAfterMs: undefined });
    expect(server.requests).toHaveLength(6);
  });

  it("TRACE, one of undici's default retried methods, is refused by fetch before anything is sent", async () => {
    // undici retries TRACE (its default methods: GET, HEAD, OPTIONS, PUT, DELETE, TRACE).
    // fetch refuses the method with a TypeError, which ApiClient passes on: docs/http-clients.md.
    const clock = new ManualClock(0);
    const error = await failure(send(client(clock), clock, "TRACE"));
    expect(error).toBeInstanceOf(TypeError);
    expect(server.requests).toHaveLength(0);
  });
});

describe("undici RetryHandler: bodies", () => {
  it("Issue #3288 - request with body (sync generator): sent once, as its content, the 500 not retried", async () => {
    // undici: the generator body is sent ("helloworld"), and the 500 rejects with
    // RequestRetryError, statusCode 500, data.count 1 (a body read once is not replayed).
    const clock = new ManualClock(0);
    server.handle(reply(500, { "content-type": "application/json" }, '{"message": "failed"}'));
    const api = client(clock, { rateConfig: { ...FAST, backoffStatuses: [500] } });
    const body = (function* () {
      yield "hello";
      yield "world";
    })();
    // A sync generator is no BodyInit in the DOM types; undici's request() accepts one.
    const error = await failure(send(api, clock, "POST", { body: body as unknown as string }));
    // Sent as its content, or refused before sending; never as "[object Generator]".
    expect(server.requests.map((r) => r.body)).not.toContain("[object Generator]");
    expect(error).toMatchObject({ status: 500, attempts: 1 });
    expect(server.requests.map((r) => r.body)).toEqual(["helloworld"]);
  });

  it("retrying a request with a body (string): the same body on each attempt", async () => {
    // undici's server: dropped connection, 500, 200; here the back-off statuses stand in for them.
    const clock = new ManualClock(0);
    server.handle(sequence(reply(503), reply(429), reply(200, {}, "hello world!")));
    const res = await send(client(clock), clock, "POST", { body: HELLO, headers: { "content-type": "application/json" } });
    expect(res.status).toBe(200);
    expect(server.requests.map((r) => [r.method, r.body, r.headers["content-type"]])).toEqual(
      Array.from({ length: 3 }, () => ["POST", HELLO, "application/json"]),
    );
  });

  it("retrying a request with a body (buffer): the same bytes on each attempt", async () => {
    const clock = new ManualClock(0);
    server.handle(sequence(reply(503), reply(503), reply(200, {}, "hello world!")));
    const res = await send(client(clock), clock, "POST", { body: Buffer.from(HELLO) });
    expect(await res.text()).toBe("hello world!");
    expect(server.requests.map((r) => r.body)).toEqual([HELLO, HELLO, HELLO]);
  });

  it("retrying a request with a body (Node stream): sent once, the back-off not retried", async () => {
    // undici: RequestRetryError, statusCode 500, data.count 1. A stream body is sent once
    // (docs/http-clients.md:10-11): the back-off rejects after its one attempt.
    const clock = new ManualClock(0);
    server.handle(reply(500, {}, "failed"));
    const api = client(clock, { rateConfig: { ...FAST, backoffStatuses: [500] } });
    const error = await failure(send(api, clock, "POST", { body: Readable.from(Buffer.from(HELLO)) }));
    expect(error).toBeInstanceOf(BackoffExhaustedError);
    expect(error).toMatchObject({ status: 500, attempts: 1 });
    expect(server.requests.map((r) => r.body)).toEqual([HELLO]);
  });
});

describe("undici RetryHandler: Retry-After", () => {
  it("Should use retry-after header for retries (date): a PUT 429 with a date 1 s ahead is retried", async () => {
    // undici waits until the date (at least 1 ms in its assertion). Breakwater reads the date
    // against the response's Date header (1000 ms) and, as a Retry-After of up to 1 s on a
    // refusal may be whole-second rounding, only caps the pause with it
    // (docs/adaptive-rate-limiting.md:53).
    const clock = new ManualClock(0);
    let n = 0;
    const s = stamped(clock, (_req, res) => {
      if (n++ > 0) {
        res.writeHead(200).end("hello world!");
        return;
      }
      const now = Math.floor(Date.now() / 1000) * 1000;
      res.writeHead(429, { date: new Date(now).toUTCString(), "retry-after": new Date(now + 1000).toUTCString() });
      res.end("rate limit");
    });
    server.handle(s.handler);
    const api = client(clock, { maxRetriesOnBackoff: 1 });
    const res = await send(api, clock, "PUT", { headers: { "content-type": "application/json" } });
    expect(await res.text()).toBe("hello world!");
    expect(server.requests.map((r) => r.method)).toEqual(["PUT", "PUT"]);
    const gap = gaps(s.times)[0]!;
    expect(gap).toBeGreaterThanOrEqual(0);
    expect(gap).toBeLessThanOrEqual(1000);
  });

  it("a 503's Retry-After in seconds is waited out before the retry (undici: Math.min(retryAfter, maxTimeout))", async () => {
    const clock = new ManualClock(0);
    const s = stamped(clock, sequence(reply(503, { "retry-after": "3" }, "unavailable"), reply(200, {}, "hello world!")));
    server.handle(s.handler);
    const res = await send(client(clock), clock, "DELETE");
    expect(res.status).toBe(200);
    expect(gaps(s.times)).toEqual([3000]);
  });

  it("a Retry-After between undici's maxTimeout (30 s) and 60 s is waited out in full", async () => {
    // undici cuts the wait to maxTimeout (30 s by default) and retries then. Breakwater waits
    // what the upstream asked, up to maxCooldownMs (60 s) (docs/adaptive-rate-limiting.md:53).
    const clock = new ManualClock(0);
    const s = stamped(clock, sequence(reply(429, { "retry-after": "45" }), reply(200, {}, "hello world!")));
    server.handle(s.handler);
    const res = await send(client(clock), clock, "GET");
    expect(res.status).toBe(200);
    expect(gaps(s.times)).toEqual([45_000]);
  });
});
