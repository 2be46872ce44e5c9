import type { LeaseGrant, LimitDecision, LimitInput } from "../limit/decision.js";
import type { FixedWindowState } from "../limit/fixed-window.js";
import type { RateLimitDecision } from "../limit/limiter.js";
import type { SlidingCounterState, SlidingLogState } from "../limit/sliding-window.js";
import type { TokenBucketState } from "../limit/token-bucket.js";
import type { Decision } from "../store/store.js";
import { FIXED_WINDOW_SCRIPT } from "./scripts/fixed-window.js";
import type { LimitScript } from "./scripts/limit-lib.js";
import { SLIDING_COUNTER_SCRIPT } from "./scripts/sliding-counter.js";
import { SLIDING_LOG_SCRIPT } from "./scripts/sliding-log.js";
import { TOKEN_BUCKET_SCRIPT } from "./scripts/token-bucket.js";
import { arrayReply, numArg, numReply, paramArgs, perDecision, type StrictMode, type Twin } from "./twin.js";

/** The most calls that go in one script (on one key, or over several). */
const MAX_BATCH = 128;

/** The letter (and operands) of an input's op in the scripts' argument layout. */
function opArg(input: LimitInput): string {
  switch (input.op) {
    case undefined:
      return input.peek ? "p" : "t";
    case "penalty":
      return "f";
    case "reward":
      return "g";
    case "set":
      return "s";
    case "return":
      return `r${numArg(input.arg ?? -Infinity)}`;
    case "lease":
      return `l${numArg(input.arg ?? 1)}:${numArg(input.holdMs ?? 0)}`;
  }
}

/**
 * One rate-limit decision kind's twin: a script, its params' names and its state's shape.
 * With `blockMs`, the decision's `blockMs` follows the params (the scripts that take it
 * also answer the operations besides take and peek).
 */
function limitTwin<S>(
  script: LimitScript,
  params: readonly string[],
  toState: (n: readonly number[]) => S | undefined,
  blockMs = false,
): Twin<S, LimitInput, RateLimitDecision> {
  // The params (and blockMs) as argument text, once per decision: every call sends them.
  const headArgs = perDecision((decision): readonly string[] => {
    const own = paramArgs(decision, params);
    return blockMs ? [...own, numArg((decision as { blockMs?: number }).blockMs ?? 0)] : own;
  });
  return {
    script,
    multi: script.multi,
    maxBatch: MAX_BATCH,
    args(decision, inputs) {
      const args = [String(inputs.length), ...headArgs(decision as Decision<unknown, unknown, unknown>)];
      for (const input of inputs) args.push(input.op === undefined ? (input.peek ? "p" : "t") : opArg(input), numArg(input.cost));
      return args;
    },
    decode(reply, inputs) {
      let leases = 0;
      for (const input of inputs) if (input.op === "lease") leases++;
      const r = arrayReply(reply, inputs.length * 5 + leases * 3 + 1, script.name);
      // Every field is relative (ms from now), so nothing depends on whose clock it is;
      // a lease's ticket is opaque (the server's clock), only ever sent back.
      const out: RateLimitDecision[] = [];
      let at = 0;
      for (const input of inputs) {
        const d = {
          allowed: numReply(r[at]) === 1,
          remaining: numReply(r[at + 1]),
          limit: numReply(r[at + 2]),
          retryAfterMs: numReply(r[at + 3]),
          resetAfterMs: numReply(r[at + 4]),
        };
        if (input.op === "lease") {
          const grant: LeaseGrant = { ...d, granted: numReply(r[at + 5]), validMs: numReply(r[at + 6]), ticket: numReply(r[at + 7]) };
          out.push(grant);
          at += 8;
        } else {
          out.push(d);
          at += 5;
        }
      }
      return out;
    },
    readArgs(decision) {
      const args = ["r", ...paramArgs(decision as Decision<unknown, unknown, unknown>, params)];
      if (blockMs) args.push("0");
      return args;
    },
    decodeState(reply) {
      if (reply === null || reply === undefined) return undefined;
      return toState(arrayReply(reply, 0, script.name).map(numReply));
    },
    localInput,
    fallback(mode: StrictMode, decision, input, retryAfterMs) {
      const limit = (decision as LimitDecision<S>).limit;
      if (input.op !== undefined) return operationFallback(mode, limit, input, retryAfterMs);
      if (mode === "allow") return { allowed: true, remaining: Math.max(0, limit - input.cost), limit, retryAfterMs: 0, resetAfterMs: 0 };
      return { allowed: false, remaining: 0, limit, retryAfterMs, resetAfterMs: retryAfterMs };
    },
  };
}

