import { abortReason, throwIfAborted } from "../core/abort.js";
import { BulkheadRejectedError, InvalidOptionError } from "../core/errors.js";
import { type AttachOptions, checkAttach, type Telemetry, telemetryOption } from "../core/telemetry.js";
import { Emitter, type ListenerErrorHandler } from "../core/events.js";
import { type ExecuteOptions, type Operation, type Policy, toContext } from "../core/policy.js";
import { checkKeys, integer, nonEmptyString, orDefault } from "../core/validate.js";
import { WaitQueue } from "./wait-queue.js";

/** Options of {@link bulkhead}. */
export interface BulkheadOptions {
  /** Calls that may run at once: an integer >= 1. Required. */
  readonly maxConcurrent: number;
  /** Calls that may wait for a slot, in FIFO order: an integer >= 0. Default 0 (no queue). */
  readonly maxQueue?: number;
  /** Where listener errors go. Default: a process warning. */
  readonly onListenerError?: ListenerErrorHandler;
  /** Its name in telemetry, logs and metrics. Default `"bulkhead"`. */
  readonly name?: string;
  /** Where it reports its events (see docs/telemetry.md). Default: none. */
  readonly telemetry?: Telemetry;
}

/** The events of a {@link BulkheadPolicy}. */
export interface BulkheadEvents {
  /** A call was refused: no free slot and no room in the queue. */
  rejected: { readonly running: number; readonly queued: number };
}

const WHERE = "bulkhead()";

/**
 * Caps concurrency: at most `maxConcurrent` calls run; up to `maxQueue` more wait their
 * turn in FIFO order; beyond that a call rejects at once with `BulkheadRejectedError`.
 * A waiting call whose signal aborts leaves the queue and rejects with the abort reason.
 * A finished call hands its slot straight to the first waiter, so no newcomer can jump
 * the queue.
 */
export class BulkheadPolicy implements Policy {
  /** Its name in telemetry, logs and metrics (`options.name`, default `"bulkhead"`). */
  readonly name: string;
  /** The concurrency limit. */
  readonly maxConcurrent: number;
  /** The queue's capacity. */
  readonly maxQueue: number;
  private active = 0;
  private readonly queue = new WaitQueue<void>();
  private readonly events: Emitter<BulkheadEvents>;

  constructor(options: BulkheadOptions) {
    if (options === undefined || options === null) throw new InvalidOptionError(WHERE, "maxConcurrent", undefined, "an integer >= 1");
    checkKeys(WHERE, options, ["maxConcurrent", "maxQueue", "onListenerError", "name", "telemetry"]);
    this.maxConcurrent = integer(WHERE, "maxConcurrent", options.maxConcurrent, 1);
    this.maxQueue = integer(WHERE, "maxQueue", orDefault(options.maxQueue, 0), 0);
    this.name = nonEmptyString(WHERE, "name", orDefault(options.name, "bulkhead"));
    this.events = new Emitter<BulkheadEvents>(options.onListenerError, {
      source: "bulkhead",
      name: this.name,
      telemetry: telemetryOption(WHERE, options.telemetry),
    });
  }

  /** Calls running now. */
  get running(): number {
    return this.active;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.queue.size;
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof BulkheadEvents>(event: K, listener: (payload: BulkheadEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /**
   * Reports this policy's events to `telemetry` too (logging and metrics use it), under
   * `options.name` if given; returns the function that detaches it. Attaching one sink
   * twice reports each event to it once.
   */
  attach(telemetry: Telemetry, options?: AttachOptions): () => void {
    return this.events.attach(telemetry, checkAttach(`${WHERE}.attach`, telemetry, options));
  }

  /** Runs `fn` in a free slot, after waiting for one when the queue has room. */
  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.active < this.maxConcurrent) {
      this.active++;
      return this.run(fn, options);
    }
    if (this.queue.size >= this.maxQueue) {
      if (this.events.has("rejected")) this.events.emit("rejected", { running: this.active, queued: this.queue.size });
      return Promise.reject(new BulkheadRejectedError(this.active, this.queue.size));
    }
    return this.queue.enqueue({ signal }).then(() => this.run(fn, options));
  }

  private async run<T>(fn: Operation<T>, options: ExecuteOptions | undefined): Promise<T> {
    try {
      throwIfAborted(options?.signal);
      return await fn(toContext(options));
    } finally {
      // The slot goes straight to the first waiter: no newcomer can take it in between.
      const next = this.queue.first();
      if (next === undefined) this.active--;
      else this.queue.admit(next, undefined);
    }
  }
}

/** A bulkhead policy: `bulkhead({ maxConcurrent: 10, maxQueue: 100 })`. */
export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  return new BulkheadPolicy(options);
}
