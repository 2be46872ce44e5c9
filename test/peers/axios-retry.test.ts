/**
 * Ported from axios-retry spec/index.spec.ts (softonic/axios-retry): the cases whose feature
 * Breakwater's HTTP clients have, run against `ApiClient` and `EnterpriseClient` on a real
 * `node:http` server on 127.0.0.1 (axios-retry's nock replies become the server's answers; its
 * `NETWORK_ERROR` (ECONNRESET) becomes a dropped connection, and ECONNREFUSED a closed port).
 *
 * API mapping:
 * - `axiosRetry(client, { retries })` (default 3) => `maxRetriesOnBackoff` (default 3).
 * - `retryCondition` (default: a network error, or a 5xx to GET, HEAD, OPTIONS, PUT or DELETE)
 *   => the rate config's `backoffStatuses` (default `[429, 503]`), for every method.
 * - `onRetry(retryCount, error, config)` => `EnterpriseClient`'s `logger.warn(..., "upstream
 *   asked to back off")` line with `willRetry: true` (`attempt` is the retryCount);
 *   `onMaxRetryTimesExceeded` => that line with `willRetry: false`, then the one metrics event
 *   (`outcome: "backoff-exhausted"`).
 * - axios's `timeout` with `shouldResetTimeout: false` (one budget for every attempt) => `timeoutMs`.
 * - axios's custom `httpAgent` => the client's `fetch` option.
 * Each case keeps the peer's assertion, translated, except where Breakwater deliberately differs:
 * there the case asserts Breakwater's behaviour, and a comment names what axios-retry asserts and
 * the page that says so (or, for a difference no page states yet, "undocumented").
 */
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { BackoffExhaustedError, ManualClock, TimeoutError } from "../../src/index.js";
import {
  ApiClient,
  type ApiClientOptions,
  EnterpriseClient,
  type EnterpriseClientOptions,
  type FetchLike,
  type RequestMetricsEvent,
} from "../../src/http/index.js";
import { delayed, failure, hang, hangUp, reply, sequence, serverForFile, until } from "../http/server.js";
import { settleOn, stamped } from "./helpers.js";

const server = serverForFile();
const FAST = { ratePerSec: 1000, burst: 10 };

function client(clock: ManualClock, options: Partial<ApiClientOptions> = {}): ApiClient {
  return new ApiClient({ baseUrl: server.url, clock, rateConfig: FAST, timeoutMs: Number.POSITIVE_INFINITY, ...options });
}

function send(api: ApiClient, clock: ManualClock, method = "GET", options = {}): Promise<Response> {
  return settleOn(api.limiter, clock, api.request(method, "/test", options));
}