/**
 * An operation's answer in the `allow` and `deny` modes. A lease takes only its least
 * (`arg`) units, as a plain take would, so that nothing leased without Redis is ever
 * returned to it; a return is dropped (the units are lost to the key, never spent twice);
 * penalty, reward and set record nothing.
 */
function operationFallback(mode: StrictMode, limit: number, input: LimitInput, retryAfterMs: number): RateLimitDecision {
  const allowed = { allowed: true, remaining: limit, limit, retryAfterMs: 0, resetAfterMs: 0 };
  const refused = { allowed: false, remaining: 0, limit, retryAfterMs, resetAfterMs: retryAfterMs };
  if (input.op === "return") return allowed;
  if (input.op !== "lease") return mode === "allow" ? allowed : refused;
  const least = input.arg ?? 1;
  const grant: LeaseGrant =
    mode === "allow"
      ? { ...allowed, remaining: Math.max(0, limit - least), granted: least, validMs: 0, ticket: 0 }
      : { ...refused, granted: 0, validMs: 0, ticket: 0 };
  return grant;
}

/**
 * What the in-process fallback (the `local` mode) applies instead of an operation that
 * must not reach it as it is: a lease becomes a take of its least units (nothing leased
 * without Redis is held, so nothing is returned to Redis later), a return a peek (dropped).
 */
function localInput(input: LimitInput): LimitInput {
  if (input.op === "lease") return { cost: input.arg ?? 1, peek: false };
  if (input.op === "return") return { cost: 0, peek: true };
  return input;
}

function pairs(n: readonly number[], count: number): boolean {
  return n.length === count && n.every((x) => !Number.isNaN(x));
}

type AnyLimitTwin = Twin<unknown, LimitInput, RateLimitDecision>;
const erase = <S>(twin: Twin<S, LimitInput, RateLimitDecision>): AnyLimitTwin => twin as unknown as AnyLimitTwin;

/** The twins of the rate-limit decisions in src/limit/, by decision kind. */
export const LIMIT_TWINS: ReadonlyMap<string, AnyLimitTwin> = new Map<string, AnyLimitTwin>([
  [
    "tokenBucket",
    erase(
      limitTwin<TokenBucketState>(
        TOKEN_BUCKET_SCRIPT,
        ["capacity", "ratePerSec"],
        (n) => (pairs(n, 2) ? { tokens: n[0] as number, at: n[1] as number } : undefined),
        true,
      ),
    ),
  ],
  [
    "fixedWindow",
    erase(
      limitTwin<FixedWindowState>(
        FIXED_WINDOW_SCRIPT,
        ["limit", "windowMs"],
        (n) => (pairs(n, 2) ? { start: n[0] as number, count: n[1] as number } : undefined),
        true,
      ),
    ),
  ],
  [
    "slidingCounter",
    erase(
      limitTwin<SlidingCounterState>(SLIDING_COUNTER_SCRIPT, ["limit", "windowMs"], (n) =>
        pairs(n, 3) ? { start: n[0] as number, current: n[1] as number, previous: n[2] as number } : undefined,
      ),
    ),
  ],
  [
    "slidingLog",
    erase(
      limitTwin<SlidingLogState>(SLIDING_LOG_SCRIPT, ["limit", "windowMs"], (n) =>
        n.length >= 1 && n.length % 2 === 1 ? { used: n[0] as number, head: 0, log: n.slice(1) } : undefined,
      ),
    ),
  ],
]);
