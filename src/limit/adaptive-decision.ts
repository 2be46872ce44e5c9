import type { Decision } from "../store/store.js";
import { type GateRecord, refuse, widen } from "./concurrency-gate.js";
import {
  carryFlights,
  depart,
  FLIGHT_UNKNOWN,
  FLIGHT_SPAN_MS,
  inFlight,
  type InFlightRecord,
  land,
  noteRefused,
  othersHeld,
  rollFlights,
} from "./in-flight.js";

/**
 * The adaptive limiter's algorithm as a pure {@link Decision} over a plain record of
 * numbers, so that a store can run it anywhere (in process, or as a Lua twin on a Redis
 * server that shares one rate and one cooldown across a fleet).
 *
 * ## The control law: probe, cut just below, confirm, hold
 *
 * - **Pacing.** Permits come from a token bucket refilled at the current pace (capacity
 *   `burst`, plus 1 ms of slack for late timers, 3 ms while a quota policy sets the pace).
 *   During a cooldown nothing is released.
 *   Once a success leaves nothing remaining (headers say so: the upstream has no burst,
 *   e.g. GCRA), until its reset (at least 1 s), there is no slack: a late timer is not made
 *   up by sending the next request early, which such an upstream refuses.
 * - **Slow start.** Until the first refusal the rate doubles every `doublingMs`.
 * - **Refusals and outages differ.** A 429 (any 4xx back-off status) is evidence about the
 *   rate limit. A 5xx or a request without an answer is evidence of an outage, never of
 *   the limit: the rate is neither cut nor grown, a Retry-After is honoured, and from the
 *   second outage answer in a row the pace drops to half the rate (a trickle that finds the
 *   recovery within two pacing intervals); the first success restores the learned rate.
 * - **The pace a refusal speaks of** is the one its request went out at (its permit carries
 *   it), not the pace when the answer comes: a round trip later, slow start or a probe has
 *   gone further. Every "pace" below is the lower of the two.
 * - **Probe hit.** A refusal while not holding means the rate just crossed the limit. Near
 *   the last ceiling (the probe grew slowly) the limit is just below the pace: the rate is
 *   cut to `(1 - headroom) * pace`. After a steep climb (slow start, or far above the last
 *   ceiling) or when over `4 * headroom` of the last second's answers were refusals, what the upstream accepted
 *   over the last second is the better guide: `(1 - headroom) * min(pace, accepted)`.
 *   The ceiling the next probe climbs back to is the pace at the hit; after a steep climb,
 *   what was accepted, but no more than `2 * headroom` under the pace.
 * - **Confirmation.** Refusals of requests issued after the cut are sustained when there
 *   are two or more and they are over 3% of the epoch's answers. Then the limit fell (or the
 *   cut was not deep enough): the rate is cut to `(1 - headroom)` times what the upstream
 *   accepted over the last second, but by at most `3 * headroom` of the pace in one step
 *   (an upstream that spaces requests, GCRA, accepts about half of an overshoot, so that
 *   figure lags far behind the limit). A lone refusal after the cut (the end of a window the
 *   probe filled, or timing jitter) only pauses. Sustained refusals while the upstream
 *   accepts more than the pace (the tail of a bucket the probe emptied) do not cut either,
 *   but bring the ceiling down to what it accepted: the next probe climbs back to that, not
 *   to the ceiling of a steep climb (slow start into a bucket's burst sets one at twice the
 *   limit).
 * - **Hold, then probe.** After a cut the rate holds for `holdMs`, climbs in 0.5 s back to
 *   just under the ceiling (`(1 - headroom / 2) * ceiling`), slowing as it nears it, dwells
 *   there, then grows ever faster: `plateau * (1 + probeGain * t^4)`. A limit that did not
 *   move is met again gently; one that rose 3.6-fold is found within about `holdMs + 0.5 s +
 *   (2.6 / probeGain)^(1/4)` seconds (2.8 s with the defaults).
 * - **One congestion event per round trip.** A cut starts a new epoch. Every permit carries
 *   the epoch it was issued in, and only a refusal of a permit of the current epoch counts:
 *   the answers to requests already in flight at a cut do not cut again.
 * - **Pauses.** A refusal pauses every release for `cooldownMultiplier` pacing intervals,
 *   at most `cooldownCapMs` unless a quota policy sets the pace (at low rates two intervals
 *   are much of the upstream's second, and the time paused is lost); each further refusal
 *   in the same epoch doubles that (at most 64 times), and so does each
 *   refusal in a row since the last success from the fourth on, across cuts, up to 8 times
 *   (unless a quota policy is in force), so a window that stays full is waited out in a few
 *   tries instead of being cut under its limit, step by confirmed step, while it drains.
 * - **Retry-After.** Whole seconds can stand for a few milliseconds ("1" from a sliding log
 *   whose next slot frees in 12 ms), so a Retry-After of up to one second only caps the
 *   pause; a longer one stops every release for exactly that long (at most
 *   `maxCooldownMs`), and the hold after a cut lasts `holdPerCooldown` times the pause.
 * - **Outages end where they began.** The first success after an outage resumes growth
 *   where it stood, as if the outage had taken no time.
 * - **Waiters in the order they came.** A waiting caller says since when its place in line
 *   dates (a retry sent to the front takes the place of the waiter it went ahead of); the
 *   record keeps the two longest-waiting callers it turned away and tells a caller it turns
 *   away to come back once each of them has had a permit, so callers of several processes
 *   sharing the record are served in order. A free permit goes to whoever asks (a late
 *   waiter holds nobody up); one that misses its turn by over 10 ms loses its place.
 * - **Application-limited.** The rate never grows past twice what was actually sent over
 *   the last second, so a quiet caller does not build up a rate it never tested.
 * - **Headers.** A quota policy (`RateLimit-Policy: 50;w=1`) sets the rate outright
 *   (after the hold, when a refusal came first), and the pace shrinks in proportion when
 *   the remaining budget falls below a reserve (2% of the quota, at least 1: a pace at 97.5%
 *   of a sliding window's quota always leaves about 2.5% of it free, no shortage). Without a
 *   policy the remaining budget is spread over the time to reset (`remaining / reset` caps
 *   the pace until the reset). None remaining pauses until the reset.
 */

