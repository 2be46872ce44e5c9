import type { Decision } from "../store/store.js";
import { STALE_REPLY } from "./scripts/limit-lib.js";
import type { LuaScript } from "./scripts/script.js";
import { type Call, decodeMulti, multiArgs, oneSegment, type Segment, segmentsOf } from "./batch.js";
import type { Twin, TwinStore } from "./twin.js";

/** The store's side of a {@link TwinRunner}. */
export interface TwinHost {
  /** What the twins' arguments may need of the store. */
  readonly store: TwinStore;
  /** False while Redis is known to be unreachable, or once the store is closed. */
  usable(): boolean;
  /** Sends a script with the store's timeout and deadline; the promise rejects on any failure (not yet reported). */
  send(script: LuaScript, keys: string[], args: string[], operation: string): Promise<unknown>;
  /**
   * A script's reply arrived (before it is decoded, never a stale one): learn what it tells
   * of the server, and of the key (`redisKey`, for a one-key script) a mirror may hold.
   */
  replied(twin: AnyTwin, reply: unknown, redisKey: string | undefined): void;
  /** Logs a change of behaviour once (never throws). */
  warn(fields: object, message: string): void;
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
interface Item extends Call {
  readonly key: string;
  readonly now: number;
  resolve: (output: unknown) => void;
  reject: (error: unknown) => void;
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

/**
 * Runs decisions through their Lua twins, batching concurrent calls. A call goes at once,
 * in the caller's own turn, when no script of its group is in flight (one round trip, no
 * queue). Calls that arrive while one is wait for it and then go together, in arrival
 * order, in one script (`maxBatch` at most, so a call waits one round trip more while
 * fewer than `maxBatch` calls are ahead of it): one key's calls as one batch, several
 * keys' calls in the twin's many-key script. 64 concurrent calls cost a few round trips,
 * not 64 scripts each reading TIME and writing state back. On a standalone server a group
 * is a twin (calls on different keys share scripts); on a cluster it is a key. Each script
 * is atomic, so batching changes the cost, never the outcome.
 */
export class TwinRunner {
  private readonly groups = new Map<string, Group>();

  /**
   * With `acrossKeys` (a standalone server), calls on different keys go in one script,
   * until a server answers CROSSSLOT (keys of one script must share a slot there).
   */
  constructor(
    private readonly host: TwinHost,
    private acrossKeys: boolean,
  ) {}

