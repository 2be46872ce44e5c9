import type { AdaptiveInput, AdaptiveOutput, AdaptiveRecord, QuotaInput } from "../limit/adaptive-decision.js";
import { FLIGHT_UNKNOWN } from "../limit/in-flight.js";
import { ADAPTIVE_FIELDS, ADAPTIVE_PARAMS, ADAPTIVE_SCRIPT } from "./scripts/adaptive.js";
import { arrayReply, numArg, numReply, paramArgs, perDecision, type Twin } from "./twin.js";

/** The params as one argument (the script splits it), joined once per decision. */
const paramsArg = perDecision((decision) => paramArgs(decision, ADAPTIVE_PARAMS).join(" "));

function quotaArg(q: QuotaInput | null): string {
  return q === null ? "-" : `${numArg(q.limit)} ${numArg(q.remaining)} ${numArg(q.resetMs)} ${numArg(q.policyRate)}`;
}

/**
 * The adaptive limiter's twin. Its record holds absolute times of the server's clock; the
 * two an output carries (`cooldownUntil`, `lastAt`) are moved onto the caller's clock, so
 * a process whose clock is off by minutes still waits out a cooldown exactly.
 */
export const ADAPTIVE_TWIN: Twin<AdaptiveRecord, AdaptiveInput, AdaptiveOutput> = {
  script: ADAPTIVE_SCRIPT,
  // Feedback is fire-and-forget and acquires queue in the limiter: not worth batching.
  maxBatch: 1,
  args(decision, inputs) {
    const input = inputs[0] as AdaptiveInput;
    const params = paramsArg(decision);
    switch (input.type) {
      case "acquire":
        return ["a", params, numArg(input.cost), numArg(input.waitedMs ?? -1)];
      case "success":
        return [
          "s",
          params,
          numArg(input.epoch),
          quotaArg(input.quota),
          numArg(input.flight ?? FLIGHT_UNKNOWN),
          numArg(input.others ?? -1),
          numArg(input.seq ?? -1),
        ];
      case "backoff":
        return [
          "b",
          params,
          numArg(input.epoch),
          numArg(input.status),
          numArg(input.retryAfterMs),
          quotaArg(input.quota),
          numArg(input.issuedRate ?? -1),
          numArg(input.flight ?? FLIGHT_UNKNOWN),
          numArg(input.others ?? -1),
          numArg(input.seq ?? -1),
          numArg(input.closeFrom ?? -1),
        ];
      case "outage":
        return ["o", params, numArg(input.epoch), numArg(input.retryAfterMs), numArg(input.flight ?? FLIGHT_UNKNOWN)];
      case "release":
        return ["l", params, numArg(input.flight ?? FLIGHT_UNKNOWN)];
      case "reset":
        return ["x", params];
    }
  },
  decode(reply, _inputs, now) {
    const r = arrayReply(reply, 23, ADAPTIVE_SCRIPT.name).map(numReply);
    const shift = now - (r[22] as number);
    const lastAt = r[13] as number;
    const out: AdaptiveOutput = {
      allowed: r[0] === 1,
      waitMs: r[1] as number,
      epoch: r[2] as number,
      rate: r[3] as number,
      previousRate: r[4] as number,
      cooldownUntil: (r[5] as number) + shift,
      congestion: r[6] === 1,
      cooldownMs: r[7] as number,
      source: r[8] as number,
      tokens: r[9] as number,
      successes: r[10] as number,
      backoffs: r[11] as number,
      lastStatus: r[12] as number,
      lastAt: lastAt >= 0 ? lastAt + shift : lastAt,
      lastRetryAfterMs: r[14] as number,
      inFlight: r[15] as number,
      flightSpan: r[16] as number,
      seq: r[17] as number,
      others: r[18] as number,
      gateLimit: r[19] as number,
      gateOpens: r[20] as number,
      gateOpenedAt: r[21] as number,
    };
    return [out];
  },
  readArgs(decision) {
    return ["r", paramsArg(decision)];
  },
  decodeState(reply) {
    if (reply === null || reply === undefined) return undefined;
    const n = arrayReply(reply, ADAPTIVE_FIELDS.length, ADAPTIVE_SCRIPT.name).map(numReply);
    return Object.fromEntries(ADAPTIVE_FIELDS.map((name, i) => [name, n[i]])) as unknown as AdaptiveRecord;
  },
  fallback(mode, _decision, input, retryAfterMs, local) {
    // Feedback is recorded in process (it paces nothing while Redis is away); acquires obey the mode.
    const out = local();
    if (input.type !== "acquire") return out;
    return mode === "allow" ? { ...out, allowed: true, waitMs: 0 } : { ...out, allowed: false, waitMs: retryAfterMs };
  },
};