/** The state of one adaptive limiter, as a store keeps it: numbers only. */
export interface AdaptiveRecord extends InFlightRecord, GateRecord {
  /** The control law's rate (requests per second). */
  rate: number;
  /** The rate set by the last cut (or the initial rate): growth starts from it. */
  base: number;
  /**
   * The rate the upstream was shown to accept at the last cut, or lowered since by sustained
   * refusals that cut nothing (req/s); -1 before the first cut.
   */
  ceiling: number;
  /** Outage answers (5xx, no answer) in a row since the last success; 0 when none. */
  outages: number;
  /** When the last cut happened (ms); -1 before the first back-off (slow start). */
  cutAt: number;
  /** How long the rate holds after the last cut (ms): `holdMs`, or longer after a long cooldown. */
  holdFor: number;
  /** When slow start began (the first acquire, ms); -1 before it. */
  startAt: number;
  /** Grows by one on every cut; permits carry it. */
  epoch: number;
  /** Moving share of back-offs among the answers to permits of the current epoch (0 to 1). */
  loss: number;
  /** Answers to permits of the current epoch: successes and refusals. */
  epochOk: number;
  epochNo: number;
  /** Refusals of current permits in a row since the last success, across cuts. */
  streak: number;
  /** Pacing bucket. */
  tokens: number;
  refilledAt: number;
  /** Nothing is released before this (ms). */
  cooldownUntil: number;
  /** Start of the current one-second meter bucket (ms), and the counts of it and the one before. */
  meterAt: number;
  okCur: number;
  okPrev: number;
  txCur: number;
  txPrev: number;
  /** Refusals (429s) in the current and previous meter buckets. */
  noCur: number;
  noPrev: number;
  /**
   * Until when (ms; -1 none) pacing makes up no late timer: a success left nothing remaining,
   * so the upstream has no burst to absorb two requests closer than the pace (GCRA).
   */
  strictUntil: number;
  /** Pace cap from `remaining / reset` (req/s), valid until `capUntil` (ms); -1 none. */
  capRate: number;
  capUntil: number;
  /** Rate from a quota policy header (req/s), valid until `policyUntil` (ms); -1 none. */
  policyRate: number;
  policyUntil: number;
  successes: number;
  backoffs: number;
  /** The last back-off: status, when (ms), Retry-After (ms, -1 none); status 0 when none yet. */
  lastStatus: number;
  lastAt: number;
  lastRetryAfterMs: number;
  /** What set the rate last: 0 initial, 1 adaptive, 2 headers. */
  source: number;
  /** Last time anything happened (ms), for idle eviction. */
  touchedAt: number;
  /**
   * The two longest-waiting callers the record has turned away (when each began to wait,
   * and when each was told to come back, ms; -1 none): a free permit goes to the longest
   * waiter first, so that callers of several processes sharing the record are served in
   * the order they came, not by whoever asks first after each refill.
   */
  headSince: number;
  headDue: number;
  nextSince: number;
  nextDue: number;
}

/** Rate-limit header facts, as numbers; -1 for "not given". */
export interface QuotaInput {
  readonly limit: number;
  readonly remaining: number;
  readonly resetMs: number;
  readonly policyRate: number;
}

/**
 * What the limiter's shell asks of the decision. `epoch` -1 means "the current epoch"; any
 * other negative epoch is no epoch (a refusal that counts but cuts and pauses nothing).
 */
export type AdaptiveInput =
  | {
      readonly type: "acquire";
      readonly cost: number;
      /**
       * How long the caller has waited in a queue already (ms), when it waits for its turn;
       * absent (or -1) for a one-shot try, which holds no place when turned away.
       */
      readonly waitedMs?: number;
    }
  | {
      readonly type: "success";
      readonly epoch: number;
      readonly quota: QuotaInput | null;
      /** The span its permit was counted in (`flightSpan` of the grant); absent: FLIGHT_UNKNOWN. */
      readonly flight?: number;
      /** The requests in flight when its permit was granted (its `inFlight`; -1 or absent: unknown). */
      readonly others?: number;
      /** Its permit's number (the grant's `seq`; -1 or absent: unknown). */
      readonly seq?: number;
    }
  | {
      readonly type: "backoff";
      readonly epoch: number;
      readonly status: number;
      readonly retryAfterMs: number;
      readonly quota: QuotaInput | null;
      /**
       * The pace the refused request went out at (req/s): the one in force when its permit
       * was granted. Absent (or not above 0) when unknown: the pace now stands for it.
       */
      readonly issuedRate?: number;
      readonly flight?: number;
      readonly others?: number;
      readonly seq?: number;
      /** The least count in flight from which the shell's successes allow a cap (-1 or absent: too few to tell). */
      readonly closeFrom?: number;
    }
  | { readonly type: "outage"; readonly epoch: number; readonly retryAfterMs: number; readonly flight?: number }
  /** A permit handed back unjudged: it only leaves the count in flight. */
  | { readonly type: "release"; readonly flight?: number }
  | { readonly type: "reset" };