  /** Applies `input` to `key`'s state through `twin`; never rejects (the fallback answers). */
  apply<S, I, O>(twin: Twin<S, I, O>, decision: Decision<S, I, O>, key: string, redisKey: string, input: I, now: number): Promise<O> {
    if (!this.host.usable()) return Promise.resolve(this.host.fallback(twin, decision, key, input, now));
    const t = twin as AnyTwin;
    const item: Item = { decision: decision as AnyDecision, key, redisKey, input, now, resolve: noop, reject: noop };
    if (t.maxBatch <= 1 || t.multi === undefined) return this.send(t, [item], undefined, "", true) as Promise<O>;
    const id = this.acrossKeys ? t.script.sha : redisKey;
    const group = this.groups.get(id);
    if (group === undefined) {
      // Nothing in flight: send at once; calls arriving meanwhile queue on the group.
      const opened: Group = { twin: t, queue: [] };
      this.groups.set(id, opened);
      return this.send(t, [item], opened, id, true) as Promise<O>;
    }
    if (group.twin !== t) {
      // Another twin's state at this key (two kinds of limiter sharing a name): apart.
      return this.send(t, [item], undefined, "", true) as Promise<O>;
    }
    const queue = group.queue;
    return new Promise<O>((resolve, reject) => {
      item.resolve = resolve as (output: unknown) => void;
      item.reject = reject;
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
    (this.send(group.twin, items, group, id, false) as Promise<unknown[]>).then(
      (outputs) => {
        for (let i = 0; i < items.length; i++) (items[i] as Item).resolve(outputs[i]);
      },
      (error: unknown) => {
        for (const item of items) item.reject(error);
      },
    );
  }

  /**
   * Sends one batch; resolves with one output per item (with `one`, the first item's output
   * alone), from Redis or from the fallback (rejects only if the fallback itself throws).
   * With `group`, its next batch goes (or it closes) as soon as the outputs are known,
   * before anyone is told them, whatever happened.
   */
  private send(twin: AnyTwin, items: readonly Item[], group: Group | undefined, id: string, one: boolean): Promise<unknown> {
    try {
      return this.dispatch(twin, items, group, id, one);
    } catch (error) {
      return this.settle(Promise.reject(error), group, id, one);
    }
  }

  /** `outputs` as {@link send} answers them: the group's next batch first, then the outputs (or the first). */
  private settle(outputs: Promise<unknown[]>, group: Group | undefined, id: string, one: boolean): Promise<unknown> {
    const settled = group === undefined ? outputs : outputs.finally(() => this.next(id, group));
    return one ? settled.then(first) : settled;
  }

  /**
   * The batch's script call. The reply's handler decodes (or falls back), lets the group's
   * next batch go and answers, in one step: no promise layers between Redis and the caller
   * besides the store's own. The rare paths (Redis unusable, a refused send, CROSSSLOT)
   * answer through {@link settle}.
   */
  private dispatch(twin: AnyTwin, items: readonly Item[], group: Group | undefined, id: string, one: boolean): Promise<unknown> {
    if (!this.host.usable()) return this.settle(Promise.resolve(this.fallbackAll(twin, items)), group, id, one);
    const head = items[0] as Item;
    const segments = items.length === 1 || oneSegment(items) ? undefined : segmentsOf(items);
    // One key's batch: its inputs in order (a many-key batch carries them in its segments).
    const inputs = segments !== undefined ? [] : items.length === 1 ? [head.input] : items.map(inputOf);
    const operation = head.decision.kind;
    let sent: Promise<unknown>;
    try {
      if (segments === undefined) {
        sent = this.host.send(twin.script, [head.redisKey], twin.args(head.decision, inputs, this.host.store), operation);
      } else {
        const { keys, args } = multiArgs(twin, segments, this.host.store);
        sent = this.host.send(twin.multi as LuaScript, keys, args, operation);
      }
    } catch (error) {
      this.host.report(error, operation);
      return this.settle(Promise.resolve(this.fallbackAll(twin, items)), group, id, one);
    }
    return sent.then(
      (reply) => {
        let outputs: unknown[];
        try {
          outputs = this.decoded(twin, items, reply, segments, inputs, operation);
        } finally {
          if (group !== undefined) this.next(id, group);
        }
        return one ? outputs[0] : outputs;
      },
      (error: unknown) => {
        if (segments !== undefined && isCrossSlot(error))
          return this.settle(this.perKey(twin, items, group, error, operation), group, id, one);
        let outputs: unknown[];
        try {
          this.host.failed(error, operation);
          outputs = this.fallbackAll(twin, items);
        } finally {
          if (group !== undefined) this.next(id, group);
        }
        return one ? outputs[0] : outputs;
      },
    );
  }

  /** The outputs of a reply (or the fallback's, when it cannot be used). */
  private decoded(
    twin: AnyTwin,
    items: readonly Item[],
    reply: unknown,
    segments: Segment[] | undefined,
    inputs: readonly unknown[],
    operation: string,
  ): unknown[] {
    const head = items[0] as Item;
    try {
      if (reply === STALE_REPLY) throw this.host.stale(operation);
      this.host.replied(twin, reply, segments === undefined ? head.redisKey : undefined);
      return segments === undefined ? twin.decode(reply, inputs, head.now) : decodeMulti(twin, reply, segments, items.length, head.now);
    } catch (error) {
      this.host.report(error, operation);
      return this.fallbackAll(twin, items);
    }
  }

  /**
   * The server refused a many-key script (CROSSSLOT: a proxy in front of a cluster): stop
   * batching across keys, and send this batch and the calls queued behind it again, per key
   * and in arrival order. The script did not run, so nothing is applied twice.
   */
  private perKey(twin: AnyTwin, items: readonly Item[], group: Group | undefined, error: unknown, operation: string): Promise<unknown[]> {
    if (this.acrossKeys) {
      this.acrossKeys = false;
      this.host.warn(
        { operation, error: String(error) },
        "Redis refused a script over several keys (CROSSSLOT); limiter calls on different keys now go apart",
      );
    }
    this.host.report(error, operation);
    const queued = group?.queue ?? [];
    if (group !== undefined) group.queue = [];
    const again = [...items, ...queued].map((item) => this.apply(twin, item.decision, item.key, item.redisKey, item.input, item.now));
    queued.forEach((item, i) => {
      (again[items.length + i] as Promise<unknown>).then(item.resolve, item.reject);
    });
    return Promise.all(again.slice(0, items.length));
  }

  /** The fallback's answers, one per item. */
  private fallbackAll(twin: AnyTwin, items: readonly Item[]): unknown[] {
    const outputs: unknown[] = [];
    for (const item of items) outputs.push(this.host.fallback(twin, item.decision, item.key, item.input, item.now));
    return outputs;
  }
}

/** Redis refused a script whose keys are in different slots. */
function isCrossSlot(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("CROSSSLOT");
}

function first(outputs: readonly unknown[]): unknown {
  return outputs[0];
}

function inputOf(item: Item): unknown {
  return item.input;
}

function noop(): void {}
