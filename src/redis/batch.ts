import type { Decision } from "../store/store.js";
import type { Twin, TwinStore } from "./twin.js";

type AnyTwin = Twin<unknown, unknown, unknown>;

/** One key's run of calls in a batch: its decision, the inputs in arrival order, and where they sit in the batch. */
export interface Segment {
  readonly decision: Decision<unknown, unknown, unknown>;
  readonly redisKey: string;
  readonly inputs: unknown[];
  /** The batch positions of `inputs`. */
  readonly at: number[];
}

/** What a segment is made of: one call's decision, key and input. */
export interface Call {
  readonly decision: Decision<unknown, unknown, unknown>;
  readonly redisKey: string;
  readonly input: unknown;
}

/**
 * A batch split into segments: consecutive calls on one key with one decision go in one
 * segment, and a key's segments keep their order (a decision change on a key starts a new
 * one). Calls on different keys commute, so only each key's order counts.
 */
export function segmentsOf(calls: readonly Call[]): Segment[] {
  const last = new Map<string, Segment>();
  const segments: Segment[] = [];
  calls.forEach((call, i) => {
    let segment = last.get(call.redisKey);
    if (segment === undefined || segment.decision !== call.decision) {
      segment = { decision: call.decision, redisKey: call.redisKey, inputs: [], at: [] };
      last.set(call.redisKey, segment);
      segments.push(segment);
    }
    segment.inputs.push(call.input);
    segment.at.push(i);
  });
  return segments;
}

/** KEYS and ARGV of the twin's many-key script for `segments` (each key's arguments prefixed by their count), without the deadline. */
export function multiArgs(twin: AnyTwin, segments: readonly Segment[], store: TwinStore): { keys: string[]; args: string[] } {
  const keys: string[] = [];
  const args: string[] = [];
  for (const segment of segments) {
    const own = twin.args(segment.decision, segment.inputs, store);
    keys.push(segment.redisKey);
    args.push(String(own.length));
    for (const arg of own) args.push(arg);
  }
  return { keys, args };
}

/** The many-key script's reply (one reply per segment, then now_ms), as one output per call, in call order. */
export function decodeMulti(twin: AnyTwin, reply: unknown, segments: readonly Segment[], count: number, now: number): unknown[] {
  if (!Array.isArray(reply) || reply.length !== segments.length + 1) {
    throw new TypeError(`unexpected reply from the ${twin.multi?.name ?? twin.script.name} script: ${JSON.stringify(reply)}`);
  }
  const outputs = new Array<unknown>(count);
  segments.forEach((segment, j) => {
    const decoded = twin.decode(reply[j], segment.inputs, now);
    segment.at.forEach((i, k) => {
      outputs[i] = decoded[k];
    });
  });
  return outputs;
}

/** True when a batch's calls are all on one key with one decision (the single-key script takes them). */
export function oneSegment(calls: readonly Call[]): boolean {
  const head = calls[0];
  for (const call of calls) {
    if (call.redisKey !== head?.redisKey || call.decision !== head.decision) return false;
  }
  return true;
}