interface Line {
  readonly level: string;
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** An EnterpriseClient on `clock` recording its log lines and metrics events. */
function enterprise(
  clock: ManualClock,
  options: Partial<EnterpriseClientOptions> = {},
): { api: EnterpriseClient; lines: Line[]; events: RequestMetricsEvent[] } {
  const lines: Line[] = [];
  const events: RequestMetricsEvent[] = [];
  const log = (level: string) => (obj: Record<string, unknown>, msg: string) => lines.push({ level, obj, msg });
  const api = new EnterpriseClient({
    integration: "example",
    baseUrl: server.url,
    rateConfig: FAST,
    clock,
    timeoutMs: Number.POSITIVE_INFINITY,
    logger: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    onMetrics: (e) => events.push(e),
    ...options,
  });
  return { api, lines, events };
}

function sendVia(e: EnterpriseClient, clock: ManualClock, method = "GET"): Promise<Response> {
  return settleOn(e.client.limiter, clock, e.request(method, "/test"));
}

/** A port on 127.0.0.1 nothing listens on (connections are refused). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe("axios-retry: retries", () => {
  it("when the response is successful, resolves with it", async () => {
    const clock = new ManualClock(0);
    server.handle(reply(200, {}, "It worked!"));
    const res = await send(client(clock, { maxRetriesOnBackoff: 0 }), clock);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("It worked!");
  });

  it("a network error (ECONNRESET) is not retried", async () => {
    // axios-retry resolves with the successful retry (a network error satisfies its default
    // retryCondition). Breakwater's clients retry back-off statuses only and reject with fetch's
    // error at once (src/http/api-client.ts:190; undocumented in docs/http-clients.md).
    const clock = new ManualClock(0);
    server.handle(sequence(hangUp, reply(200, {}, "It worked!")));
    expect(await failure(send(client(clock, { maxRetriesOnBackoff: 1 }), clock))).toBeInstanceOf(TypeError);
    expect(server.requests).toHaveLength(1);
  });

  it("a back-off status resolves with a successful retry", async () => {
    const clock = new ManualClock(0);
    server.handle(sequence(reply(503), reply(200, {}, "It worked!")));
    const api = client(clock, { maxRetriesOnBackoff: 1 });
    const events: number[] = [];
    api.on("request", (e) => events.push(e.attempts));
    expect((await send(api, clock)).status).toBe(200);
    // axios-retry's config retryCount 1 => the request event's attempts 2.
    expect(events).toEqual([2]);
  });

  it("does not transform the request body twice: the retry sends the same JSON", async () => {
    const clock = new ManualClock(0);
    server.handle(sequence(reply(503), reply(200, {}, "It worked!")));
    expect((await send(client(clock), clock, "POST", { json: { a: "b" } })).status).toBe(200);
    expect(server.requests.map((r) => JSON.parse(r.body) as unknown)).toEqual([{ a: "b" }, { a: "b" }]);
  });

  it("rejects with the request error (ECONNREFUSED) and gives the permit back", async () => {
    const port = await closedPort();
    const api = new ApiClient({ baseUrl: `http://127.0.0.1:${port}`, rateConfig: FAST, maxRetriesOnBackoff: 0 });
    const error = await failure(api.request("GET", "/test"));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error & { cause?: { code?: string } }).cause?.code).toBe("ECONNREFUSED");
    expect(api.limiter.snapshot()).toMatchObject({ inFlight: 0, successes: 0, backoffs: 0 });
  });

  it("rejects with the last error when there are more errors than retries", async () => {
    const clock = new ManualClock(0);
    server.handle(sequence(reply(429, { "retry-after": "0" }), reply(503)));
    const error = await failure(send(client(clock, { maxRetriesOnBackoff: 1 }), clock));
    expect(error).toBeInstanceOf(BackoffExhaustedError);
    expect(error).toMatchObject({ status: 503, attempts: 2 });
  });

  it("honours the original timeout across retries", async () => {
    const api = new ApiClient({ baseUrl: server.url, rateConfig: FAST, timeoutMs: 100, maxRetriesOnBackoff: 3 });
    server.handle(sequence(delayed(75, reply(503)), delayed(75, reply(503)), reply(200)));
    const error = await failure(api.request("GET", "/test"));
    expect(error).toBeInstanceOf(TimeoutError);
    await until(() => server.requests.length === 2);
    expect(server.requests).toHaveLength(2);
  });

  it("a retry whose wait outlasts the time limit is waited for until the limit passes", async () => {
    // axios-retry makes no retry attempt when the delay would take the request past its
    // timeout: it rejects at once with the last error. Breakwater waits inside its time limit and
    // rejects with TimeoutError when it passes (docs/http-clients.md:32-34).
    const clock = new ManualClock(0);
    const s = stamped(clock, reply(503, { "retry-after": "1" }));
    server.handle(s.handler);
    const error = await failure(send(client(clock, { timeoutMs: 500 }), clock));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(s.times).toEqual([0]);
  });

  it("every attempt goes through the fetch it is given (a custom agent)", async () => {
    const clock = new ManualClock(0);
    const urls: string[] = [];
    const custom: FetchLike = (url, init) => {
      urls.push(url);
      return fetch(url, init);
    };
    server.handle(sequence(reply(503), reply(200, {}, "It worked!")));
    expect((await send(client(clock, { fetch: custom }), clock)).status).toBe(200);
    expect(urls).toEqual([`${server.url}/test`, `${server.url}/test`]);
  });
});

describe("axios-retry: onRetry and onMaxRetryTimesExceeded", () => {
  it("reports each retry, with its count, and the last failure once", async () => {
    const clock = new ManualClock(0);
    const { api, lines, events } = enterprise(clock, { maxRetriesOnBackoff: 2 });
    server.handle(reply(503, {}, "Failed!"));
    expect(await failure(sendVia(api, clock))).toBeInstanceOf(BackoffExhaustedError);
    const notices = lines.filter((l) => l.msg === "upstream asked to back off").map((l) => [l.obj.attempt, l.obj.willRetry]);
    // onRetry: called twice, the last time with retryCount 2.
    expect(notices.filter(([, willRetry]) => willRetry)).toEqual([
      [1, true],
      [2, true],
    ]);
    // onMaxRetryTimesExceeded: once, after retry 2.
    expect(notices.filter(([, willRetry]) => !willRetry)).toEqual([[3, false]]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: "backoff-exhausted", attempts: 3, statusCode: 503 });
    // In that order: the notices, then the request's line.
    expect(lines.map((l) => l.msg).filter((m) => m !== "rate changed")).toEqual([
      "upstream asked to back off",
      "upstream asked to back off",
      "upstream asked to back off",
      "upstream request failed",
    ]);
  });

  it("a throwing or rejecting retry listener does not stop the retries", async () => {
    // axios-retry: an onRetry that rejects ends the request with its error after one call.
    // Breakwater ignores a logger that throws (docs/http-clients.md:158); the request goes on.
    const clock = new ManualClock(0);
    let calls = 0;
    const throwing = (): never => {
      calls++;
      throw new Error("onRetry error");
    };
    const api = new EnterpriseClient({
      integration: "example",
      baseUrl: server.url,
      rateConfig: FAST,
      clock,
      logger: { debug: throwing, info: throwing, warn: throwing, error: throwing },
    });
    server.handle(sequence(reply(503), reply(503), reply(200)));
    expect((await sendVia(api, clock)).status).toBe(200);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(server.requests).toHaveLength(3);
  });

  it("a throwing handler of the last failure does not replace the error", async () => {
    // axios-retry: an onMaxRetryTimesExceeded that throws (or rejects) rejects the request with
    // its error. Breakwater logs and ignores a throwing metrics handler
    // (docs/http-clients.md:142): the request rejects with BackoffExhaustedError.
    const clock = new ManualClock(0);
    const custom = new Error("CustomErrorAfterMaxRetryTimesExceeded");
    const { api, lines } = enterprise(clock, {
      maxRetriesOnBackoff: 2,
      onMetrics: () => {
        throw custom;
      },
    });
    server.handle(reply(503, {}, "Failed!"));
    const error = await failure(sendVia(api, clock));
    expect(error).toBeInstanceOf(BackoffExhaustedError);
    expect(lines.some((l) => l.msg === "metrics handler threw; event dropped")).toBe(true);
  });

  it("a request listener can be detached (axios-retry ejects its interceptors)", async () => {
    const clock = new ManualClock(0);
    const api = client(clock);
    const seen: number[] = [];
    const off = api.on("request", (e) => seen.push(e.attempts));
    await send(api, clock);
    off();
    await send(api, clock);
    expect(seen).toEqual([1]);
  });
});

describe("axios-retry: which requests are retried", () => {
  it.each(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"])("a 503 to %s is retried", async (method) => {
    // axios-retry (isIdempotentRequestError) retries a 5xx only for GET, HEAD, OPTIONS, PUT and
    // DELETE, never POST or PATCH. Breakwater retries a back-off status for every method: the
    // upstream says it did not process the request (undocumented: docs/http-clients.md:6-8 names
    // no methods).
    const clock = new ManualClock(0);
    server.handle(sequence(reply(503), reply(200)));
    expect((await send(client(clock), clock, method)).status).toBe(200);
    expect(server.requests.map((r) => r.method)).toEqual([method, method]);
  });

  it.each([
    [400, 1],
    [404, 1],
    [500, 1],
    [503, 2],
  ])("a %i is retried only when it is a back-off status", async (status, requests) => {
    // axios-retry (isRetryableError) retries every 5xx; Breakwater only its back-off statuses,
    // 429 and 503 by default (docs/http-clients.md:8, :47).
    const clock = new ManualClock(0);
    server.handle(sequence(reply(status), reply(200)));
    await send(client(clock), clock);
    expect(server.requests).toHaveLength(requests);
  });

  it("an aborted request is not retried", async () => {
    const api = new ApiClient({ baseUrl: server.url, rateConfig: FAST });
    server.handle(hang);
    const controller = new AbortController();
    const pending = failure(api.request("GET", "/test", { signal: controller.signal }));
    await until(() => server.open.length === 1);
    controller.abort();
    expect(((await pending) as Error).name).toBe("AbortError");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.requests).toHaveLength(1);
  });

  it("the retries of one request count once against the circuit; an exhausted 429 not at all", async () => {
    const clock = new ManualClock(0);
    const { api, events } = enterprise(clock, { maxRetriesOnBackoff: 2, circuitBreaker: { failureThreshold: 2 } });
    server.handle(reply(429, { "retry-after": "0" }));
    await failure(sendVia(api, clock));
    expect(api.breaker.state).toBe("closed");
    server.handle(reply(503));
    await failure(sendVia(api, clock));
    // Three 503s so far, one failure: the threshold of two is not reached.
    expect(api.breaker.state).toBe("closed");
    await failure(sendVia(api, clock));
    expect(api.breaker.state).toBe("open");
    expect(events.map((e) => [e.attempts, e.statusCode, e.outcome, e.circuitState])).toEqual([
      [3, 429, "backoff-exhausted", "closed"],
      [3, 503, "backoff-exhausted", "closed"],
      [3, 503, "backoff-exhausted", "open"],
    ]);
  });
});
