import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { FixedWindow, rateLimitMiddleware, type ResponseLike, TokenBucket } from "../../src/limit/index.js";
import { manual } from "./helpers.js";

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** Serves `handler` on 127.0.0.1 (a free port) and returns its base URL. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function headersOf(response: Response): Record<string, string | null> {
  const names = ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy", "retry-after"];
  return Object.fromEntries(names.map((n) => [n, response.headers.get(n)]));
}

describe("rateLimitMiddleware on node:http", () => {
  it("admits with RateLimit headers, then answers 429 with Retry-After and a short body", async () => {
    const { clock, store } = manual();
    const limiter = new FixedWindow({ limit: 2, windowMs: 60_000, clock, store });
    const limit = rateLimitMiddleware(limiter, { key: (req) => String(req.headers["x-user"] ?? "anonymous") });
    const url = await serve((req, res) =>
      limit(req, res, (error) => {
        res.statusCode = error ? 500 : 200;
        res.end(error ? "error" : "ok");
      }),
    );
    const get = (user: string): Promise<Response> => fetch(url, { headers: { "x-user": user } });

    const first = await get("alice");
    expect(first.status).toBe(200);
    expect(await first.text()).toBe("ok");
    expect(headersOf(first)).toEqual({
      "ratelimit-limit": "2",
      "ratelimit-remaining": "1",
      "ratelimit-reset": "60",
      "ratelimit-policy": "2;w=60",
      "retry-after": null,
    });
    expect((await get("alice")).status).toBe(200);
    clock.advance(15_000);
    const limited = await get("alice");
    expect(limited.status).toBe(429);
    expect(await limited.text()).toBe("Too Many Requests\n");
    expect(limited.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(headersOf(limited)).toEqual({
      "ratelimit-limit": "2",
      "ratelimit-remaining": "0",
      "ratelimit-reset": "45",
      "ratelimit-policy": "2;w=60",
      "retry-after": "45",
    });
    // Another key has its own limit.
    expect((await get("bob")).status).toBe(200);
  });

  it("spends the cost the request asks for, and lets onLimited answer", async () => {
    const { clock, store } = manual();
    const limiter = new TokenBucket({ ratePerSec: 1, capacity: 10, clock, store });
    const limit = rateLimitMiddleware(limiter, {
      key: () => "all",
      cost: (req) => (req.method === "POST" ? 6 : 1),
      policy: '10;w=10;comment="bulk"',
      onLimited: (_req, res, decision) => {
        res.statusCode = 503;
        res.setHeader("Content-Type", "application/json");
        res.end(JSON.stringify({ retryAfterMs: decision.retryAfterMs }));
      },
    });
    const url = await serve((req, res) => limit(req, res, () => res.end("done")));
    expect((await fetch(url, { method: "POST" })).status).toBe(200);
    const refused = await fetch(url, { method: "POST" });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ retryAfterMs: 2000 });
    expect(refused.headers.get("retry-after")).toBe("2");
    expect(refused.headers.get("ratelimit-policy")).toBe('10;w=10;comment="bulk"');
    const get = await fetch(url);
    expect(get.status).toBe(200);
    expect(get.headers.get("ratelimit-remaining")).toBe("3");
  });

  it("passes errors (a throwing key function, an empty key) to next(error)", async () => {
    const limiter = new TokenBucket({ ratePerSec: 1 });
    const limit = rateLimitMiddleware(limiter, {
      key: (req) => {
        if (req.url === "/throw") throw new Error("no user");
        return req.url === "/empty" ? "" : "k";
      },
    });
    const url = await serve((req, res) =>
      limit(req, res, (error) => {
        res.statusCode = error ? 500 : 200;
        res.end(error instanceof Error ? error.message : "ok");
      }),
    );
    const thrown = await fetch(`${url}/throw`);
    expect([thrown.status, await thrown.text()]).toEqual([500, "no user"]);
    const empty = await fetch(`${url}/empty`);
    expect(empty.status).toBe(500);
    expect(await empty.text()).toContain('option "key" must be a non-empty string');
  });

  it("a key function that returns no key goes to next(error), not to the limiter's default key", async () => {
    const { clock, store } = manual();
    const limiter = new FixedWindow({ limit: 1, windowMs: 60_000, clock, store });
    const limit = rateLimitMiddleware(limiter, { key: () => undefined as unknown as string });
    const url = await serve((req, res) =>
      limit(req, res, (error) => {
        res.statusCode = error ? 500 : 200;
        res.end(error instanceof Error ? error.message : "ok");
      }),
    );
    for (let i = 0; i < 2; i++) {
      const r = await fetch(url);
      expect(r.status).toBe(500);
      expect(await r.text()).toContain('option "key" must be a non-empty string; got undefined');
    }
    expect((await limiter.tryAcquire()).allowed).toBe(true);
  });

  it("a cost over the limit is answered 429 without Retry-After (never admitted), not passed to next(error)", async () => {
    const { clock, store } = manual();
    const limiter = new FixedWindow({ limit: 2, windowMs: 60_000, clock, store });
    const limit = rateLimitMiddleware(limiter, { key: () => "k", cost: (req) => (req.url === "/big" ? 3 : 1) });
    const url = await serve((req, res) => limit(req, res, (error) => res.end(error ? "error" : "ok")));
    const big = await fetch(`${url}/big`);
    expect(big.status).toBe(429);
    expect(headersOf(big)).toMatchObject({ "ratelimit-limit": "2", "ratelimit-remaining": "0", "retry-after": null });
    expect((await fetch(url)).status).toBe(200);
  });

  it("an onLimited that throws or rejects goes to next(error): the request is answered, nothing is unhandled", async () => {
    const { clock, store } = manual();
    const limiter = new FixedWindow({ limit: 1, windowMs: 60_000, clock, store });
    const limit = rateLimitMiddleware(limiter, {
      key: (req) => String(req.url),
      onLimited: (req) => {
        if (req.url === "/sync") throw new Error("sync handler failed");
        return Promise.reject(new Error("async handler failed"));
      },
    });
    const url = await serve((req, res) =>
      limit(req, res, (error) => {
        res.statusCode = error ? 500 : 200;
        res.end(error instanceof Error ? error.message : "ok");
      }),
    );
    for (const path of ["/sync", "/async"]) {
      expect((await fetch(`${url}${path}`)).status).toBe(200);
      const r = await fetch(`${url}${path}`);
      expect([r.status, await r.text()]).toEqual([500, `${path.slice(1)} handler failed`]);
    }
  });

  it("leaves the headers out when the response's headers were already sent", async () => {
    const { clock, store } = manual();
    const limiter = new FixedWindow({ limit: 1, windowMs: 60_000, clock, store });
    const limit = rateLimitMiddleware(limiter, { key: () => "k" });
    const url = await serve((req, res) => {
      // Another handler answers first (a timeout, say) while the limiter decides.
      res.writeHead(503, { "content-type": "text/plain" });
      limit(req, res, () => res.end("late"));
      res.end("answered");
    });
    const r = await fetch(url);
    expect(r.status).toBe(503);
    expect(r.headers.get("ratelimit-limit")).toBeNull();
    expect(await r.text()).toBe("answered");
  });
});

