/**
 * Which of a request's others in flight were refused. A refused request holds no place
 * under an upstream's cap on requests in flight, yet it counts among the others in flight of
 * every request granted while it is out: behind a cap that has just fallen, successes then
 * seem to come at the cap, and the concurrency gate, which closes only when (almost) no
 * success comes at the refusals' count, waits seconds for its evidence. Counting those
 * refusals out gives the gate the counts the upstream saw.
 */

/** Refusals remembered (a power of two); more refused during one request's flight are not all counted out. */
const SIZE = 64;

/** Numbers grants and remembers the latest refusals (see the module comment). */
export class RefusedInFlight {
  private granted = 0;
  private recorded = 0;
  private readonly seqs = new Float64Array(SIZE);
  /**
   * Grants made when each refusal was answered: the requests numbered below that, and above
   * the refused one, had it among their others.
   */
  private readonly grantsAt = new Float64Array(SIZE);

  /** Numbers the next grant. */
  next(): number {
    return this.granted++;
  }

  /** The request numbered `seq` was refused (its answer came now). */
  refused(seq: number): void {
    const i = this.recorded++ & (SIZE - 1);
    this.seqs[i] = seq;
    this.grantsAt[i] = this.granted;
  }

  /** How many requests in flight when `seq` was granted (granted before it) have been refused since. */
  before(seq: number): number {
    let n = 0;
    for (let j = this.recorded - 1; j >= 0 && j >= this.recorded - SIZE; j--) {
      const i = j & (SIZE - 1);
      // Answered before `seq` was granted: out of its count already, as is every older one.
      if (this.grantsAt[i]! <= seq) break;
      if (this.seqs[i]! < seq) n++;
    }
    return n;
  }
}
