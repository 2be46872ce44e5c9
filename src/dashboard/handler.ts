/**
 * `dashboardHandler`: a request handler for `node:http` or Express that serves the live
 * dashboard page, a server-sent-events stream of snapshots, a JSON snapshot, and (only
 * when enabled) isolate and reset for breakers.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { background, type Clock } from "../core/clock.js";
import { InvalidOptionError } from "../core/errors.js";
import { checkKeys, clockOption, integer, nonEmptyString, orDefault } from "../core/validate.js";
import { hostAllowed } from "./host-check.js";
import { renderPage } from "./page.js";
import { type DashboardSnapshot, type DashboardSource, Sources, viewOf } from "./snapshot.js";

/** Options of {@link dashboardHandler}. */
export interface DashboardOptions {
  /**
   * What to show: breakers, `CircuitBreakers` registries (a registry's later services
   * included), rate limiters, adaptive rate limiters and HTTP clients (their limiter and breaker).
   */
  readonly sources: readonly DashboardSource[];
  /**
   * Serve `POST breakers/<name>/isolate` and `.../reset` (they change production state).
   * Default false: the buttons are disabled and the endpoints answer 403.
   */
  readonly allowControl?: boolean;
  /**
   * With `allowControl`: the `Host` names (`ops.example.com`) or `host:port` values served
   * besides the address a request arrives on (and, on a loopback address, `localhost`).
   * Any other `Host` gets 403, so a DNS-rebinding page cannot reach the control endpoints.
   * Default: none.
   */
  readonly allowedHosts?: readonly string[];
  /** How often the stream sends a snapshot (ms); state changes are sent at once besides. Default 1000. */
  readonly intervalMs?: number;
  /** The page's title. Default `"Breakwater"`. */
  readonly title?: string;
  /** The most event-stream clients at once; more get 503. Default 100. */
  readonly maxClients?: number;
  /**
   * How far back each adaptive limiter's chart of its rate and cooldowns goes (ms). The
   * dashboard samples every adaptive limiter once per `historyIntervalMs` from its creation,
   * page open or not, and keeps `historyMs / historyIntervalMs` samples each (at most
   * 10,000). Default 300000 (5 minutes); 0 keeps none.
   */
  readonly historyMs?: number;
  /** The time between two samples of the history (ms, at least 10). Default 1000. */
  readonly historyIntervalMs?: number;
  /** The clock of the snapshots' `at` and of the history's samples. Default `systemClock`. */
  readonly clock?: Clock;
}

/** The most samples the history keeps per limiter. */
const MAX_HISTORY_SAMPLES = 10_000;

/** A `node:http` / Express request handler, with the means to stop its streams. */
export interface DashboardHandler {
  /**
   * Handles one request. Paths are relative to where it is mounted: `/` (the page),
   * `/events` (server-sent events: one `snapshot` event per tick), `/status` (JSON),
   * `POST /breakers/<name>/isolate|reset`. Other paths go to `next` when given, else 404.
   */
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** The snapshot the page would receive now. */
  snapshot(): Promise<DashboardSnapshot>;
  /** Ends every event stream and stops listening to the sources. */
  close(): void;
}

/** Every option of {@link dashboardHandler}, for the check of unknown keys. */
export const DASHBOARD_OPTIONS: readonly string[] = [
  "sources",
  "allowControl",
  "allowedHosts",
  "intervalMs",
  "title",
  "maxClients",
  "historyMs",
  "historyIntervalMs",
  "clock",
];

/** The header the page sends with isolate and reset: a cross-site form cannot set it. */
export const CONTROL_HEADER = "x-breakwater-control";

const WHERE = "dashboardHandler";
const ACTION = /^\/breakers\/([^/]+)\/(isolate|reset)$/;

/**
 * Creates the dashboard's request handler.
 *
 * @example
 * ```ts
 * http.createServer(dashboardHandler({ sources: [breakers] })).listen(9400, "127.0.0.1");
 * app.use("/ops/breakwater", dashboardHandler({ sources: [breakers], allowControl: true })); // Express
 * ```
 */
