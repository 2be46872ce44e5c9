import { abortReason } from "./abort.js";

/**
 * The source of time for every policy. Inject a {@link ManualClock} in tests so that
 * nothing waits in real time.
 */
export interface Clock {
  /** Milliseconds since an arbitrary epoch; only differences matter. */
  now(): number;
  /**
   * Resolves after `ms` milliseconds, or rejects with the signal's reason as soon as
   * `signal` aborts. A caller awaits it, so on the real clock it keeps the process alive
   * until it settles (an abort clears its timer at once).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The longest delay `setTimeout` honours (about 24.8 days); Node fires a longer one after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Marks a timer nobody awaits (a sweep, an idle watchdog, a reconnect probe, a refresh) as
 * background work: it never keeps the process alive, so a script ends when its work is
 * done. The other half of the rule is {@link systemClock}'s `sleep`: a timer a caller
 * awaits keeps the process alive until the caller is answered. Returns `timer`.
 */
export function background<T extends { unref?(): unknown }>(timer: T): T {
  timer.unref?.();
  return timer;
}

/**
 * Milliseconds on a monotonic time line (`performance.now()`): the one Node's timers run
 * on, so a wall-clock step (NTP, a resumed VM) neither brings a deadline forward nor puts
 * it back. For code that measures time against real timers of its own (not through a
 * {@link Clock}); only differences matter.
 */
export function monotonicNow(): number {
  return performance.now();
}

/**
 * The real clock: `Date.now()` and `setTimeout`. Its sleeps keep the process alive while
 * they run (a caller is waiting on each: a plain script's top-level `await` must not end
 * with an unsettled promise) and are cleared when aborted, so none outlives its caller.
 * A sleep longer than a timer can hold is made of several, one at a time.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (ms > MAX_TIMER_MS) return systemClock.sleep(MAX_TIMER_MS, signal).then(() => systemClock.sleep(ms - MAX_TIMER_MS, signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortReason(signal as AbortSignal));
      };
      const timer = setTimeout(
        () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};

/** The clocks whose sleeps are Node's own timers (see {@link onRealTimers}). */
const realClocks = new WeakSet<Clock>([systemClock]);

/**
 * Whether `clock` sleeps on Node's timers ({@link systemClock}, {@link preciseClock}, any
 * {@link createPreciseClock}): then work nobody awaits can run on a {@link background}
 * timer of its own; on any other clock (a `ManualClock` in tests) it has to be that clock's
 * sleep, or the clock's time would never reach it.
 */
export function onRealTimers(clock: Clock): boolean {
  return realClocks.has(clock);
}

/** Where {@link createPreciseClock} reads its two time lines (tests give fakes). */
export interface TimeSources {
  /** Wall-clock milliseconds, whole ones (`Date.now()`). */
  readonly wall: () => number;
  /** Monotonic milliseconds with a fraction (`performance.now()`). */
  readonly mono: () => number;
}

/** How often a precise clock compares itself with the wall clock (ms of monotonic time). */
const ALIGN_EVERY_MS = 1000;
/**
 * How far (ms) a precise reading may stray from `Date.now()` before it is set back on it:
 * on time, the two differ by under 1 ms (`Date.now()` drops the fraction, the anchor may
 * too), so a gap over 2 ms is a step of the wall clock (or drift).
 */
const ALIGN_SLACK_MS = 2;
/** A wall-clock reading is trusted only when the monotonic readings around it are this close (ms). */
const PAIR_WITHIN_MS = 0.25;

/**
 * A real clock whose readings have a fraction of a millisecond: the monotonic time line
 * (`performance.now()`) set on the wall clock, compared with `Date.now()` at most once a
 * second and set back on it when the two part by more than 2 ms (a step of the wall clock)
 * or when the monotonic line goes back (a process restored from a snapshot, fake timers).
 * Both lines are read on every call, never captured, so fake timers that replace `Date`
 * and `performance` move it too. Sleeps round up to whole milliseconds: Node truncates a
 * timer's delay, so a sleep of 12.7 ms would wake at 12 and sleep again.
 */
export function createPreciseClock(sources: TimeSources = { wall: systemClock.now, mono: monotonicNow }): Clock {
  const { wall, mono } = sources;
  let offset = Number.NaN;
  let alignAt = Number.NEGATIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  /** Sets the monotonic line on the wall clock, from a wall reading taken between two close monotonic ones. */
  const align = (m: number, force: boolean): void => {
    const before = mono();
    const w = wall();
    const after = mono();
    if (after - before > PAIR_WITHIN_MS && !force) return; // preempted between the reads: try again next time
    const at = (before + after) / 2;
    if (force || Math.abs(offset + at - w) > ALIGN_SLACK_MS) offset = w - at;
    alignAt = m + ALIGN_EVERY_MS;
  };
  const clock: Clock = {
    now() {
      const m = mono();
      if (Number.isNaN(offset) || m < last) align(m, true);
      else if (m >= alignAt) align(m, false);
      last = m;
      return offset + m;
    },
    sleep: (ms, signal) => systemClock.sleep(Math.ceil(ms), signal),
  };
  realClocks.add(clock);
  return clock;
}

/**
 * The real clock for pacing: wall-clock milliseconds with a fraction. `Date.now()` counts
 * whole milliseconds, so a pace read on it is off by up to one per request: at 80 requests/s
 * (12.5 ms apart) that is 8% of the spacing, and an upstream that spaces requests (GCRA)
 * refuses the ones that come early. `AdaptiveRateLimiter` and the HTTP clients' limiter use
 * it by default; a reading costs about 10 ns more than {@link systemClock}'s.
 */
export const preciseClock: Clock = createPreciseClock();

interface PendingSleep {
  readonly dueAt: number;
  readonly seq: number;
  readonly resolve: () => void;
  readonly detach: () => void;
}

/**
 * A clock that moves only when told to. `advance(ms)` settles, in due order, every sleep
 * that falls due; `advanceAsync(ms)` also lets the code woken by one sleep schedule and
 * settle further sleeps inside the same span, as real time would.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private pending: PendingSleep[] = [];

  /** @param startMs the initial reading of `now()`. */
  constructor(startMs = 0) {
    this.current = startMs;
  }

