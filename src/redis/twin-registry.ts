import { InvalidOptionError } from "../core/errors.js";
import { func, integer, nonEmptyString } from "../core/validate.js";
import type { Decision } from "../store/store.js";
import { ADAPTIVE_TWIN } from "./adaptive-twin.js";
import { BREAKER_TWIN } from "./breaker-twin.js";
import { LIMIT_TWINS } from "./limit-twins.js";
import type { LuaScript } from "./scripts/script.js";
import type { Twin } from "./twin.js";

type AnyTwin = Twin<unknown, unknown, unknown>;

/**
 * The Lua twin of each decision kind, where `RedisStore` looks a decision up: the
 * breaker's (with its mirror), the limiters' and the adaptive limiter's from the start, a
 * user's own through {@link registerTwin}. Process-wide, like the decision kinds themselves.
 */
const twins = new Map<string, AnyTwin>([
  ["breaker", BREAKER_TWIN as unknown as AnyTwin],
  ...LIMIT_TWINS,
  ["adaptive", ADAPTIVE_TWIN as unknown as AnyTwin],
]);

const WHERE = "registerTwin()";

/**
 * Makes decisions of `kind` run on Redis: every `RedisStore` applies them through `twin`
 * (its script, atomically, with the server's TIME as the clock), batches concurrent calls
 * as it does the limiters', and falls back as `onRedisError` says while Redis is away.
 * Register once per process, before the first call (a module's top level is the place).
 * Registering the same twin again does nothing; another twin for a kind that has one, a
 * built-in kind included, is refused. See docs/custom-decisions.md for a recipe.
 *
 * @example
 * ```ts
 * registerTwin("throttle", THROTTLE_TWIN); // then new RedisStore(...).apply(new ThrottleDecision(...), ...)
 * ```
 */
export function registerTwin<S, I, O>(kind: string, twin: Twin<S, I, O>): void {
  nonEmptyString(WHERE, "kind", kind);
  checkTwin(twin);
  const known = twins.get(kind);
  if (known === (twin as unknown as AnyTwin)) return;
  if (known !== undefined) throw new InvalidOptionError(WHERE, "kind", kind, "a kind without a twin yet (this one has one)");
  twins.set(kind, twin as unknown as AnyTwin);
}

/** The twin registered for `decision`'s kind, or undefined. */
export function twinOf<S, I, O>(decision: Decision<S, I, O>): Twin<S, I, O> | undefined {
  return twins.get(decision.kind) as Twin<S, I, O> | undefined;
}

/** The kinds that have a twin now, sorted. */
export function twinKinds(): string[] {
  return [...twins.keys()].sort();
}

function checkTwin(twin: unknown): void {
  if (typeof twin !== "object" || twin === null) throw new InvalidOptionError(WHERE, "twin", twin, "a Twin object");
  const t = twin as Partial<Twin<unknown, unknown, unknown>>;
  checkScript("twin.script", t.script);
  if (t.multi !== undefined) checkScript("twin.multi", t.multi);
  integer(WHERE, "twin.maxBatch", t.maxBatch);
  for (const name of ["args", "decode", "readArgs", "decodeState", "fallback"] as const) func(WHERE, `twin.${name}`, t[name]);
  for (const name of ["localInput", "serverNow", "mirror"] as const) if (t[name] !== undefined) func(WHERE, `twin.${name}`, t[name]);
}

function checkScript(option: string, script: unknown): void {
  const s = script as Partial<LuaScript> | null;
  if (
    typeof s !== "object" ||
    s === null ||
    typeof s.name !== "string" ||
    typeof s.source !== "string" ||
    typeof s.sha !== "string" ||
    !/^[0-9a-f]{40}$/.test(s.sha)
  ) {
    throw new InvalidOptionError(WHERE, option, script, "a LuaScript (luaScript(name, header, body) makes one)");
  }
}
