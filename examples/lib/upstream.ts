/**
 * A local upstream API with a hidden rate limit, for the demo and the adaptive bench.
 *
 * It listens on 127.0.0.1 (a free port) and admits at most `L` requests per second, `L`
 * changing on a schedule. `algorithm` says how (examples/lib/limit-models.ts): an exact
 * sliding log by default (no one-second span ever holds more than `L`), a token bucket,
 * a fixed window on the clock's second, the approximate sliding window of Cloudflare and
 * upstash, GCRA without burst, or a cap on requests in flight. A request over the limit
 * is answered 429; during an outage every request is answered 503. What the answers say
 * depends on `headers`:
 *
 * - `"none"`: bare 429 and 503 answers: the client learns only from the statuses.
 * - `"retry-after"`: 429 carries `Retry-After` in whole seconds (rounded up, as servers do).
 * - `"full"`: also the IETF draft `RateLimit-Limit` / `-Remaining` / `-Reset` /
 *   `-Policy` and `X-RateLimit-*` on every answer.
 *
 * With `penalty`, it also shuts out a client that keeps hammering, as real APIs do
 * (Discord's invalid-request limit, GitHub's secondary rate limits, Cloudflare's
 * mitigation timeout): more than `refusals` answers 429 within `withinMs` and every
 * request is refused for the next `blockMs`. Refusals during the block do not extend it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createLimitModel, type HeaderMode, type LimitKind, type LimitModel, writeRateLimitHeaders } from "./limit-models.js";

/** What rate-limit information the upstream sends. */
export type { HeaderMode };

/** Options of {@link startUpstream}. */
export interface UpstreamOptions {
  /** The limit over time: `[fromMs, requestsPerSecond]` pairs, from `start()`; the first applies before it too. */
  readonly schedule: readonly (readonly [fromMs: number, limit: number])[];
  /** `[fromMs, toMs]` spans (from `start()`) during which every request is answered 503. */
  readonly outages?: readonly (readonly [fromMs: number, toMs: number])[];
  /** What rate-limit information to send. Default `"none"`. */
  readonly headers?: HeaderMode;
  /** How the limit is enforced. Default `"sliding-log"` (exact). */
  readonly algorithm?: LimitKind;
  /** Token bucket only: it holds `limit * burstSeconds` tokens (at least 1). Default 1. */
  readonly burstSeconds?: number;
  /** Sliding log and sliding window only: refused requests count against the limit too. Default false. */
  readonly countsRefused?: boolean;
  /** Service time of each request (ms), uniform in [min, max]. Default [2, 6]. */
  readonly latencyMs?: readonly [min: number, max: number];
  /** Shut out a client refused too often (see above). Default: none. */
  readonly penalty?: PenaltyOptions;
}

/** A penalty for hammering: more than `refusals` 429s within `withinMs` blocks everything for `blockMs`. */
export interface PenaltyOptions {
  readonly refusals: number;
  readonly withinMs: number;
  readonly blockMs: number;
}

/** Counts per 100 ms bucket since `start()`. */
export interface UpstreamTimeline {
  readonly ok: number[];
  readonly throttled: number[];
  readonly unavailable: number[];
}

/** A running upstream. */
export interface Upstream {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Makes now the schedule's time zero and clears the counts. */
  start(): void;
  /** Milliseconds since `start()`. */
  elapsedMs(): number;
  /** The limit in force `ms` after `start()`. */
  limitAt(ms: number): number;
  /** True when `ms` after `start()` falls in an outage. */
  inOutage(ms: number): boolean;
  /** How many times the penalty shut the client out since `start()`. */
  penalties(): number;
  /** Answers so far, per 100 ms bucket. */
  readonly timeline: UpstreamTimeline;
  /** Stops listening and closes idle connections. */
  close(): Promise<void>;
}

/** The width of a timeline bucket (ms). */
export const BUCKET_MS = 100;

