/**
 * What the dashboard shows, gathered from its sources: one JSON-ready snapshot per tick.
 */
import type { RetryPhase } from "../backoff/backoff.js";
import type { CircuitState } from "../breaker/state.js";
import type { FailureRecord } from "../core/errors.js";
import type { Telemetry } from "../core/telemetry.js";
import { InvalidOptionError } from "../core/errors.js";
import type { RateSource } from "../limit/adaptive.js";
import { RateHistory, type RateHistoryView } from "./history.js";
import {
  type AdaptiveTarget,
  all,
  breakerOf,
  type BreakersTarget,
  type BreakerTarget,
  classify,
  type HttpClientTarget,
  type LimiterTarget,
  limiterOf,
} from "../observe/targets.js";

/** One breaker, as the dashboard shows it (a `BreakerStatus` that survives JSON). */
export interface BreakerView {
  readonly name: string;
  readonly state: CircuitState;
  readonly isolated: boolean;
  /** Failures the trip rule counts now (its window or run). */
  readonly failures: number;
  /** Outcomes since the breaker was created, in this process; null for a breaker read from Redis (a fleet view keeps no totals). */
  readonly totals: { readonly successes: number; readonly failures: number; readonly ignored: number; readonly rejections: number } | null;
  readonly lastFailure: FailureRecord | null;
  /** When it last opened, in the breaker's clock (ms), or null. */
  readonly openedAt: number | null;
  /** While open: ms until a probe may run; null when isolated (until reset) or not open. */
  readonly nextProbeInMs: number | null;
  /** The recovery schedule's phase while open (`fixed`, `exponential`, `capped`). */
  readonly retryPhase: RetryPhase | null;
  /** The recovery schedule's attempt (1 for the first opening, +1 per failed probe). */
  readonly attempt: number;
  /** Where the state lives: `"memory"`, `"redis"`, ... */
  readonly store: string;
  /** With a quorum above 1: the fleet's state, the quorum, and the processes holding their own view open; else null. */
  readonly fleet: { readonly state: CircuitState; readonly quorum: number; readonly ownViewsOpen: readonly string[] } | null;
}

/** One rate limiter, as the dashboard shows it. */
export interface LimiterView {
  readonly name: string;
  /** `"adaptive"` for an `AdaptiveRateLimiter` (an HTTP client's included), else `"keyed"`. */
  readonly kind: "adaptive" | "keyed";
  /** The algorithm: `TokenBucket`, `SlidingWindow`, `FixedWindow` or `AdaptiveRateLimiter`. */
  readonly algorithm: string;
  /**
   * Requests per second: the adaptive limiter's current pace, a bucket's refill rate, a
   * window's limit over its length (per key).
   */
  readonly ratePerSec: number;
  /** The most a key can spend at once (a bucket's capacity, a window's limit); null for the adaptive limiter. */
  readonly limit: number | null;
  /** A window limiter's window (ms); null otherwise. */
  readonly windowMs: number | null;
  /**
   * What the default key (`"default"`) has left now, for a keyed limiter; null for the
   * adaptive limiter, and when the store could not answer.
   */
  readonly remaining: number | null;
  /** Milliseconds left in the adaptive limiter's cooldown after a back-off status; 0 when none (always, for a keyed limiter). */
  readonly cooldownMs: number;
  /** Callers waiting for a permit (the default key's, for a keyed limiter). */
  readonly queued: number;
  /** Adaptive: permits granted and not yet reported back. Null for a keyed limiter. */
  readonly inFlight: number | null;
  /** Adaptive: back-off statuses recorded. Null for a keyed limiter. */
  readonly backoffs: number | null;
  /** Adaptive: the last back-off, or null. */
  readonly lastBackoff: { readonly status: number; readonly at: number; readonly retryAfterMs: number | null } | null;
  /** Adaptive: what set the rate (`initial`, `adaptive`, `headers`). Null for a keyed limiter. */
  readonly rateSource: RateSource | null;
  /** Where the state lives: `"memory"`, `"redis"`, ... */
  readonly store: string;
  /** Adaptive: its rate and cooldowns over the last minutes (bounded), oldest first; null for a keyed limiter or with no history kept. */
  readonly history: RateHistoryView | null;
}