/** One answer shape for every input (a Lua twin returns it as a flat array). */
export interface AdaptiveOutput {
  /** acquire: the permit was granted. */
  readonly allowed: boolean;
  /** acquire: ms until a retry could succeed (0 when allowed). */
  readonly waitMs: number;
  /** The epoch now (acquire: the permit's). */
  readonly epoch: number;
  /** The pace in force now: the law's rate, capped by headers (req/s). */
  readonly rate: number;
  /** The law's rate before this step. */
  readonly previousRate: number;
  readonly cooldownUntil: number;
  /** backoff: this back-off was a congestion event (it cut the rate). */
  readonly congestion: boolean;
  /** A cooldown this step opened or extended (ms from now); 0 when none. */
  readonly cooldownMs: number;
  /** 0 initial, 1 adaptive, 2 headers. */
  readonly source: number;
  /** Pacing tokens left after this step. */
  readonly tokens: number;
  readonly successes: number;
  readonly backoffs: number;
  readonly lastStatus: number;
  readonly lastAt: number;
  readonly lastRetryAfterMs: number;
  /**
   * Requests in flight across every limiter sharing the record: acquire, those before this
   * permit (its others); any other input, after it.
   */
  readonly inFlight: number;
  /** The span requests granted now are counted in: a permit carries it, its answer hands it back. */
  readonly flightSpan: number;
  /** acquire: the permit's number (-1 when none was granted). */
  readonly seq: number;
  /** success, backoff: the answered request's others in flight, refused ones left out (-1 unknown). */
  readonly others: number;
  /** The learned cap on requests in flight (-1: none). */
  readonly gateLimit: number;
  /** How many times the gate opened, and the count in flight the last opening came at (see `GateRecord`). */
  readonly gateOpens: number;
  readonly gateOpenedAt: number;
}

/** The law's parameters (validated by the shell). */
export interface AdaptiveParams {
  readonly initialRate: number;
  readonly minRate: number;
  readonly maxRate: number;
  readonly burst: number;
  readonly decrease: number;
  readonly headroom: number;
  readonly holdMs: number;
  readonly holdPerCooldown: number;
  readonly doublingMs: number;
  readonly probeGain: number;
  readonly cooldownMultiplier: number;
  /** The longest pause `cooldownMultiplier` intervals give before doublings (ms), at most `maxCooldownMs`. */
  readonly cooldownCapMs: number;
  readonly maxCooldownMs: number;
  readonly forgetAfterMs: number;
}

/** Source codes in the record. */
export const SOURCE_INITIAL = 0;
export const SOURCE_ADAPTIVE = 1;
export const SOURCE_HEADERS = 2;

const METER_BUCKET_MS = 1000;
/**
 * How late a timer may fire without the pace losing the time (ms): 1, as more lets a
 * request come early, which an upstream without burst (GCRA) refuses. Above ~500/s, where
 * Node's timers cannot space requests that finely anyway, up to POLICY_SLACK_MS less one request.
 */
const TIMER_SLACK_MS = 1;
/**
 * The same while a quota policy sets the pace: nothing probes then, so a late timer's time
 * would be lost for good, and Node's timers lose up to a whole millisecond to rounding and
 * more on a busy loop. The quota's window or bucket takes a request 3 ms early; an upstream
 * without burst says so (nothing remaining) and gets no slack at all.
 */
const POLICY_SLACK_MS = 3;
/** Outage answers in a row before the pace drops to a trickle, and the trickle's share of the rate. */
const OUTAGE_CONFIRM = 2;
/** Refusals since the last cut are sustained (the cut did not reach below the limit) above this share of its answers. */
const SUSTAINED_SHARE = 0.03;
/** How long a probe takes to climb from the cut rate back to the ceiling (s). */
const PROBE_RETURN_S = 0.5;
/** Unless a Retry-After over a second is waited out first, one cut goes at most this many headrooms below the pace. */
const CUT_BOUND = 3;
/** A steep probe hit's ceiling lies at most this many headrooms below the pace (what was accepted may lag). */
const CEILING_SPAN = 2;
/** A probe hit is steep when over this many headrooms of the last second's answers were refusals (fewer are jitter at low rates). */
const STEEP_SHARE = 4;
const OUTAGE_TRICKLE = 0.5;
/** How long past the time it was told to come back a turned-away waiter keeps its place (ms). */
const WAITER_GRACE_MS = 10;
/**
 * Waits that began this close together are one caller's: a shared record's clock and the
 * caller's differ by a fraction of a millisecond between two asks.
 */
const SAME_WAITER_MS = 5;
/** The pause doubles with each refusal in a row within an epoch, at most this many times. */
const ESCALATE_MAX = 6;
/**
 * Refusals in a row since the last success, across cuts, that pause no longer than the
 * epoch's count says; from the next one on each doubles the pause (a fixed window the probe
 * filled refuses everything until it resets, and two refusals confirm a cut in every epoch).
 */
const STREAK_FREE = 3;
/**
 * A run of refusals across cuts doubles the pause at most this many times (a long window
 * must not be missed whole).
 */
const STREAK_DOUBLINGS = 3;
/** A Retry-After up to this long (ms) may be a whole-second rounding of a shorter wait. */
const ROUNDING_MS = 1000;
/**
 * While holding, a cut needs the moving back-off share of the epoch's answers (each answer
 * weighs LOSS_WEIGHT) to reach CONFIRM_LOSS: two back-offs in a row, or most answers lately.
 */
