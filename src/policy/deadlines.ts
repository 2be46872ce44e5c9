import { background, type Clock, monotonicNow, systemClock } from "../core/clock.js";

/** What a {@link Deadlines} list needs of an entry: its deadline and its place in the list. */
export interface Deadline<T> {
  /** When its limit passes, on the list's time line (set by {@link Deadlines.add}). */
  deadline: number;
  /** Its neighbours in the list (start order). */
  prevDue: T | undefined;
  nextDue: T | undefined;
  /** In the list: added, and neither removed nor expired yet. */
  due: boolean;
}

/**
 * The calls under one limit that have not settled yet, expired by one alarm instead of a
 * timer each (a Node timer set and cleared per call cost about two thirds of a timed call).
 * Every entry gets the same limit, so start order is deadline order: entries join at the
 * tail and expire from the head, each step O(1).
 *
 * The alarm aims at the head's deadline and is not moved when a call ends: it fires, finds
 * nothing due, and aims at the new head; so calls arriving one after another arm one timer
 * per limit's length, not one each. With the system clock an idle alarm (no call in the
 * list) is unref'd, not cleared, and ref'd again by the next call: a caller waiting on a
 * call keeps the process alive, an idle policy does not. On an injected clock the idle
 * alarm is cancelled, so a test clock holds no sleep once every call has settled.
 *
 * With the system clock, deadlines are on the monotonic time line Node's timers run on,
 * not `Date.now()`: a wall-clock step neither expires a call early nor holds it late, and
 * an alarm that fires late (a blocked event loop) expires every call then overdue at once,
 * as a timer per call would.
 */
export class Deadlines<T extends Deadline<T>> {
  private head: T | undefined = undefined;
  private tail: T | undefined = undefined;
  /** The system clock's alarm, and the `clearTimeout` of the `setTimeout` that set it. */
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private armedWith: typeof setTimeout | undefined = undefined;
  private clearWith: typeof clearTimeout = clearTimeout;
  /** Whether {@link timer} holds the process (ref'd). */
  private held = false;
  /** An injected clock's alarm: the aborter of its sleep. */
  private sleep: AbortController | undefined = undefined;
  /** In {@link fire}: an entry added by an expired call's listeners waits for the alarm {@link fire} sets. */
  private firing = false;

  /**
   * @param ms the limit every entry gets.
   * @param onExpire called with each entry whose limit passed, after it left the list.
   * @param onIdle called when the list is empty and its alarm is gone (a registry of lists
   *   may drop it then).
   */
  constructor(
    private readonly ms: number,
    private readonly clock: Clock,
    private readonly onExpire: (entry: T) => void,
    private readonly onIdle: (deadlines: Deadlines<T>) => void = ignore,
  ) {}

  /** Starts `entry`'s limit now. */
  add(entry: T): void {
    entry.deadline = this.now() + this.ms;
    entry.due = true;
    entry.prevDue = this.tail;
    entry.nextDue = undefined;
    if (this.tail === undefined) this.head = entry;
    else this.tail.nextDue = entry;
    this.tail = entry;
    if (this.timer !== undefined) {
      // Timers swapped since the alarm was set (a test's fake timers, turned on or off):
      // set it again with the current ones, which are the ones a test will advance.
      if (globalThis.setTimeout !== this.armedWith) this.rearm();
      else if (!this.held) this.hold();
    } else if (this.sleep === undefined && !this.firing) {
      this.arm(this.ms);
    }
  }

  /** Takes `entry` out of the list (its call settled); nothing if it is not in it. */
  remove(entry: T): void {
    if (!entry.due) return;
    this.unlink(entry);
    if (this.head !== undefined) return;
    if (this.timer !== undefined) {
      if (this.held) {
        background(this.timer);
        this.held = false;
      }
    } else if (this.sleep !== undefined) {
      this.sleep.abort();
      this.sleep = undefined;
      this.onIdle(this);
    }
  }

  /** The alarm went off: expires every entry due by then and aims at the next one. */
  fire(): void {
    this.timer = undefined;
    this.sleep = undefined;
    this.held = false;
    // An expired call's listeners may start or end calls of this list (a `timeout` listener
    // retrying at once): an entry they add is not due yet, and the one alarm is set below.
    this.firing = true;
    const now = this.now();
    try {
      while (this.head !== undefined && this.head.deadline <= now) {
        const entry = this.head;
        this.unlink(entry);
        this.onExpire(entry);
      }
    } finally {
      this.firing = false;
      // Every entry left is due within one limit. (A Node timer may fire up to a
      // millisecond before the monotonic reading says it is due: then it is set again.)
      if (this.head !== undefined) this.arm(Math.min(this.ms, Math.max(0, this.head.deadline - now)));
      else this.onIdle(this);
    }
  }

  /** The time line deadlines are on: monotonic with the system clock, else the clock's own. */
  private now(): number {
    return this.clock === systemClock ? monotonicNow() : this.clock.now();
  }

  private unlink(entry: T): void {
    const { prevDue, nextDue } = entry;
    if (prevDue === undefined) this.head = nextDue;
    else prevDue.nextDue = nextDue;
    if (nextDue === undefined) this.tail = prevDue;
    else nextDue.prevDue = prevDue;
    entry.prevDue = entry.nextDue = undefined;
    entry.due = false;
  }

  /**
   * Sets the alarm `ms` from now. With the system clock a real timer calling a shared
   * function (ref'd: a call is waiting); else a sleep on the clock.
   */
  private arm(ms: number): void {
    if (this.clock === systemClock) {
      this.armedWith = globalThis.setTimeout;
      this.clearWith = globalThis.clearTimeout;
      this.timer = setTimeout(fireDeadlines, Math.ceil(ms), this);
      this.held = true;
      return;
    }
    const sleep = new AbortController();
    this.sleep = sleep;
    this.clock.sleep(ms, sleep.signal).then(() => {
      if (this.sleep === sleep) this.fire();
    }, ignore);
  }

  private rearm(): void {
    this.clearWith(this.timer);
    this.timer = undefined;
    const head = this.head;
    if (head !== undefined) this.arm(Math.min(this.ms, Math.max(0, head.deadline - this.now())));
  }

  private hold(): void {
    this.timer?.ref?.();
    this.held = true;
  }
}

function fireDeadlines(deadlines: { fire(): void }): void {
  deadlines.fire();
}

function ignore(): void {}