export function dashboardHandler(options: DashboardOptions): DashboardHandler {
  checkKeys(WHERE, options, DASHBOARD_OPTIONS);
  if (options === undefined) throw new InvalidOptionError(WHERE, "options", options, "an object with sources");
  const historyMs = integer(WHERE, "historyMs", orDefault(options.historyMs, 300_000), 0);
  const historyIntervalMs = integer(WHERE, "historyIntervalMs", orDefault(options.historyIntervalMs, 1_000), 10);
  const capacity = Math.ceil(historyMs / historyIntervalMs);
  if (capacity > MAX_HISTORY_SAMPLES)
    throw new InvalidOptionError(
      WHERE,
      "historyMs",
      historyMs,
      `at most ${MAX_HISTORY_SAMPLES} × historyIntervalMs (${historyIntervalMs})`,
    );
  const clock = clockOption(WHERE, options.clock);
  const sources = new Sources(WHERE, options.sources, capacity === 0 ? null : { capacity, intervalMs: historyIntervalMs });
  const control = orDefault(options.allowControl, false);
  if (typeof control !== "boolean") throw new InvalidOptionError(WHERE, "allowControl", control, "a boolean");
  const allowedHosts = orDefault(options.allowedHosts, []);
  if (!Array.isArray(allowedHosts) || !allowedHosts.every((h) => typeof h === "string" && h !== "")) {
    throw new InvalidOptionError(WHERE, "allowedHosts", allowedHosts, "an array of host names or host:port strings");
  }
  const hosts = allowedHosts.map((h: string) => h.toLowerCase());
  const intervalMs = integer(WHERE, "intervalMs", orDefault(options.intervalMs, 1_000), 10);
  const title = nonEmptyString(WHERE, "title", orDefault(options.title, "Breakwater"));
  const maxClients = integer(WHERE, "maxClients", orDefault(options.maxClients, 100), 1);
  const page = renderPage(title);

  const clients = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let scheduled = false;

  const snapshot = () => sources.snapshot(control, clock.now());
  // The history fills whether a page is open or not: opening one shows the last minutes.
  sources.sample(clock.now());
  const sampler = capacity === 0 ? undefined : background(setInterval(() => sources.sample(clock.now()), historyIntervalMs));
  const broadcast = (): void => {
    scheduled = false;
    if (clients.size === 0) return;
    snapshot().then(
      (s) => {
        const frame = `event: snapshot\ndata: ${JSON.stringify(s)}\n\n`;
        for (const res of clients) res.write(frame);
      },
      (error: unknown) => {
        const frame = `event: problem\ndata: ${JSON.stringify({ error: String(error) })}\n\n`;
        for (const res of clients) res.write(frame);
      },
    );
  };
  // State changes come in bursts (a registry's services trip together): one frame per burst.
  const soon = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(broadcast);
  };
  const start = (): void => {
    unsubscribe = sources.onChange(soon);
    timer = background(setInterval(broadcast, intervalMs));
  };
  const stop = (): void => {
    unsubscribe?.();
    unsubscribe = undefined;
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };

  const stream = (req: IncomingMessage, res: ServerResponse): void => {
    if (clients.size >= maxClients) return json(res, 503, { error: `too many dashboard clients (maxClients ${maxClients})` });
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write("retry: 2000\n\n");
    clients.add(res);
    if (clients.size === 1) start();
    const leave = (): void => {
      if (!clients.delete(res)) return;
      if (clients.size === 0) stop();
    };
    req.on("close", leave);
    res.on("close", leave);
    soon();
  };

  const act = (res: ServerResponse, name: string, action: "isolate" | "reset", req: IncomingMessage): void => {
    if (!control) return json(res, 403, { error: "control is disabled: create the dashboard with allowControl: true" });
    if (req.headers[CONTROL_HEADER] !== "1") return json(res, 403, { error: `missing header ${CONTROL_HEADER}: 1` });
    const breaker = sources.breaker(name);
    if (breaker === undefined) return json(res, 404, { error: `no breaker named ${JSON.stringify(name)}` });
    if (action === "isolate") breaker.isolate();
    else breaker.reset();
    soon();
    json(res, 200, { ok: true, action, breaker: viewOf(breaker) });
  };

  const handler = ((req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void => {
    const path = pathOf(req.url);
    const method = req.method ?? "GET";
    // With control on, a request under a foreign Host (DNS rebinding) is refused, whatever its path.
    if (control && !hostAllowed(req.headers.host, req.socket?.localAddress, req.socket?.localPort, hosts)) {
      return json(res, 403, { error: `Host ${JSON.stringify(req.headers.host ?? "")} is not this dashboard's address (see allowedHosts)` });
    }
    try {
      if (method === "GET" || method === "HEAD") {
        if (path === "/" || path === "") {
          const outer = pathOf((req as { originalUrl?: string }).originalUrl ?? req.url);
          // Mounted at /ops without the slash: the page's relative links need /ops/.
          if (!outer.endsWith("/")) return redirect(res, `${outer}/${queryOf(req.url)}`);
          return send(res, 200, "text/html; charset=utf-8", page);
        }
        if (path === "/events") return stream(req, res);
        if (path === "/status") {
          snapshot().then(
            (s) => json(res, 200, s),
            (error: unknown) => json(res, 500, { error: String(error) }),
          );
          return;
        }
      }
      const action = ACTION.exec(path);
      if (action !== null) {
        if (method !== "POST") return json(res, 405, { error: "use POST" }, { allow: "POST" });
        req.resume();
        let name: string;
        try {
          name = decodeURIComponent(action[1] as string);
        } catch {
          return json(res, 400, { error: "malformed breaker name" });
        }
        return act(res, name, action[2] as "isolate" | "reset", req);
      }
    } catch (error) {
      return json(res, 500, { error: String(error) });
    }
    if (next !== undefined) return next();
    json(res, 404, { error: "not found" });
  }) as DashboardHandler;
  handler.snapshot = snapshot;
  handler.close = () => {
    stop();
    if (sampler !== undefined) clearInterval(sampler);
    for (const res of clients) res.end();
    clients.clear();
  };
  return handler;
}

function pathOf(url: string | undefined): string {
  const raw = url ?? "/";
  const q = raw.indexOf("?");
  return q < 0 ? raw : raw.slice(0, q);
}

function queryOf(url: string | undefined): string {
  const raw = url ?? "";
  const q = raw.indexOf("?");
  return q < 0 ? "" : raw.slice(q);
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(body), headers);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(308, { location, "content-length": 0 });
  res.end();
}
