import type { LimitDecision, LimitInput } from "../limit/decision.js";
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
import { arrayReply, numArg, numReply, paramArgs, type StrictMode, type Twin } from "./twin.js";

/** The most calls that go in one script (on one key, or over several). */
const MAX_BATCH = 128;

/** One rate-limit decision kind's twin: a script, its params' names and its state's shape. */
function limitTwin<S>(
  script: LimitScript,
  params: readonly string[],
  toState: (n: readonly number[]) => S | undefined,
): Twin<S, LimitInput, RateLimitDecision> {
  return {
    script,
    multi: script.multi,
    maxBatch: MAX_BATCH,
    args(decision, inputs) {
      const args = [String(inputs.length), ...paramArgs(decision as Decision<unknown, unknown, unknown>, params)];
      for (const input of inputs) args.push(input.peek ? "p" : "t", numArg(input.cost));
      return args;
    },
    decode(reply, inputs) {
      const r = arrayReply(reply, inputs.length * 5 + 1, script.name);
      // Every field is relative (ms from now), so nothing depends on whose clock it is.
      const out: RateLimitDecision[] = [];
      for (let i = 0; i < inputs.length; i++) {
        const at = i * 5;
        out.push({
          allowed: numReply(r[at]) === 1,
          remaining: numReply(r[at + 1]),
          limit: numReply(r[at + 2]),
          retryAfterMs: numReply(r[at + 3]),
          resetAfterMs: numReply(r[at + 4]),
        });
      }
      return out;
    },
    readArgs(decision) {
      return ["r", ...paramArgs(decision as Decision<unknown, unknown, unknown>, params)];
    },
    decodeState(reply) {
      if (reply === null || reply === undefined) return undefined;
      return toState(arrayReply(reply, 0, script.name).map(numReply));
    },
    fallback(mode: StrictMode, decision, input, retryAfterMs) {
      const limit = (decision as LimitDecision<S>).limit;
      if (mode === "allow") return { allowed: true, remaining: Math.max(0, limit - input.cost), limit, retryAfterMs: 0, resetAfterMs: 0 };
      return { allowed: false, remaining: 0, limit, retryAfterMs, resetAfterMs: retryAfterMs };
    },
  };
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
      limitTwin<TokenBucketState>(TOKEN_BUCKET_SCRIPT, ["capacity", "ratePerSec"], (n) =>
        pairs(n, 2) ? { tokens: n[0] as number, at: n[1] as number } : undefined,
      ),
    ),
  ],
  [
    "fixedWindow",
    erase(
      limitTwin<FixedWindowState>(FIXED_WINDOW_SCRIPT, ["limit", "windowMs"], (n) =>
        pairs(n, 2) ? { start: n[0] as number, count: n[1] as number } : undefined,
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
