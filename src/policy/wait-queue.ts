import { abortReason } from "../core/abort.js";

/**
 * The one FIFO of callers waiting for capacity: a bulkhead's slots, a limiter's permits.
 * Each waiter asks for a `cost` (mixed costs queue behind each other: only the head is
 * served, so a large request is not starved by a stream of small ones), may carry a
 * deadline (`maxWaitMs`) and an `AbortSignal`. An aborted waiter leaves at once, wherever
 * it stands, and rejects with the signal's reason. Whoever serves the queue sleeps with
 * {@link WaitQueue.nap} and is woken by {@link WaitQueue.wake} when capacity may have
 * appeared (the head left, a reset, a close) instead of waiting out its sleep.
 *
 * Removal is O(1) amortised: a removed waiter is marked done and skipped when it reaches
 * the head, and the array is compacted once most of it is such waiters.
 */

/** One queued caller. Settle it through its queue ({@link WaitQueue.admit}, {@link WaitQueue.fail}). */
export interface Waiter {
  /** Units it asks for. */
  readonly cost: number;
  /** The clock reading past which it would rather be refused (enqueue time + maxWaitMs; Infinity for none). */
  readonly deadline: number;
  /** How long it may wait (ms; Infinity for no limit), as given: exact, where `deadline - enqueuedAt` may round. */
  readonly maxWaitMs: number;
  /** The clock reading when it was queued. */
  readonly enqueuedAt: number;
  /**
   * Since when its place in line dates: `enqueuedAt`, or for a waiter queued at the front,
   * that of the head it went ahead of (it takes that place in line, not a new one).
   */
  readonly since: number;
  /** True once admitted, failed, aborted or drained. */
  readonly done: boolean;
}

/**
 * Which abort wakes whoever serves the queue: `"head"`, the head's (its sleep was for the
 * head's cost); `"last"`, only the one that empties the queue (its sleep was for a pace every
 * waiter shares, so the next head's turn comes no sooner: it only needs to learn it may stop).
 */
export type WakeOnAbort = "head" | "last";

/** Options of a {@link WaitQueue}. */
export interface WaitQueueOptions {
  /** Which abort wakes the server. Default `"head"`. */
  readonly wakeOnAbort?: WakeOnAbort;
}

/** What {@link WaitQueue.enqueue} needs to know of a caller. */
export interface EnqueueOptions {
  /** Units it asks for. Default 1. */
  readonly cost?: number;
  /** The clock reading now: when it was queued. Default 0 (enough when nothing reads deadlines or waits). */
  readonly now?: number;
  /** How long it may wait (ms), counted from `now`. Default Infinity. */
  readonly maxWaitMs?: number;
  /** Aborts the wait: the waiter leaves the queue and the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** Queue ahead of every waiter not served yet (a retried request that already waited its turn). Default false. */
  readonly front?: boolean;
}

/**
 * A queued caller with its settlement. An object literal, not a class instance: a literal's
 * hidden class lives as long as the code that makes it, where a class instance's (its fields
 * added one by one) dies in a full GC that finds the queue empty, and with it the optimized
 * code of every caller that inlined it (measured: acquire through the queue 2-3x slower).
 */
interface Entry<T> extends Waiter {
  done: boolean;
  detach: () => void;
  readonly resolve: (value: T) => void;
  readonly reject: (reason: unknown) => void;
}

/** A FIFO of {@link Waiter}s, with their count, their total cost and the wake-up of whoever serves them. */
export class WaitQueue<T> {
  private items: Entry<T>[] = [];
  private head = 0;
  private live = 0;
  private cost = 0;
  private finiteDeadlines = 0;
  private sleeper: AbortController | undefined;
  /** A wake-up that came while nobody napped (the server was asking its store): the next nap returns at once. */
  private woken = false;
  private readonly wakeOnLast: boolean;

  constructor(options: WaitQueueOptions = {}) {
    this.wakeOnLast = options.wakeOnAbort === "last";
  }

  /** Waiters queued now. */
  get size(): number {
    return this.live;
  }

  /** The sum of the queued waiters' costs. */
  get queuedCost(): number {
    return this.cost;
  }

