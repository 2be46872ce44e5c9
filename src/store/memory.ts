import { type Clock, systemClock } from "../core/clock.js";
import { InvalidOptionError } from "../core/errors.js";
import { checkKeys, integer, nonNegative, orDefault } from "../core/validate.js";
import type { BoundState, Decision, Store } from "./store.js";

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * The most keys kept at once; past it the least recently used key is evicted.
   * Default 100,000. Only evictable state (limiters' keys) counts; breakers are never evicted.
   */
  readonly maxKeys?: number;
  /**
   * How often (ms) idle keys are swept: keys whose state is back to initial are dropped.
   * Default 30,000; 0 turns the sweep timer off (idle keys are still dropped by the LRU cap).
   */
  readonly sweepIntervalMs?: number;
  /**
   * The clock the sweep timer reads to decide which keys are idle: give it the clock of
   * the policies that share this store. Default `systemClock`.
   */
  readonly clock?: Clock;
}

/** One key's state, the decision that owns it, and when it was last moved to the LRU's young end. */
class Entry {
  constructor(
    public state: unknown,
    public decision: Decision<unknown, unknown, unknown>,
    public stamp: number,
  ) {}
}

const WHERE = "MemoryStore";
/** Apply counts wrap here so that they stay small integers (no boxed numbers per entry). */
const TICK_MASK = 0x3fff_ffff;

/**
 * The in-process store: state records in a `Map` whose insertion order doubles as the
 * LRU order. Decisions run synchronously, so the hot path never awaits.
 *
 * The LRU is approximate in one cheap way: a key is moved to the young end only when it
 * was last moved more than `maxKeys / 2` applies ago, so a hot key costs one lookup, not a
 * delete and a re-insert per call. A key is therefore evicted only after at least
 * `maxKeys / 2` applies without it. Repeated applies on the key of the previous apply skip
 * even that lookup (they count as one apply for the LRU). Eviction and sweeping walk the map with cursors that
 * persist between calls, so neither rescans the slots that earlier deletions left behind.
 */