const LOSS_WEIGHT = 0.3;
const CONFIRM_LOSS = 0.5;
/** Fewer successes than this in the last second do not make a measured rate. */
const MIN_SAMPLES = 3;
/** The share of a quota policy's rate the pace keeps. */
const POLICY_SHARE = 0.975;
/** How long a quota policy read from headers stays in force without being seen again. */
const POLICY_TTL_MS = 60_000;
/** Below this share of the quota (and at least MIN_RESERVE requests), the pace shrinks with the remaining budget. */
const RESERVE_SHARE = 0.02;
const MIN_RESERVE = 1;
/** An epoch no permit carries: the refusal counts, but cuts nothing and pauses nothing. */
const NO_EPOCH = -2;
/** How soon a caller turned away at the cap on requests in flight asks again (ms): other processes' answers free places unseen. */
export const CAP_RETRY_MS = 2;
/** How soon a caller turned away at the cap asks again when two longer waiters are ahead of it (ms). */
export const UNKEPT_RETRY_MS = 8;
/** The law's rate never grows past this multiple of the rate actually sent. */
const APP_LIMIT_FACTOR = 2;

/** The adaptive limiter as a {@link Decision}: `(record, input, now) -> output`, updating the record. */
export class AdaptiveDecision implements Decision<AdaptiveRecord, AdaptiveInput, AdaptiveOutput> {
  readonly kind = "adaptive";
  readonly evictable = true;
  readonly params: Readonly<Record<string, number>>;

  constructor(readonly config: AdaptiveParams) {
    this.params = { ...config };
  }

  init(now: number): AdaptiveRecord {
    const { initialRate, burst } = this.config;
    return {
      rate: initialRate,
      base: initialRate,
      ceiling: -1,
      outages: 0,
      cutAt: -1,
      holdFor: this.config.holdMs,
      startAt: -1,
      epoch: 0,
      loss: 0,
      epochOk: 0,
      epochNo: 0,
      streak: 0,
      tokens: burst,
      refilledAt: now,
      cooldownUntil: 0,
      meterAt: now,
      okCur: 0,
      okPrev: 0,
      txCur: 0,
      txPrev: 0,
      noCur: 0,
      noPrev: 0,
      strictUntil: -1,
      capRate: -1,
      capUntil: -1,
      policyRate: -1,
      policyUntil: -1,
      successes: 0,
      backoffs: 0,
      lastStatus: 0,
      lastAt: -1,
      lastRetryAfterMs: -1,
      source: SOURCE_INITIAL,
      touchedAt: now,
      headSince: -1,
      headDue: -1,
      nextSince: -1,
      nextDue: -1,
      flightSpan: Math.floor(now / FLIGHT_SPAN_MS),
      flightCur: 0,
      flightPrev: 0,
      grants: 0,
      refusedSeq0: -1,
      refusedAt0: -1,
      refusedSeq1: -1,
      refusedAt1: -1,
      refusedSeq2: -1,
      refusedAt2: -1,
      refusedSeq3: -1,
      refusedAt3: -1,
      gateLimit: -1,
      gateLevel: -1,
      gateAt: -1,
      gateBelowAt: -1,
      gateOpens: 0,
      gateOpenedAt: -1,
      evidence0: -1,
      evidenceAt0: -1,
      evidence1: -1,
      evidenceAt1: -1,
    };
  }

  step(s: AdaptiveRecord, input: AdaptiveInput, now: number): AdaptiveOutput {
    const previousRate = s.rate;
    s.touchedAt = Math.max(s.touchedAt, now);
    this.refill(s, now);
    this.roll(s, now);
    rollFlights(s, now);
    switch (input.type) {
      case "acquire":
        return this.acquire(s, input.cost, input.waitedMs ?? -1, now, previousRate);
      case "success": {
        land(s, input.flight ?? FLIGHT_UNKNOWN);
        const others = othersHeld(s, input.others ?? -1, input.seq ?? -1);
        if (others >= 0) widen(s, others, now);
        s.successes++;
        s.okCur++;
        s.streak = 0;
        if (s.outages >= OUTAGE_CONFIRM) this.resume(s, now);
        s.outages = 0;
        if (input.epoch < 0 || input.epoch === s.epoch) {
          s.loss *= 1 - LOSS_WEIGHT;
          s.epochOk++;
        }
        // An empty budget opens a cooldown: report it, so the shell can emit `cooldown`.
        const cooldownMs = input.quota ? this.quota(s, input.quota, now) : 0;
        // A success that leaves nothing: no burst upstream, so no release may come early. For
        // at least a second: a reset in whole seconds reads "0" for a wait of a few ms.
        if (input.quota && input.quota.remaining >= 0 && input.quota.remaining < 1) {
          s.strictUntil = now + Math.max(input.quota.resetMs, METER_BUCKET_MS);
        }
        this.grow(s, now);
        return this.out(s, now, previousRate, false, cooldownMs, false, 0, -1, others);
      }
      case "backoff":
        land(s, input.flight ?? FLIGHT_UNKNOWN);
        return this.backoff(s, input, now, previousRate);
      case "outage":
        land(s, input.flight ?? FLIGHT_UNKNOWN);
        return this.outage(s, input.retryAfterMs, now, previousRate);
      case "release":
        land(s, input.flight ?? FLIGHT_UNKNOWN);
        return this.out(s, now, previousRate, false, 0);
      case "reset": {
        const fresh = this.init(now);
        // Requests in flight stay counted: their answers will come.
        carryFlights(s, fresh);
        Object.assign(s, fresh);
        return this.out(s, now, previousRate, false, 0);
      }
    }
  }

