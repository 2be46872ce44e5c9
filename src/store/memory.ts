import { background, type Clock } from "../core/clock.js";
import { InvalidOptionError } from "../core/errors.js";
import { checkKeys, clockOption, integer, nonNegative, orDefault } from "../core/validate.js";
import { HeldState } from "./mirror.js";
import type { BoundState, Decision, MirroredState, Store } from "./store.js";

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * The most keys kept at once. Keys live in two generations of `maxKeys / 2`: a key is
   * evicted only once `maxKeys / 2` other keys have been used since its own last use (the
   * least recently used go first, a generation at a time). Default 100,000. Only evictable
   * state (limiters' keys) counts; breakers are never evicted.
   */
  readonly maxKeys?: number;
  /**
   * How often (ms) idle keys are swept: keys whose state is back to initial are dropped.
   * Default 30,000; 0 turns the sweep timer off (idle keys are still dropped by the `maxKeys` cap).
   */
  readonly sweepIntervalMs?: number;
  /**
   * The clock the sweep timer reads to decide which keys are idle: give it the clock of
   * the policies that share this store. Default `systemClock`.
   */
  readonly clock?: Clock;
}

/** One key's state and the decision that owns it. */
class Entry {
  constructor(
    public state: unknown,
    public decision: Decision<unknown, unknown, unknown>,
  ) {}
}

/**
 * A pinned entry, held by a handle (`bind`, `mirror`): it reads and steps the entry itself,
 * no lookup. Pinned state is never replaced (`delete` re-initialises it in place), and
 * breakers are the only pinned kind, so no other kind can re-initialise it under the handle.
 */
class PinnedState<S, I, O> extends HeldState<S, I, O> implements BoundState<S, I, O> {
  constructor(
    private readonly decision: Decision<S, I, O>,
    private readonly entry: Entry,
  ) {
    super();
  }

  read(): S {
    return this.entry.state as S;
  }

  apply(input: I, now: number): O {
    return this.decision.step(this.entry.state as S, input, now);
  }
}

const WHERE = "MemoryStore";
/** Stands for "no last entry": no decision is this one. */
const NONE = new Entry(undefined, {
  kind: "",
  params: {},
  evictable: false,
  init: () => undefined,
  step: () => undefined,
  isIdle: () => false,
});

/**
 * The in-process store. Decisions run synchronously, so the hot path never awaits.
 *
 * Evictable state (limiters' keys) lives in two `Map`s, a young and an old generation (the
 * "hashlru" scheme): a key is looked up in the young one; found in the old one, it moves to
 * the young one; a new key goes to the young one. When the young one holds `maxKeys / 2`
 * keys it becomes the old one, and the previous old one is dropped whole: its keys went
 * unused while `maxKeys / 2` other keys were used. So a use costs one lookup and no
 * bookkeeping, and `maxKeys` bounds the keys held. Breakers' state is pinned in a third map.
 */
export class MemoryStore implements Store {
  readonly name = "memory";
  readonly synchronous = true;
  private young = new Map<string, Entry>();
  private old = new Map<string, Entry>();
  /** State of non-evictable decisions (breakers): out of the cap's reach. */
  private readonly pinned = new Map<string, Entry>();
  /** The young generation's size limit. */
  private readonly generation: number;
  /** False only for `maxKeys: 1`, where a full young generation is dropped rather than aged. */
  private readonly keepsOld: boolean;
  private readonly clock: Clock;
  /** The latest `now` any caller passed: the time at which pinned state is (re)initialised outside `apply`. */
  private lastNow = 0;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  /**
   * The last looked-up entry, and while a key repeats (`repeating`) that key: such applies
   * skip the lookup. Forgotten whenever an entry may leave (delete, sweep, rotation, close).
   */
  private lastKey = "";
  private last = NONE;
  /** The last lookup found the entry before it: the same key again. */
  private repeating = false;

  constructor(options: MemoryStoreOptions = {}) {
    checkKeys(WHERE, options, ["maxKeys", "sweepIntervalMs", "clock"]);
    const maxKeys = integer(WHERE, "maxKeys", orDefault(options.maxKeys, 100_000));
    this.generation = Math.max(1, maxKeys >> 1);
    this.keepsOld = maxKeys > 1;
    this.clock = clockOption(WHERE, options.clock, false);
    const sweepMs = nonNegative(WHERE, "sweepIntervalMs", orDefault(options.sweepIntervalMs, 30_000));
    if (sweepMs > 0) {
      this.sweepTimer = background(setInterval(() => this.sweep(this.clock.now()), sweepMs));
    }
  }

  /** How many keys are held. */
  get size(): number {
    return this.young.size + this.old.size + this.pinned.size;
  }

  apply<S, I, O>(decision: Decision<S, I, O>, key: string, input: I, now: number): O {
    this.lastNow = now;
    let entry = this.last;
    // Only while applies repeat a key is it compared with the last one: spread over many
    // keys, every apply would pay a failing string comparison.
    if (!this.repeating || entry.decision !== decision || key !== this.lastKey)
      entry = this.lookup(decision as Decision<unknown, unknown, unknown>, key, now);
    return decision.step(entry.state as S, input, now);
  }

