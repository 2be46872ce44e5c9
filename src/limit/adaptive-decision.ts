import type { Decision } from "../store/store.js";

/**
 * The adaptive limiter's algorithm as a pure {@link Decision} over a plain record of
 * numbers, so that a store can run it anywhere (in process, or as a Lua twin on a Redis
 * server that shares one rate and one cooldown across a fleet).
 *
 * ## The control law: hold-and-probe with a measured ceiling
 *
 * - **Pacing.** Permits come from a token bucket refilled at the current rate (capacity
 *   `burst`). During a cooldown nothing is released.
 * - **Slow start.** Until the first back-off the rate doubles every `doublingMs`.
 * - **Probe hit.** A back-off that arrives while probing (after the hold) means the rate
 *   just crossed the upstream's limit. The upstream was accepting `A` requests per second
 *   (successes over the last second), so the new rate is `(1 - headroom) * min(rate, A)`.
 * - **Limit fell.** Back-offs that arrive while holding (the rate had not grown since
 *   the last cut) mean the limit fell below it once they are confirmed: at least two in
 *   the epoch, and no more successes than back-offs. Then the rate is cut by `decrease`.
 *   A lone back-off while holding (an upstream that counts per rolling second still
 *   remembers the probe) only pauses, as below.
 * - **Hold, then probe.** After a cut the rate holds for `holdMs`, then grows as
 *   `base * (1 + probeGain * t^3)` (t in seconds since the hold ended, as in CUBIC): slowly
 *   near the limit just found, so an upstream that counts per rolling second is not
 *   overrun before it answers, and ever faster away from it, so a raised limit is found
 *   within `holdMs + cbrt((new / old - 1) / probeGain)` seconds.
 * - **One congestion event per round trip.** A cut starts a new epoch. Every permit
 *   carries the epoch it was issued in, and a back-off counts as congestion only when its
 *   permit was issued in the current epoch: the responses of requests that were already
 *   in flight when the rate was cut do not cut it again.
 * - **Probes cost what they pause.** The hold lasts at least `holdPerCooldown` times
 *   the cooldown the last cut drew, so an upstream that answers every probe with
 *   `Retry-After: 1` is probed every few seconds, not every one.
 * - **Cooldown.** A back-off with `Retry-After` stops all releases for exactly that long
 *   (at most `maxCooldownMs`); a congestion event without one pauses for
 *   `cooldownMultiplier / rate` seconds, i.e. `cooldownMultiplier` pacing intervals.
 * - **Application-limited.** The rate never grows past twice what was actually sent
 *   over the last second, so a quiet caller does not build up a rate it never tested.
 * - **Headers.** A quota policy (`RateLimit-Policy: 50;w=1`) sets the rate outright
 *   (after the hold, when a back-off came first), and the pace shrinks in proportion
 *   when the remaining budget falls below a reserve (5% of the quota, at least 1).
 *   Without a policy the remaining budget is spread over the time to reset
 *   (`remaining / reset` caps the pace until the reset). None remaining pauses until the
 *   reset.
 */

/** The state of one adaptive limiter, as a store keeps it: numbers only. */
export interface AdaptiveRecord {
  /** The control law's rate (requests per second). */
  rate: number;
  /** The rate set by the last cut (or the initial rate): growth starts from it. */
  base: number;
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
}

/** Rate-limit header facts, as numbers; -1 for "not given". */
export interface QuotaInput {
  readonly limit: number;
  readonly remaining: number;
  readonly resetMs: number;
  readonly policyRate: number;
}

/** What the limiter's shell asks of the decision. `epoch` -1 means "the current epoch". */
export type AdaptiveInput =
  | { readonly type: "acquire"; readonly cost: number }
  | { readonly type: "success"; readonly epoch: number; readonly quota: QuotaInput | null }
  | {
      readonly type: "backoff";
      readonly epoch: number;
      readonly status: number;
      readonly retryAfterMs: number;
      readonly quota: QuotaInput | null;
    }
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
  readonly maxCooldownMs: number;
  readonly forgetAfterMs: number;
}