/** How much history the dashboard keeps per adaptive limiter. */
export interface HistoryPlan {
  /** Samples kept per limiter. */
  readonly capacity: number;
  /** The least time between samples (ms). */
  readonly intervalMs: number;
}

/** Everything the page renders, sent on every tick and after every state change. */
export interface DashboardSnapshot {
  /** Server time of the snapshot (epoch ms). */
  readonly at: number;
  /** True when the isolate and reset buttons work. */
  readonly control: boolean;
  readonly breakers: readonly BreakerView[];
  readonly limiters: readonly LimiterView[];
}

/**
 * A source of the dashboard: a `CircuitBreaker`, a `CircuitBreakers` registry, a rate
 * limiter (`TokenBucket`, `SlidingWindow`, `FixedWindow`), an `AdaptiveRateLimiter`, or an
 * HTTP client (`ApiClient`, `EnterpriseClient`: its limiter and breaker are shown).
 */
export type DashboardSource = BreakerTarget | BreakersTarget | LimiterTarget | AdaptiveTarget | HttpClientTarget;

/** What the dashboard accepts, for its error messages. */
const SOURCES = "a CircuitBreaker, a CircuitBreakers registry, a rate limiter, an AdaptiveRateLimiter or an HTTP client";

/** The sources, sorted by kind, with the breakers' and limiters' views and lookup by name. */
export class Sources {
  private readonly breakers: BreakerTarget[] = [];
  private readonly registries: BreakersTarget[] = [];
  private readonly keyed: LimiterTarget[] = [];
  private readonly adaptive: AdaptiveTarget[] = [];
  /** Each adaptive limiter's recent samples; empty when no history is kept. */
  private readonly histories = new Map<AdaptiveTarget, RateHistory>();

  /** @param history how much of each adaptive limiter's past to keep; null for none. */
  constructor(where: string, sources: readonly DashboardSource[], history: HistoryPlan | null = null) {
    if (!Array.isArray(sources) || sources.length === 0)
      throw new InvalidOptionError(where, "sources", sources, `a non-empty array of sources (${SOURCES})`);
    sources.forEach((source, i) => {
      let kind;
      try {
        kind = classify(where, source);
      } catch {
        throw new InvalidOptionError(where, `sources[${i}]`, source, SOURCES);
      }
      switch (kind.kind) {
        case "breaker":
          return void add(this.breakers, kind.target);
        case "breakers":
          return void add(this.registries, kind.target);
        case "limiter":
          return void add(this.keyed, kind.target);
        case "adaptive":
          return void add(this.adaptive, kind.target);
        case "http": {
          const limiter = limiterOf(kind.target);
          const breaker = breakerOf(kind.target);
          if (limiter !== undefined) add(this.adaptive, limiter);
          if (breaker !== undefined) add(this.breakers, breaker);
          return;
        }
        case "retry":
        case "policy":
          throw new InvalidOptionError(where, `sources[${i}]`, source, SOURCES);
      }
    });
    if (history !== null) for (const a of this.adaptive) this.histories.set(a, new RateHistory(history.capacity, history.intervalMs));
  }

  /**
   * Takes a sample of every adaptive limiter whose last is `intervalMs` old (so calling
   * this more often adds nothing). A limiter whose `snapshot()` throws is skipped.
   */
  sample(now: number): void {
    for (const [limiter, history] of this.histories) {
      if (!history.due(now)) continue;
      try {
        const s = limiter.snapshot();
        history.record(now, s.ratePerSec, s.cooldownMs);
      } catch {
        // A limiter that cannot answer now leaves a gap in time, not a fake sample.
      }
    }
  }

  /** Every breaker, each once (a registry's services as of now), in a stable order. */
  allBreakers(): BreakerTarget[] {
    const seen = new Set<BreakerTarget>(this.breakers);
    for (const registry of this.registries) for (const name of registry.names()) seen.add(registry.get(name));
    return [...seen];
  }

  /** The breaker named `name`, if a source has one (a registry never creates one here). */
  breaker(name: string): BreakerTarget | undefined {
    return this.allBreakers().find((b) => b.name === name);
  }

