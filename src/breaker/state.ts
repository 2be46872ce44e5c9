import type { Backoff, BackoffSpec, RetryPhase } from "../backoff/backoff.js";
import { backoffFromSpec } from "../backoff/spec.js";
import type { FailureRecord } from "../core/errors.js";
import type { Decision } from "../store/store.js";
import { type TripRule, tripRuleFromSpec, type TripSpec, type TripState } from "./trip.js";

/** A circuit's state. `isolate()` holds it `open` until `reset()`. */
export type CircuitState = "closed" | "open" | "half-open";

/**
 * A breaker's whole state, as one plain record. `epoch` grows by one on every
 * transition; a permit carries the epoch it was granted in, so an outcome that arrives
 * after the circuit has moved on (a slow call from before it opened) changes nothing.
 */
export interface BreakerRecord {
  state: CircuitState;
  isolated: boolean;
  epoch: number;
  /** When the circuit last opened (ms), or -1. */
  openedAt: number;
  /** While open: when a probe may run. */
  nextProbeAt: number;
  /** The recovery schedule's attempt: 1 for the first open, +1 per failed probe; 0 when closed. */
  attempt: number;
  /** The open interval in force (ms); decorrelated jitter grows from it. */
  openForMs: number;
  /** Half-open: trial permits handed out and not yet returned. */
  trials: number;
  /** Half-open: trials that succeeded. */
  trialSuccesses: number;
  /** When the circuit went half-open (ms), or -1. */
  halfOpenAt: number;
  /** The trip rule's counting state. */
  trip: TripState;
  lastFailure: FailureRecord | null;
  /** With quorum > 1: outcomes the trip rule recorded since it was last reset. */
  outcomes: number;
  /** With quorum > 1: each process's latest failure still counted, as its trip rule mark. */
  failers: Record<string, number>;
  /**
   * Processes holding their own view open (quorum > 1), each with the time its own view
   * may probe next; an entry past that time is dropped at the next report.
   */
  views: Record<string, number>;
}

/**
 * What a caller can ask the breaker's decision. `epoch` -1 means "the current epoch"
 * (manual calls); {@link NO_PERMIT} marks a call that ran without a permit (metrics-only
 * mode), whose outcome the trip rule does not count. A success carries a `random` when
 * the trip rule judges successes (it may open the circuit).
 */
export type BreakerInput =
  | { readonly type: "acquire" }
  | { readonly type: "success"; readonly epoch: number; readonly random?: number }
  | {
      readonly type: "failure";
      readonly epoch: number;
      readonly reason: string;
      readonly random: number;
      /** The process it happened in (quorum); in Redis the script's caller. */
      readonly origin?: string;
    }
  | { readonly type: "release"; readonly epoch: number }
  | { readonly type: "isolate" }
  | { readonly type: "reset" }
  | { readonly type: "open"; readonly forMs: number }
  /** A process's own view opened (until its probe at `until`) or closed (`until` 0). */
  | { readonly type: "view"; readonly origin: string; readonly until: number };

/** The epoch of a call that ran without a permit: its outcome is reported but never counted. */
export const NO_PERMIT = -2;

/** A change of state, as reported to listeners. */
export interface Transition {
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: string;
  readonly at: number;
}

/** The answer to `acquire`: a permit for `epoch`, or a refusal. */
export type Permit =
  | { readonly allowed: true; readonly epoch: number; readonly transition: Transition | undefined }
  | { readonly allowed: false; readonly retryAfterMs: number };

/** The answer to the other inputs: the transition they caused, if any. */
export type BreakerOutput = Permit | Transition | undefined;

/** The breaker's configuration, as the decision needs it. */
export interface BreakerConfig {
  readonly trip: TripRule;
  readonly recovery: Backoff;
  readonly maxCalls: number;
  readonly successesToClose: number;
  /** Trial permits not returned within this long are taken back (a trial that never settles). */
  readonly trialTimeoutMs: number;
  /** Processes whose failures it takes to open (1: any process alone). Default 1. */
  readonly quorum?: number;
}

