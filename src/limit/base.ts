import { abortReason, throwIfAborted } from "../core/abort.js";
import type { Clock } from "../core/clock.js";
import { InvalidOptionError, RateLimitExceededError, ResilienceError } from "../core/errors.js";
import { type AttachOptions, checkAttach, type Telemetry, telemetryOption } from "../core/telemetry.js";
import { Emitter, type ListenerErrorHandler } from "../core/events.js";
import { type Operation, toContext } from "../core/policy.js";
import { clockOption, nonEmptyString, nonNegativeOrInfinity, orDefault } from "../core/validate.js";
import { WaitQueue } from "../policy/wait-queue.js";
import { MemoryStore } from "../store/memory.js";
import { isPromiseLike, type Store } from "../store/store.js";
import type { LimitDecision, LimitInput } from "./decision.js";
import {
  type AcquireOptions,
  DEFAULT_KEY,
  type LimiterExecuteOptions,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimiterEvents,
} from "./limiter.js";

/** The options every limiter takes besides its algorithm's own. Every one is optional. */
export interface RateLimiterOptions {
  /** Shown in errors, events and metrics, and part of every store key. Default: the algorithm's name. */
  readonly name?: string;
  /**
   * Where per-key state lives; share one (e.g. a Redis store) to share the limit. Default: a
   * private `MemoryStore` on this limiter's clock.
   */
  readonly store?: Store;
  /** Default `systemClock`. */
  readonly clock?: Clock;
  /** How long `acquire` and `execute` wait at most, unless a call says otherwise (ms). Default Infinity. */
  readonly maxWaitMs?: number;
  /** Where listener errors go. Default: a process warning. */
  readonly onListenerError?: ListenerErrorHandler;
  /** Where it reports its events (see docs/telemetry.md). Default: none. */
  readonly telemetry?: Telemetry;
}

/** The option names of {@link RateLimiterOptions}, for each algorithm's unknown-key check. */
export const COMMON_OPTION_KEYS = ["name", "store", "clock", "maxWaitMs", "onListenerError", "telemetry"] as const;

type Answer = RateLimitDecision | Promise<RateLimitDecision>;

/**
 * The shell every keyed limiter shares: it validates calls, reads the clock, asks the
 * store to apply the algorithm's {@link LimitDecision} at `limit:<name>:{<key>}`, queues
 * the `acquire` calls that must wait (FIFO per key, one sleep per waiting key), and emits
 * events. Subclass it with a decision to add an algorithm.
 */
export class BaseRateLimiter<S> implements RateLimiter {
  readonly name: string;
  /** The most units one key can spend at once. */
  readonly limit: number;
  readonly policy: string;
  /** The algorithm's parameters, e.g. `{ capacity, ratePerSec }` or `{ limit, windowMs }`: for dashboards. */
  readonly params: LimitDecision<S>["params"];
  /** Where the state lives. */
  readonly store: Store;
  private readonly decision: LimitDecision<S>;
  protected readonly clock: Clock;
  private readonly maxWaitMs: number;
  private readonly ownsStore: boolean;
  private readonly events: Emitter<RateLimiterEvents>;
  protected readonly where: string;
  private readonly prefix: string;
  /** The store answers synchronously (a `MemoryStore`): no promise chain is needed. */
  private readonly synchronous: boolean;
  /**
   * A unit may go straight to the store (synchronous, and no subclass answers calls
   * itself, as a leased limiter does): `tryAcquire`'s hot path, tested in one field.
   */
  protected direct: boolean;
  /** Reused for every call on a synchronous store, which reads it before returning. */
  private readonly input: LimitInput = { cost: 1, peek: false };
  private readonly queues = new Map<string, KeyQueue>();
  private lastKey = "";
  private lastStoreKey = "";

  /**
   * @param where the class name, for messages.
   * @param options the common options (the subclass has checked for unknown keys).
   * @param decision the algorithm.
   */
  constructor(where: string, options: RateLimiterOptions, decision: LimitDecision<S>) {
    this.name = nonEmptyString(where, "name", orDefault(options.name, decision.kind));
    this.where = `${where}("${this.name}")`;
    this.decision = decision;
    this.limit = decision.limit;
    this.policy = decision.policy;
    this.params = decision.params;
    this.clock = clockOption(where, options.clock);
    this.ownsStore = options.store === undefined;
    this.store = options.store ?? new MemoryStore({ clock: this.clock });
    if (typeof this.store !== "object" || this.store === null || typeof this.store.apply !== "function") {
      throw new InvalidOptionError(where, "store", options.store, "a Store such as new MemoryStore()");
    }
    this.synchronous = this.store.synchronous === true;
    this.direct = this.synchronous;
    this.maxWaitMs = nonNegativeOrInfinity(where, "maxWaitMs", orDefault(options.maxWaitMs, Infinity));
    this.events = new Emitter<RateLimiterEvents>(options.onListenerError, {
      source: "limiter",
      name: this.name,
      telemetry: telemetryOption(where, options.telemetry),
    });
    this.prefix = this.ownsStore ? "" : `limit:${this.name}:{`;
  }

