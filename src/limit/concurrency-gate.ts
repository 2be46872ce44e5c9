/**
 * A cap on requests in flight, learned from where refusals fall: the adaptive limiter's
 * answer to an upstream that refuses by concurrency (429 when more than N requests are in
 * flight) rather than by rate. Pacing cannot keep the count in flight at such a cap (it
 * settles 10–20% under it); a gate that starts a request when another is answered can.
 *
 * Every answer comes with the number of other requests in flight when its permit was
 * granted (`others`: of every limiter sharing the record, refused ones left out; see
 * in-flight.ts). Behind a rate limit, successes happen at the
 * counts in flight that refusals happen at. Behind a concurrency cap, refusals happen only
 * at the top: refusals at `others >= k`, and (almost) no success there. When the last
 * 2 refusals (the first refusal alone, if at {@link LONE_MIN} or more) all fell
 * at `k` or above and at most a tenth of recent successes (or a single one) did, the gate closes at `k` in
 * flight; the refusal that closes it is the cap's, not the rate's (the rate law neither cuts
 * nor pauses on it, so the gate, not a cut pace, sets the rate from there). It then probes
 * like a congestion window: after `GATE_HOLD_MS` without a refusal, each success sent with
 * the window full widens it by one, until a refusal at the new width narrows it again. Two
 * refusals below the gate's width mean the upstream is not (only) a concurrency cap, or the
 * cap fell: the gate opens, the second is the rate law's, and the gate closes again only on
 * new evidence (the successes at that count or above came under the old width: it forgets
 * them).
 *
 * The gate lives in the limiter's record (the decision applies {@link widen} and
 * {@link refuse} to it), so that every process sharing the record through a store shares one
 * gate: one window, held to the count in flight of all of them, closed by the refusals any of
 * them sees. Only the successes by count in flight stay in each process
 * ({@link SuccessCounts}, too many numbers for the record): a refusal carries the count
 * from which they allow a cap ({@link SuccessCounts.closeFrom}). Pure: the caller passes
 * the time.
 */

/**
 * A lone refusal closes the gate only at this many others in flight or more: with fast
 * answers, one other in flight is common timing noise behind a plain rate limit.
 */
export const LONE_MIN = 2;
/** Refusals older than this are no evidence (ms). */
export const EVIDENCE_MS = 10_000;
/** A refusal below the window's width opens it only when another came within this long before it (ms). */
export const BELOW_CONFIRM_MS = 1_000;
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
export const GATE_HOLD_MS = 1_500;
/** Counts in flight tracked one by one; larger ones share the last slot. */
const MAX_TRACKED = 256;
/** The weights grow instead of decaying (one multiplication per success); rescaled above this. */
const RESCALE_AT = 1e12;
/** Fleet successes between two of this process's beyond this decay no further (all is forgotten by then). */
const MAX_SEEN = 500;

/**
 * What the gate makes of one refusal: `rate`, the gate was open and stays open (the refusal
 * is the rate law's); `window`, it came at the gate's width or above (a probe of the window,
 * not a rate limit); `closed`, the gate just closed (the refusal was the cap's: the rate law
 * neither cuts nor pauses on it); `opened`, it came below the width: the cap fell, or never
 * was one, and the refusal is the rate law's.
 */
export type GateVerdict = "rate" | "window" | "closed" | "opened";

/** Verdicts by the number the record's decision returns (a Lua twin returns them too). */
export const GATE_VERDICTS: readonly GateVerdict[] = ["rate", "window", "closed", "opened"];

/** The gate, as the record keeps it (-1: none). */
export interface GateRecord {
  /** Requests allowed in flight at once; -1 while open. */
  gateLimit: number;
  /** While closed, the width at the last refusal: refusals at it or above are the window's own probes; -1 while open. */
  gateLevel: number;
  /** When the last refusal at the window came (ms). */
  gateAt: number;
  /** While closed, when a refusal below the width at the last refusal came, not yet confirmed by another (ms; -1 none). */
  gateBelowAt: number;
  /**
   * How many times the gate opened, and the count in flight the last opening came at (-1
   * none): every process forgets its successes at that count or above, which came under
   * the old width.
   */
  gateOpens: number;
  gateOpenedAt: number;
  /** The last two refusals while open, newest first: others in flight, and when (ms; -1 none). */
  evidence0: number;
  evidenceAt0: number;
  evidence1: number;
  evidenceAt1: number;
}

/** A success of a request sent with `others` in flight: after the hold, one sent with the window full widens it. */
export function widen(g: GateRecord, others: number, now: number): void {
  if (g.gateLimit >= 0 && now - g.gateAt >= GATE_HOLD_MS && others >= g.gateLimit - 1) g.gateLimit += 1;
}

/**
 * A refusal of a request sent with `others` in flight. `closeFrom` is the least count at
 * which the sender's successes allow a cap (-1: too few successes to tell). Returns the
 * verdict's number in {@link GATE_VERDICTS}.
 *
 * The evidence is the last two refusals (after an opening, the opening refusal and the
 * next). The first refusal since the gate was made or reset is evidence alone: read as a
 * rate limit it would end slow start with a cut to what the last second accepted, on a ramp
 * about 60% of a cap, and a second refusal would come only once the probe had climbed back
 * (the cold start behind a cap of 5 took 3 s). A wrong close costs about two round trips:
 * the next two refusals below the width open the gate again, and the rate law cuts on the
 * second.
 *
 * A refusal below the width opens the gate only when another came within
 * {@link BELOW_CONFIRM_MS} before it: one alone may be a request that reached the upstream
 * behind others granted after it (another process's, or on another connection), so that
 * the upstream counted more in flight than its permit did. It is then the window's (no cut).
 */
