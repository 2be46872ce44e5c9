/** What happened to one call, as kept in a breaker's history. */
export type Outcome = "success" | "failure" | "ignored" | "rejected";

/** One entry of a breaker's execution history. */
export interface HistoryEntry {
  /** When it settled (ms, breaker clock). */
  readonly at: number;
  readonly outcome: Outcome;
  /** For failures and rejections: why. */
  readonly reason: string | undefined;
}

/**
 * A fixed-size ring of the most recent outcomes, kept in parallel arrays so that
 * recording one allocates nothing.
 */
export class History {
  private readonly at: Float64Array;
  private readonly outcome: Outcome[];
  private readonly reason: (string | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly size: number) {
    this.at = new Float64Array(size);
    this.outcome = new Array<Outcome>(size).fill("success");
    this.reason = new Array<string | undefined>(size).fill(undefined);
  }

  /** Adds an entry, dropping the oldest when full. */
  push(at: number, outcome: Outcome, reason?: string): void {
    if (this.size === 0) return;
    this.at[this.next] = at;
    this.outcome[this.next] = outcome;
    this.reason[this.next] = reason;
    this.next = (this.next + 1) % this.size;
    if (this.count < this.size) this.count++;
  }

  /** The entries, oldest first. */
  entries(): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    const start = (this.next - this.count + this.size) % (this.size || 1);
    for (let i = 0; i < this.count; i++) {
      const j = (start + i) % this.size;
      out.push({ at: this.at[j] as number, outcome: this.outcome[j] as Outcome, reason: this.reason[j] });
    }
    return out;
  }
}