  /**
   * Queues a caller at the back (or, with `front`, ahead of every waiter not yet served);
   * the promise settles when the server {@link admit}s or {@link fail}s it, or rejects
   * with the signal's reason when `signal` aborts first (an abort of the head, or with
   * `wakeOnAbort: "last"` the one that empties the queue, wakes the server).
   */
  enqueue(options: EnqueueOptions = {}): Promise<T> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const now = options.now ?? 0;
    const since = options.front === true ? Math.min(now, this.first()?.since ?? now) : now;
    return new Promise<T>((resolve, reject) => {
      const maxWaitMs = options.maxWaitMs ?? Infinity;
      const waiter: Entry<T> = {
        cost: options.cost ?? 1,
        deadline: now + maxWaitMs,
        maxWaitMs,
        enqueuedAt: now,
        since,
        done: false,
        detach: noop,
        resolve,
        reject,
      };
      if (options.front === true && this.head > 0) this.items[--this.head] = waiter;
      else if (options.front === true) this.items.unshift(waiter);
      else this.items.push(waiter);
      this.live++;
      this.cost += waiter.cost;
      if (waiter.deadline !== Infinity) this.finiteDeadlines++;
      if (signal !== undefined) {
        const onAbort = (): void => {
          const wasHead = !this.wakeOnLast && this.first() === waiter;
          if (!this.remove(waiter)) return;
          reject(abortReason(signal));
          if (wasHead || (this.wakeOnLast && this.live === 0)) this.wake();
        };
        signal.addEventListener("abort", onAbort, { once: true });
        waiter.detach = () => signal.removeEventListener("abort", onAbort);
      }
    });
  }

  /** The oldest waiter still queued, or undefined when none is. */
  first(): Waiter | undefined {
    const items = this.items;
    while (this.head < items.length && (items[this.head] as Entry<T>).done) this.head++;
    if (this.head === items.length) {
      if (items.length !== 0) {
        this.items = [];
        this.head = 0;
      }
      return undefined;
    }
    if (this.head > 64 && this.head * 2 > items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
    return this.items[this.head];
  }

  /** Takes `waiter` out and resolves it with `value`. False (and nothing done) when it had already left. */
  admit(waiter: Waiter, value: T): boolean {
    if (!this.remove(waiter as Entry<T>)) return false;
    (waiter as Entry<T>).resolve(value);
    return true;
  }

  /** Takes `waiter` out and rejects it with `reason`. False (and nothing done) when it had already left. */
  fail(waiter: Waiter, reason: unknown): boolean {
    if (!this.remove(waiter as Entry<T>)) return false;
    (waiter as Entry<T>).reject(reason);
    return true;
  }

  /**
   * Rejects, each with `reason(waiter)`, the waiters whose deadline falls before `wakeAt`
   * (when the head can be served next): in FIFO order none of them can be served before
   * the head is, so none can be served in time. Returns how many it rejected.
   */
  expire(wakeAt: number, reason: (waiter: Waiter) => unknown): number {
    if (this.finiteDeadlines === 0) return 0;
    const late: Entry<T>[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const waiter = this.items[i] as Entry<T>;
      if (waiter.deadline < wakeAt && !waiter.done) late.push(waiter);
    }
    for (const waiter of late) this.fail(waiter, reason(waiter));
    return late.length;
  }

  /** Rejects every queued waiter with `reason` and wakes the server. */
  drain(reason: unknown): void {
    const live: Entry<T>[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const waiter = this.items[i] as Entry<T>;
      if (!waiter.done) live.push(waiter);
    }
    for (const waiter of live) if (this.remove(waiter)) waiter.reject(reason);
    this.items = [];
    this.head = 0;
    this.wake();
  }

  /**
   * Sleeps `ms` with `sleep` (the server's clock), or less when {@link wake} is called
   * meanwhile. Never rejects: an early wake-up resolves too.
   */
  async nap(ms: number, sleep: (ms: number, signal: AbortSignal) => Promise<void>): Promise<void> {
    if (this.woken) {
      // Capacity may have appeared while the server waited for an answer read before it.
      this.woken = false;
      return;
    }
    const sleeper = new AbortController();
    this.sleeper = sleeper;
    try {
      await sleep(ms, sleeper.signal);
    } catch {
      // Woken early: the head left, capacity appeared, or the owner closed.
    } finally {
      if (this.sleeper === sleeper) this.sleeper = undefined;
    }
  }

  /** Ends the current {@link nap} now, or the next one at once: capacity may have appeared, or the head left. */
  wake(): void {
    if (this.sleeper === undefined) this.woken = true;
    else this.sleeper.abort();
  }

  private remove(waiter: Entry<T>): boolean {
    if (waiter.done) return false;
    waiter.done = true;
    waiter.detach();
    this.live--;
    this.cost -= waiter.cost;
    if (waiter.deadline !== Infinity) this.finiteDeadlines--;
    // Waiters that left from the middle (aborts, expiry) are skipped lazily; once they are
    // most of the array, drop them, so that a stuck head cannot make it grow without bound.
    const held = this.items.length - this.head;
    if (held > 64 && this.live * 2 < held) {
      this.items = this.items.slice(this.head).filter((w) => !w.done);
      this.head = 0;
    }
    return true;
  }
}

function noop(): void {}
