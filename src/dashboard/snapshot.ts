/**
 * What the dashboard shows, gathered from its sources: one JSON-ready snapshot per tick.
 */
import type { RetryPhase } from "../backoff/backoff.js";
import type { CircuitState } from "../breaker/state.js";
import type { FailureRecord } from "../core/errors.js";
import { InvalidOptionError } from "../core/errors.js";
import { all, type BreakersTarget, type BreakerTarget, classify, eachBreaker } from "../metrics/targets.js";

/** One breaker, as the dashboard shows it (a `BreakerStatus` that survives JSON). */
export interface BreakerView {
  readonly name: string;
  readonly state: CircuitState;
  readonly isolated: boolean;
  /** Failures the trip rule counts now (its window or run). */
  readonly failures: number;
  /** Outcomes since the breaker was created, in this process. */
  readonly totals: { readonly successes: number; readonly failures: number; readonly ignored: number; readonly rejections: number };
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
}

/** Everything the page renders, sent on every tick and after every state change. */
export interface DashboardSnapshot {
  /** Server time of the snapshot (epoch ms). */
  readonly at: number;
  /** True when the isolate and reset buttons work. */
  readonly control: boolean;
  readonly breakers: readonly BreakerView[];
}

/** A source of the dashboard: a `CircuitBreaker` or a `CircuitBreakers` registry. */
export type DashboardSource = BreakerTarget | BreakersTarget;

/** What the dashboard accepts, for its error messages. */
const SOURCES = "a CircuitBreaker or a CircuitBreakers registry";

/** The sources, sorted by kind, with the breakers' views and lookup by name. */
export class Sources {
  private readonly breakers: BreakerTarget[] = [];
  private readonly registries: BreakersTarget[] = [];

  constructor(where: string, sources: readonly DashboardSource[]) {
    if (!Array.isArray(sources) || sources.length === 0) throw new InvalidOptionError(where, "sources", sources, `a non-empty array of sources (${SOURCES})`);
    sources.forEach((source, i) => {
      let kind;
      try {
        kind = classify(where, source);
      } catch {
        throw new InvalidOptionError(where, `sources[${i}]`, source, SOURCES);
      }
      if (kind.kind === "breaker") this.breakers.push(kind.target);
      else if (kind.kind === "breakers") this.registries.push(kind.target);
      else throw new InvalidOptionError(where, `sources[${i}]`, source, SOURCES);
    });
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

  /** Subscribes `listener` to every breaker's state changes, registries' later services included. */
  onStateChange(listener: () => void): () => void {
    return all([
      ...this.breakers.map((b) => b.on("stateChange", listener)),
      ...this.registries.map((registry) => eachBreaker(registry, (b) => b.on("stateChange", listener))),
    ]);
  }

  /** The snapshot of every source now. */
  async snapshot(control: boolean): Promise<DashboardSnapshot> {
    return { at: Date.now(), control, breakers: this.allBreakers().map(viewOf) };
  }
}

/** A breaker's view, from its `status()`. */
export function viewOf(breaker: BreakerTarget): BreakerView {
  const s = breaker.status();
  return {
    name: s.name,
    state: s.state,
    isolated: s.isolated,
    failures: s.failures,
    totals: s.totals,
    lastFailure: s.lastFailure,
    openedAt: s.openedAt,
    nextProbeInMs: s.state === "open" && Number.isFinite(s.retryAfterMs) && !s.isolated ? s.retryAfterMs : null,
    retryPhase: s.retryPhase,
    attempt: s.attempt,
    store: s.store,
  };
}
