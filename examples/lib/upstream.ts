/**
 * A local upstream API with a hidden rate limit, for the demo and the adaptive bench.
 *
 * It listens on 127.0.0.1 (a free port) and admits at most `L` requests per second, `L`
 * changing on a schedule. `algorithm` says how: `"sliding-window"` (default) admits a
 * request when fewer than `L` were admitted in the second before it, so no one-second span
 * ever holds more than `L`; `"token-bucket"` refills a bucket at `L` per second that holds
 * `L * burstSeconds` tokens, so bursts above `L` pass after a quiet spell. A request over
 * the limit is answered 429; during an outage every request is answered 503. What the
 * answers say depends on `headers`:
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

/** What rate-limit information the upstream sends. */
export type HeaderMode = "none" | "retry-after" | "full";

/** Options of {@link startUpstream}. */
export interface UpstreamOptions {
  /** The limit over time: `[fromMs, requestsPerSecond]` pairs, from `start()`; the first applies before it too. */
  readonly schedule: readonly (readonly [fromMs: number, limit: number])[];
  /** `[fromMs, toMs]` spans (from `start()`) during which every request is answered 503. */
  readonly outages?: readonly (readonly [fromMs: number, toMs: number])[];
  /** What rate-limit information to send. Default `"none"`. */
  readonly headers?: HeaderMode;
  /** How the limit is enforced. Default `"sliding-window"`. */
  readonly algorithm?: "sliding-window" | "token-bucket";
  /** Token bucket only: it holds `limit * burstSeconds` tokens (at least 1). Default 1. */
  readonly burstSeconds?: number;
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
  const algorithm = options.algorithm ?? "sliding-window";
  const burstSeconds = options.burstSeconds ?? 1;
  const [minLatency, maxLatency] = options.latencyMs ?? [2, 6];
  let t0 = performance.now();
  let tokens = schedule[0]![1] * burstSeconds;
  let refilledAt = 0;
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

  /** Sliding window: the times (ms) of the requests admitted in the last second, oldest first. */
  const admitted: number[] = [];
  let admittedHead = 0;
  /** Admits one request at `ms` or not; returns what the rate-limit headers would say. */
  const admit = (
    ms: number,
    limit: number,
  ): { ok: boolean; remaining: number; resetSec: number; retrySec: number; quota: number; windowSec: number } => {
    if (algorithm === "token-bucket") {
      const capacity = Math.max(1, limit * burstSeconds);
      tokens = Math.min(capacity, tokens + ((ms - refilledAt) * limit) / 1000);
      refilledAt = ms;
      const ok = tokens >= 1;
      if (ok) tokens -= 1;
      return {
        ok,
        remaining: Math.floor(tokens),
        resetSec: Math.ceil((capacity - tokens) / limit),
        retrySec: Math.max(1, Math.ceil((1 - tokens) / limit)),
        quota: Math.round(capacity),
        windowSec: burstSeconds,
      };
    }
    while (admittedHead < admitted.length && admitted[admittedHead]! <= ms - 1000) admittedHead++;
    if (admittedHead > 1024) {
      admitted.splice(0, admittedHead);
      admittedHead = 0;
    }
    const inWindow = admitted.length - admittedHead;
    const ok = inWindow < limit;
    if (ok) admitted.push(ms);
    const oldest = admitted[admittedHead];
    // Whole seconds until the oldest admitted request leaves the window (and frees a slot).
    const freeSec = oldest === undefined ? 0 : Math.max(1, Math.ceil((oldest + 1000 - ms) / 1000));
    return {
      ok,
      remaining: Math.max(0, limit - (admitted.length - admittedHead)),
      resetSec: freeSec,
      retrySec: Math.max(1, freeSec),
      quota: limit,
      windowSec: 1,
    };
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    const ms = performance.now() - t0;
    let status = 200;
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
      const answer = admit(ms, limitAt(ms));
      if (answer.ok) count(timeline.ok, ms);
      else {
        status = 429;
        count(timeline.throttled, ms);
        refuse(ms);
        if (mode !== "none") headers["retry-after"] = String(answer.retrySec);
      }
      if (mode === "full") {
        headers["ratelimit-limit"] = String(answer.quota);
        headers["ratelimit-remaining"] = String(answer.remaining);
        headers["ratelimit-reset"] = String(answer.resetSec);
        headers["ratelimit-policy"] = `${answer.quota};w=${answer.windowSec}`;
        headers["x-ratelimit-limit"] = String(answer.quota);
        headers["x-ratelimit-remaining"] = String(answer.remaining);
        headers["x-ratelimit-reset"] = String(Math.ceil(Date.now() / 1000) + answer.resetSec);
      }
    }
    const body = status === 200 ? '{"ok":true}' : status === 429 ? '{"error":"rate limited"}' : '{"error":"unavailable"}';
    const delay = minLatency + Math.random() * (maxLatency - minLatency);
    setTimeout(() => {
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
      refilledAt = 0;
      tokens = Math.max(1, schedule[0]![1] * burstSeconds);
      admitted.length = 0;
      admittedHead = 0;
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
