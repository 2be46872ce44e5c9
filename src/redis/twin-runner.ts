import type { Decision } from "../store/store.js";
import { STALE_REPLY } from "./scripts/limit-lib.js";
import type { LuaScript } from "./scripts/script.js";
import type { Twin } from "./twin.js";

/** The store's side of a {@link TwinRunner}. */
export interface TwinHost {
  /** False while Redis is known to be unreachable, or once the store is closed. */
  usable(): boolean;
  /** Sends a script with the store's timeout and deadline; the promise rejects on any failure (not yet reported). */
  send(script: LuaScript, keys: string[], args: string[], operation: string): Promise<unknown>;
  /** A script's reply arrived (before it is decoded): learn what it tells of the server. */
  replied(reply: unknown): void;
  /** A command failed to reach Redis: report it and fall back until Redis answers again. */
  failed(error: unknown, operation: string): void;
  /** A reply could not be used (a script error, a stale command): report it. */
  report(error: unknown, operation: string): void;
  /** The error that stands for a command that arrived too late. */
  stale(operation: string): Error;
  /** The answer without Redis (`onRedisError`), for one input. */
  fallback<S, I, O>(twin: Twin<S, I, O>, decision: Decision<S, I, O>, key: string, input: I, now: number): O;
}

type AnyTwin = Twin<unknown, unknown, unknown>;
type AnyDecision = Decision<unknown, unknown, unknown>;

/** One call: what to apply where, and whom to tell. */
interface Item {
  readonly decision: AnyDecision;
  readonly key: string;
  readonly redisKey: string;
  readonly input: unknown;
  readonly now: number;
  resolve: (output: unknown) => void;
}

/**
 * Calls that may share a script: one twin's calls on one standalone server, or (on a
 * cluster, whose keys live in different slots) one key's. A group exists exactly while one
 * of its scripts is in flight; what arrives meanwhile waits in `queue`.
 */
interface Group {
  readonly twin: AnyTwin;
  queue: Item[];
}

/** One key's part of a batch: its decision, its items' inputs, and where they sit in the batch. */
interface Segment {
  readonly decision: AnyDecision;
  readonly redisKey: string;
  readonly inputs: unknown[];
  readonly at: number[];
}

/**
 * Runs decisions through their Lua twins, batching concurrent calls. A call goes at once,
 * in the caller's own turn, when no script of its group is in flight (one round trip, no
 * queue). Calls that arrive while one is wait for it and then go together, in arrival
 * order, in one script (`maxBatch` at most): one key's calls as one batch, several keys'
 * calls in the twin's many-key script. 64 concurrent calls cost a few round trips, not 64
 * scripts each reading TIME and writing state back. On a standalone server a group is a
 * twin (calls on different keys share scripts); on a cluster it is a key. Each script is
 * atomic, so batching changes the cost, never the outcome; the price is that a call which
 * arrives while its group's script is in flight waits up to one round trip more.
 */
export class TwinRunner {
  private readonly groups = new Map<string, Group>();

  /** With `acrossKeys` (a standalone server), calls on different keys go in one script. */
  constructor(
    private readonly host: TwinHost,
    private acrossKeys: boolean,
  ) {}

  /** Applies `input` to `key`'s state through `twin`; never rejects (the fallback answers). */
  apply<S, I, O>(twin: Twin<S, I, O>, decision: Decision<S, I, O>, key: string, redisKey: string, input: I, now: number): Promise<O> {
    const t = twin as AnyTwin;
    const item: Item = { decision: decision as AnyDecision, key, redisKey, input, now, resolve: noop };
    if (!this.host.usable()) return Promise.resolve(this.host.fallback(twin, decision, key, input, now));
    if (t.maxBatch <= 1) return this.send(t, [item], undefined, "").then(first) as Promise<O>;
    const across = this.acrossKeys && t.multi !== undefined;
    const id = across ? t.script.sha : redisKey;
    const group = this.groups.get(id);
    if (group === undefined) {
      // Nothing in flight: send at once; calls arriving meanwhile queue on the group.
      const opened: Group = { twin: t, queue: [] };
      this.groups.set(id, opened);
      return this.send(t, [item], opened, id).then(first) as Promise<O>;
    }
    if (group.twin !== t) {
      // Another twin's state at this key (two kinds of limiter sharing a name): apart.
      return this.send(t, [item], undefined, "").then(first) as Promise<O>;
    }
    const queue = group.queue;
    return new Promise<O>((resolve) => {
      item.resolve = resolve as (output: unknown) => void;
      queue.push(item);
    });
  }

  /** The group's script has answered: send what queued meanwhile (in order), or close the group. */
  private next(id: string, group: Group): void {
    if (group.queue.length === 0) {
      if (this.groups.get(id) === group) this.groups.delete(id);
      return;
    }
    const max = group.twin.maxBatch;
    const items = group.queue.length <= max ? group.queue : group.queue.slice(0, max);
    group.queue = items === group.queue ? [] : group.queue.slice(items.length);
    void this.send(group.twin, items, group, id).then((outputs) => {
      for (let i = 0; i < items.length; i++) (items[i] as Item).resolve(outputs[i]);
    });
  }