/** Source codes in the record. */
export const SOURCE_INITIAL = 0;
export const SOURCE_ADAPTIVE = 1;
export const SOURCE_HEADERS = 2;

const METER_BUCKET_MS = 1000;
/** How late a timer may fire without the pace losing the time (ms). */
const TIMER_SLACK_MS = 4;
/**
 * While holding, a cut needs the moving back-off share of the epoch's answers (each answer
 * weighs LOSS_WEIGHT) to reach CONFIRM_LOSS: two back-offs in a row, or most answers lately.
 */
const LOSS_WEIGHT = 0.3;
const CONFIRM_LOSS = 0.5;
/** Fewer successes than this in the last second do not make a measured rate. */
const MIN_SAMPLES = 3;
/** How long a quota policy read from headers stays in force without being seen again. */
const POLICY_TTL_MS = 60_000;
/** Below this share of the quota (and at least MIN_RESERVE requests), the pace shrinks with the remaining budget. */
const RESERVE_SHARE = 0.05;
const MIN_RESERVE = 1;
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
      cutAt: -1,
      holdFor: this.config.holdMs,
      startAt: -1,
      epoch: 0,
      loss: 0,
      tokens: burst,
      refilledAt: now,
      cooldownUntil: 0,
      meterAt: now,
      okCur: 0,
      okPrev: 0,
      txCur: 0,
      txPrev: 0,
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
    };
  }

  step(s: AdaptiveRecord, input: AdaptiveInput, now: number): AdaptiveOutput {
    const previousRate = s.rate;
    s.touchedAt = Math.max(s.touchedAt, now);
    this.refill(s, now);
    this.roll(s, now);
    switch (input.type) {
      case "acquire":
        return this.acquire(s, input.cost, now, previousRate);
      case "success": {
        s.successes++;
        s.okCur++;
        if (input.epoch < 0 || input.epoch === s.epoch) s.loss *= 1 - LOSS_WEIGHT;
        // An empty budget opens a cooldown: report it, so the shell can emit `cooldown`.
        const cooldownMs = input.quota ? this.quota(s, input.quota, now) : 0;
        this.grow(s, now);
        return this.out(s, now, previousRate, false, cooldownMs);
      }
      case "backoff":
        return this.backoff(s, input, now, previousRate);
      case "reset": {
        const fresh = this.init(now);
        Object.assign(s, fresh);
        return this.out(s, now, previousRate, false, 0);
      }
    }
  }

  isIdle(s: AdaptiveRecord, now: number): boolean {
    return now - s.touchedAt >= this.config.forgetAfterMs && now >= s.cooldownUntil;
  }

  /** The pace in force at `now`: the law's rate, capped by a remaining budget from headers. */
  pace(s: AdaptiveRecord, now: number): number {
    return s.capUntil > now ? Math.min(s.rate, s.capRate) : s.rate;
  }

  private acquire(s: AdaptiveRecord, cost: number, now: number, previousRate: number): AdaptiveOutput {
    if (s.startAt < 0) s.startAt = now;
    if (now < s.cooldownUntil) return this.out(s, now, previousRate, false, 0, false, s.cooldownUntil - now);
    if (s.tokens >= cost) {
      s.tokens -= cost;
      s.txCur += cost;
      return this.out(s, now, previousRate, false, 0, true, 0);
    }
    const pace = this.pace(s, now);
    const waitMs = cost > this.config.burst ? Number.POSITIVE_INFINITY : ((cost - s.tokens) / pace) * 1000;
    return this.out(s, now, previousRate, false, 0, false, Math.max(waitMs, 1e-3));
  }

  private backoff(
    s: AdaptiveRecord,
    input: Extract<AdaptiveInput, { type: "backoff" }>,
    now: number,
    previousRate: number,
  ): AdaptiveOutput {
    const { decrease, headroom, holdMs, holdPerCooldown, cooldownMultiplier, maxCooldownMs } = this.config;
    s.backoffs++;
    s.lastStatus = input.status;
    s.lastAt = now;
    s.lastRetryAfterMs = input.retryAfterMs;
    let cooldownMs = 0;
    if (input.quota) cooldownMs = this.quota(s, input.quota, now);
    const current = input.epoch < 0 || input.epoch >= s.epoch;
    let congestion = false;
    if (current) {
      s.loss += LOSS_WEIGHT * (1 - s.loss);
      const pace = this.pace(s, now);
      const measured = this.measuredRate(s, now);
      const probing = s.cutAt < 0 || (now - s.cutAt > s.holdFor && s.rate > s.base);
      let next = -1;
      if (probing) next = measured === undefined ? pace * decrease : Math.min(pace, measured) * (1 - headroom);
      // Not below `decrease` times what the upstream accepted over the last second: an
      // upstream that counts per rolling second refuses for up to a second after a drop.
      else if (s.loss >= CONFIRM_LOSS) next = Math.min(pace, decrease * Math.max(pace, measured ?? 0));
      if (next >= 0) {
        congestion = true;
        s.rate = this.clamp(next);
        s.base = s.rate;
        s.cutAt = now;
        s.epoch++;
        s.loss = 0;
        s.tokens = 0;
        s.source = SOURCE_ADAPTIVE;
      }
    }
    let pause = -1;
    if (input.retryAfterMs >= 0) pause = Math.min(input.retryAfterMs, maxCooldownMs);
    else if (current) pause = Math.min(maxCooldownMs, (cooldownMultiplier * 1000) / s.rate);
    // A probe that costs a long pause is worth making less often.
    if (congestion) s.holdFor = Math.max(holdMs, holdPerCooldown * Math.max(0, pause));
    if (pause >= 0 && now + pause > s.cooldownUntil) {
      s.cooldownUntil = now + pause;
      cooldownMs = Math.max(cooldownMs, pause);
    }
    return this.out(s, now, previousRate, congestion, cooldownMs);
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
      // Nothing left. Without a policy, wait for the reset; with one, the quota refills at
      // the policy rate, so wait one quota interval (a fixed window then answers one 429,
      // whose Retry-After takes over).
      s.capUntil = -1;
      const wait = Math.min(q.policyRate > 0 ? Math.min(q.resetMs, 1000 / q.policyRate) : q.resetMs, this.config.maxCooldownMs);
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

  /** Moves the law's rate along: policy from headers, slow start, hold, or probe. */
  private grow(s: AdaptiveRecord, now: number): void {
    const { doublingMs, probeGain } = this.config;
    const holding = s.cutAt >= 0 && now - s.cutAt <= s.holdFor;
    if (s.policyUntil > now && !holding) {
      s.rate = this.clamp(s.policyRate);
      s.base = s.rate;
      s.source = SOURCE_HEADERS;
      return;
    }
    let target: number;
    if (s.cutAt < 0) target = s.base * 2 ** (Math.max(0, now - Math.max(s.startAt, 0)) / doublingMs);
    else {
      const since = now - s.cutAt;
      const t = Math.max(0, since - s.holdFor) / 1000;
      target = s.base * (1 + probeGain * t * t * t);
    }
    const sent = this.sentRate(s, now);
    const next = this.clamp(Math.min(target, Math.max(s.base, APP_LIMIT_FACTOR * sent)));
    if (next !== s.rate) {
      s.rate = next;
      if (s.source === SOURCE_INITIAL) s.source = SOURCE_ADAPTIVE;
    }
  }

  private clamp(rate: number): number {
    return Math.min(this.config.maxRate, Math.max(this.config.minRate, rate));
  }

  private refill(s: AdaptiveRecord, now: number): void {
    if (now > s.refilledAt) {
      const pace = this.pace(s, s.refilledAt);
      // A few ms of slack beyond the burst, so that a timer firing late is made up for
      // (else the pace would run a few percent slow) without allowing a real burst.
      const cap = this.config.burst + Math.min(0.5, (pace * TIMER_SLACK_MS) / 1000);
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
      s.meterAt += METER_BUCKET_MS;
    } else {
      s.okPrev = 0;
      s.txPrev = 0;
      s.meterAt = now - (elapsed % METER_BUCKET_MS);
    }
    s.okCur = 0;
    s.txCur = 0;
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
    };
  }
}