describe("rateLimitMiddleware, Express-style", () => {
  it("works on any res with statusCode, setHeader and end, calling next() when admitted", async () => {
    const { clock, store } = manual();
    const limiter = new FixedWindow({ limit: 1, windowMs: 1000, clock, store });
    const limit = rateLimitMiddleware<{ ip: string }, ResponseLike & { headers: Record<string, string>; body?: string }>(limiter, {
      key: (req) => req.ip,
    });
    const run = async (): Promise<{ next: number; res: ResponseLike & { headers: Record<string, string>; body?: string } }> => {
      let next = 0;
      let done = (): void => undefined;
      const finished = new Promise<void>((resolve) => (done = resolve));
      const res = {
        statusCode: 200,
        headers: {} as Record<string, string>,
        body: undefined as string | undefined,
        setHeader(name: string, value: string) {
          this.headers[name] = value;
        },
        end(body?: string) {
          this.body = body;
          done();
        },
      };
      limit({ ip: "10.0.0.1" }, res, () => {
        next++;
        done();
      });
      await finished;
      return { next, res };
    };
    const ok = await run();
    expect(ok.next).toBe(1);
    expect(ok.res.headers["RateLimit-Remaining"]).toBe("0");
    const refused = await run();
    expect(refused.next).toBe(0);
    expect(refused.res.statusCode).toBe(429);
    expect(refused.res.headers["Retry-After"]).toBe("1");
    expect(refused.res.body).toBe("Too Many Requests\n");
  });

  it("rejects bad options at construction", () => {
    const limiter = new TokenBucket({ ratePerSec: 1 });
    expect(() => rateLimitMiddleware(limiter, {} as never)).toThrow('rateLimitMiddleware: option "key" must be a function');
    expect(() => rateLimitMiddleware(limiter, { key: () => "k", cost: -1 })).toThrow('option "cost"');
    expect(() => rateLimitMiddleware(limiter, { key: () => "k", keys: 1 } as never)).toThrow('option "keys"');
    expect(() => rateLimitMiddleware({} as never, { key: () => "k" })).toThrow('option "limiter"');
    expect(() => rateLimitMiddleware(limiter, { key: () => "k", policy: 5 as never })).toThrow(
      'rateLimitMiddleware: option "policy" must be a non-empty string; got 5',
    );
    expect(() => rateLimitMiddleware(limiter, { key: () => "k", onLimited: "429" as never })).toThrow(
      'option "onLimited" must be a function',
    );
  });
});