  isIdle(s: AdaptiveRecord, now: number): boolean {
    return now - s.touchedAt >= this.config.forgetAfterMs && now >= s.cooldownUntil;
  }

  /**
   * The pace in force at `now`: the law's rate, capped by a remaining budget from headers,
   * and slowed to a trickle while the upstream is out (the rate itself is kept).
   */
  pace(s: AdaptiveRecord, now: number): number {
    const rate = s.capUntil > now ? Math.min(s.rate, s.capRate) : s.rate;
    return s.outages >= OUTAGE_CONFIRM ? Math.max(this.config.minRate, Math.min(rate, Math.max(1, OUTAGE_TRICKLE * rate))) : rate;
  }

  private acquire(s: AdaptiveRecord, cost: number, waitedMs: number, now: number, previousRate: number): AdaptiveOutput {
    if (s.startAt < 0) s.startAt = now;
    const since = now - Math.max(0, waitedMs);
    // A waiter that did not come back in time gave up (aborted, or its process went away).
    if (s.nextSince >= 0 && now > s.nextDue + WAITER_GRACE_MS) this.forgetNext(s);
    if (s.headSince >= 0 && now > s.headDue + WAITER_GRACE_MS) this.promote(s);
    if (now < s.cooldownUntil) {
      if (waitedMs >= 0) this.turnAway(s, since, s.cooldownUntil);
      return this.out(s, now, previousRate, false, 0, false, s.cooldownUntil - now);
    }
    // At the cap on requests in flight: no place until an answer frees one (maybe another
    // process's), and the places freed go to the longer waiters the record knows first.
    if (s.gateLimit >= 0 && inFlight(s) + this.waitersAhead(s, since) >= s.gateLimit) {
      // A waiter the record does not keep (two longer ones are ahead) has no place to claim soon: it asks less often.
      const kept = waitedMs < 0 || this.turnAway(s, since, now + CAP_RETRY_MS);
      return this.out(s, now, previousRate, false, 0, false, kept ? CAP_RETRY_MS : UNKEPT_RETRY_MS);
    }
    if (s.tokens >= cost) {
      s.tokens -= cost;
      s.txCur += cost;
      // The waiter served leaves the queue; a one-shot try (waitedMs < 0) is no waiter.
      if (waitedMs >= 0) {
        if (s.headSince >= 0 && Math.abs(since - s.headSince) <= SAME_WAITER_MS) this.promote(s);
        else if (s.nextSince >= 0 && Math.abs(since - s.nextSince) <= SAME_WAITER_MS) this.forgetNext(s);
      }
      return this.out(s, now, previousRate, false, 0, true, 0, depart(s));
    }
    // Turned away: back when there is a permit for each longer waiter the record knows, and one more.
    const ahead = this.waitersAhead(s, since);
    const pace = this.pace(s, now);
    const waitMs = cost > this.config.burst ? Number.POSITIVE_INFINITY : Math.max(((cost + ahead - s.tokens) / pace) * 1000, 1e-3);
    if (waitedMs >= 0) this.turnAway(s, since, now + waitMs);
    return this.out(s, now, previousRate, false, 0, false, waitMs);
  }

  /** The waiters the record knows that have waited longer than a caller waiting since `since`. */
  private waitersAhead(s: AdaptiveRecord, since: number): number {
    return (
      (s.headSince >= 0 && s.headSince < since - SAME_WAITER_MS ? 1 : 0) +
      (s.nextSince >= 0 && s.nextSince < since - SAME_WAITER_MS ? 1 : 0)
    );
  }

  /** Notes a caller turned away: it has waited since `since` and comes back at `due`. Returns whether the record keeps it (one of its two longest waiters). */
  private turnAway(s: AdaptiveRecord, since: number, due: number): boolean {
    if (s.headSince < 0 || since < s.headSince - SAME_WAITER_MS) {
      s.nextSince = s.headSince;
      s.nextDue = s.headDue;
      s.headSince = since;
      s.headDue = due;
    } else if (since <= s.headSince + SAME_WAITER_MS) s.headDue = due;
    else if (s.nextSince < 0 || since <= s.nextSince + SAME_WAITER_MS) {
      s.nextSince = since;
      s.nextDue = due;
    } else return false;
    return true;
  }

  /** The longest waiter was served (or is gone): the next one is first now. */
  private promote(s: AdaptiveRecord): void {
    s.headSince = s.nextSince;
    s.headDue = s.nextDue;
    this.forgetNext(s);
  }

  private forgetNext(s: AdaptiveRecord): void {
    s.nextSince = -1;
    s.nextDue = -1;
  }

