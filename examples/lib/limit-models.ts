/**
 * How upstream APIs enforce a rate limit, as small state machines over time (ms): the
 * hidden limits the adaptive bench and its simulation put Breakwater against. Each
 * `admit(ms, limit)` decides one request that arrives at `ms` while `limit` (requests per
 * second) is in force, and says what a server of that kind would put in its rate-limit
 * headers. Rejected requests do not count against the limit (as in upstash, Cloudflare,
 * and most API gateways) unless `countsRefused` says they do.
 */

/** The ways of enforcing a limit that the bench models. */
export type LimitKind = "token-bucket" | "fixed-window" | "sliding-log" | "sliding-window" | "gcra" | "concurrency";

/** Every kind, in the order the bench reports them. */
export const LIMIT_KINDS: readonly LimitKind[] = ["token-bucket", "fixed-window", "sliding-log", "sliding-window", "gcra", "concurrency"];

/** One request's verdict, and what rate-limit headers would say after it. */
export interface Verdict {
  readonly ok: boolean;
  /** Requests left in the current quota. */
  readonly remaining: number;
  /** Whole seconds until the quota is whole again (or a slot frees). */
  readonly resetSec: number;
  /** Whole seconds a refused client should wait (Retry-After). */
  readonly retrySec: number;
  /** The quota and its window, for `RateLimit-Policy: <quota>;w=<window>`; quota 0 when the kind has none to tell. */
  readonly quota: number;
  readonly windowSec: number;
}

/** A hidden limit of one kind. */
export interface LimitModel {
  readonly kind: LimitKind;
  /** Decides a request arriving at `ms` under `limit` requests/s. */
  admit(ms: number, limit: number): Verdict;
  /** A request admitted earlier has been answered at `ms` (the concurrency cap frees a slot). */
  finish(ms: number): void;
}

/** Options of {@link createLimitModel}. */
export interface LimitModelOptions {
  /** Token bucket: it holds `limit * burstSeconds` tokens. Default 1. */
  readonly burstSeconds?: number;
  /** Fixed window: where the clock's second starts, relative to ms 0 (ms). Default 0. */
  readonly windowOffsetMs?: number;
  /** Fixed window: its length (s); it admits `limit * windowSec` requests. Default 1. */
  readonly windowSec?: number;
  /** Concurrency cap: the service time (ms) that turns `limit` requests/s into `round(limit * serviceMs / 1000)` requests in flight. Default 100. */
  readonly serviceMs?: number;
  /** Sliding log and sliding window: a refused request counts against the limit too, as on APIs that count every request they see. Default false. */
  readonly countsRefused?: boolean;
}

/** Makes a hidden limit of the given kind. */
export function createLimitModel(kind: LimitKind, options: LimitModelOptions = {}): LimitModel {
  switch (kind) {
    case "token-bucket":
      return tokenBucket(options.burstSeconds ?? 1);
    case "fixed-window":
      return fixedWindow(options.windowOffsetMs ?? 0, options.windowSec ?? 1);
    case "sliding-log":
      return slidingLog(options.countsRefused ?? false);
    case "sliding-window":
      return slidingWindow(options.countsRefused ?? false);
    case "gcra":
      return gcra();
    case "concurrency":
      return concurrency(options.serviceMs ?? 100);
  }
}

/** Refills `limit` tokens a second into a bucket of `limit * burstSeconds`: bursts pass after a quiet spell. */
function tokenBucket(burstSeconds: number): LimitModel {
  let tokens = -1;
  let refilledAt = 0;
  return {
    kind: "token-bucket",
    admit(ms, limit) {
      const capacity = Math.max(1, limit * burstSeconds);
      tokens = tokens < 0 ? capacity : Math.min(capacity, tokens + ((ms - refilledAt) * limit) / 1000);
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
    },
    finish() {},
  };
}

/** At most `limit * windowSec` per window of the clock: the count resets when the window turns. */
function fixedWindow(offsetMs: number, windowSec: number): LimitModel {
  const spanMs = windowSec * 1000;
  let window = Number.NEGATIVE_INFINITY;
  let count = 0;
  return {
    kind: "fixed-window",
    admit(ms, limit) {
      const t = ms + offsetMs;
      const w = Math.floor(t / spanMs);
      if (w !== window) {
        window = w;
        count = 0;
      }
      const quota = Math.round(limit * windowSec);
      const ok = count < quota;
      if (ok) count++;
      const resetSec = Math.max(1, Math.ceil((spanMs * (w + 1) - t) / 1000));
      return { ok, remaining: Math.max(0, quota - count), resetSec, retrySec: resetSec, quota, windowSec };
    },
    finish() {},
  };
}

