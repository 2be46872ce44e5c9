import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  AdaptiveRateLimiter,
  CircuitBreaker,
  CircuitBreakers,
  consecutiveFailures,
  InvalidOptionError,
  ManualClock,
} from "../../src/index.js";
import { dashboardHandler, type DashboardHandler, type DashboardOptions, runDashboard } from "../../src/dashboard/index.js";
import { openStream } from "./sse.js";

const boom = (): never => {
  throw new Error("upstream 503");
};

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Serves `handler` on 127.0.0.1, optionally under an Express-like mount that strips `mount`. */
async function serve(handler: DashboardHandler, mount = ""): Promise<string> {
  const server: Server = createServer((req, res) => {
    const url = req.url ?? "/";
    if (mount === "") return handler(req, res);
    if (!url.startsWith(mount)) return void res.writeHead(418).end();
    Object.assign(req, { originalUrl: url, url: url.slice(mount.length) || "/" });
    handler(req, res, () => res.writeHead(299).end("next"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => {
    handler.close();
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function call(
  url: string,
  method = "GET",
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

function fixture(options: Partial<DashboardOptions> = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const breakers = new CircuitBreakers({ clock, defaults: { trip: consecutiveFailures(2), recovery: 5_000 } });
  breakers.get("payments");
  const handler = dashboardHandler({ sources: [breakers], intervalMs: 60_000, ...options });
  return { clock, breakers, handler };
}

describe("dashboardHandler: page and status", () => {
  it("serves the page with its title escaped, and the JSON status of every breaker", async () => {
    const { breakers, handler } = fixture({ title: "Shop <prod>" });
    await breakers.execute("payments", boom).catch(() => undefined);
    const base = await serve(handler);
    const page = await call(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    expect(page.body).toContain("<title>Shop &#60;prod&#62;</title>");
    expect(page.body).toContain('new EventSource("events")');
    const status = JSON.parse((await call(`${base}/status`)).body);
    expect(status).toMatchObject({
      control: false,
      breakers: [
        {
          name: "payments",
          state: "closed",
          failures: 1,
          totals: { failures: 1 },
          lastFailure: { reason: "upstream 503" },
          store: "memory",
        },
      ],
    });
  });

  it("shows the probe time and retry phase of an open breaker, and an isolated one as held until reset", async () => {
    const { clock, breakers, handler } = fixture();
    await breakers.execute("payments", boom).catch(() => undefined);
    await breakers.execute("payments", boom).catch(() => undefined);
    clock.advance(1_500);
    let [view] = (await handler.snapshot()).breakers;
    expect(view).toMatchObject({
      state: "open",
      nextProbeInMs: 3_500,
      retryPhase: expect.any(String),
      attempt: 1,
      openedAt: 1_700_000_000_000,
    });
    breakers.get("payments").isolate();
    [view] = (await handler.snapshot()).breakers;
    expect(view).toMatchObject({ state: "open", isolated: true, nextProbeInMs: null });
  });

  it("under a mount, redirects the bare path to the slash form and passes unknown paths to next", async () => {
    const { handler } = fixture();
    const base = await serve(handler, "/ops");
    const bare = await call(`${base}/ops?x=1`);
    expect(bare.status).toBe(308);
    expect(bare.headers.location).toBe("/ops/?x=1");
    expect((await call(`${base}/ops/`)).status).toBe(200);
    expect((await call(`${base}/ops/nothing-here`)).status).toBe(299);
  });

  it("answers 404 for unknown paths without next", async () => {
    const { handler } = fixture();
    const base = await serve(handler);
    expect((await call(`${base}/nothing-here`)).status).toBe(404);
  });
});

describe("dashboardHandler: live stream", () => {
  it("sends a snapshot at once and another on every state change, without waiting for the tick", async () => {
    const { clock, breakers, handler } = fixture();
    const base = await serve(handler);
    const stream = await openStream(`${base}/events`);
    cleanups.push(() => stream.close());
    expect(stream.status).toBe(200);
    await stream.next((s) => s.breakers[0]?.state === "closed");
    await breakers.execute("payments", boom).catch(() => undefined);
    await breakers.execute("payments", boom).catch(() => undefined);
    await stream.next((s) => s.breakers[0]?.state === "open");
    clock.advance(5_000);
    await breakers.execute("payments", () => "probe ok");
    await stream.next((s) => s.breakers[0]?.state === "closed");
    breakers.get("later");
    await breakers.execute("later", boom).catch(() => undefined);
    await breakers.execute("later", boom).catch(() => undefined);
    const s = await stream.next((x) => x.breakers.some((b) => b.name === "later" && b.state === "open"));
    expect(s.breakers.map((b) => b.name)).toEqual(["payments", "later"]);
  });

  it("ticks every intervalMs, stops listening when the last client leaves, and close() ends streams", async () => {
    const breaker = new CircuitBreaker({ name: "solo" });
    const handler = dashboardHandler({ sources: [breaker], intervalMs: 20 });
    const base = await serve(handler);
    const stream = await openStream(`${base}/events`);
    await stream.next(() => true);
    await stream.next(() => true);
    await stream.next(() => true);
    expect((breaker as unknown as { events: { has(e: string): boolean } }).events.has("stateChange")).toBe(true);
    stream.close();
    await stream.ended;
    await waitUntil(() => !(breaker as unknown as { events: { has(e: string): boolean } }).events.has("stateChange"));
    const again = await openStream(`${base}/events`);
    await again.next(() => true);
    handler.close();
    await again.ended;
  });

  it("refuses event-stream clients beyond maxClients", async () => {
    const { handler } = fixture({ maxClients: 1 });
    const base = await serve(handler);
    const first = await openStream(`${base}/events`);
    cleanups.push(() => first.close());
    expect((await call(`${base}/events`)).status).toBe(503);
  });
});

describe("dashboardHandler: control", () => {
  it("is off by default: isolate and reset answer 403 and change nothing", async () => {
    const { breakers, handler } = fixture();
    const base = await serve(handler);
    const r = await call(`${base}/breakers/payments/isolate`, "POST", { "x-breakwater-control": "1" });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).error).toMatch(/allowControl/);
    expect(breakers.get("payments").status().isolated).toBe(false);
  });

  it("with allowControl, isolates and resets a breaker; needs the control header; 404 for an unknown one", async () => {
    const { breakers, handler } = fixture({ allowControl: true });
    const base = await serve(handler);
    expect((await call(`${base}/breakers/payments/isolate`, "POST")).status).toBe(403);
    const isolated = await call(`${base}/breakers/payments/isolate`, "POST", { "x-breakwater-control": "1" });
    expect(isolated.status).toBe(200);
    expect(JSON.parse(isolated.body)).toMatchObject({
      ok: true,
      action: "isolate",
      breaker: { name: "payments", isolated: true, state: "open" },
    });
    expect(breakers.get("payments").status().isolated).toBe(true);
    expect((await call(`${base}/breakers/payments/reset`, "POST", { "x-breakwater-control": "1" })).status).toBe(200);
    expect(breakers.get("payments").state).toBe("closed");
    expect((await call(`${base}/breakers/nope/reset`, "POST", { "x-breakwater-control": "1" })).status).toBe(404);
    expect(breakers.names()).toEqual(["payments"]);
    expect((await call(`${base}/breakers/payments/reset`)).status).toBe(405);
    expect((await call(`${base}/breakers/%E0%A4%A/reset`, "POST", { "x-breakwater-control": "1" })).status).toBe(400);
  });

  it("with allowControl, a foreign Host (DNS rebinding) is refused on every path; the served address and localhost are not", async () => {
    const { breakers, handler } = fixture({ allowControl: true });
    const base = await serve(handler);
    const port = new URL(base).port;
    const control = { "x-breakwater-control": "1" };
    const rebound = await call(`${base}/breakers/payments/isolate`, "POST", { ...control, host: `attacker.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error).toMatch(/Host "attacker.example:\d+" is not this dashboard's address/);
    expect((await call(`${base}/status`, "GET", { host: `attacker.example:${port}` })).status).toBe(403);
    expect((await call(`${base}/status`, "GET", { host: "127.0.0.1:1" })).status).toBe(403);
    expect(breakers.get("payments").status().isolated).toBe(false);
    expect((await call(`${base}/status`, "GET", { host: `localhost:${port}` })).status).toBe(200);
    expect((await call(`${base}/status`)).status).toBe(200);
    expect((await call(`${base}/breakers/payments/isolate`, "POST", control)).status).toBe(200);
  });

  it("allowedHosts adds names (any port) or host:port values; without control no Host is checked", async () => {
    const listed = fixture({ allowControl: true, allowedHosts: ["Ops.Example.com", "proxy.internal:8443"] });
    const base = await serve(listed.handler);
    expect((await call(`${base}/status`, "GET", { host: "ops.example.com" })).status).toBe(200);
    expect((await call(`${base}/status`, "GET", { host: "ops.example.com:9999" })).status).toBe(200);
    expect((await call(`${base}/status`, "GET", { host: "proxy.internal:8443" })).status).toBe(200);
    expect((await call(`${base}/status`, "GET", { host: "proxy.internal:8444" })).status).toBe(403);
    const open = fixture();
    const plain = await serve(open.handler);
    expect((await call(`${plain}/status`, "GET", { host: "anything.example" })).status).toBe(200);
  });
});

describe("dashboardHandler: options", () => {
  it("validates its options at construction", () => {
    const breaker = new CircuitBreaker({ name: "a" });
    expect(() => dashboardHandler({ sources: [] })).toThrow(/sources/);
    expect(() => dashboardHandler({ sources: [{} as never] })).toThrow(/sources\[0\]/);
    expect(() => dashboardHandler({ sources: [breaker], allowControl: "yes" as never })).toThrow(/allowControl/);
    expect(() => dashboardHandler({ sources: [breaker], intervalMs: 1 })).toThrow(/intervalMs/);
    expect(() => dashboardHandler({ sources: [breaker], allowedHosts: "localhost" as never })).toThrow(/allowedHosts.*host names/);
    expect(() => dashboardHandler({ sources: [breaker], allowedHosts: [""] })).toThrow(/allowedHosts/);
    expect(() => dashboardHandler({ sources: [breaker], port: 1 } as never)).toThrow(InvalidOptionError);
  });
});

describe("runDashboard", () => {
  it("serves the dashboard on 127.0.0.1 until closed", async () => {
    const breaker = new CircuitBreaker({ name: "a" });
    const running = await runDashboard({ sources: [breaker], port: 0 });
    expect(running.url).toBe(`http://127.0.0.1:${running.port}/`);
    const status = JSON.parse((await call(`${running.url}status`)).body);
    expect(status.breakers[0].name).toBe("a");
    await running.close();
    await expect(call(`${running.url}status`)).rejects.toThrow();
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("dashboardHandler: live stream of limiters", () => {
  it("pushes an adaptive limiter's cooldown at once, without waiting for the tick", async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const limiter = new AdaptiveRateLimiter({ name: "stripe", clock });
    const handler = dashboardHandler({ sources: [limiter], intervalMs: 60_000 });
    const base = await serve(handler);
    const stream = await openStream(`${base}/events`);
    cleanups.push(() => stream.close());
    await stream.next((s) => s.limiters[0]?.cooldownMs === 0);
    limiter.onBackoff({ status: 429, retryAfterMs: 3_000 });
    const s = await stream.next((x) => (x.limiters[0]?.cooldownMs ?? 0) > 0);
    expect(s.limiters[0]).toMatchObject({ name: "stripe", cooldownMs: 3_000, backoffs: 1 });
  });
});
