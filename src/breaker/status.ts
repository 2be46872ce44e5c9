/**
 * A breaker's status, computed from its record: one pure function for `CircuitBreaker.status()`
 * (a process's own breaker) and for the fleet view of `breakwater/redis` (a record read from
 * Redis), so the two cannot tell different stories about the same record.
 */
import type { Backoff, RetryPhase } from "../backoff/backoff.js";
import type { FailureRecord } from "../core/errors.js";
import type { BreakerRecord, CircuitState } from "./state.js";
import type { TripRule } from "./trip.js";

/** What `status()` reports: everything a monitor needs about one breaker. */
export interface BreakerStatus {
  readonly name: string;
  readonly state: CircuitState;
  readonly isolated: boolean;
  readonly store: string;
  /**
   * Closed: the failures the trip rule counts towards opening. Open: the failures the
   * trip rule still counts (those that opened it, as a time window ages them). Half-open:
   * 0, since the trip rule is not consulted there: one failed trial reopens the circuit.
   */
  readonly failures: number;
  /** Calls this process has seen since the breaker was created. */
  readonly totals: { readonly successes: number; readonly failures: number; readonly ignored: number; readonly rejections: number };
  readonly openedAt: number | null;
  readonly nextProbeAt: number | null;
  /** Milliseconds until a probe may run (0 when not open). */
  readonly retryAfterMs: number;
  /** The recovery schedule's phase, while open or half-open. */
  readonly retryPhase: RetryPhase | null;
  /** The recovery schedule's attempt: 1 for the first open, +1 per failed probe; 0 when closed. */
  readonly attempt: number;
  readonly halfOpen: { readonly trials: number; readonly successes: number; readonly maxCalls: number };
  readonly lastFailure: FailureRecord | null;
  /**
   * With a `quorum` above 1 on a shared store: the fleet's state, the quorum, this process's
   * id and own view, and the processes holding their own view open. (The fields above
   * describe what governs this process's calls: its own view while that is not closed.)
   * Null otherwise.
   */
  readonly fleet: {
    readonly state: CircuitState;
    readonly quorum: number;
    /** This process's id (null in a fleet-wide view such as the CLI's). */
    readonly processId: string | null;
    /** This process's own view (null in a fleet-wide view). */
    readonly ownView: CircuitState | null;
    readonly ownViewsOpen: readonly string[];
  } | null;
}

/** What {@link statusOf} needs besides the record. */
export interface StatusOptions {
  readonly name: string;
  /** The store's name (`"memory"`, `"redis"`, ...). */
  readonly store: string;
  /** The trip rule the record counts for; undefined when the reader cannot rebuild it (params another version wrote): `failures` reads 0. */
  readonly trip: TripRule | undefined;
  /** The recovery schedule; undefined when the reader cannot rebuild it: `retryPhase` reads null. */
  readonly recovery: Backoff | undefined;
  /** Trial calls allowed while half-open. */
  readonly maxCalls: number;
  /** The store's clock minus the reader's (ms): the record and `now` are in the store's clock, the status's times in the reader's. */
  readonly offset: number;
  readonly totals: BreakerStatus["totals"];
  /**
   * With a quorum above 1: the fleet's record (the record itself in a fleet-wide view), the
   * quorum, and this process's id and own view (null in a fleet-wide view). Undefined: no
   * fleet section.
   */
  readonly fleet?: {
    readonly record: BreakerRecord;
    readonly quorum: number;
    readonly processId: string | null;
    readonly ownView: CircuitState | null;
  };
}

/** The status of record `r` at `now` (the store's time). Pure: reads nothing but its arguments. */
export function statusOf(r: BreakerRecord, now: number, options: StatusOptions): BreakerStatus {
  const { offset, trip, recovery, fleet } = options;
  const open = r.state === "open";
  return {
    name: options.name,
    state: r.state,
    isolated: r.isolated,
    store: options.store,
    failures: r.state === "half-open" || trip === undefined ? 0 : trip.failures(r.trip, now),
    totals: options.totals,
    openedAt: r.openedAt < 0 ? null : r.openedAt - offset,
    nextProbeAt: open ? r.nextProbeAt - offset : null,
    retryAfterMs: open ? Math.max(0, r.nextProbeAt - now) : 0,
    retryPhase: r.attempt === 0 || recovery === undefined ? null : recovery.phase(r.attempt),
    attempt: r.attempt,
    halfOpen: { trials: r.trials, successes: r.trialSuccesses, maxCalls: options.maxCalls },
    lastFailure: r.lastFailure === null || offset === 0 ? r.lastFailure : { reason: r.lastFailure.reason, at: r.lastFailure.at - offset },
    fleet:
      fleet === undefined
        ? null
        : {
            state: fleet.record.state,
            quorum: fleet.quorum,
            processId: fleet.processId,
            ownView: fleet.ownView,
            ownViewsOpen: ownViewsOpen(fleet.record, now),
          },
  };
}

/** The processes whose own view is open at `now` (the store's time), by id, sorted. */
export function ownViewsOpen(r: BreakerRecord, now: number): string[] {
  const views = r.views ?? {};
  return Object.keys(views)
    .filter((p) => (views[p] as number) > now)
    .sort();
}
