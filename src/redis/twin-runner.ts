import type { Decision } from "../store/store.js";
import { STALE_REPLY } from "./scripts/limit-lib.js";
import type { Twin } from "./twin.js";

/** The store's side of a {@link TwinRunner}. */
export interface TwinHost {
  /** False while Redis is known to be unreachable, or once the store is closed. */
  usable(): boolean;
  /** Sends a script with the store's timeout; the promise rejects on any failure (not yet reported). */
  send(twin: Twin<unknown, unknown, unknown>, redisKey: string, args: string[], operation: string): Promise<unknown>;
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

/** One key's batch lane: at most one script in flight; what arrives meanwhile goes in the next batch. */
interface Lane {
  readonly twin: Twin<unknown, unknown, unknown>;
  readonly decision: Decision<unknown, unknown, unknown>;
  readonly key: string;
  busy: boolean;
  queue: Item<unknown, unknown>[];
}

/**
 * Runs decisions through their Lua twins. Calls on the same key while a script for it is in
 * flight wait for it and then go together, in order, in one script (`maxBatch` at most):
 * 64 concurrent calls on a hot key cost a few round trips, not 64 scripts each reading
 * TIME and the state and writing it back. A lone call goes at once, so latency is one
 * round trip. Lanes exist only while their key has calls in flight.
 */
export class TwinRunner {
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly host: TwinHost) {}

  /** Applies `input` to `key`'s state through `twin`; never rejects (the fallback answers). */
  apply<S, I, O>(twin: Twin<S, I, O>, decision: Decision<S, I, O>, key: string, redisKey: string, input: I, now: number): Promise<O> {
    if (!this.host.usable()) return Promise.resolve(this.host.fallback(twin, decision, key, input, now));
    if (twin.maxBatch <= 1) return this.send(twin, decision, key, redisKey, [{ input, now, resolve: noop }]).then((outs) => outs[0] as O);
    let lane = this.lanes.get(redisKey);
    if (lane === undefined) {
      lane = { twin: twin as Twin<unknown, unknown, unknown>, decision: decision as Decision<unknown, unknown, unknown>, key, busy: false, queue: [] };
      this.lanes.set(redisKey, lane);
    } else if (lane.decision !== decision) {
      // Another decision on the same key (two limiters sharing a name): not batched together.
      return this.send(twin, decision, key, redisKey, [{ input, now, resolve: noop }]).then((outs) => outs[0] as O);
    }
    const target = lane;
    return new Promise<O>((resolve) => {
      target.queue.push({ input, now, resolve: resolve as (output: unknown) => void });
      if (!target.busy) this.drain(redisKey, target);
    });
  }

  private drain(redisKey: string, lane: Lane): void {
    const items = lane.queue.length <= lane.twin.maxBatch ? lane.queue : lane.queue.slice(0, lane.twin.maxBatch);
    lane.queue = items === lane.queue ? [] : lane.queue.slice(items.length);
    lane.busy = true;
    void this.send(lane.twin, lane.decision, lane.key, redisKey, items).then((outputs) => {
      for (let i = 0; i < items.length; i++) (items[i] as Item<unknown, unknown>).resolve(outputs[i]);
      lane.busy = false;
      if (lane.queue.length > 0) this.drain(redisKey, lane);
      else if (this.lanes.get(redisKey) === lane) this.lanes.delete(redisKey);
    });
  }

  /** Sends one batch; resolves with one output per item, from Redis or from the fallback. Never rejects. */
  private send<S, I, O>(twin: Twin<S, I, O>, decision: Decision<S, I, O>, key: string, redisKey: string, items: readonly Item<I, O>[]): Promise<O[]> {
    const fallback = (): O[] => items.map((item) => this.host.fallback(twin, decision, key, item.input, item.now));
    if (!this.host.usable()) return Promise.resolve(fallback());
    const inputs = items.map((item) => item.input);
    let sent: Promise<unknown>;
    try {
      sent = this.host.send(twin as Twin<unknown, unknown, unknown>, redisKey, twin.args(decision, inputs), decision.kind);
    } catch (error) {
      this.host.report(error, decision.kind);
      return Promise.resolve(fallback());
    }
    return sent.then(
      (reply) => {
        try {
          if (reply === STALE_REPLY) throw this.host.stale(decision.kind);
          // Outputs hold relative times, except the adaptive twin's (a batch of one): the first caller's clock.
          return twin.decode(reply, inputs, (items[0] as Item<I, O>).now);
        } catch (error) {
          this.host.report(error, decision.kind);
          return fallback();
        }
      },
      (error: unknown) => {
        this.host.failed(error, decision.kind);
        return fallback();
      },
    );
  }
}

function noop(): void {}
