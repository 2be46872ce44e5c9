import type { BreakerInput, BreakerOutput, BreakerRecord, Permit, Transition } from "../breaker/state.js";
import type { Decision } from "../store/store.js";

/**
 * What the breaker script answers (and publishes, with `k` and `o`): the record after the
 * batch, its revision, the server's time, the transitions the batch caused and one
 * permit per acquire.
 */
export interface BreakerReply {
  /** The record's revision: grows on every write, also across expiry. */
  readonly rev: number;
  /** The server's time (ms) when the script ran. */
  readonly now: number;
  readonly record: BreakerRecord;
  readonly transitions: readonly Transition[];
  readonly permits: readonly Permit[];
  /** The record's key (published messages only). */
  readonly key: string | undefined;
  /** The origin id of the process that ran the script (published messages only). */
  readonly origin: string | undefined;
}

/** One entry of a batch sent to the breaker script (see its header). */
export type BatchEntry =
  | ["a", number]
  | ["s", number, number]
  | ["s", number, number, number]
  | ["r", number, number]
  | ["f", number, number, string, number]
  | ["f", number, number, string, number, string]
  | ["i"]
  | ["x"]
  | ["o", number]
  | ["v", string, number];

/** A decision's params as the scripts read them: JSON, with Infinity as `"inf"`. */
export function encodeParams(decision: Decision<unknown, unknown, unknown>): string {
  return JSON.stringify(decision.params, (_key, value: unknown) => (value === Infinity ? "inf" : value));
}

/** Params as {@link encodeParams} wrote them, back to plain data (`"inf"` to Infinity); undefined when the text is not a JSON object. */
export function decodeParams(text: string): Readonly<Record<string, unknown>> | undefined {
  try {
    const params: unknown = JSON.parse(text, (_key, value: unknown) => (value === "inf" ? Infinity : value));
    return typeof params === "object" && params !== null ? (params as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The batch entry of one input (count 1). */
export function toEntry(input: BreakerInput): BatchEntry {
  switch (input.type) {
    case "acquire":
      return ["a", 1];
    case "success":
      return input.random === undefined ? ["s", input.epoch, 1] : ["s", input.epoch, 1, input.random];
    case "release":
      return ["r", input.epoch, 1];
    case "failure":
      return input.origin === undefined
        ? ["f", input.epoch, 1, input.reason, input.random]
        : ["f", input.epoch, 1, input.reason, input.random, input.origin];
    case "isolate":
      return ["i"];
    case "reset":
      return ["x"];
    case "open":
      return ["o", input.forMs];
    case "view":
      return ["v", input.origin, input.until];
  }
}

/** The inputs an entry stands for, in order (a run of `n` equal inputs). */
export function fromEntry(entry: BatchEntry): { input: BreakerInput; count: number } {
  switch (entry[0]) {
    case "a":
      return { input: { type: "acquire" }, count: entry[1] };
    case "s":
      return {
        input: entry[3] === undefined ? { type: "success", epoch: entry[1] } : { type: "success", epoch: entry[1], random: entry[3] },
        count: entry[2],
      };
    case "r":
      return { input: { type: "release", epoch: entry[1] }, count: entry[2] };
    case "f": {
      const origin = entry[5];
      const input: BreakerInput =
        origin === undefined
          ? { type: "failure", epoch: entry[1], reason: entry[3], random: entry[4] }
          : { type: "failure", epoch: entry[1], reason: entry[3], random: entry[4], origin };
      return { input, count: entry[2] };
    }
    case "i":
      return { input: { type: "isolate" }, count: 1 };
    case "x":
      return { input: { type: "reset" }, count: 1 };
    case "o":
      return { input: { type: "open", forMs: entry[1] }, count: 1 };
    case "v":
      return { input: { type: "view", origin: entry[1], until: entry[2] }, count: 1 };
  }
}

/** True for a message the store has parsed already (an object, but not a Buffer). */
function isParsed(raw: unknown): raw is object {
  return typeof raw === "object" && raw !== null && !Buffer.isBuffer(raw);
}

function inf(value: unknown): number {
  return value === "inf" ? Infinity : (value as number);
}

interface RawReply {
  v: string;
  n: number;
  r: BreakerRecord & { nextProbeAt: number | "inf" };
  t: Transition[] | Record<string, never>;
  p: RawPermit[] | Record<string, never>;
  k?: string;
  o?: string;
}

type RawPermit = { allowed: true; epoch: number } | { allowed: false; retryAfterMs: number | "inf" };

/** Decodes the breaker script's reply, or a published message (as text, or parsed by the store). */
export function decodeBreakerReply(raw: unknown): BreakerReply {
  const m = (isParsed(raw) ? raw : JSON.parse(Buffer.isBuffer(raw) ? raw.toString("utf8") : String(raw))) as RawReply;
  const record = decodeRecord(m.r);
  const transitions = Array.isArray(m.t) ? m.t : [];
  const permits: Permit[] = (Array.isArray(m.p) ? m.p : []).map((p) =>
    p.allowed ? { allowed: true, epoch: p.epoch, transition: undefined } : { allowed: false, retryAfterMs: inf(p.retryAfterMs) },
  );
  return { rev: Number(m.v), now: m.n, record, transitions, permits, key: m.k, origin: m.o };
}

/** A record as stored (nextProbeAt `"inf"` for Infinity) back to a `BreakerRecord`. */
export function decodeRecord(r: BreakerRecord & { nextProbeAt: number | "inf" }): BreakerRecord {
  r.nextProbeAt = inf(r.nextProbeAt);
  // Written before quorum existed: no quorum bookkeeping yet. (An empty Lua table is JSON `{}`.)
  r.outcomes ??= 0;
  r.failers = isMap(r.failers) ? r.failers : {};
  r.views = isMap(r.views) ? r.views : {};
  return r as BreakerRecord;
}

function isMap(value: unknown): value is Record<string, number> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The stored value of a breaker key: `{ k: "breaker", v, p, r }`. */
export interface StoredBreaker {
  readonly rev: number;
  /** The params JSON of the process that wrote it last. */
  readonly params: string;
  readonly record: BreakerRecord;
}

/** Decodes a breaker key's value, or undefined when it is not a breaker record. */
export function decodeStored(text: string | null): StoredBreaker | undefined {
  if (text === null) return undefined;
  try {
    const w = JSON.parse(text) as { k?: string; v: string; p: string; r: RawReply["r"] };
    if (w.k !== "breaker" || typeof w.r !== "object" || w.r === null) return undefined;
    return { rev: Number(w.v), params: w.p, record: decodeRecord(w.r) };
  } catch {
    return undefined;
  }
}

/** The output a single input gets in the generic `Store.apply`: the permit, or the transition it caused. */
export function singleOutput(input: BreakerInput, reply: BreakerReply): BreakerOutput {
  if (input.type === "acquire") {
    const permit = reply.permits[0];
    if (permit !== undefined && permit.allowed) return { ...permit, transition: reply.transitions[0] };
    return permit;
  }
  return reply.transitions[0];
}
