import type { Clock } from "../core/clock.js";

/**
 * A decision: one policy's algorithm as a step over a plain, JSON-shaped state record.
 *
 * `step` reads `state`, `input` and `now` and nothing else; it updates `state` in place
 * and returns the outcome. Given the same three it always does the same thing, which is
 * what lets a `Store` run it anywhere: `MemoryStore` calls it in process, and a Redis
 * store runs its Lua twin (named by `kind`) atomically on the server with the server's
 * clock. The `params` are the decision's configuration as plain data, so that twin can
 * receive them as arguments.
 */
export interface Decision<S, I, O> {
  /** The algorithm's name, e.g. `"breaker"` or `"tokenBucket"`; stores dispatch on it. */
  readonly kind: string;
  /** The configuration the step depends on, as plain data. */
  readonly params: Readonly<Record<string, number | string | boolean | null>>;
  /**
   * False for state that must never be evicted to make room (a breaker's); true for
   * per-key limiter state, which is cheap to rebuild once idle.
   */
  readonly evictable: boolean;
  /** A fresh state for a key seen for the first time (or evicted). */
  init(now: number): S;
  /** Decides, updating `state` in place. Pure apart from that. */
  step(state: S, input: I, now: number): O;
  /**
   * True when `state` is back to what `init(now)` would give (for a limiter: full), so a
   * store may drop the key and lose nothing.
   */
  isIdle(state: S, now: number): boolean;
}

/**
 * Where policies keep their state. A store applies a decision to the state at a key
 * atomically: no other decision on that key interleaves with it. `MemoryStore` answers
 * synchronously; remote stores answer with a promise. Callers must accept both.
 */
export interface Store {
  /** A short name for logs and `status()`, e.g. `"memory"` or `"redis"`. */
  readonly name: string;
  /** True when `apply` always answers synchronously (in-process stores). */
  readonly synchronous: boolean;
  /** Applies `decision` to the state at `key` with `input`; `now` is the caller's clock. */
  apply<S, I, O>(decision: Decision<S, I, O>, key: string, input: I, now: number): O | Promise<O>;
  /**
   * A handle on one key's state, for a policy that touches the same key on every call
   * (a breaker): applying through it skips the key lookup.
   */
  bind<S, I, O>(decision: Decision<S, I, O>, key: string): BoundState<S, I, O>;
  /**
   * Optional capability: `decision`'s state at `key` as a {@link MirroredState}, for a policy
   * that reads it on every call and must never wait for the store to read it (a breaker). For
   * a decision whose state is never evicted (`evictable: false`). `MemoryStore` holds the
   * state itself; `RedisStore` keeps a local mirror of the shared state, which the decision's
   * Lua twin provides. A store without it serves such a policy only if it is synchronous
   * (see `mirrorOf`).
   */
  mirror?<S, I, O>(decision: Decision<S, I, O>, key: string): MirroredState<S, I, O>;
  /** The current state at `key`, or undefined when there is none. Never creates it. */
  read<S>(decision: Decision<S, unknown, unknown>, key: string, now: number): S | undefined | Promise<S | undefined>;
  /** Forgets the state at `key`. */
  delete(key: string): void | Promise<void>;
  /** Releases timers, connections and subscriptions. */
  close(): Promise<void>;
}

/** One key's state in a store, bound once: see {@link Store.bind}. */
export interface BoundState<S, I, O> {
  /** Applies the decision to this key's state, like `Store.apply`. */
  apply(input: I, now: number): O | Promise<O>;
  /** This key's state, like `Store.read`. */
  read(now: number): S | undefined | Promise<S | undefined>;
}

/**
 * Hears what a {@link MirroredState} learns after the fact: an output decided later (for a
 * breaker, a transition); who made it (`"local"`: this process, `"remote"`: another one
 * sharing the store); whose state it changed (`"fleet"`: the shared one, `"own"`: this
 * process's own view).
 */
export type MirrorListener<O> = (output: NonNullable<O>, origin: "local" | "remote", scope: "fleet" | "own") => void;

/**
 * What {@link Store.mirror} offers: one key's state, read synchronously on every call, with
 * inputs that never make the caller wait unless it needs their answer. In process it is the
 * state itself (`exclusive`); on a shared store, a local copy refreshed by every answer and
 * by what the other processes publish, its inputs queued and sent in order. Its times are
 * the store's clock: `offset` converts.
 */
export interface MirroredState<S, I, O> {
  /**
   * True when this process alone changes the state (an in-process store): `read` is the
   * state itself, known from the start, and an input that changes nothing may be skipped.
   * False on a shared store: `read` is a copy, known once the first `flush` resolves.
   */
  readonly exclusive: boolean;
  /** The store's clock minus the caller's (ms), as last estimated; 0 in process. */
  readonly offset: number;
  /** This process's id among those sharing the state; null in process. */
  readonly processId: string | null;
  /** The state that governs this process's calls: its own view (see `own`) while that one is not closed, else the fleet's. */
  read(): S;
  /** The state the fleet shares (in process, the state itself). */
  fleet(): S;
  /** This process's own view, when the store keeps one (a breaker's `quorum` above 1); else undefined. */
  own(): S | undefined;
  /**
   * Applies an input whose answer the caller needs, after every input sent before it: at
   * once in process, a promise when shared. An answer given at once carries what it caused
   * (a transition); an awaited one's consequences reach the listener instead.
   */
  apply(input: I, now: number): O | Promise<O>;
  /**
   * Applies an input whose answer may come later: returns it when the store has it at once
   * (in process); else undefined, and the listener hears what it caused once decided.
   */
  send(input: I, now: number): O | undefined;
  /** Resolves once every input sent so far has been applied and `read` is fresh. */
  flush(): Promise<void>;
  /**
   * Starts listening: `clock` is the caller's (to estimate `offset`); `listener` hears the
   * outputs decided after the fact (none in process, where `send` answers). Returns the
   * function that detaches it.
   */
  attach(clock: Clock, listener: MirrorListener<O>): () => void;
}

/** True when a store's answer has to be awaited. */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}
