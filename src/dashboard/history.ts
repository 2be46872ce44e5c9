/**
 * The recent past of an adaptive limiter, for the dashboard's small chart: a ring of
 * samples (time, rate, cooldown left) of fixed size, so its memory never grows.
 */

/** A limiter's samples, oldest first, as the snapshot carries them (three parallel arrays survive JSON compactly). */
export interface RateHistoryView {
  /** The time between samples (ms). */
  readonly intervalMs: number;
  /** The span the history holds when full (ms): `intervalMs` times the number of samples kept. */
  readonly spanMs: number;
  /** When each sample was taken (the dashboard's clock, ms). */
  readonly at: readonly number[];
  /** The limiter's pace at each sample (requests per second). */
  readonly ratePerSec: readonly number[];
  /** Milliseconds of cooldown left at each sample (0 when none). */
  readonly cooldownMs: readonly number[];
}

/** A fixed-size ring of samples, at most one per `intervalMs`. */
export class RateHistory {
  private readonly at: Float64Array;
  private readonly rate: Float64Array;
  private readonly cooldown: Float64Array;
  /** Index of the next write. */
  private next = 0;
  private count = 0;

  /**
   * @param capacity samples kept (the oldest is dropped for a new one); at least 1.
   * @param intervalMs the least time between two samples.
   */
  constructor(
    readonly capacity: number,
    readonly intervalMs: number,
  ) {
    this.at = new Float64Array(capacity);
    this.rate = new Float64Array(capacity);
    this.cooldown = new Float64Array(capacity);
  }

  /** Samples held. */
  get size(): number {
    return this.count;
  }

  /** True when a sample at `now` would be kept: none yet, or the last is `intervalMs` old (a clock set back counts too). */
  due(now: number): boolean {
    if (this.count === 0) return true;
    const last = this.at[(this.next + this.capacity - 1) % this.capacity]!;
    return now - last >= this.intervalMs || now < last;
  }

  /** Keeps a sample when one is {@link due}; returns whether it did. Non-finite values are kept as 0. */
  record(now: number, ratePerSec: number, cooldownMs: number): boolean {
    if (!this.due(now)) return false;
    this.at[this.next] = now;
    this.rate[this.next] = Number.isFinite(ratePerSec) ? ratePerSec : 0;
    this.cooldown[this.next] = Number.isFinite(cooldownMs) ? Math.max(0, cooldownMs) : 0;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.capacity, this.count + 1);
    return true;
  }

  /** The samples, oldest first (rates to 0.001/s, cooldowns to the ms). */
  view(): RateHistoryView {
    const at: number[] = [];
    const ratePerSec: number[] = [];
    const cooldownMs: number[] = [];
    const start = (this.next + this.capacity - this.count) % this.capacity;
    for (let k = 0; k < this.count; k++) {
      const i = (start + k) % this.capacity;
      at.push(this.at[i]!);
      ratePerSec.push(Math.round(this.rate[i]! * 1000) / 1000);
      cooldownMs.push(Math.round(this.cooldown[i]!));
    }
    return { intervalMs: this.intervalMs, spanMs: this.intervalMs * this.capacity, at, ratePerSec, cooldownMs };
  }
}