/**
 * A breaker's configuration as plain data (what {@link BreakerDecision.params} holds and a
 * shared store keeps beside the record): the trip rule's and the recovery schedule's specs
 * as JSON text, since a script argument is flat. `readBreakerParams` reads it back.
 */
export type BreakerParams = {
  readonly trip: string;
  readonly recovery: string;
  readonly maxCalls: number;
  readonly successesToClose: number;
  readonly trialTimeoutMs: number;
  readonly quorum: number;
};

/** What stored {@link BreakerParams} rebuild to, part by part: undefined where a part does not read. */
export interface StoredBreakerConfig {
  /** The trip rule's spec as written (there even when this version cannot rebuild the rule). */
  readonly tripSpec: TripSpec | undefined;
  readonly trip: TripRule | undefined;
  readonly recovery: Backoff | undefined;
  /** Trial calls allowed while half-open; Infinity when not written. */
  readonly maxCalls: number;
  /** 1 when not written. */
  readonly quorum: number;
}

/**
 * Rebuilds a breaker's configuration from the params a store kept: the inverse of
 * {@link BreakerDecision.params}, the rule by `tripRuleFromSpec` and the schedule by
 * `backoffFromSpec`. Each part is read on its own and never throws: params another version
 * wrote may hold a rule or schedule this one cannot rebuild, and a reader shows what it can.
 */
export function readBreakerParams(params: { readonly [K in keyof BreakerParams]?: unknown } | undefined): StoredBreakerConfig {
  const tripSpec = params === undefined ? undefined : orUndefined(() => JSON.parse(params.trip as string) as TripSpec);
  return {
    tripSpec,
    trip: tripSpec === undefined ? undefined : orUndefined(() => tripRuleFromSpec(tripSpec)),
    recovery: params === undefined ? undefined : orUndefined(() => backoffFromSpec(JSON.parse(params.recovery as string) as BackoffSpec)),
    maxCalls: typeof params?.maxCalls === "number" ? params.maxCalls : Infinity,
    quorum: typeof params?.quorum === "number" ? params.quorum : 1,
  };
}

/** `fn()`, or undefined when it throws. */
function orUndefined<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** The breaker as a {@link Decision}: `(record, input, now) -> outcome`, updating the record. */
export class BreakerDecision implements Decision<BreakerRecord, BreakerInput, BreakerOutput> {
  readonly kind = "breaker";
  readonly evictable = false;
  readonly params: BreakerParams;

  constructor(readonly config: BreakerConfig) {
    this.params = {
      trip: JSON.stringify(config.trip.spec),
      recovery: JSON.stringify(config.recovery.spec),
      maxCalls: config.maxCalls,
      successesToClose: config.successesToClose,
      trialTimeoutMs: config.trialTimeoutMs,
      quorum: config.quorum ?? 1,
    };
    this.quorum = config.quorum ?? 1;
  }

  /** Processes whose failures it takes to open the circuit. */
  readonly quorum: number;

  init(): BreakerRecord {
    return {
      state: "closed",
      isolated: false,
      epoch: 0,
      openedAt: -1,
      nextProbeAt: 0,
      attempt: 0,
      openForMs: 0,
      trials: 0,
      trialSuccesses: 0,
      halfOpenAt: -1,
      trip: this.config.trip.init(),
      lastFailure: null,
      outcomes: 0,
      failers: {},
      views: {},
    };
  }

  isIdle(r: BreakerRecord, now: number): boolean {
    return r.state === "closed" && r.lastFailure === null && this.config.trip.isEmpty(r.trip, now);
  }

  step(r: BreakerRecord, input: BreakerInput, now: number): BreakerOutput {
    switch (input.type) {
      case "acquire":
        return this.acquire(r, now);
      case "success":
        return this.success(r, input.epoch, input.random ?? 0, now);
      case "failure":
        return this.failure(r, input.epoch, input.reason, input.random, input.origin ?? "", now);
      case "release":
        if (r.state === "half-open" && input.epoch === r.epoch && r.trials > 0) r.trials--;
        return undefined;
      case "isolate":
        if (r.isolated) return undefined;
        r.isolated = true;
        return this.open(r, now, r.attempt, 0, "isolated");
      case "reset":
        r.views = {};
        if (!r.isolated && r.state === "closed") {
          this.resetCounts(r);
          return undefined;
        }
        r.isolated = false;
        return this.close(r, now, "reset");
      case "open":
        return this.openFor(r, now, input.forMs);
      case "view":
        this.view(r, input.origin, input.until, now);
        return undefined;
    }
  }