  /**
   * A refusal (429 and other 4xx back-off statuses): evidence about the rate limit.
   * 5xx statuses are no evidence about it: they go to {@link outage}.
   */
  private backoff(
    s: AdaptiveRecord,
    input: Extract<AdaptiveInput, { type: "backoff" }>,
    now: number,
    previousRate: number,
  ): AdaptiveOutput {
    if (input.status >= 500) {
      s.backoffs++;
      s.lastStatus = input.status;
      s.lastAt = now;
      s.lastRetryAfterMs = input.retryAfterMs;
      return this.outage(s, input.retryAfterMs, now, previousRate, input.quota);
    }
    const { decrease, headroom, holdMs, holdPerCooldown } = this.config;
    s.backoffs++;
    s.lastStatus = input.status;
    s.lastAt = now;
    s.lastRetryAfterMs = input.retryAfterMs;
    s.outages = 0;
    let cooldownMs = 0;
    if (input.quota) cooldownMs = this.quota(s, input.quota, now);
    // A refusal at the learned cap on requests in flight (its own probe, or the one that showed
    // the cap) says nothing about the rate: no epoch for the law, so it cuts and pauses nothing.
    const others = othersHeld(s, input.others ?? -1, input.seq ?? -1);
    const gate = others >= 0 ? refuse(s, others, input.closeFrom ?? -1, now) : 0;
    noteRefused(s, input.seq ?? -1);
    const epoch = gate === 1 || gate === 2 ? NO_EPOCH : input.epoch;
    const current = epoch === -1 || epoch >= s.epoch;
    let congestion = false;
    if (current) {
      s.loss += LOSS_WEIGHT * (1 - s.loss);
      s.epochNo++;
      s.streak++;
      // The refusal is evidence about the pace its request went out at. A slow upstream
      // answers a round trip later, when slow start or a probe has already gone further.
      const issued = input.issuedRate ?? -1;
      const pace = issued > 0 ? Math.min(issued, this.pace(s, now)) : this.pace(s, now);
      const accepted = this.measuredRate(s, now);
      const holding = s.cutAt >= 0 && now - s.cutAt <= s.holdFor;
      let next = -1;
      if (!holding) {
        // A probe (or slow start) crossed the limit. Near the last ceiling the probe grew
        // slowly, so the limit is just below the pace. Far above it (a steep probe, slow
        // start), or when over 4 * headroom of the last second's answers were refusals, the
        // pace ran ahead of the upstream's answer and what the last second accepted is the
        // safer guide for the cut; the next probe's ceiling lies between the two, at most
        // CEILING_SPAN headrooms under the pace (an upstream that spaces requests, GCRA,
        // accepted our own slower past, not its limit).
        const refused = this.windowRate(s, now, s.noCur, s.noPrev).samples;
        const answered = refused + this.windowRate(s, now, s.okCur, s.okPrev).samples;
        // A quota policy in force tells the limit: what was accepted is no better guide.
        const steep =
          s.policyUntil <= now &&
          (s.ceiling < 0 ||
            pace > s.ceiling * (1 + 2 * headroom) ||
            (answered >= MIN_SAMPLES && refused > STEEP_SHARE * headroom * answered));
        const limit =
          accepted === undefined ? pace : steep ? Math.max(Math.min(pace, accepted), (1 - CEILING_SPAN * headroom) * pace) : pace;
        next = accepted === undefined ? pace * decrease : (steep ? Math.min(pace, accepted) : pace) * (1 - headroom);
        s.ceiling = limit;
      } else {
        // Refused again since the cut. Refusals in a row mean the limit fell (or the cut was
        // not deep enough) when the upstream accepts less than the pace; else they are the
        // last refusals of a window the probe filled, or a stray one: pause, do not cut.
        const sustained =
          accepted === undefined ? s.loss >= CONFIRM_LOSS : s.epochNo >= 2 && s.epochNo > SUSTAINED_SHARE * (s.epochNo + s.epochOk);
        if (sustained) {
          // What the last second accepted is the limit of a window that filled, but lags far
          // behind on an upstream that spaces requests (GCRA): cut by at most 3 * headroom (plus the headroom itself).
          // A Retry-After over a second is waited out first: then it is.
          const floor = input.retryAfterMs > ROUNDING_MS ? 0 : (1 - CUT_BOUND * headroom) * pace;
          const target = accepted === undefined ? pace * decrease : Math.max(accepted, floor) * (1 - headroom);
          if (target < pace * (1 - headroom / 2)) {
            next = target;
            s.ceiling = accepted ?? target;
          } else {
            // Refused again and again while the upstream accepts more than the pace: the tail of a
            // bucket or window the probe emptied, so no cut; but no limit far above what it
            // accepts either, so the next probe climbs back to that, not to a ceiling a steep
            // climb overshot to.
            s.ceiling = Math.min(s.ceiling, accepted ?? pace);
          }
        }
      }
      if (next >= 0) {
        congestion = true;
        s.rate = this.clamp(next);
        s.base = s.rate;
        s.cutAt = now;
        s.epoch++;
        s.loss = 0;
        s.epochOk = 0;
        s.epochNo = 0;
        s.tokens = 0;
        s.source = SOURCE_ADAPTIVE;
      }
    }
    // Refusals in a row within one epoch double the pause, and so do refusals in a row across
    // cuts beyond STREAK_FREE (without a quota policy): a window that stays full is waited out
    // in a few tries, not cut under its limit step by step while it drains. Retry-After is in
    // whole seconds ("1" may stand for a few ms), so it is honoured in full only when longer
    // than rounding explains; else it caps the pause.
    // The law's pause before doublings: cooldownMultiplier intervals, capped unless a quota
    // policy sets the pace (at low rates the pauses, not the pace, would hold the rate sent
    // while the pace stays over the limit; under a policy the pause is the only brake).
    const policy = s.policyUntil > now;
    const intervals = (this.config.cooldownMultiplier * 1000) / s.rate;
    const unit = policy ? intervals : Math.min(this.config.cooldownCapMs, intervals);
    const streak = policy ? 0 : Math.min(STREAK_DOUBLINGS, s.streak - STREAK_FREE);
    const pause = this.pause(unit, input.retryAfterMs, current, Math.max(0, s.epochNo - 1, streak));
    // A probe that costs a long pause (a long Retry-After) is worth making less often; a run of
    // refusals is the drain of a full window, no reason to probe later.
    if (congestion) s.holdFor = Math.max(holdMs, holdPerCooldown * Math.max(0, this.pause(unit, input.retryAfterMs, current, 0)));
    if (pause >= 0 && now + pause > s.cooldownUntil) {
      s.cooldownUntil = now + pause;
      cooldownMs = Math.max(cooldownMs, pause);
    }
    s.noCur++;
    return this.out(s, now, previousRate, congestion, cooldownMs, false, 0, -1, others);
  }

