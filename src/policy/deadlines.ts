import { background, type Clock, monotonicNow, onRealTimers } from "../core/clock.js";
import { type Linked, LinkedList } from "../core/linked-list.js";

/** What a {@link Deadlines} list needs of an entry: its deadline and its place in the list (start order; linked until removed or expired). */
export interface Deadline<T> extends Linked<T> {
  /** When its limit passes, on the list's time line (set by {@link Deadlines.add}). */
  deadline: number;
}

/**
 * The calls under one limit that have not settled yet, expired by one alarm instead of a
 * timer each (a Node timer set and cleared per call cost about two thirds of a timed call).
 * Every entry gets the same limit, so start order is deadline order: entries join at the
 * tail and expire from the head, each step O(1).
 *
 * The alarm aims at the head's deadline and is not moved when a call ends: it fires, finds
 * nothing due, and aims at the new head; so calls arriving one after another arm one timer
 * per limit's length, not one each. On a real clock (one that sleeps on Node's timers:
 * `systemClock`, `preciseClock`) an idle alarm (no call in the list) is unref'd, not
 * cleared, and ref'd again by the next call: a caller waiting on a
 * call keeps the process alive, an idle policy does not. On an injected clock the idle
 * alarm is cancelled, so a test clock holds no sleep once every call has settled.
 *
 * On a real clock, deadlines are on the monotonic time line Node's timers run on,
 * not `Date.now()`: a wall-clock step neither expires a call early nor holds it late, and
 * an alarm that fires late (a blocked event loop) expires every call then overdue at once,
 * as a timer per call would.
 */
export class Deadlines<T extends Deadline<T>> {
  private readonly calls = new LinkedList<T>();
  /** A real clock's alarm, and the `clearTimeout` of the `setTimeout` that set it. */
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private armedWith: typeof setTimeout | undefined = undefined;
  private clearWith: typeof clearTimeout = clearTimeout;
  /** Whether {@link timer} holds the process (ref'd). */
  private held = false;
  /** An injected clock's alarm: the aborter of its sleep. */
  private sleep: AbortController | undefined = undefined;
  /** In {@link fire}: an entry added by an expired call's listeners waits for the alarm {@link fire} sets. */
  private firing = false;
  /** Held by a {@link DeadlineLists} among its idle lists (see there). */
  parked = false;
  /** The clock sleeps on Node's timers (asked once: {@link now} runs on every call). */
  private readonly real: boolean;

  /**
   * @param ms the limit every entry gets.
   * @param onExpire called with each entry whose limit passed, after it left the list.
   * @param onIdle called when the list becomes empty, and again when its alarm is gone.
   */
  constructor(
    private readonly ms: number,
    private readonly clock: Clock,
    private readonly onExpire: (entry: T) => void,
    private readonly onIdle: (deadlines: Deadlines<T>) => void = ignore,
  ) {
    this.real = onRealTimers(clock);
  }

  /** Starts `entry`'s limit now. */
  add(entry: T): void {
    entry.deadline = this.now() + this.ms;
    this.calls.push(entry);
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
    if (!this.calls.remove(entry) || this.calls.head !== undefined) return;
    if (this.timer !== undefined) {
      if (this.held) {
        background(this.timer);
        this.held = false;
      }
    } else if (this.sleep !== undefined) {
      this.sleep.abort();
      this.sleep = undefined;
    } else return;
    this.onIdle(this);
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
      for (let entry = this.calls.head; entry !== undefined && entry.deadline <= now; entry = this.calls.head) {
        this.calls.remove(entry);
        this.onExpire(entry);
      }
    } finally {
      this.firing = false;
      // (A Node timer may fire up to a millisecond before the monotonic reading says it is
      // due: then the head is still there and the alarm is set again.)
      if (this.calls.head !== undefined) this.armForHead(now);
      else this.onIdle(this);
    }
  }

  /** No entry in the list. */
  get empty(): boolean {
    return this.calls.head === undefined;
  }

  /** An alarm is set (it may be unref'd: set for an entry that has since ended). */
  get armed(): boolean {
    return this.timer !== undefined || this.sleep !== undefined;
  }

  /** Clears the alarm of an empty list at once (instead of letting it fire unref'd). */
  disarm(): void {
    if (this.calls.head !== undefined) return;
    if (this.timer !== undefined) this.clearWith(this.timer);
    this.sleep?.abort();
    this.timer = undefined;
    this.sleep = undefined;
    this.held = false;
    this.onIdle(this);
  }

  /** The time line deadlines are on: monotonic on a real clock, else the clock's own. */
  private now(): number {
    return this.real ? monotonicNow() : this.clock.now();
  }

  /**
   * Sets the alarm `ms` from now. On a real clock a Node timer calling a shared function
   * (ref'd: a call is waiting); else a sleep on the clock.
   */
  private arm(ms: number): void {
    if (this.real) {
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
    this.armForHead(this.now());
  }

  /** Aims the alarm at the head's deadline; every entry is due within one limit of `now`. */
  private armForHead(now: number): void {
    const head = this.calls.head;
    if (head !== undefined) this.arm(Math.min(this.ms, Math.max(0, head.deadline - now)));
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

/**
 * The lists of calls in flight, by clock and limit: every user of the same clock and limit
 * shares one list and its one alarm. A list leaves when it is empty and its alarm is gone.
 * An empty list keeps its alarm (unref'd) until it fires, so that calls one after another
 * set one timer; but limits computed per call (a deadline's remaining budget) would leave one
 * such timer per call, so at most `maxIdle` empty lists keep theirs: past twice that many,
 * the alarms of the longest-idle are cleared.
 */
export class DeadlineLists<T extends Deadline<T>> {
  private readonly byClock = new WeakMap<Clock, Map<number, Deadlines<T>>>();
  /** Lists that went idle with an alarm set, oldest first (some may be busy again, or done). */
  private idle: Deadlines<T>[] = [];

  constructor(
    private readonly onExpire: (entry: T) => void,
    private readonly maxIdle = 64,
  ) {}

  /** The list of `clock` and `ms`, made if there is none. */
  get(clock: Clock, ms: number): Deadlines<T> {
    let byMs = this.byClock.get(clock);
    if (byMs === undefined) {
      byMs = new Map();
      this.byClock.set(clock, byMs);
    }
    const lists = byMs;
    let deadlines = lists.get(ms);
    if (deadlines === undefined) {
      deadlines = new Deadlines<T>(ms, clock, this.onExpire, (list) => {
        if (!list.armed) {
          if (lists.get(ms) === list) lists.delete(ms);
        } else if (!list.parked) this.park(list);
      });
      lists.set(ms, deadlines);
    }
    return deadlines;
  }

  /** How many lists hold an alarm while empty. */
  get idleArmed(): number {
    return this.idle.filter((list) => list.empty && list.armed).length;
  }

  private park(list: Deadlines<T>): void {
    list.parked = true;
    this.idle.push(list);
    if (this.idle.length <= 2 * this.maxIdle) return;
    const still = this.idle.filter((l) => {
      l.parked = l.empty && l.armed;
      return l.parked;
    });
    const excess = Math.max(0, still.length - this.maxIdle);
    for (const l of still.slice(0, excess)) {
      l.parked = false;
      l.disarm();
    }
    this.idle = still.slice(excess);
  }
}