  /** Records whether a process holds its own view open, and drops entries whose probe time has passed. */
  private view(r: BreakerRecord, origin: string, until: number, now: number): void {
    if (until > now) r.views[origin] = until;
    else delete r.views[origin];
    for (const p of Object.keys(r.views)) if ((r.views[p] as number) <= now) delete r.views[p];
  }

  /**
   * Records a closed circuit's outcome; true when it opens the circuit: the trip rule is
   * met and, with a quorum, the outcomes meeting it hold failures from `quorum` processes.
   */
  private judge(r: BreakerRecord, failed: boolean, origin: string, now: number): boolean {
    const trip = this.config.trip;
    const met = trip.record(r.trip, failed, now);
    if (this.quorum === 1) return met;
    r.outcomes++;
    // A success that cleared the rule's failures clears the processes they came from too.
    if (!failed && trip.clearsOnSuccess === true) r.failers = {};
    if (failed) r.failers[origin] = (trip.mark as NonNullable<TripRule["mark"]>)(r.outcomes, now);
    // Every process still counted, and only those: the map stays as small as the fleet's failing processes.
    let processes = 0;
    for (const p of Object.keys(r.failers)) {
      if ((trip.stillCounts as NonNullable<TripRule["stillCounts"]>)(r.trip, r.failers[p] as number, r.outcomes, now)) processes++;
      else delete r.failers[p];
    }
    return met && processes >= this.quorum;
  }

  private resetCounts(r: BreakerRecord): void {
    r.trip = this.config.trip.init();
    r.outcomes = 0;
    r.failers = {};
  }

  /**
   * Opens for `forMs` whatever the trip rule says (resilience4j's transitionToOpenStateFor);
   * then a probe is due as after any open interval. Already open: the probe time moves.
   * Isolated: nothing (isolation outranks it).
   */
  private openFor(r: BreakerRecord, now: number, forMs: number): Transition | undefined {
    if (r.isolated) return undefined;
    const from = r.state;
    r.attempt = Math.max(1, r.attempt);
    r.openForMs = forMs;
    r.nextProbeAt = now + forMs;
    if (from === "open") return undefined;
    r.state = "open";
    r.epoch++;
    r.openedAt = now;
    r.trials = 0;
    r.trialSuccesses = 0;
    r.halfOpenAt = -1;
    return { from, to: "open", reason: "opened by hand", at: now };
  }

  private acquire(r: BreakerRecord, now: number): Permit {
    if (r.isolated) return { allowed: false, retryAfterMs: Infinity };
    switch (r.state) {
      case "closed":
        return { allowed: true, epoch: r.epoch, transition: undefined };
      case "open": {
        if (now < r.nextProbeAt) return { allowed: false, retryAfterMs: r.nextProbeAt - now };
        const transition = this.halfOpen(r, now);
        r.trials = 1;
        return { allowed: true, epoch: r.epoch, transition };
      }
      case "half-open":
        if (r.trials >= this.config.maxCalls && now - r.halfOpenAt >= this.config.trialTimeoutMs) {
          // Every trial permit is out and none came back in time: take them back.
          r.trials = 0;
          r.halfOpenAt = now;
        }
        if (r.trials >= this.config.maxCalls) return { allowed: false, retryAfterMs: 0 };
        r.trials++;
        return { allowed: true, epoch: r.epoch, transition: undefined };
    }
  }