  bind<S, I, O>(decision: Decision<S, I, O>, key: string): BoundState<S, I, O> {
    if (decision.evictable) {
      return {
        apply: (input, now) => this.apply(decision, key, input, now),
        read: () => this.read(decision as Decision<S, unknown, unknown>, key),
      };
    }
    return this.pin(decision, key);
  }

  /** The state itself, held: this process is the only one that changes it. */
  mirror<S, I, O>(decision: Decision<S, I, O>, key: string): MirroredState<S, I, O> {
    if (decision.evictable) {
      throw new InvalidOptionError(
        `${WHERE}.mirror()`,
        "decision",
        decision.kind,
        "a decision whose state is never evicted (evictable: false)",
      );
    }
    return this.pin(decision, key);
  }

  private pin<S, I, O>(decision: Decision<S, I, O>, key: string): PinnedState<S, I, O> {
    const held = this.entry(decision as Decision<unknown, unknown, unknown>, key, this.lastNow, this.pinned.get(key));
    return new PinnedState(decision, held);
  }

  read<S>(decision: Decision<S, unknown, unknown>, key: string): S | undefined {
    const entry = decision.evictable ? (this.young.get(key) ?? this.old.get(key)) : this.pinned.get(key);
    return entry && entry.decision.kind === decision.kind ? (entry.state as S) : undefined;
  }

  delete(key: string): void {
    this.forgetLast();
    this.young.delete(key);
    this.old.delete(key);
    const pinned = this.pinned.get(key);
    if (pinned !== undefined) pinned.state = pinned.decision.init(this.lastNow);
  }

  /** Drops every evictable key whose state is idle at `now`. Returns how many were dropped. */
  sweep(now: number): number {
    // Forgotten whatever happens: a throwing `isIdle` may leave some keys dropped.
    this.forgetLast();
    return dropIdle(this.young, now) + dropIdle(this.old, now);
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.forgetLast();
    this.young.clear();
    this.old.clear();
    this.pinned.clear();
  }

  /** The entry at `key` for `decision`, found or made; remembered as the last one. */
  private lookup(decision: Decision<unknown, unknown, unknown>, key: string, now: number): Entry {
    let entry = decision.evictable ? this.young.get(key) : this.pinned.get(key);
    // The common case, a young key of this decision, takes no other branch.
    if (entry === undefined || entry.decision !== decision) entry = this.entry(decision, key, now, entry);
    if (entry === this.last) {
      // The same key twice in a row: until another comes, applies skip the lookup.
      this.repeating = true;
      this.lastKey = key;
    } else {
      this.repeating = false;
      this.last = entry;
    }
    return entry;
  }

  /** Drops the remembered last entry: it may have left the store. */
  private forgetLast(): void {
    this.repeating = false;
    this.lastKey = "";
    this.last = NONE;
  }

  /**
   * The entry `apply` did not find ready: `found` (the young or pinned entry at `key`)
   * belongs to another decision, or there is none yet. State of another kind of decision
   * starts afresh; a decision of the same kind (another limiter of that algorithm) takes
   * the entry over.
   */
  private entry(decision: Decision<unknown, unknown, unknown>, key: string, now: number, found: Entry | undefined): Entry {
    // A kept entry comes from the old generation (evictable) or is `found`; `init`, which
    // may throw in a custom decision, runs before anything moves.
    const kept = found ?? (decision.evictable ? this.old.get(key) : undefined);
    const state = kept === undefined || kept.decision.kind !== decision.kind ? decision.init(now) : kept.state;
    const entry = kept ?? new Entry(state, decision);
    entry.state = state;
    entry.decision = decision;
    if (found !== undefined) return entry;
    if (!decision.evictable) {
      this.pinned.set(key, entry);
      return entry;
    }
    if (kept !== undefined) this.old.delete(key);
    else flatten(key);
    if (this.young.size >= this.generation) this.rotate();
    this.young.set(key, entry);
    return entry;
  }

  /** The young generation becomes the old one; the old one's keys are dropped. */
  private rotate(): void {
    this.old = this.keepsOld ? this.young : new Map();
    this.young = new Map();
    this.forgetLast();
  }
}

/**
 * Makes V8 store `key` as one string. A key built by concatenation (13 characters or more,
 * e.g. `user:${id}` or a limiter's `limit:<name>:{<key>}`) is a tree of its parts until it
 * is read; a key held for long would hold the tree (about 40 B more). Reading a character
 * flattens it in place; elsewhere this is a no-op.
 */
function flatten(key: string): void {
  key.charCodeAt(0);
}

/** Deletes the entries of `map` whose state is idle at `now`; returns how many. */
function dropIdle(map: Map<string, Entry>, now: number): number {
  let dropped = 0;
  for (const [key, entry] of map) {
    if (entry.decision.isIdle(entry.state, now)) {
      map.delete(key);
      dropped++;
    }
  }
  return dropped;
}