  /**
   * A refusal's pause (ms; -1 none): the law's `unit` doubled `doublings` times (at most
   * ESCALATE_MAX), capped by a Retry-After up to a second and replaced by a longer one. A
   * refusal of an older epoch pauses only for the longer one.
   */
  private pause(unit: number, retryAfterMs: number, current: boolean, doublings: number): number {
    const { maxCooldownMs } = this.config;
    const lawPause = Math.min(maxCooldownMs, unit * 2 ** Math.min(ESCALATE_MAX, doublings));
    if (retryAfterMs < 0) return current ? lawPause : -1;
    const full = Math.min(retryAfterMs, maxCooldownMs);
    return retryAfterMs > ROUNDING_MS ? full : current ? Math.min(full, lawPause) : -1;
  }

  /**
   * An outage answer (a 5xx, or no answer at all): no evidence about the rate limit, so
   * the rate is neither cut nor grown and what was learned is kept. A Retry-After is
   * honoured; from the second outage answer in a row the pace drops to a trickle, and the
   * first success brings the learned rate back at once.
   */
  private outage(s: AdaptiveRecord, retryAfterMs: number, now: number, previousRate: number, quota?: QuotaInput | null): AdaptiveOutput {
    s.outages++;
    let cooldownMs = quota ? this.quota(s, quota, now) : 0;
    if (retryAfterMs >= 0) {
      const pause = Math.min(retryAfterMs, this.config.maxCooldownMs);
      if (now + pause > s.cooldownUntil) {
        s.cooldownUntil = now + pause;
        cooldownMs = Math.max(cooldownMs, pause);
      }
    }
    return this.out(s, now, previousRate, false, cooldownMs);
  }

  /**
   * Applies rate-limit header facts; returns the cooldown (ms) an empty budget opened, or 0.
   *
   * With a quota policy (a known window), the quota refills at `policyRate` whatever the
   * window's kind (fixed, sliding, bucket), so the pace is the policy rate while the
   * remaining budget is above a reserve, and shrinks in proportion below it, never under
   * the fixed-window pace `remaining / reset`. Without a policy, fixed-window semantics
   * are assumed: the remaining budget is spread over the time to reset.
   */
  private quota(s: AdaptiveRecord, q: QuotaInput, now: number): number {
    if (q.policyRate > 0) {
      s.policyRate = q.policyRate;
      s.policyUntil = now + Math.max(POLICY_TTL_MS, q.resetMs);
    }
    if (q.remaining < 0) return 0;
    if (q.resetMs <= 0) {
      // The quota is whole again now.
      s.capUntil = -1;
      return 0;
    }
    if (q.remaining < 1) {
      // Nothing left. With a policy the quota refills at the policy rate, which the pace
      // already keeps (a fixed window then answers one 429, whose Retry-After takes over);
      // without one, wait for the reset.
      s.capUntil = -1;
      if (q.policyRate > 0) return 0;
      const wait = Math.min(q.resetMs, this.config.maxCooldownMs);
      if (now + wait <= s.cooldownUntil) return 0;
      s.cooldownUntil = now + wait;
      return wait;
    }
    const spread = (q.remaining * 1000) / q.resetMs;
    let cap = spread;
    if (q.policyRate > 0) {
      const reserve = Math.max(MIN_RESERVE, RESERVE_SHARE * (q.limit > 0 ? q.limit : q.policyRate));
      cap = Math.max(spread, q.policyRate * Math.min(1, q.remaining / reserve));
    }
    s.capRate = Math.max(this.config.minRate, cap);
    s.capUntil = now + q.resetMs;
    s.source = SOURCE_HEADERS;
    return 0;
  }

