import type { Decision, MirroredState } from "../store/store.js";
import type { LuaScript } from "./scripts/script.js";

/** What a policy gets while Redis cannot be reached, in the `allow` and `deny` modes. */
export type StrictMode = "allow" | "deny";

/** What to do when Redis cannot be reached (see `RedisStoreOptions.onRedisError`). */
export type RedisErrorMode = "local" | StrictMode;

/** What a twin may need of the store that runs it: the breaker's script publishes, and keeps its record for a while. */
export interface TwinStore {
  /** The pub/sub channel the store's mirrors listen on. */
  readonly channel: string;
  /** How long state without a TTL of its own outlives its last write (ms). */
  readonly metaTtlMs: number;
  /** This process's id in the fleet: in published messages and quorum counts. */
  readonly processId: string;
}

/** The store's side of a mirror (see {@link Twin.mirror}): how it reaches Redis and what it does when it cannot. */
export interface MirrorHost extends TwinStore {
  readonly mode: RedisErrorMode;
  readonly retryIntervalMs: number;
  /** The most inputs a mirror queues while a batch is in flight. */
  readonly maxQueued: number;
  /** False while Redis is known to be unreachable: mirrors then decide locally at once. */
  healthy(): boolean;
  /** Runs a script with the store's timeout; a failure has been reported when it rejects. */
  run(script: LuaScript, keys: readonly string[], args: readonly string[], operation: string): Promise<unknown>;
  /** Reports a problem that is not a failed command (a dropped input, a stale batch). */
  warn(error: Error, operation: string): void;
  /**
   * The server-clock time (ms, as text; "0" for none) after which a batch sent now must not
   * run: by then its caller has fallen back, and a replay on reconnect would count it twice.
   */
  deadline(): string;
  /** Learns the server's clock from a reply's `now`. */
  serverNow(now: number): void;
}

/**
 * A local mirror of one key's state in Redis (see {@link Twin.mirror}): what `RedisStore.mirror`
 * hands a policy, and what the store keeps fresh.
 */
export interface RemoteMirror<S, I, O> extends MirroredState<S, I, O> {
  /** A message published on the store's channel about this mirror's key (parsed JSON, whose `k` is the key). */
  receive(message: object): void;
  /** The store applied an input at this key itself (`RedisStore.apply`): the script's reply refreshes the mirror. */
  replied(reply: unknown): void;
  /** Redis is back, the subscriber reconnected, or the key was deleted: fetch the state again. */
  resync(): void;
}

/**
 * The Redis side of one decision kind: its Lua twin and how inputs, outputs and states
 * cross the wire. RedisStore dispatches `apply`, `read` and `mirror` on the decision's
 * `kind` to one of these.
 */
export interface Twin<S, I, O> {
  /** The script that runs the decision atomically with the server's TIME as `now`. */
  readonly script: LuaScript;
  /**
   * The same decision over several keys in one call (KEYS[1..m], each key's arguments
   * prefixed by their count; see `LimitScript.multi`), or undefined when the twin has none.
   */
  readonly multi?: LuaScript;
  /** The most inputs one script call takes (1: no batching). */
  readonly maxBatch: number;
  /** ARGV to apply `inputs` in order (KEYS[1] is the key's state), without the deadline the store appends; `store` runs it. */
  args(decision: Decision<S, I, O>, inputs: readonly I[], store: TwinStore): string[];
  /** One output per input, from the script's reply; absolute times are moved onto the caller's clock (`now`). */
  decode(reply: unknown, inputs: readonly I[], now: number): O[];
  /** ARGV to read the state without changing it, without the deadline the store appends; `store` runs it. */
  readArgs(decision: Decision<S, I, O>, store: TwinStore): string[];
  /** The state, from a read's reply (undefined when the key holds none). */
  decodeState(reply: unknown): S | undefined;
  /**
   * The answer while Redis is away in the `allow` or `deny` mode. `local` applies the
   * input to the store's in-process fallback, for inputs that must answer with state.
   */
  fallback(mode: StrictMode, decision: Decision<S, I, O>, input: I, retryAfterMs: number, local: () => O): O;
  /**
   * The input the in-process fallback (the `local` mode) applies instead of `input`, for
   * inputs that must not reach it as they are (a lease: nothing leased without Redis may
   * be handed back to Redis later). Default: `input` itself.
   */
  localInput?(input: I): I;
  /**
   * The server's time (ms) in a script's reply, where it is not the last element of an array
   * reply (the limiters'): the store estimates the server's clock from it.
   */
  serverNow?(reply: unknown): number;
  /**
   * A local mirror of one key's state, for a policy that reads it on every call (the breaker's
   * twin has one): what `RedisStore.mirror` offers. The store keeps one per key, hands it the
   * messages about its key published on the store's channel, and tells it of its own replies
   * at that key and of every resync.
   */
  mirror?(host: MirrorHost, decision: Decision<S, I, O>, redisKey: string): RemoteMirror<S, I, O>;
}

/** A number as script argument text: exact (shortest round trip), with Infinity as `inf`. */
export function numArg(x: number): string {
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  return String(x);
}

/** A number from a script's reply: an integer reply, or exact text (`inf` for Infinity). */
export function numReply(x: unknown): number {
  if (typeof x === "number") return x;
  const text = typeof x === "string" ? x : Buffer.isBuffer(x) ? x.toString("utf8") : String(x);
  if (text === "inf") return Infinity;
  if (text === "-inf") return -Infinity;
  return Number(text);
}

/** A script's array reply (ioredis and node-redis both answer arrays of strings). */
export function arrayReply(reply: unknown, minLength: number, script: string): readonly unknown[] {
  if (!Array.isArray(reply) || reply.length < minLength) {
    throw new TypeError(`unexpected reply from the ${script} script: ${JSON.stringify(reply)}`);
  }
  return reply;
}

/**
 * `make(decision)`, computed once per decision and kept while the decision lives (as long
 * as its policy): for the argument text every script call of a twin sends.
 */
export function perDecision<T>(
  make: (decision: Decision<unknown, unknown, unknown>) => T,
): (decision: Decision<unknown, unknown, unknown>) => T {
  const cache = new WeakMap<object, T>();
  return (decision) => {
    let value = cache.get(decision);
    if (value === undefined) {
      value = make(decision);
      cache.set(decision, value);
    }
    return value;
  };
}

/**
 * The decision's `params` named by `names`, as argument text. Not cached here: a twin that
 * sends them on every call keeps them with {@link perDecision}.
 */
export function paramArgs(decision: Decision<unknown, unknown, unknown>, names: readonly string[]): readonly string[] {
  return names.map((name) => {
    const value = decision.params[name];
    if (typeof value !== "number" || Number.isNaN(value)) {
      throw new TypeError(`decision "${decision.kind}" has no numeric param "${name}" (got ${String(value)})`);
    }
    return numArg(value);
  });
}