  /** The current reading. */
  now(): number {
    return this.current;
  }

  /** A sleep that settles when the clock is advanced past `now() + ms`. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.pending = this.pending.filter((p) => p !== entry);
        reject(abortReason(signal as AbortSignal));
      };
      const entry: PendingSleep = {
        dueAt: this.current + Math.max(0, ms),
        seq: this.seq++,
        resolve,
        detach: () => signal?.removeEventListener("abort", onAbort),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.push(entry);
    });
  }

  /** How many sleeps are waiting. */
  get pendingSleeps(): number {
    return this.pending.length;
  }

  /**
   * Moves time forward by `ms` and settles the sleeps that fall due, in order of due
   * time (then of creation). Code woken by them runs after this call returns.
   */
  advance(ms: number): void {
    const target = this.current + Math.max(0, ms);
    for (let next = this.nextDue(target); next; next = this.nextDue(target)) this.fire(next);
    this.current = target;
  }

  /** Sets the clock to an absolute reading (never backwards) and settles due sleeps. */
  set(ms: number): void {
    this.advance(ms - this.current);
  }

  /**
   * Like {@link advance}, but yields to the event loop after each settled sleep, so that
   * sleeps scheduled by woken code within the span settle too, each at its own time.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + Math.max(0, ms);
    await flush();
    for (let next = this.nextDue(target); next; next = this.nextDue(target)) {
      this.fire(next);
      await flush();
    }
    this.current = target;
    await flush();
  }

  private nextDue(target: number): PendingSleep | undefined {
    let best: PendingSleep | undefined;
    for (const p of this.pending) {
      if (p.dueAt > target) continue;
      if (!best || p.dueAt < best.dueAt || (p.dueAt === best.dueAt && p.seq < best.seq)) best = p;
    }
    return best;
  }

  private fire(entry: PendingSleep): void {
    this.pending = this.pending.filter((p) => p !== entry);
    this.current = Math.max(this.current, entry.dueAt);
    entry.detach();
    entry.resolve();
  }
}

/** Lets pending promise callbacks and I/O callbacks run (a macrotask turn, not a timer). */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
