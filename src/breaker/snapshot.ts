import { InvalidOptionError } from "../core/errors.js";
import type { BreakerDecision, BreakerRecord, CircuitState } from "./state.js";
import type { TripSpec, TripState } from "./trip.js";

/**
 * A breaker's state as plain JSON, from `CircuitBreaker.toJSON()`; give it back as
 * `initialState` (cockatiel's `toJSON` / `initialState`). Times are the breaker clock's.
 */
export interface BreakerSnapshot {
  readonly version: 1;
  readonly name: string;
  /** The trip rule the counts belong to: restored under another rule, the counts start afresh. */
  readonly trip: TripSpec;
  readonly state: CircuitState;
  readonly isolated: boolean;
  readonly epoch: number;
  readonly openedAt: number;
  /** When a probe may run; null while isolated (never). */
  readonly nextProbeAt: number | null;
  readonly attempt: number;
  readonly openForMs: number;
  readonly halfOpenAt: number;
  readonly counts: TripState;
  readonly lastFailure: { readonly reason: string; readonly at: number } | null;
}

/** The snapshot of `r` (deep-copied: later changes to the record do not show in it). */
export function snapshotOf(name: string, trip: TripSpec, r: BreakerRecord): BreakerSnapshot {
  return {
    version: 1,
    name,
    trip,
    state: r.state,
    isolated: r.isolated,
    epoch: r.epoch,
    openedAt: r.openedAt,
    nextProbeAt: Number.isFinite(r.nextProbeAt) ? r.nextProbeAt : null,
    attempt: r.attempt,
    openForMs: r.openForMs,
    halfOpenAt: r.halfOpenAt,
    counts: structuredClone(r.trip),
    lastFailure: r.lastFailure === null ? null : { reason: r.lastFailure.reason, at: r.lastFailure.at },
  };
}

const STATES: readonly CircuitState[] = ["closed", "open", "half-open"];

/**
 * The record a snapshot stands for, checked field by field. Trial permits are not
 * restored (the calls that held them died with the process that saved it), and counts
 * kept under another trip rule are dropped.
 */
export function restoreRecord(where: string, snapshot: unknown, decision: BreakerDecision): BreakerRecord {
  const bad = (field: string, value: unknown, allowed: string): never => {
    throw new InvalidOptionError(where, `initialState.${field}`, value, allowed);
  };
  if (typeof snapshot !== "object" || snapshot === null) return bad("", snapshot, "what toJSON() returned");
  const s = snapshot as Partial<BreakerSnapshot>;
  if (s.version !== 1) bad("version", s.version, "1");
  const state = s.state as CircuitState;
  if (!STATES.includes(state)) bad("state", s.state, `one of ${STATES.join(", ")}`);
  if (typeof s.isolated !== "boolean") bad("isolated", s.isolated, "true or false");
  const num = (field: "epoch" | "openedAt" | "attempt" | "openForMs" | "halfOpenAt"): number => {
    const v = s[field];
    return typeof v === "number" && Number.isFinite(v) ? v : bad(field, v, "a finite number");
  };
  const nextProbeAt = s.nextProbeAt === null ? Infinity : s.nextProbeAt;
  if (typeof nextProbeAt !== "number" || Number.isNaN(nextProbeAt)) bad("nextProbeAt", s.nextProbeAt, "a number, or null");
  const lf = s.lastFailure;
  if (lf !== null && (typeof lf !== "object" || typeof lf?.reason !== "string" || typeof lf.at !== "number")) {
    bad("lastFailure", lf, "null or { reason, at }");
  }
  const sameRule = JSON.stringify(s.trip) === JSON.stringify(decision.config.trip.spec);
  const counts = s.counts;
  const r = decision.init();
  r.state = state;
  r.isolated = s.isolated as boolean;
  r.epoch = num("epoch");
  r.openedAt = num("openedAt");
  r.nextProbeAt = nextProbeAt as number;
  r.attempt = num("attempt");
  r.openForMs = num("openForMs");
  r.halfOpenAt = num("halfOpenAt");
  r.trip = sameRule && typeof counts === "object" && counts !== null ? structuredClone(counts) : decision.config.trip.init();
  r.lastFailure = lf === null || lf === undefined ? null : { reason: lf.reason, at: lf.at };
  return r;
}