  tryAcquire(key: string = DEFAULT_KEY, cost = 1): Promise<RateLimitDecision> {
    // The common call, a unit on a synchronous store with nobody queued, skips the general
    // checks: a cost of 1 is always valid (the limit is an integer >= 1).
    if (cost === 1 && this.direct === true && this.queues.size === 0 && typeof key === "string" && key.length !== 0) {
      const input = this.input;
      input.cost = 1;
      input.peek = false;
      let d: RateLimitDecision;
      try {
        d = this.store.apply(this.decision, this.storeKey(key), input, this.clock.now()) as RateLimitDecision;
      } catch (error) {
        return Promise.reject(error);
      }
      return Promise.resolve(this.report(key, 1, d, 0));
    }
    return this.tryAcquireGeneral(key, cost);
  }

  /** `tryAcquire` past its hot path: any cost, a queued key, an asynchronous store, or a lease (overridden). */
  protected tryAcquireGeneral(key: string, cost: number): Promise<RateLimitDecision> {
    const invalid = this.check(key, cost, "tryAcquire");
    if (invalid !== undefined) return Promise.reject(invalid);
    if (this.queues.size !== 0 && this.queues.has(key)) return this.behindQueue(key, cost);
    let answer: Answer;
    try {
      answer = this.apply(key, cost, false);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.synchronous) return Promise.resolve(this.report(key, cost, answer as RateLimitDecision, 0));
    return (answer as Promise<RateLimitDecision>).then((d) => this.report(key, cost, d, 0));
  }