export class MemoryStore implements Store {
  readonly name = "memory";
  readonly synchronous = true;
  private readonly entries = new Map<string, Entry>();
  /** State of non-evictable decisions (breakers): out of the LRU's reach. */
  private readonly pinned = new Map<string, Entry>();
  private readonly maxKeys: number;
  private readonly refreshAfter: number;
  private readonly clock: Clock;
  private ticks = 0;
  /** The latest `now` any caller passed: the time at which pinned state is (re)initialised outside `apply`. */
  private lastNow = 0;
  private evictCursor: Iterator<string> | undefined;
  /**
   * The last evictable apply's key, decision and state: a run of applies on one key skips
   * the lookup. Cleared whenever an entry may leave or be replaced (delete, evict, sweep, close).
   */
  private hotKey: string | undefined;
  private hotDecision: Decision<unknown, unknown, unknown> | undefined;
  private hotState: unknown;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    checkKeys(WHERE, options, ["maxKeys", "sweepIntervalMs", "clock"]);
    this.maxKeys = integer(WHERE, "maxKeys", orDefault(options.maxKeys, 100_000));
    this.refreshAfter = Math.min(TICK_MASK >> 1, this.maxKeys >> 1);
    this.clock = options.clock ?? systemClock;
    if (typeof this.clock.now !== "function") throw new InvalidOptionError(WHERE, "clock", this.clock, "a Clock with now()");
    const sweepMs = nonNegative(WHERE, "sweepIntervalMs", orDefault(options.sweepIntervalMs, 30_000));
    if (sweepMs > 0) {
      this.sweepTimer = setInterval(() => this.sweep(this.clock.now()), sweepMs);
      this.sweepTimer.unref?.();
    }
  }

  /** How many keys are held. */
  get size(): number {
    return this.entries.size + this.pinned.size;
  }

  apply<S, I, O>(decision: Decision<S, I, O>, key: string, input: I, now: number): O {
    this.lastNow = now;
    // The same key and decision as the last apply: its state is still the entry's, and the
    // LRU needs nothing either (ticks count switches between keys, so a run of applies on
    // one key leaves every other key's age as it was). One `step` call site, so it inlines.
    const state =
      key === this.hotKey && decision === this.hotDecision
        ? this.hotState
        : decision.evictable
          ? this.evictableState(decision as Decision<unknown, unknown, unknown>, key, now)
          : this.pinnedEntry(decision, key, now).state;
    return decision.step(state as S, input, now);
  }

  /** The state at `key` of an evictable decision, created (evicting the oldest key if full) when missing. */
  private evictableState(decision: Decision<unknown, unknown, unknown>, key: string, now: number): unknown {
    const tick = (this.ticks = (this.ticks + 1) & TICK_MASK);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      if (this.entries.size >= this.maxKeys) this.evictOldest();
      entry = new Entry(decision.init(now), decision, tick);
      this.entries.set(key, entry);
    } else {
      if (entry.decision !== decision && entry.decision.kind !== decision.kind) {
        entry.state = decision.init(now);
        entry.decision = decision;
      }
      if (((tick - entry.stamp) & TICK_MASK) > this.refreshAfter) {
        // Move to the young end; Map keeps insertion order.
        this.entries.delete(key);
        this.entries.set(key, entry);
        entry.stamp = tick;
      }
    }
    this.hotKey = key;
    this.hotDecision = decision;
    return (this.hotState = entry.state);
  }

  bind<S, I, O>(decision: Decision<S, I, O>, key: string): BoundState<S, I, O> {
    if (decision.evictable) {
      return {
        apply: (input, now) => this.apply(decision, key, input, now),
        read: () => this.read(decision as Decision<S, unknown, unknown>, key),
      };
    }
    // Pinned state is never replaced (delete re-initialises it in place), so the handle
    // can hold the entry itself.
    const held = this.pinnedEntry(decision, key, this.lastNow);
    return {
      apply: (input, now) => decision.step(held.state as S, input, now),
      read: () => held.state as S,
    };
  }

  read<S>(decision: Decision<S, unknown, unknown>, key: string): S | undefined {
    const entry = decision.evictable ? this.entries.get(key) : this.pinned.get(key);
    return entry && entry.decision.kind === decision.kind ? (entry.state as S) : undefined;
  }

  delete(key: string): void {
    this.forgetHot();
    this.entries.delete(key);
    const pinned = this.pinned.get(key);
    if (pinned !== undefined) pinned.state = pinned.decision.init(this.lastNow);
  }

  /** Drops every evictable key whose state is idle at `now`. Returns how many were dropped. */
  sweep(now: number): number {
    let dropped = 0;
    for (const [key, entry] of this.entries) {
      if (entry.decision.isIdle(entry.state, now)) {
        this.entries.delete(key);
        dropped++;
      }
    }
    // A cursor would keep the map's pre-sweep table alive; the next eviction starts afresh.
    if (dropped > 0) {
      this.evictCursor = undefined;
      this.forgetHot();
    }
    return dropped;
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.evictCursor = undefined;
    this.forgetHot();
    this.entries.clear();
    this.pinned.clear();
  }

  private pinnedEntry<S, I, O>(decision: Decision<S, I, O>, key: string, now: number): Entry {
    let pinned = this.pinned.get(key);
    if (pinned === undefined || pinned.decision.kind !== decision.kind) {
      pinned = new Entry(decision.init(now), decision as Decision<unknown, unknown, unknown>, 0);
      this.pinned.set(key, pinned);
    }
    return pinned;
  }

  /**
   * Deletes the oldest entry. Every key the cursor has passed was deleted (or moved to the
   * young end, where the cursor meets it again), so its next key is the oldest one.
   */
  private evictOldest(): void {
    let next = this.evictCursor?.next();
    if (next === undefined || next.done === true) {
      this.evictCursor = this.entries.keys();
      next = this.evictCursor.next();
    }
    if (next.done !== true) {
      if (next.value === this.hotKey) this.forgetHot();
      this.entries.delete(next.value);
    }
  }

  /** Drops the last-key shortcut and the references it holds. */
  private forgetHot(): void {
    this.hotKey = undefined;
    this.hotDecision = undefined;
    this.hotState = undefined;
  }
}
