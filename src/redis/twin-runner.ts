import type { Decision } from "../store/store.js";
import { STALE_REPLY } from "./scripts/limit-lib.js";
import type { Twin } from "./twin.js";

/** The store's side of a {@link TwinRunner}. */
export interface TwinHost {
  /** False while Redis is known to be unreachable, or once the store is closed. */
  usable(): boolean;
  /** Sends a script with the store's timeout; the promise rejects on any failure (not yet reported). */
  send(twin: Twin<unknown, unknown, unknown>, redisKey: string, args: string[], operation: string): Promise<unknown>;
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

interface Item<I, O> {
  readonly input: I;
  readonly now: number;
  readonly resolve: (output: O) => void;
}

/**
 * One key's batch lane, which exists exactly while a script for its key is in flight: what
 * arrives meanwhile waits in `queue` and goes in the next batch.
 */
interface Lane {
  readonly twin: Twin<unknown, unknown, unknown>;
  readonly decision: Decision<unknown, unknown, unknown>;
  readonly key: string;
  queue: Item<unknown, unknown>[];
}

/**
 * Runs decisions through their Lua twins. Calls on the same key while a script for it is in
 * flight wait for it and then go together, in order, in one script (`maxBatch` at most):
 * 64 concurrent calls on a hot key cost a few round trips, not 64 scripts each reading
 * TIME and the state and writing it back. A lone call goes at once, in the caller's own
 * turn, and its answer is the script's reply decoded: no promise of its own, no queue, so
 * latency is one round trip plus as few promise hops as the client allows. Lanes exist only
 * while their key has calls in flight.
 */
export class TwinRunner {
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly host: TwinHost) {}

  /** Applies `input` to `key`'s state through `twin`; never rejects (the fallback answers). */
  apply<S, I, O>(twin: Twin<S, I, O>, decision: Decision<S, I, O>, key: string, redisKey: string, input: I, now: number): Promise<O> {
    if (!this.host.usable()) return Promise.resolve(this.host.fallback(twin, decision, key, input, now));
    const item: Item<I, O> = { input, now, resolve: noop };
    if (twin.maxBatch <= 1) return this.send(twin, decision, key, redisKey, [item], undefined).then(first);
    const lane = this.lanes.get(redisKey);
    if (lane === undefined) {
      // Nothing in flight on the key: send at once; calls arriving meanwhile queue on the lane.
      const opened: Lane = { twin: twin as Twin<unknown, unknown, unknown>, decision: decision as Decision<unknown, unknown, unknown>, key, queue: [] };
      this.lanes.set(redisKey, opened);
      return this.send(twin, decision, key, redisKey, [item], opened).then(first);
    }
    if (lane.decision !== decision) {
      // Another decision on the same key (two limiters sharing a name): not batched together.
      return this.send(twin, decision, key, redisKey, [item], undefined).then(first);
    }
    return new Promise<O>((resolve) => {
      lane.queue.push({ input, now, resolve: resolve as (output: unknown) => void });
    });
  }

  /** The lane's script has answered: send what queued meanwhile (in order), or close the lane. */
  private next(redisKey: string, lane: Lane): void {
    if (lane.queue.length === 0) {
      if (this.lanes.get(redisKey) === lane) this.lanes.delete(redisKey);
      return;
    }
    const max = lane.twin.maxBatch;
    const items = lane.queue.length <= max ? lane.queue : lane.queue.slice(0, max);
    lane.queue = items === lane.queue ? [] : lane.queue.slice(items.length);
    void this.send(lane.twin, lane.decision, lane.key, redisKey, items, lane).then((outputs) => {
      for (let i = 0; i < items.length; i++) (items[i] as Item<unknown, unknown>).resolve(outputs[i]);
    });
  }

  /**
   * Sends one batch; resolves with one output per item, from Redis or from the fallback.
   * Never rejects. With `lane`, the lane's next batch goes (or the lane closes) as soon as
   * the outputs are known, before anyone is told them.
   */
  private send<S, I, O>(twin: Twin<S, I, O>, decision: Decision<S, I, O>, key: string, redisKey: string, items: readonly Item<I, O>[], lane: Lane | undefined): Promise<O[]> {
    if (!this.host.usable()) {
      const outputs = this.fallbackAll(twin, decision, key, items);
      if (lane !== undefined) this.next(redisKey, lane);
      return Promise.resolve(outputs);
    }
    const inputs = items.length === 1 ? [(items[0] as Item<I, O>).input] : items.map(inputOf<I, O>);
    let sent: Promise<unknown>;
    try {
      sent = this.host.send(twin as Twin<unknown, unknown, unknown>, redisKey, twin.args(decision, inputs), decision.kind);
    } catch (error) {
      this.host.report(error, decision.kind);
      const outputs = this.fallbackAll(twin, decision, key, items);
      if (lane !== undefined) this.next(redisKey, lane);
      return Promise.resolve(outputs);
    }
    return sent.then(
      (reply) => {
        let outputs: O[];
        try {
          this.host.replied(reply);
          if (reply === STALE_REPLY) throw this.host.stale(decision.kind);
          // Outputs hold relative times, except the adaptive twin's (a batch of one): the first caller's clock.
          outputs = twin.decode(reply, inputs, (items[0] as Item<I, O>).now);
        } catch (error) {
          this.host.report(error, decision.kind);
          outputs = this.fallbackAll(twin, decision, key, items);
        }
        if (lane !== undefined) this.next(redisKey, lane);
        return outputs;
      },
      (error: unknown) => {
        this.host.failed(error, decision.kind);
        const outputs = this.fallbackAll(twin, decision, key, items);
        if (lane !== undefined) this.next(redisKey, lane);
        return outputs;
      },
    );
  }

  /** The fallback's answers, one per item. */
  private fallbackAll<S, I, O>(twin: Twin<S, I, O>, decision: Decision<S, I, O>, key: string, items: readonly Item<I, O>[]): O[] {
    const outputs: O[] = [];
    for (const item of items) outputs.push(this.host.fallback(twin, decision, key, item.input, item.now));
    return outputs;
  }
}

function first<O>(outputs: readonly O[]): O {
  return outputs[0] as O;
}

function inputOf<I, O>(item: Item<I, O>): I {
  return item.input;
}

function noop(): void {}
