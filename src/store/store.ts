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

/** True when a store's answer has to be awaited. */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}
