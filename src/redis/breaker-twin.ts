import { BreakerDecision, type BreakerInput, type BreakerOutput, type BreakerRecord } from "../breaker/state.js";
import { InvalidOptionError } from "../core/errors.js";
import type { Decision } from "../store/store.js";
import { RedisBreakerMirror } from "./breaker-mirror.js";
import { decodeBreakerReply, encodeParams, singleOutput, toEntry } from "./codec.js";
import { BREAKER_SCRIPT } from "./scripts/breaker.js";
import type { Twin, TwinStore } from "./twin.js";

type BreakerTwin = Twin<BreakerRecord, BreakerInput, BreakerOutput>;

/** ARGV[1..5] of the breaker script for a batch of entries (see its header). */
function breakerArgs(decision: Decision<BreakerRecord, BreakerInput, BreakerOutput>, batch: string, store: TwinStore): string[] {
  return [encodeParams(decision), batch, String(store.metaTtlMs), store.channel, store.processId];
}

/**
 * The breaker's Lua twin (`BREAKER_SCRIPT`), in the registry as every other twin. Its
 * mirror is how a breaker reads its record synchronously (`RedisStore.mirror`): a breaker's
 * own inputs go through it, batched; `RedisStore.apply` sends one input per script (an
 * administrator's or a test's, not a hot path), and a read is an empty batch, which writes
 * nothing.
 */
export const BREAKER_TWIN: BreakerTwin = {
  script: BREAKER_SCRIPT,
  maxBatch: 1,
  args: (decision, inputs, store) => breakerArgs(decision, JSON.stringify(inputs.map(toEntry)), store),
  decode: (reply, inputs) => [singleOutput(inputs[0] as BreakerInput, decodeBreakerReply(reply))],
  readArgs: (decision, store) => breakerArgs(decision, "[]", store),
  decodeState(reply) {
    if (reply === null || reply === undefined) return undefined;
    const decoded = decodeBreakerReply(reply);
    // Revision 0: no record at the key (every write makes it at least 1).
    return decoded.rev === 0 ? undefined : decoded.record;
  },
  fallback(mode, _decision, input, retryAfterMs) {
    if (input.type !== "acquire") return undefined;
    return mode === "allow" ? { allowed: true, epoch: -1, transition: undefined } : { allowed: false, retryAfterMs };
  },
  serverNow: (reply) => decodeBreakerReply(reply).now,
  mirror(host, decision, redisKey) {
    // The mirror keeps this process's own view (quorum) with the decision's own configuration.
    if (!(decision instanceof BreakerDecision)) {
      throw new InvalidOptionError("RedisStore.mirror()", "decision", decision.kind, "a BreakerDecision");
    }
    return new RedisBreakerMirror(host, decision, redisKey);
  },
};