  /**
   * Sends one batch; resolves with one output per item, from Redis or from the fallback.
   * Never rejects. With `group`, its next batch goes (or it closes) as soon as the outputs
   * are known, before anyone is told them.
   */
  private send(twin: AnyTwin, items: readonly Item[], group: Group | undefined, id: string): Promise<unknown[]> {
    const settle = (outputs: unknown[]): unknown[] => {
      if (group !== undefined) this.next(id, group);
      return outputs;
    };
    if (!this.host.usable()) return Promise.resolve(settle(this.fallbackAll(twin, items)));
    const head = items[0] as Item;
    const segments = items.length === 1 ? undefined : segmentsOf(items);
    const operation = head.decision.kind;
    let sent: Promise<unknown>;
    try {
      if (segments === undefined || segments.length === 1) {
        const inputs = segments === undefined ? [head.input] : (segments[0] as Segment).inputs;
        sent = this.host.send(twin.script, [head.redisKey], twin.args(head.decision, inputs), operation);
      } else {
        const keys: string[] = [];
        const args: string[] = [];
        for (const segment of segments) {
          const own = twin.args(segment.decision, segment.inputs);
          keys.push(segment.redisKey);
          args.push(String(own.length));
          for (const arg of own) args.push(arg);
        }
        sent = this.host.send(twin.multi as LuaScript, keys, args, operation);
      }
    } catch (error) {
      this.host.report(error, operation);
      return Promise.resolve(settle(this.fallbackAll(twin, items)));
    }
    return sent.then(
      (reply) => {
        let outputs: unknown[];
        try {
          this.host.replied(reply);
          if (reply === STALE_REPLY) throw this.host.stale(operation);
          outputs = segments === undefined || segments.length === 1 ? twin.decode(reply, segments?.[0]?.inputs ?? [head.input], head.now) : decodeMany(twin, reply, segments, items.length, head.now);
        } catch (error) {
          this.host.report(error, operation);
          outputs = this.fallbackAll(twin, items);
        }
        return settle(outputs);
      },
      (error: unknown) => {
        if (segments !== undefined && segments.length > 1 && isCrossSlot(error)) {
          // Keys of one script must share a slot here (a proxy in front of a cluster): stop
          // batching across keys, and send these again per key (the script did not run).
          this.acrossKeys = false;
          this.host.report(error, operation);
          return Promise.all(items.map((item) => this.apply(twin, item.decision, item.key, item.redisKey, item.input, item.now))).then(settle);
        }
        this.host.failed(error, operation);
        return settle(this.fallbackAll(twin, items));
      },
    );
  }

  /** The fallback's answers, one per item. */
  private fallbackAll(twin: AnyTwin, items: readonly Item[]): unknown[] {
    const outputs: unknown[] = [];
    for (const item of items) outputs.push(this.host.fallback(twin, item.decision, item.key, item.input, item.now));
    return outputs;
  }
}

/**
 * The batch split by key (and decision), each key's inputs in arrival order; keys in the
 * order they first appear. Calls on different keys commute, so only each key's order counts.
 */
function segmentsOf(items: readonly Item[]): Segment[] {
  const head = items[0] as Item;
  let same = true;
  for (const item of items) {
    if (item.redisKey !== head.redisKey || item.decision !== head.decision) {
      same = false;
      break;
    }
  }
  if (same) return [{ decision: head.decision, redisKey: head.redisKey, inputs: items.map(inputOf), at: [] }];
  const byKey = new Map<string, Segment[]>();
  const segments: Segment[] = [];
  items.forEach((item, i) => {
    let list = byKey.get(item.redisKey);
    if (list === undefined) byKey.set(item.redisKey, (list = []));
    let segment = list.find((s) => s.decision === item.decision);
    if (segment === undefined) {
      segment = { decision: item.decision, redisKey: item.redisKey, inputs: [], at: [] };
      list.push(segment);
      segments.push(segment);
    }
    segment.inputs.push(item.input);
    segment.at.push(i);
  });
  return segments;
}

/** The many-key script's reply (one reply per key, then now_ms), as one output per item, in item order. */
function decodeMany(twin: AnyTwin, reply: unknown, segments: readonly Segment[], count: number, now: number): unknown[] {
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

/** Redis refused a script whose keys are in different slots. */
function isCrossSlot(error: unknown): boolean {
  return error instanceof Error && error.message.includes("CROSSSLOT");
}

function first(outputs: readonly unknown[]): unknown {
  return outputs[0];
}

function inputOf(item: Item): unknown {
  return item.input;
}

function noop(): void {}