  /**
   * Moves the law's rate along: policy from headers, slow start, hold, or probe. A probe
   * climbs in `K` = 0.5 s back to just under the ceiling (`(1 - headroom / 2) * ceiling`:
   * the pace at the last refusal was over the limit), slowing as it nears it, dwells there,
   * then grows ever faster: `plateau * (1 + probeGain * t^4)`, t in seconds past K. Gentle
   * for a limit that did not move, ×3.6 within 1.8 s for one that rose. Products only, so
   * its Lua twin agrees to the bit.
   */
  private grow(s: AdaptiveRecord, now: number): void {
    const { doublingMs, probeGain, headroom } = this.config;
    const holding = s.cutAt >= 0 && now - s.cutAt <= s.holdFor;
    // Just under a quota policy: a pace at exactly the quota overruns it on timing jitter.
    const policy = s.policyUntil > now ? this.clamp(s.policyRate * POLICY_SHARE) : -1;
    if (policy > 0 && (s.rate > policy || (s.cutAt < 0 && !holding))) {
      // The policy is the limit: above it (it fell) or before any refusal, pace at it.
      s.rate = policy;
      s.base = Math.min(s.base, policy);
      s.source = SOURCE_HEADERS;
      return;
    }
    let target: number;
    if (s.cutAt < 0) target = s.base * 2 ** (Math.max(0, now - Math.max(s.startAt, 0)) / doublingMs);
    else {
      const t = Math.max(0, now - s.cutAt - s.holdFor) / 1000;
      const ceiling = Math.max(s.ceiling * (1 - headroom / 2), s.base);
      const d = t - PROBE_RETURN_S;
      if (d < 0) {
        const f = -d / PROBE_RETURN_S;
        target = ceiling - (ceiling - s.base) * f * f * f;
      } else target = ceiling * (1 + probeGain * d * d * d * d);
    }
    const sent = this.sentRate(s, now);
    let next = this.clamp(Math.min(target, Math.max(s.base, APP_LIMIT_FACTOR * sent)));
    // After a refusal, the probe returns as without headers, but never past the policy.
    if (policy > 0) next = Math.min(next, policy);
    if (next !== s.rate) {
      s.rate = next;
      if (s.source === SOURCE_INITIAL) s.source = SOURCE_ADAPTIVE;
    }
  }

  /**
   * The first success after an outage: growth starts again from where it stood, as if the
   * outage had not taken time (a probe that ran on through it would overshoot at once).
   */
  private resume(s: AdaptiveRecord, now: number): void {
    if (s.cutAt < 0) {
      s.startAt = now;
      s.base = s.rate;
    } else if (now - s.cutAt > s.holdFor + PROBE_RETURN_S * 1000) {
      s.cutAt = now - s.holdFor - PROBE_RETURN_S * 1000;
      s.base = Math.min(s.base, s.rate);
    }
  }

  private clamp(rate: number): number {
    return Math.min(this.config.maxRate, Math.max(this.config.minRate, rate));
  }

  private refill(s: AdaptiveRecord, now: number): void {
    if (now > s.refilledAt) {
      const pace = this.pace(s, s.refilledAt);
      // A few ms of slack beyond the burst, so that a timer firing late is made up for
      // (else the pace would run a few percent slow). Counted in ms, not permits: above a
      // few hundred a second a timer rounded up to a whole ms, and late, holds several.
      const slackMs = s.policyUntil > now ? POLICY_SLACK_MS : TIMER_SLACK_MS;
      const cap = this.config.burst + (s.strictUntil > now ? 0 : Math.max(pace * slackMs, pace * POLICY_SLACK_MS - 1000) / 1000);
      s.tokens = Math.min(cap, s.tokens + ((now - s.refilledAt) * pace) / 1000);
      s.refilledAt = now;
    }
  }

  /** Advances the half-second meter buckets. */
  private roll(s: AdaptiveRecord, now: number): void {
    const elapsed = now - s.meterAt;
    if (elapsed < METER_BUCKET_MS) return;
    if (elapsed < 2 * METER_BUCKET_MS) {
      s.okPrev = s.okCur;
      s.txPrev = s.txCur;
      s.noPrev = s.noCur;
      s.meterAt += METER_BUCKET_MS;
    } else {
      s.okPrev = 0;
      s.txPrev = 0;
      s.noPrev = 0;
      s.meterAt = now - (elapsed % METER_BUCKET_MS);
    }
    s.okCur = 0;
    s.txCur = 0;
    s.noCur = 0;
  }

  /**
   * Events per second over exactly the last second: the current bucket plus the share of
   * the previous one that the last second still covers (a sliding-window counter). A span
   * of one second matters: an upstream that counts per rolling second accepts up to its
   * limit in any part of it, so a shorter span would read up to twice the limit.
   */
  private windowRate(s: AdaptiveRecord, now: number, cur: number, prev: number): { rate: number; samples: number } {
    const into = Math.min(1, Math.max(0, (now - s.meterAt) / METER_BUCKET_MS));
    const samples = cur + prev * (1 - into);
    return { rate: (samples * 1000) / METER_BUCKET_MS, samples };
  }

  /** The rate the upstream accepted over the last second, or undefined when too few samples. */
  private measuredRate(s: AdaptiveRecord, now: number): number | undefined {
    const { rate, samples } = this.windowRate(s, now, s.okCur, s.okPrev);
    return samples >= MIN_SAMPLES ? rate : undefined;
  }

  private sentRate(s: AdaptiveRecord, now: number): number {
    return this.windowRate(s, now, s.txCur, s.txPrev).rate;
  }

  private out(
    s: AdaptiveRecord,
    now: number,
    previousRate: number,
    congestion: boolean,
    cooldownMs: number,
    allowed = false,
    waitMs = 0,
    seq = -1,
    others = -1,
  ): AdaptiveOutput {
    return {
      allowed,
      waitMs,
      epoch: s.epoch,
      rate: this.pace(s, now),
      previousRate,
      cooldownUntil: s.cooldownUntil,
      congestion,
      cooldownMs,
      source: s.source,
      tokens: s.tokens,
      successes: s.successes,
      backoffs: s.backoffs,
      lastStatus: s.lastStatus,
      lastAt: s.lastAt,
      lastRetryAfterMs: s.lastRetryAfterMs,
      // A grant has just counted itself: its others are the rest.
      inFlight: allowed ? inFlight(s) - 1 : inFlight(s),
      flightSpan: s.flightSpan,
      seq,
      others,
      gateLimit: s.gateLimit,
      gateOpens: s.gateOpens,
      gateOpenedAt: s.gateOpenedAt,
    };
  }
}