/** An exact sliding log: no one-second span ever holds more than `limit` admitted requests. */
function slidingLog(countsRefused: boolean): LimitModel {
  /** When the requests the log counts came (admitted ones; with `countsRefused`, refused ones too), oldest first. */
  const counted: number[] = [];
  let head = 0;
  return {
    kind: "sliding-log",
    admit(ms, limit) {
      while (head < counted.length && counted[head]! <= ms - 1000) head++;
      if (head > 1024) {
        counted.splice(0, head);
        head = 0;
      }
      const ok = counted.length - head < limit;
      if (ok || countsRefused) counted.push(ms);
      const oldest = counted[head];
      const freeSec = oldest === undefined ? 0 : Math.max(1, Math.ceil((oldest + 1000 - ms) / 1000));
      return {
        ok,
        remaining: Math.max(0, limit - (counted.length - head)),
        resetSec: freeSec,
        retrySec: Math.max(1, freeSec),
        quota: limit,
        windowSec: 1,
      };
    },
    finish() {},
  };
}

/**
 * The approximate sliding window of Cloudflare and upstash: the count of the current
 * one-second window plus the previous window's count weighted by the share of it that the
 * last second still covers.
 */
function slidingWindow(countsRefused: boolean): LimitModel {
  let window = 0;
  let current = 0;
  let previous = 0;
  return {
    kind: "sliding-window",
    admit(ms, limit) {
      const w = Math.floor(ms / 1000);
      if (w !== window) {
        previous = w === window + 1 ? current : 0;
        current = 0;
        window = w;
      }
      const into = (ms - w * 1000) / 1000;
      const estimate = Math.floor(previous * (1 - into)) + current;
      const ok = estimate < limit;
      if (ok || countsRefused) current++;
      return {
        ok,
        remaining: Math.max(0, limit - estimate - (ok ? 1 : 0)),
        resetSec: 1,
        retrySec: 1,
        quota: limit,
        windowSec: 1,
      };
    },
    finish() {},
  };
}

/** GCRA without burst (a leaky bucket of one): requests must come at least `1 / limit` s apart on the theoretical schedule. */
function gcra(): LimitModel {
  let tat = Number.NEGATIVE_INFINITY;
  return {
    kind: "gcra",
    admit(ms, limit) {
      const interval = 1000 / limit;
      const ok = ms >= tat;
      if (ok) tat = Math.max(tat, ms) + interval;
      // Headers in whole seconds, as servers send them: a wait of one interval reads "1".
      const waitSec = Math.max(1, Math.ceil((tat - ms) / 1000));
      return { ok, remaining: 0, resetSec: waitSec, retrySec: waitSec, quota: limit, windowSec: 1 };
    },
    finish() {},
  };
}

/** A cap on requests in flight: `round(limit * serviceMs / 1000)` (at least 1); a request over it is refused. */
function concurrency(serviceMs: number): LimitModel {
  let inFlight = 0;
  return {
    kind: "concurrency",
    admit(_ms, limit) {
      const cap = Math.max(1, Math.round((limit * serviceMs) / 1000));
      const ok = inFlight < cap;
      if (ok) inFlight++;
      return { ok, remaining: Math.max(0, cap - inFlight), resetSec: 1, retrySec: 1, quota: 0, windowSec: 1 };
    },
    finish() {
      inFlight = Math.max(0, inFlight - 1);
    },
  };
}

/** What rate-limit information an upstream sends: none, `Retry-After` on a refusal, or also the `RateLimit-*` / `X-RateLimit-*` fields. */
export type HeaderMode = "none" | "retry-after" | "full";

/** Writes the rate-limit headers a server of this kind sends with `verdict` into `headers` (`nowMs`: the wall clock, for X-RateLimit-Reset). */
export function writeRateLimitHeaders(headers: Record<string, string>, verdict: Verdict, mode: HeaderMode, nowMs: number): void {
  if (!verdict.ok && mode !== "none") headers["retry-after"] = String(verdict.retrySec);
  // A concurrency cap has no quota window to describe.
  if (mode !== "full" || verdict.quota <= 0) return;
  headers["ratelimit-limit"] = String(verdict.quota);
  headers["ratelimit-remaining"] = String(verdict.remaining);
  headers["ratelimit-reset"] = String(verdict.resetSec);
  headers["ratelimit-policy"] = `${verdict.quota};w=${verdict.windowSec}`;
  headers["x-ratelimit-limit"] = String(verdict.quota);
  headers["x-ratelimit-remaining"] = String(verdict.remaining);
  headers["x-ratelimit-reset"] = String(Math.ceil(nowMs / 1000) + verdict.resetSec);
}