export function refuse(g: GateRecord, others: number, closeFrom: number, now: number): number {
  if (g.gateLimit >= 0) {
    g.gateAt = now;
    if (others >= g.gateLevel) {
      g.gateLimit = Math.max(1, Math.min(g.gateLimit, others));
      g.gateLevel = g.gateLimit;
      g.gateBelowAt = -1;
      return 1;
    }
    if (g.gateBelowAt < 0 || now - g.gateBelowAt > BELOW_CONFIRM_MS) {
      g.gateBelowAt = now;
      return 1;
    }
    // The cap fell (or never was one): the evidence starts again from this refusal.
    g.gateBelowAt = -1;
    g.gateLimit = -1;
    g.gateLevel = -1;
    g.gateOpens++;
    g.gateOpenedAt = others;
    g.evidence0 = others;
    g.evidenceAt0 = now;
    g.evidence1 = -1;
    g.evidenceAt1 = -1;
    return 3;
  }
  g.evidence1 = g.evidence0;
  g.evidenceAt1 = g.evidenceAt0;
  g.evidence0 = others;
  g.evidenceAt0 = now;
  const lone = g.evidence1 < 0;
  if (!lone && now - g.evidenceAt1 > EVIDENCE_MS) return 0;
  const k = lone ? others : Math.min(others, g.evidence1);
  if (closeFrom < 0 || k < closeFrom || k < (lone ? LONE_MIN : 1)) return 0;
  g.gateLimit = k;
  g.gateLevel = k;
  g.gateAt = now;
  return 2;
}

/**
 * Successes by the count in flight they were sent with, each weighted by how recent it is
 * (a decaying histogram): behind a cap (almost) none come at the refusals' count. A process
 * of a fleet sees its own successes, a sample of the fleet's: they decay with every success
 * of the fleet, so that the memory spans as many of them as in a process alone, and the
 * recent share of them it sees scales the number needed.
 */
export class SuccessCounts {
  private readonly okAt = new Float64Array(MAX_TRACKED + 1);
  /** The histogram's total (less what was forgotten), and this process's and the fleet's successes, decayed alike. */
  private okTotal = 0;
  private ownTotal = 0;
  private fleetTotal = 0;
  private weight = 1;

  /** A success of a request sent with `others` in flight, the last of `seen` of the fleet's since the one before. */
  add(others: number, seen = 1): void {
    const before = this.weight;
    this.weight = before / (seen === 1 ? DECAY : DECAY ** Math.min(seen, MAX_SEEN));
    // The weights of the fleet's successes since the last: before / DECAY ... before / DECAY^seen, summed.
    this.fleetTotal += seen === 1 ? this.weight : (this.weight - before) / (1 - DECAY);
    this.okAt[Math.min(others, MAX_TRACKED)]! += this.weight;
    this.okTotal += this.weight;
    this.ownTotal += this.weight;
    if (this.weight > RESCALE_AT) this.rescale();
  }

  /**
   * The least count in flight at or above which at most {@link SUCCESS_ABOVE_SHARE} of the
   * recent successes came, or a single one: a cap there is not contradicted by them. -1
   * while they are too few to tell.
   *
   * One is always allowed: a success at the cap's count comes now and then (the count still
   * holds a request whose answer is on its way), and a process of a fleet sees few of the
   * fleet's successes, so one of them can be a fifth of its share.
   */
  closeFrom(): number {
    // MIN_SUCCESSES of the fleet's, of which this process sees its share.
    if (this.ownTotal === 0 || this.okTotal * this.fleetTotal < MIN_SUCCESSES * this.weight * this.ownTotal) return -1;
    let above = 0;
    // The latest success weighs `weight`: one at most, or a tenth of them.
    const allowed = Math.max(SUCCESS_ABOVE_SHARE * this.okTotal, this.weight);
    for (let i = MAX_TRACKED; i >= 0; i--) {
      above += this.okAt[i]!;
      if (above > allowed) return i + 1;
    }
    return 0;
  }

  /** Forgets the successes at `others` in flight or more (they came under a width that is gone). */
  forgetFrom(others: number): void {
    for (let i = Math.min(Math.max(0, others), MAX_TRACKED); i <= MAX_TRACKED; i++) {
      this.okTotal = Math.max(0, this.okTotal - this.okAt[i]!);
      this.okAt[i] = 0;
    }
  }

  /** Forgets everything. */
  reset(): void {
    this.okAt.fill(0);
    this.okTotal = 0;
    this.ownTotal = 0;
    this.fleetTotal = 0;
    this.weight = 1;
  }

  private rescale(): void {
    for (let i = 0; i <= MAX_TRACKED; i++) this.okAt[i]! /= this.weight;
    this.okTotal /= this.weight;
    this.ownTotal /= this.weight;
    this.fleetTotal /= this.weight;
    this.weight = 1;
  }
}
