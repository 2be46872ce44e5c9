/**
 * A cap on requests in flight, learned from where refusals fall: the adaptive limiter's
 * answer to an upstream that refuses by concurrency (429 when more than N requests are in
 * flight) rather than by rate. Pacing cannot keep the count in flight at such a cap (it
 * settles 10–20% under it); a gate that starts a request when another is answered can.
 *
 * Every answer comes with the number of this limiter's other requests that were in flight
 * when its permit was granted (`others`). Behind a rate limit, successes happen at the
 * counts in flight that refusals happen at. Behind a concurrency cap, refusals happen only
 * at the top: refusals at `others >= k`, and (almost) no success there. When the last
 * {@link EVIDENCE} refusals (the first refusal alone, if at {@link LONE_MIN} or more) all fell
 * at `k` or above and at most a tenth of recent successes did, the gate closes at `k` in
 * flight; the refusal that closes it is the cap's, not the rate's (the rate law neither cuts
 * nor pauses on it, so the gate, not a cut pace, sets the rate from there). It then probes
 * like a congestion window: after `GATE_HOLD_MS` without a refusal, each success sent with
 * the window full widens it by one, until a refusal at the new width narrows it again. A
 * refusal below the gate's width means the upstream is not (only) a concurrency cap, or the
 * cap fell: the gate opens, the refusal is the rate law's, and the gate closes again only on
 * new evidence (the successes at that count or above came under the old width: it forgets
 * them). Pure: the caller passes the time.
 */

/**
 * The latest refusals whose counts in flight make up the evidence (after an opening, the
 * opening refusal and the next). The first refusal since the gate was made or reset is
 * evidence alone: read as a rate limit it would end slow start with a cut to what the last
 * second accepted, on a ramp about 60% of a cap, and a second refusal would come only once
 * the probe had climbed back (the cold start behind a cap of 5 took 3 s). A wrong close costs
 * about a round trip: the next refusal below the width opens the gate again, and the rate
 * law cuts on it.
 */
const EVIDENCE = 2;
/**
 * A lone refusal closes the gate only at this many others in flight or more: with fast
 * answers, one other in flight is common timing noise behind a plain rate limit.
 */
const LONE_MIN = 2;
/** Refusals older than this are no evidence (ms). */
const EVIDENCE_MS = 10_000;
/** Successes (decayed) seen before the gate may close. */
const MIN_SUCCESSES = 10;
/** At most this share of recent successes at or above the refusals' counts in flight. */
const SUCCESS_ABOVE_SHARE = 0.1;
/** Each success's weight decays by this factor with every later success (a memory of about 20). */
const DECAY = 0.95;
/**
 * How long the window holds after a refusal before it probes wider (ms). Each probe costs a
 * refusal (1 in 30 answers at a cap of 2 and 100 ms a request), and a cap that rises is
 * found within about this long.
 */
const GATE_HOLD_MS = 1_500;
/** Counts in flight tracked one by one; larger ones share the last slot. */
const MAX_TRACKED = 256;
/** The weights grow instead of decaying (one multiplication per success); rescaled above this. */
const RESCALE_AT = 1e12;

/** What the gate makes of one refusal. */
export type GateVerdict =
  /** The gate is, or has just become, open: the refusal is the rate law's. */
  | "rate"
  /** The refusal came at the gate's width or above: a probe of the window, not a rate limit. */
  | "window"
  /** The gate just closed: the refusal was the cap's: the rate law neither cuts nor pauses on it. */
  | "closed";

/** A learned cap on requests in flight (see the module comment). */
export class ConcurrencyGate {
  /** Requests allowed in flight at once (Infinity while open). */
  limit = Number.POSITIVE_INFINITY;
  /** The width at the last refusal: refusals at it or above are the window's own probes. */
  private level = Number.POSITIVE_INFINITY;
  private lastRefusalAt = Number.NEGATIVE_INFINITY;
  private readonly refusals: [others: number, at: number][] = [];
  /** Successes by counts in flight, each weighted `weight` when it came (a decaying histogram). */
  private readonly okAt = new Float64Array(MAX_TRACKED + 1);
  private okTotal = 0;
  private weight = 1;

  /** Whether the gate caps requests in flight now. */
  get closed(): boolean {
    return this.limit !== Number.POSITIVE_INFINITY;
  }

  /** Whether a request may start with `inFlight` of this limiter's requests in flight. */
  allows(inFlight: number): boolean {
    return inFlight < this.limit;
  }

  /** A success of a request sent with `others` in flight (`now` is read only while {@link closed}). */
  onSuccess(others: number, now: number): void {
    this.weight /= DECAY;
    if (this.weight > RESCALE_AT) this.rescale();
    this.okAt[Math.min(others, MAX_TRACKED)]! += this.weight;
    this.okTotal += this.weight;
    // Probe: after the hold, a success with the window full widens it.
    if (this.limit !== Number.POSITIVE_INFINITY && now - this.lastRefusalAt >= GATE_HOLD_MS && others >= this.limit - 1) this.limit += 1;
  }

  /** A refusal of a request sent with `others` in flight. */
  onRefusal(others: number, now: number): GateVerdict {
    if (this.limit !== Number.POSITIVE_INFINITY) {
      this.lastRefusalAt = now;
      if (others >= this.level) {
        this.limit = Math.max(1, Math.min(this.limit, others));
        this.level = this.limit;
        return "window";
      }
      // The cap fell (or never was one): the refusal is the rate law's and starts the evidence
      // again; the successes at its count or above came under the old width.
      this.limit = Number.POSITIVE_INFINITY;
      this.level = Number.POSITIVE_INFINITY;
      this.forgetFrom(others);
      this.refusals.length = 0;
      this.refusals.push([others, now]);
      return "rate";
    }
    this.refusals.push([others, now]);
    if (this.refusals.length > EVIDENCE) this.refusals.shift();
    const k = this.capFromEvidence(now);
    if (k === undefined) return "rate";
    this.limit = k;
    this.level = k;
    this.lastRefusalAt = now;
    return "closed";
  }

  /** Forgets everything learned. */
  reset(): void {
    this.limit = Number.POSITIVE_INFINITY;
    this.level = Number.POSITIVE_INFINITY;
    this.lastRefusalAt = Number.NEGATIVE_INFINITY;
    this.refusals.length = 0;
    this.okAt.fill(0);
    this.okTotal = 0;
    this.weight = 1;
  }

  /** The count in flight the upstream caps at, when the evidence says so. */
  private capFromEvidence(now: number): number | undefined {
    if (this.okTotal < MIN_SUCCESSES * this.weight) return undefined;
    let k = Number.POSITIVE_INFINITY;
    for (const [others, at] of this.refusals) {
      if (now - at > EVIDENCE_MS) return undefined;
      k = Math.min(k, others);
    }
    if (k < (this.refusals.length < EVIDENCE ? LONE_MIN : 1)) return undefined;
    let above = 0;
    for (let i = Math.min(k, MAX_TRACKED); i <= MAX_TRACKED; i++) above += this.okAt[i]!;
    return above <= SUCCESS_ABOVE_SHARE * this.okTotal ? k : undefined;
  }

  private forgetFrom(others: number): void {
    for (let i = Math.min(others, MAX_TRACKED); i <= MAX_TRACKED; i++) {
      this.okTotal = Math.max(0, this.okTotal - this.okAt[i]!);
      this.okAt[i] = 0;
    }
  }

  private rescale(): void {
    for (let i = 0; i <= MAX_TRACKED; i++) this.okAt[i]! /= this.weight;
    this.okTotal /= this.weight;
    this.weight = 1;
  }
}
