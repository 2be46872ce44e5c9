/**
 * A breaker record as the fleet's tools read it from Redis: its status in the server's
 * clock ({@link describeRecord}, built by the same `statusOf` as `CircuitBreaker.status()`),
 * the name it is shown under, and the errors of looking one up. Shared by `BreakerAdmin`
 * (breaker-admin.ts) and the live fleet view (fleet-view.ts).
 */
import type { RetryPhase } from "../backoff/backoff.js";
import { type BreakerRecord, type CircuitState, readBreakerParams, type StoredBreakerConfig } from "../breaker/state.js";
import { type BreakerStatus, ownViewsOpen, statusOf } from "../breaker/status.js";
import type { TripSpec } from "../breaker/trip.js";
import { type FailureRecord, ResilienceError } from "../core/errors.js";
import { decodeParams } from "./codec.js";

/** One breaker of the fleet, as Redis holds it now. Times are the Redis server's (epoch ms). */
export interface FleetBreakerStatus {
  /** The service: the key's hash tag (`payments` for a `CircuitBreakers` service, `breaker:<name>` for a lone `CircuitBreaker`). */
  readonly name: string;
  /** The full Redis key. */
  readonly key: string;
  readonly state: CircuitState;
  /** Held open by `isolate` until `reset`. */
  readonly isolated: boolean;
  /** Failures the trip rule counts now (its run or window). */
  readonly failures: number;
  /** The trip rule the fleet last wrote with, or null when it cannot be read. */
  readonly trip: TripSpec | null;
  readonly lastFailure: FailureRecord | null;
  /** When the circuit last opened, or null. */
  readonly openedAt: number | null;
  /** While open and not isolated: when a probe may run; else null. */
  readonly nextProbeAt: number | null;
  /** While open and not isolated: ms until then (0 when a probe may run now); else null. */
  readonly nextProbeInMs: number | null;
  /** The recovery schedule's phase while open or half-open (`fixed`, `exponential`, `capped`). */
  readonly retryPhase: RetryPhase | null;
  /** The recovery schedule's attempt: 1 for the first opening, +1 per failed probe; 0 when closed. */
  readonly attempt: number;
  readonly halfOpen: { readonly trials: number; readonly successes: number; readonly maxCalls: number };
  /** Processes whose failures it takes to open the circuit for the fleet (1 when not written). */
  readonly quorum: number;
  /** With a quorum above 1: the processes holding their own view open (their calls are rejected, the fleet's are not). */
  readonly ownViewsOpen: readonly string[];
  /** The server's time when this was read. */
  readonly serverTime: number;
}

/** One breaker record as read from Redis, with what a later write needs. */
export interface FleetRecord {
  /** The full Redis key. */
  readonly key: string;
  /** The params JSON of the process that wrote it last. */
  readonly params: string;
  /** The record's revision. */
  readonly rev: number;
  readonly record: BreakerRecord;
  /** The server's time (ms) when it was read. */
  readonly now: number;
}

/** No breaker record matches the service in the namespace. */
export class BreakerNotFoundError extends ResilienceError {
  /** The service asked for. */
  readonly service: string;
  readonly namespace: string;
  /** The services the namespace does have. */
  readonly known: readonly string[];

  constructor(service: string, namespace: string, known: readonly string[]) {
    const list = known.length === 0 ? "it has no breakers" : `it has: ${known.slice(0, 20).join(", ")}${known.length > 20 ? ", ..." : ""}`;
    super(`no breaker ${JSON.stringify(service)} in namespace ${JSON.stringify(namespace)} (${list})`);
    this.service = service;
    this.namespace = namespace;
    this.known = known;
  }
}

/** More than one record matches the service: name it by its full key. */
export class AmbiguousBreakerError extends ResilienceError {
  readonly service: string;
  /** The keys that match. */
  readonly keys: readonly string[];

  constructor(service: string, keys: readonly string[]) {
    super(`${JSON.stringify(service)} matches several breakers (${keys.join(", ")}); name one by its full key`);
    this.service = service;
    this.keys = keys;
  }
}

/** The configuration a record's params JSON rebuilds to, part by part (see `readBreakerParams`). */
export function configOf(paramsJson: string): StoredBreakerConfig {
  return readBreakerParams(decodeParams(paramsJson));
}

/**
 * A record read from Redis as a `BreakerStatus` (`CircuitBreaker.status()`'s shape), at the
 * server's time `now`, its times moved by `offset` (the server's clock minus the reader's).
 * Per-process call totals are not in Redis: zeros. With a quorum above 1 the fleet section
 * is the fleet-wide one (no process id, no own view).
 */
export function storedStatus(name: string, config: StoredBreakerConfig, r: BreakerRecord, now: number, offset: number): BreakerStatus {
  return statusOf(r, now, {
    name,
    store: "redis",
    trip: config.trip,
    recovery: config.recovery,
    maxCalls: config.maxCalls,
    offset,
    totals: { successes: 0, failures: 0, ignored: 0, rejections: 0 },
    fleet: config.quorum > 1 ? { record: r, quorum: config.quorum, processId: null, ownView: null } : undefined,
  });
}

/** A record and its params as a {@link FleetBreakerStatus}, at the server's time `now`. */
export function describeRecord(key: string, name: string, paramsJson: string, r: BreakerRecord, now: number): FleetBreakerStatus {
  const config = configOf(paramsJson);
  const s = storedStatus(name, config, r, now, 0);
  // Isolated, a circuit has no next probe (its nextProbeAt is Infinity): null here, not Infinity.
  const nextProbeAt = s.nextProbeAt !== null && !s.isolated && Number.isFinite(s.nextProbeAt) ? s.nextProbeAt : null;
  return {
    name,
    key,
    state: s.state,
    isolated: s.isolated,
    failures: s.failures,
    trip: config.tripSpec ?? null,
    lastFailure: s.lastFailure,
    openedAt: s.openedAt,
    nextProbeAt,
    nextProbeInMs: nextProbeAt === null ? null : s.retryAfterMs,
    retryPhase: s.retryPhase,
    attempt: s.attempt,
    halfOpen: s.halfOpen,
    quorum: config.quorum,
    ownViewsOpen: ownViewsOpen(r, now),
    serverTime: now,
  };
}

/**
 * The name a key is shown under: its hash tag for `<ns>:{tag}` (the store's layout), else
 * the rest of the key without braces (a registry with a namespace of its own).
 */
export function nameOfKey(key: string, namespace: string): string {
  const rest = key.startsWith(`${namespace}:`) ? key.slice(namespace.length + 1) : key;
  const tag = /^\{([^}]+)\}$/.exec(rest);
  return tag !== null ? (tag[1] as string) : rest.replace(/[{}]/g, "");
}
