/**
 * The per-key FIFO queue of `acquire` calls that could not be admitted at once. Only the
 * head is ever tried; the others wait behind it, so a large request is not starved by a
 * stream of small ones. Removal (abort, expiry) is O(1): the waiter is marked done and
 * skipped when it reaches the head.
 */

/** One queued `acquire` call. */
export class Waiter<T> {
  /** True once resolved, rejected or removed. */
  done = false;
  /** Detaches the abort listener; set by whoever attached it. */
  detach: () => void = noop;

  constructor(
    /** Units it asks for. */
    readonly cost: number,
    /** The clock reading past which it would rather be rejected (enqueue time + maxWaitMs). */
    readonly deadline: number,
    /** The clock reading when it was queued. */
    readonly enqueuedAt: number,
    readonly resolve: (value: T) => void,
    readonly reject: (reason: unknown) => void,
  ) {}
}

/** The waiters of one key, oldest first, and the wake-up handle of the head's sleep. */
export class WaitQueue<T> {
  /** Live (not done) waiters. */
  size = 0;
  /** The sum of the live waiters' costs. */
  queuedCost = 0;
  /** Aborts the head's current sleep so that the queue is looked at again at once. */
  wake: AbortController | undefined;
  private items: Waiter<T>[] = [];
  private head = 0;
  private finiteDeadlines = 0;

  constructor(
    /** The caller's key (not the store key). */
    readonly key: string,
  ) {}

  /** Queues `waiter` at the back. */
  push(waiter: Waiter<T>): void {
    this.items.push(waiter);
    this.size++;
    this.queuedCost += waiter.cost;
    if (waiter.deadline !== Infinity) this.finiteDeadlines++;
  }

  /** The oldest live waiter, or undefined when none is left. */
  first(): Waiter<T> | undefined {
    const items = this.items;
    while (this.head < items.length && (items[this.head] as Waiter<T>).done) this.head++;
    if (this.head === items.length) {
      this.items = [];
      this.head = 0;
      return undefined;
    }
    if (this.head > 64 && this.head * 2 > items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
    return this.items[this.head];
  }

  /** Marks `waiter` done and takes it out of the counts. False when it already was done. */
  remove(waiter: Waiter<T>): boolean {
    if (waiter.done) return false;
    waiter.done = true;
    waiter.detach();
    this.size--;
    this.queuedCost -= waiter.cost;
    if (waiter.deadline !== Infinity) this.finiteDeadlines--;
    return true;
  }

  /**
   * Removes and returns the waiters whose deadline falls before `wakeAt`: in FIFO order
   * none of them can be admitted before the head is, so none can be admitted in time.
   */
  expire(wakeAt: number): readonly Waiter<T>[] {
    if (this.finiteDeadlines === 0) return NONE;
    const late: Waiter<T>[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const waiter = this.items[i] as Waiter<T>;
      if (waiter.deadline < wakeAt && this.remove(waiter)) late.push(waiter);
    }
    return late;
  }

  /** Removes and returns every live waiter. */
  drain(): Waiter<T>[] {
    const live: Waiter<T>[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const waiter = this.items[i] as Waiter<T>;
      if (this.remove(waiter)) live.push(waiter);
    }
    return live;
  }
}

const NONE: readonly never[] = [];

function noop(): void {}
