import type { Decision } from "../store/store.js";
import type { LuaScript } from "./scripts/script.js";

/** What a policy gets while Redis cannot be reached, in the `allow` and `deny` modes. */
export type StrictMode = "allow" | "deny";

/**
 * The Redis side of one decision kind: its Lua twin and how inputs, outputs and states
 * cross the wire. RedisStore dispatches `apply` and `read` on the decision's `kind` to one
 * of these (the breaker, which has a local mirror, is handled apart).
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
  /** ARGV to apply `inputs` in order (KEYS[1] is the key's state), without the deadline the store appends. */
  args(decision: Decision<S, I, O>, inputs: readonly I[]): string[];
  /** One output per input, from the script's reply; absolute times are moved onto the caller's clock (`now`). */
  decode(reply: unknown, inputs: readonly I[], now: number): O[];
  /** ARGV to read the state without changing it, without the deadline the store appends. */
  readArgs(decision: Decision<S, I, O>): string[];
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

/** Params as script arguments, computed once per decision (decisions live as long as their policy). */
const paramCache = new WeakMap<object, readonly string[]>();

/** The decision's `params` named by `names`, as argument text; cached per decision. */
export function paramArgs(decision: Decision<unknown, unknown, unknown>, names: readonly string[]): readonly string[] {
  let args = paramCache.get(decision);
  if (args === undefined) {
    args = names.map((name) => {
      const value = decision.params[name];
      if (typeof value !== "number" || Number.isNaN(value)) {
        throw new TypeError(`decision "${decision.kind}" has no numeric param "${name}" (got ${String(value)})`);
      }
      return numArg(value);
    });
    paramCache.set(decision, args);
  }
  return args;
}