  acquire(key: string = DEFAULT_KEY, options?: AcquireOptions): Promise<RateLimitDecision> {
    const cost = options?.cost ?? 1;
    const invalid = this.check(key, cost, "acquire");
    if (invalid !== undefined) return Promise.reject(invalid);
    const maxWaitMs = options?.maxWaitMs ?? this.maxWaitMs;
    if (typeof maxWaitMs !== "number" || !(maxWaitMs >= 0)) {
      return Promise.reject(
        new InvalidOptionError(`${this.where}.acquire`, "maxWaitMs", maxWaitMs, "a number >= 0 (Infinity for no limit)"),
      );
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const queue = this.queues.get(key);
    if (this.synchronous) {
      try {
        // With nobody queued, try now; otherwise only check that the wait can fit.
        const d = this.apply(
          key,
          queue === undefined ? cost : Math.min(this.limit, queue.queuedCost + cost),
          queue !== undefined,
        ) as RateLimitDecision;
        if (queue === undefined && d.allowed) return Promise.resolve(this.report(key, cost, d, 0));
        if (d.retryAfterMs > maxWaitMs) return Promise.reject(this.refuse(key, cost, d.retryAfterMs, maxWaitMs));
        return this.enqueue(key, cost, maxWaitMs, signal, queue, queue === undefined ? d.retryAfterMs : 0);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.enqueue(key, cost, maxWaitMs, signal, queue, 0);
  }

  /** Acquires a permit for the options' key and cost (waiting its turn), then runs `fn`. */
  async execute<T>(fn: Operation<T>, options?: LimiterExecuteOptions): Promise<T> {
    await this.acquire(options?.key, options);
    // Admitted, but the signal may have aborted since (a call admitted in the same turn did
    // it): a call that has not started does not start. Its permit stays spent.
    throwIfAborted(options?.signal);
    return fn(
      options === undefined || (options.signal === undefined && options.attempt === undefined)
        ? toContext(undefined)
        : { signal: options.signal, attempt: options.attempt ?? 1 },
    );
  }

  on<K extends keyof RateLimiterEvents>(event: K, listener: (payload: RateLimiterEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /**
   * Reports this policy's events to `telemetry` too (logging and metrics use it), under
   * `options.name` if given; returns the function that detaches it. Attaching one sink
   * twice reports each event to it once.
   */
  attach(telemetry: Telemetry, options?: AttachOptions): () => void {
    return this.events.attach(telemetry, checkAttach(`${this.where}.attach`, telemetry, options));
  }

  /**
   * What `key` (default key when omitted) has left now, without taking anything or
   * emitting an event: for dashboards and status pages. `allowed` is always true.
   */
  peek(key: string = DEFAULT_KEY): Promise<RateLimitDecision> {
    const invalid = this.check(key, 0, "peek");
    if (invalid !== undefined) return Promise.reject(invalid);
    try {
      // A cost of 0 with peek reads the state as it is now: remaining and reset time.
      return Promise.resolve(this.apply(key, 0, true));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** True while any `acquire` call waits, on any key (a cheap check before the per-key one). */
  protected get anyWaiting(): boolean {
    return this.queues.size !== 0;
  }

  /** How many `acquire` calls are waiting on `key` (default key when omitted). */
  waiting(key: string = DEFAULT_KEY): number {
    return this.queues.get(key)?.size ?? 0;
  }

  /**
   * Forgets `key`'s state: it is full again, and the `acquire` calls waiting on it in this
   * process try again at once (waiters in other processes sharing the store wake when their
   * own wait ends).
   */
  async reset(key: string = DEFAULT_KEY): Promise<void> {
    const invalid = this.check(key, 0, "reset");
    if (invalid !== undefined) throw invalid;
    await this.store.delete(this.storeKey(key));
    this.wakeWaiters(key);
  }

  /** Units may have come free on `key` (a reset, units given back): its waiting `acquire` calls try again now. */
  protected wakeWaiters(key: string): void {
    this.queues.get(key)?.wake();
  }

  /**
   * A take of `key` was refused because its cost is over the limit, before the store was
   * asked. Nothing to do here; a limiter whose refusals close the key (`blockMs`) closes it.
   */
  protected refusedOverLimit(key: string): void {
    void key;
  }

  /**
   * Rejects every waiting `acquire` with a `ResilienceError` and closes the store when the
   * limiter created it. The limiter keeps answering `tryAcquire` only with a store of its own.
   */
  async close(): Promise<void> {
    const closed = new ResilienceError(`Rate limiter "${this.name}" was closed`);
    for (const queue of this.queues.values()) queue.drain(closed);
    this.queues.clear();
    if (this.ownsStore) await this.store.close();
  }

  /**
   * The store key of `key`: `limit:<name>:{<key>}` in a store given as an option (the
   * braces are a Redis Cluster hash tag). In the limiter's private store nothing else
   * lives, so there the key is used as it is, sparing a concatenation and a hash per call.
   */
  storeKey(key: string): string {
    if (this.ownsStore) return key;
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.lastStoreKey = `${this.prefix}${key}}`;
    }
    return this.lastStoreKey;
  }

  /** Applies any input (an operation, a lease) to `key`'s state, on this limiter's clock. */
  protected applyInput(key: string, input: LimitInput): Answer {
    return this.store.apply(this.decision, this.storeKey(key), input, this.clock.now());
  }

  private apply(key: string, cost: number, peek: boolean): Answer {
    const input = this.synchronous ? this.input : { cost, peek };
    input.cost = cost;
    input.peek = peek;
    return this.store.apply(this.decision, this.storeKey(key), input, this.clock.now());
  }

  /** A bad key or cost (InvalidOptionError), a cost that can never be admitted (RateLimitExceededError), or undefined. */
  protected check(key: unknown, cost: unknown, method: string): Error | undefined {
    if (this.takeable(key, cost)) return undefined;
    if (typeof key !== "string" || key.length === 0) {
      return new InvalidOptionError(`${this.where}.${method}`, "key", key, "a non-empty string");
    }
    if (typeof cost !== "number" || !Number.isInteger(cost) || cost < 0) {
      return new InvalidOptionError(`${this.where}.${method}`, "cost", cost, "an integer >= 0");
    }
    if (cost > this.limit) {
      this.refusedOverLimit(key);
      if (this.events.has("rejected")) this.events.emit("rejected", { limiter: this.name, key, cost, retryAfterMs: Infinity });
      return new RateLimitExceededError(Infinity, {
        limiter: this.name,
        key,
        limit: this.limit,
        message: `Rate limiter "${this.name}": a cost of ${cost} can never be admitted (the limit is ${this.limit})`,
      });
    }
    return undefined;
  }

  /** Whether `check` lets this take through: a non-empty key and a whole cost from 0 to the limit. */
  protected takeable(key: unknown, cost: unknown): key is string {
    return (
      typeof key === "string" && key.length !== 0 && typeof cost === "number" && Number.isInteger(cost) && cost >= 0 && cost <= this.limit
    );
  }

  /** `tryAcquire` while `acquire` calls wait on the key: they go first, so this is refused. */
  private behindQueue(key: string, cost: number): Promise<RateLimitDecision> {
    const queued = (this.queues.get(key) as KeyQueue).queuedCost;
    const refused = (d: RateLimitDecision): RateLimitDecision =>
      this.report(
        key,
        cost,
        { allowed: false, remaining: 0, limit: d.limit, retryAfterMs: d.retryAfterMs, resetAfterMs: d.resetAfterMs },
        0,
      );
    try {
      const answer = this.apply(key, Math.min(this.limit, queued + cost), true);
      return isPromiseLike(answer) ? answer.then(refused) : Promise.resolve(refused(answer));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  protected report(key: string, cost: number, d: RateLimitDecision, waitedMs: number): RateLimitDecision {
    if (d.allowed) {
      if (this.events.has("acquired")) this.events.emit("acquired", { limiter: this.name, key, cost, waitedMs });
    } else if (this.events.has("rejected")) {
      this.events.emit("rejected", { limiter: this.name, key, cost, retryAfterMs: d.retryAfterMs });
    }
    return d;
  }

  private refuse(key: string, cost: number, retryAfterMs: number, maxWaitMs: number): RateLimitExceededError {
    if (this.events.has("rejected")) this.events.emit("rejected", { limiter: this.name, key, cost, retryAfterMs });
    return new RateLimitExceededError(retryAfterMs, {
      limiter: this.name,
      key,
      message: `Rate limit exceeded for "${this.name}" (key "${key}"): the wait of ${Math.ceil(retryAfterMs)} ms or more would exceed maxWaitMs ${maxWaitMs}`,
    });
  }

  private enqueue(
    key: string,
    cost: number,
    maxWaitMs: number,
    signal: AbortSignal | undefined,
    existing: KeyQueue | undefined,
    firstDelayMs: number,
  ): Promise<RateLimitDecision> {
    const queue = existing ?? new KeyQueue(key);
    const waited = queue.enqueue({ cost, now: this.clock.now(), maxWaitMs, signal });
    if (existing === undefined) {
      this.queues.set(key, queue);
      void this.pump(queue, firstDelayMs);
    }
    return waited;
  }

  /**
   * Serves one key's queue: tries the head, admits it or sleeps until it could be admitted
   * (rejecting at once every waiter that cannot be admitted before its deadline), and ends
   * when the queue is empty. One sleep per waiting key; an abort of the head wakes it.
   */
  private async pump(queue: KeyQueue, firstDelayMs: number): Promise<void> {
    let delayMs = firstDelayMs;
    try {
      for (;;) {
        // A caller awaits this sleep: the clock's sleep keeps the process alive while it runs.
        if (delayMs > 0) await queue.nap(Math.max(1, Math.ceil(delayMs)), this.sleep);
        delayMs = 0;
        const head = queue.first();
        if (head === undefined) return;
        let d: RateLimitDecision;
        try {
          const answer = this.apply(queue.key, head.cost, false);
          d = isPromiseLike(answer) ? await answer : answer;
        } catch (error) {
          queue.fail(head, error);
          continue;
        }
        if (head.done) continue;
        const now = this.clock.now();
        if (d.allowed) {
          // Out of the queue first, then the event: a listener sees the queue without it.
          if (queue.admit(head, d)) this.report(queue.key, head.cost, d, now - head.enqueuedAt);
          continue;
        }
        const retryAfterMs = Number.isFinite(d.retryAfterMs) ? d.retryAfterMs : Infinity;
        queue.expire(now + retryAfterMs, (late) => this.refuse(queue.key, late.cost, retryAfterMs, late.maxWaitMs));
        if (!head.done && retryAfterMs === Infinity) {
          queue.fail(head, this.refuse(queue.key, head.cost, Infinity, head.maxWaitMs));
        }
        if (!head.done) delayMs = retryAfterMs;
      }
    } finally {
      if (this.queues.get(queue.key) === queue) this.queues.delete(queue.key);
    }
  }

  private readonly sleep = (ms: number, signal: AbortSignal): Promise<void> => this.clock.sleep(ms, signal);
}

/** One key's waiting `acquire` calls. */
class KeyQueue extends WaitQueue<RateLimitDecision> {
  constructor(
    /** The caller's key (not the store key). */
    readonly key: string,
  ) {
    super();
  }
}