/** Starts an upstream; resolves once it listens. */
export async function startUpstream(options: UpstreamOptions): Promise<Upstream> {
  const schedule = [...options.schedule].sort((a, b) => a[0] - b[0]);
  if (schedule.length === 0) throw new Error("startUpstream: schedule needs at least one [fromMs, limit]");
  const outages = options.outages ?? [];
  const mode = options.headers ?? "none";
  const [minLatency, maxLatency] = options.latencyMs ?? [2, 6];
  let t0 = performance.now();
  const newModel = (): LimitModel =>
    createLimitModel(options.algorithm ?? "sliding-log", {
      burstSeconds: options.burstSeconds ?? 1,
      countsRefused: options.countsRefused ?? false,
      // The clock's second, as a server's fixed window sees it.
      windowOffsetMs: Date.now() % 1000,
      serviceMs: (minLatency + maxLatency) / 2,
    });
  let model = newModel();
  const timeline: UpstreamTimeline = { ok: [], throttled: [], unavailable: [] };
  const penalty = options.penalty;
  /** Times (ms) of the recent 429s, for the penalty; oldest first. */
  const refusedAt: number[] = [];
  let blockedUntil = -1;
  let penaltyCount = 0;
  /** Records a refusal; trips the penalty when there were too many lately. */
  const refuse = (ms: number): void => {
    if (penalty === undefined) return;
    refusedAt.push(ms);
    // Bounded: drops everything older than the window (at most all of it).
    while (refusedAt.length > 0 && refusedAt[0]! <= ms - penalty.withinMs) refusedAt.shift();
    if (refusedAt.length > penalty.refusals) {
      blockedUntil = ms + penalty.blockMs;
      penaltyCount++;
      refusedAt.length = 0;
    }
  };

  const limitAt = (ms: number): number => {
    let limit = schedule[0]![1];
    for (const [from, l] of schedule) if (ms >= from) limit = l;
    return limit;
  };
  const inOutage = (ms: number): boolean => outages.some(([from, to]) => ms >= from && ms < to);
  const count = (series: number[], ms: number): void => {
    const i = Math.max(0, Math.floor(ms / BUCKET_MS));
    while (series.length <= i) series.push(0);
    series[i]!++;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    const ms = performance.now() - t0;
    let status = 200;
    let admitted = false;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (inOutage(ms)) {
      status = 503;
      count(timeline.unavailable, ms);
    } else if (ms < blockedUntil) {
      // Shut out: refused without a look at the limit, and not counted towards another block.
      status = 429;
      count(timeline.throttled, ms);
      if (mode !== "none") headers["retry-after"] = String(Math.max(1, Math.ceil((blockedUntil - ms) / 1000)));
    } else {
      const answer = model.admit(ms, limitAt(ms));
      admitted = answer.ok;
      if (answer.ok) count(timeline.ok, ms);
      else {
        status = 429;
        count(timeline.throttled, ms);
        refuse(ms);
      }
      writeRateLimitHeaders(headers, answer, mode, Date.now());
    }
    const body = status === 200 ? '{"ok":true}' : status === 429 ? '{"error":"rate limited"}' : '{"error":"unavailable"}';
    const delay = minLatency + Math.random() * (maxLatency - minLatency);
    setTimeout(() => {
      if (admitted) model.finish(performance.now() - t0);
      res.writeHead(status, headers);
      res.end(body);
    }, delay);
  };

  const server: Server = createServer(handle);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    start() {
      t0 = performance.now();
      model = newModel();
      timeline.ok.length = 0;
      timeline.throttled.length = 0;
      timeline.unavailable.length = 0;
      refusedAt.length = 0;
      blockedUntil = -1;
      penaltyCount = 0;
    },
    elapsedMs: () => performance.now() - t0,
    limitAt,
    inOutage,
    penalties: () => penaltyCount,
    timeline,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Sum of `series` over the buckets covering [fromMs, toMs). */
export function sumBetween(series: readonly number[], fromMs: number, toMs: number): number {
  let total = 0;
  for (let i = Math.floor(fromMs / BUCKET_MS); i < Math.ceil(toMs / BUCKET_MS); i++) total += series[i] ?? 0;
  return total;
}