  private success(r: BreakerRecord, epoch: number, random: number, now: number): Transition | undefined {
    if (r.isolated) return undefined;
    const current = epoch === -1 || epoch === r.epoch;
    switch (r.state) {
      case "closed":
        // A ratio rule judges successes too: one can complete a window that meets the ratio.
        if (!current || !this.judge(r, false, "", now)) return undefined;
        return this.open(r, now, 1, random, this.tripReason(r));
      case "open":
        // A manual success once a probe is due counts as a successful probe.
        if (epoch !== -1 || now < r.nextProbeAt) return undefined;
        this.halfOpen(r, now);
        return this.trialSucceeded(r, now, "open");
      case "half-open":
        if (!current) return undefined;
        if (epoch !== -1 && r.trials > 0) r.trials--;
        return this.trialSucceeded(r, now, "half-open");
    }
  }

  private trialSucceeded(r: BreakerRecord, now: number, from: CircuitState): Transition | undefined {
    r.trialSuccesses++;
    if (r.trialSuccesses >= this.config.successesToClose) {
      const t = this.close(r, now, `${r.trialSuccesses} trial call${r.trialSuccesses === 1 ? "" : "s"} succeeded`);
      return from === "half-open" ? t : { ...t, from };
    }
    return from === "open" ? { from, to: "half-open", reason: "recovery interval elapsed", at: now } : undefined;
  }

  private failure(r: BreakerRecord, epoch: number, reason: string, random: number, origin: string, now: number): Transition | undefined {
    r.lastFailure = { reason, at: now };
    if (r.isolated) return undefined;
    const current = epoch === -1 || epoch === r.epoch;
    switch (r.state) {
      case "closed":
        if (!current || !this.judge(r, true, origin, now)) return undefined;
        return this.open(r, now, 1, random, this.tripReason(r));
      case "open":
        // A manual failure once a probe is due counts as a failed probe.
        if (epoch !== -1 || now < r.nextProbeAt) return undefined;
        return this.open(r, now, r.attempt + 1, random, `probe failed: ${reason}`);
      case "half-open":
        if (!current) return undefined;
        return this.open(r, now, r.attempt + 1, random, `trial call failed: ${reason}`);
    }
  }

  /** Why the trip rule opened the circuit: the rule, and the last failure it counted. */
  private tripReason(r: BreakerRecord): string {
    const kind = this.config.trip.spec.kind;
    const why = r.lastFailure === null ? `trip rule ${kind} reached` : `trip rule ${kind} reached: ${r.lastFailure.reason}`;
    return this.quorum === 1 ? why : `${why} (${Object.keys(r.failers).length} processes)`;
  }

  private open(r: BreakerRecord, now: number, attempt: number, random: number, reason: string): Transition {
    const from = r.state;
    r.attempt = Math.max(1, attempt);
    // Whole milliseconds: the record stays integral (exact in Lua's JSON too).
    r.openForMs = r.isolated ? 0 : Math.round(this.config.recovery.delay(r.attempt, () => random, r.openForMs || undefined));
    r.state = "open";
    r.epoch++;
    r.openedAt = now;
    r.nextProbeAt = r.isolated ? Infinity : now + r.openForMs;
    r.trials = 0;
    r.trialSuccesses = 0;
    r.halfOpenAt = -1;
    return { from, to: "open", reason, at: now };
  }

  private halfOpen(r: BreakerRecord, now: number): Transition {
    r.state = "half-open";
    r.epoch++;
    r.trials = 0;
    r.trialSuccesses = 0;
    r.halfOpenAt = now;
    return { from: "open", to: "half-open", reason: "recovery interval elapsed", at: now };
  }

  private close(r: BreakerRecord, now: number, reason: string): Transition {
    const from = r.state;
    r.state = "closed";
    r.epoch++;
    r.attempt = 0;
    r.openForMs = 0;
    r.openedAt = -1;
    r.nextProbeAt = 0;
    r.trials = 0;
    r.trialSuccesses = 0;
    r.halfOpenAt = -1;
    this.resetCounts(r);
    return { from, to: "closed", reason, at: now };
  }

  /** The recovery schedule's phase for the record's current attempt. */
  phase(r: BreakerRecord): RetryPhase | undefined {
    return r.attempt === 0 ? undefined : this.config.recovery.phase(r.attempt);
  }
}