  /**
   * Subscribes `listener` to every breaker's state changes (registries' later services
   * included) and every adaptive limiter's cooldowns and rate changes. Keyed limiters are
   * only read on the tick: listening to their admissions would cost every call.
   */
  onChange(listener: () => void): () => void {
    const sink: Telemetry = { wants: changes, report: () => listener() };
    return all([...this.breakers, ...this.registries, ...this.adaptive].map((source) => source.attach(sink)));
  }

  /** The snapshot of every source at `now` (the dashboard's clock), with a sample of the adaptive limiters when one is due. */
  async snapshot(control: boolean, now: number): Promise<DashboardSnapshot> {
    this.sample(now);
    const keyed = await Promise.all(this.keyed.map(keyedViewOf));
    return {
      at: now,
      control,
      breakers: this.allBreakers().map(viewOf),
      limiters: [...keyed, ...this.adaptive.map((a) => adaptiveViewOf(a, this.histories.get(a)))],
    };
  }
}

function add<T>(list: T[], item: T): void {
  if (!list.includes(item)) list.push(item);
}

function algorithmOf(target: object, fallback: string): string {
  const name = (target as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "" && name !== "Object" ? name : fallback;
}

/** A keyed limiter's view: its parameters, and what the default key has left (peeked: nothing is taken). */
export async function keyedViewOf(limiter: LimiterTarget): Promise<LimiterView> {
  const params = limiter.params as { readonly ratePerSec?: number; readonly limit?: number; readonly windowMs?: number };
  const windowMs = typeof params.windowMs === "number" ? params.windowMs : null;
  const ratePerSec =
    typeof params.ratePerSec === "number" ? params.ratePerSec : windowMs !== null && windowMs > 0 ? (limiter.limit * 1000) / windowMs : 0;
  let remaining: number | null = null;
  try {
    remaining = (await limiter.peek()).remaining;
  } catch {
    // The store cannot answer now (e.g. Redis is down): the row shows the rest.
  }
  return {
    name: limiter.name,
    kind: "keyed",
    algorithm: algorithmOf(limiter, "limiter"),
    ratePerSec,
    limit: limiter.limit,
    windowMs,
    remaining,
    cooldownMs: 0,
    queued: limiter.waiting(),
    inFlight: null,
    backoffs: null,
    lastBackoff: null,
    rateSource: null,
    store: limiter.store.name,
    history: null,
  };
}

/** An adaptive limiter's view, from its `snapshot()`, with its `history` when one is kept. */
export function adaptiveViewOf(limiter: AdaptiveTarget, history?: RateHistory): LimiterView {
  const s = limiter.snapshot();
  return {
    name: limiter.name,
    kind: "adaptive",
    algorithm: "AdaptiveRateLimiter",
    ratePerSec: s.ratePerSec,
    limit: null,
    windowMs: null,
    remaining: null,
    cooldownMs: s.cooldownMs,
    queued: s.queued,
    inFlight: s.inFlight,
    backoffs: s.backoffs,
    lastBackoff: s.lastBackoff,
    rateSource: s.source,
    store: limiter.store.name,
    history: history === undefined ? null : history.view(),
  };
}

/** A breaker's view, from its `status()`. */
export function viewOf(breaker: BreakerTarget): BreakerView {
  const s = breaker.status();
  return {
    name: s.name,
    state: s.state,
    isolated: s.isolated,
    failures: s.failures,
    totals: (breaker as { readonly fleet?: unknown }).fleet === true ? null : s.totals,
    lastFailure: s.lastFailure,
    openedAt: s.openedAt,
    nextProbeInMs: s.state === "open" && Number.isFinite(s.retryAfterMs) && !s.isolated ? s.retryAfterMs : null,
    retryPhase: s.retryPhase,
    attempt: s.attempt,
    store: s.store,
    fleet: s.fleet === null ? null : { state: s.fleet.state, quorum: s.fleet.quorum, ownViewsOpen: s.fleet.ownViewsOpen },
  };
}

/** The events that change what the page shows: a breaker's state, an adaptive limiter's cooldown or rate. */
function changes(source: string, event: string): boolean {
  return (source === "breaker" && event === "stateChange") || (source === "adaptive" && (event === "cooldown" || event === "rateChange"));
}
