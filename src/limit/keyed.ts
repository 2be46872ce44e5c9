import { abortReason } from "../core/abort.js";
import { InvalidOptionError } from "../core/errors.js";
import { checkKeys, integer, nonNegative, oneOf, orDefault, positive } from "../core/validate.js";
import { isPromiseLike } from "../store/store.js";
import { BaseRateLimiter, type RateLimiterOptions } from "./base.js";
import type { LimitDecision, LimitInput, LimitOp } from "./decision.js";
import { LeaseBook, type LeaseOptions, type LeaseStats } from "./lease.js";
import { type AcquireOptions, DEFAULT_KEY, type RateLimitDecision } from "./limiter.js";

export type { LeaseOptions, LeaseStats } from "./lease.js";

/**
 * The options of the limiters that count units per key (`TokenBucket`, `FixedWindow`)
 * besides their algorithm's: blocking, even spreading and leases. Every one is optional.
 */
export interface KeyedLimiterOptions {
  /**
   * A key refused once is refused for this long (ms; 0, the default, never blocks): brute-force
   * protection for logins. A fixed window is made to end, full, `blockMs` from the refusal
   * (or at its own end, if later); a bucket stops refilling for `blockMs`.
   */
  readonly blockMs?: number;
  /**
   * `"even"`: `acquire` and `execute` spread the units a key has left evenly over the time
   * until it resets, as rate-limiter-flexible's `execEvenly`: an admitted call that leaves
   * `remaining` units waits `resetAfterMs / (remaining + 2)` before it proceeds (the first of
   * a fresh window or a full bucket does not wait), so that a window's calls come about
   * `windowMs / limit` apart. `tryAcquire` never waits. Default `"none"`.
   */
  readonly spread?: "none" | "even";
  /**
   * Leased units, for a key hotter than one round trip per call allows (a shared store such
   * as `RedisStore`): a process takes up to `units` from the key in one call and answers
   * `tryAcquire` / `acquire` locally until they are spent or `maxHoldMs` passes. The limit
   * is never exceeded across processes; units held by one process can make others wait
   * (see docs/redis.md). Default: none (every call asks the store).
   */
  readonly lease?: LeaseOptions;
}

/** The option names of {@link KeyedLimiterOptions}. */
export const KEYED_OPTION_KEYS = ["blockMs", "spread", "lease"] as const;

/**
 * What a key has used and has left, as `get`, `set`, `penalty` and `reward` report it. Held
 * leases are counted as used (they were taken from the key).
 */
export interface KeyUsage {
  /** Units counted against the key now: `limit − remaining`, so at most `limit` (a bucket's units owed past it lengthen `retryAfterMs`). */
  readonly used: number;
  /** Units a call could take now. */
  readonly remaining: number;
  readonly limit: number;
  /** Milliseconds until one unit can be taken (0: now), a block included. */
  readonly retryAfterMs: number;
}

/** Validates `blockMs` (a finite number >= 0). */
export function blockOption(where: string, options: KeyedLimiterOptions | undefined): number {
  return nonNegative(where, "blockMs", orDefault(options?.blockMs, 0));
}

/**
 * A limiter that counts units per key (`TokenBucket`, `FixedWindow`): the common shell plus
 * rate-limiter-flexible's administration (`get`, `set`, `delete`, `penalty`, `reward`),
 * `blockMs` (carried out by the decision, atomically), `spread: "even"`, and leases.
 */
export class KeyedRateLimiter<S> extends BaseRateLimiter<S> {
  /** How long a refused key stays refused (ms; 0: not at all). */
  readonly blockMs: number;
  /** Whether `acquire` spreads a key's units evenly over its reset time. */
  readonly spread: "none" | "even";
  /** The lease options, when calls are answered from leased units. */
  readonly lease: LeaseOptions | undefined;
  private readonly book: LeaseBook | undefined;

  /**
   * @param where the class name, for messages.
   * @param options the common and keyed options (unknown keys already checked).
   * @param decision the algorithm, built with `blockMs`.
   */
  constructor(where: string, options: RateLimiterOptions & KeyedLimiterOptions, decision: LimitDecision<S> & { readonly blockMs: number }) {
    super(where, options, decision);
    this.blockMs = decision.blockMs;
    this.spread = oneOf(where, "spread", orDefault(options.spread, "none"), ["none", "even"] as const);
    this.lease = leaseOptions(where, options.lease);
    this.book =
      this.lease === undefined
        ? undefined
        : new LeaseBook(
            {
              clock: this.clock,
              apply: (key, input) => this.applyInput(key, input),
              report: (error) => process.emitWarning(`Rate limiter "${this.name}": a lease return failed: ${String(error)}`),
            },
            this.lease.units,
            this.lease.maxHoldMs,
          );
    // Leased units are answered here, not by the store: the base's hot path must not skip them.
    if (this.book !== undefined) this.direct = false;
  }

  /** With a lease, every `tryAcquire` comes here (the base's hot path is off, see the constructor). */
  protected override tryAcquireGeneral(key: string, cost: number): Promise<RateLimitDecision> {
    const book = this.book;
    // The hot path: one unit from the lease held, nobody queued (a cost of 1 is always valid).
    if (cost === 1 && book !== undefined && !this.anyWaiting && typeof key === "string" && key.length !== 0) {
      const held = book.takeHeld(key, 1);
      if (held !== undefined) return Promise.resolve(this.report(key, 1, held, 0));
    }
    if (book === undefined || cost === 0 || this.waiting(key) > 0) return super.tryAcquireGeneral(key, cost);
    const invalid = this.check(key, cost, "tryAcquire");
    if (invalid !== undefined) return Promise.reject(invalid);
    let answer: RateLimitDecision | Promise<RateLimitDecision>;
    try {
      answer = book.take(key, cost);
    } catch (error) {
      return Promise.reject(error);
    }
    if (isPromiseLike(answer)) return answer.then((d) => this.report(key, cost, d, 0));
    return Promise.resolve(this.report(key, cost, answer, 0));
  }

  override acquire(key: string = DEFAULT_KEY, options?: AcquireOptions): Promise<RateLimitDecision> {
    const first = this.fromLease(key, options);
    const admitted = first === undefined ? super.acquire(key, options) : first.then((d) => (d.allowed ? d : super.acquire(key, options)));
    return this.spread === "even" ? admitted.then((d) => this.spreadOut(d, options?.cost ?? 1, options?.signal)) : admitted;
  }

  /** The units `key` holds in this process's lease now (0 without leases). */
  leased(key: string = DEFAULT_KEY): number {
    return this.book?.held(key) ?? 0;
  }

  /** Where this process's leased units went, over every key (undefined without leases). */
  leaseStats(): LeaseStats | undefined {
    return this.book?.stats();
  }

  /** What `key` has used and has left now, without taking anything. */
  get(key: string = DEFAULT_KEY): Promise<KeyUsage> {
    return this.operate("get", key, { cost: 1, peek: true }, 0);
  }

  /** Sets what `key` has used to `used` units, from now: a fresh window, or a bucket `used` below full. */
  set(key: string, used: number): Promise<KeyUsage> {
    return this.operate("set", key, { cost: used, peek: false, op: "set" }, used);
  }

  /** Takes `units` from `key` even past its limit (e.g. for a failed login), which then waits longer. */
  penalty(key: string, units = 1): Promise<KeyUsage> {
    return this.operate("penalty", key, { cost: units, peek: false, op: "penalty" }, units);
  }

  /** Gives `units` back to `key` (never past its limit), e.g. after a successful login; units given back reopen a blocked key. */
  reward(key: string, units = 1): Promise<KeyUsage> {
    return this.operate("reward", key, { cost: units, peek: false, op: "reward" }, units);
  }

  /** Forgets `key`'s state (it is full again) and this process's lease on it. */
  delete(key: string = DEFAULT_KEY): Promise<void> {
    return this.reset(key);
  }

  override async reset(key: string = DEFAULT_KEY): Promise<void> {
    this.book?.drop(key);
    await super.reset(key);
  }

  /**
   * With `blockMs`, a take refused because its cost is over the limit closes the key as any
   * refused take does: a take of one unit over the limit goes to the store (the decision
   * starts the block atomically there). The refusal stands if the store fails.
   */
  protected override refusedOverLimit(key: string): void {
    if (this.blockMs <= 0) return;
    try {
      const answer = this.applyInput(key, { cost: this.limit + 1, peek: false });
      if (isPromiseLike(answer)) answer.then(undefined, () => undefined);
    } catch {
      // The caller is refused all the same; only the block is lost.
    }
  }

  /** Gives back the leased units that are still valid, then closes like any limiter. */
  override async close(): Promise<void> {
    await this.book?.close();
    await super.close();
  }

  /** With a lease: the call answered from it (or a new one), or undefined when it must queue as usual. */
  private fromLease(key: string, options: AcquireOptions | undefined): Promise<RateLimitDecision> | undefined {
    const book = this.book;
    if (book === undefined || this.waiting(key) > 0) return undefined;
    const cost = options?.cost ?? 1;
    // Anything invalid, or a cost never admitted, is refused by the base's acquire (once).
    if (!this.takeable(key, cost) || cost === 0) return undefined;
    if (options?.signal?.aborted) return Promise.reject(abortReason(options.signal));
    try {
      const answer = book.take(key, cost);
      const admitted = (d: RateLimitDecision): RateLimitDecision => (d.allowed ? this.report(key, cost, d, 0) : d);
      return isPromiseLike(answer) ? answer.then(admitted) : Promise.resolve(admitted(answer));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The usage after `reward` or `set`, once the key's waiters are told to try again. */
  private freed(key: string, d: RateLimitDecision): KeyUsage {
    this.wakeWaiters(key);
    return usage(d);
  }

  /** Waits the even-spread delay after an admission (see {@link KeyedLimiterOptions.spread}). */
  private async spreadOut(d: RateLimitDecision, cost: number, signal: AbortSignal | undefined): Promise<RateLimitDecision> {
    const first = d.remaining + cost >= this.limit;
    const delayMs = first || !(d.resetAfterMs > 0) ? 0 : d.resetAfterMs / (d.remaining + 2);
    if (delayMs > 0) await this.clock.sleep(Math.ceil(delayMs), signal);
    return d;
  }

  private operate(method: LimitOp | "get", key: string, input: LimitInput, units: number): Promise<KeyUsage> {
    const invalid = this.check(key, 0, method);
    if (invalid !== undefined) return Promise.reject(invalid);
    if (typeof units !== "number" || !Number.isInteger(units) || units < 0) {
      return Promise.reject(
        new InvalidOptionError(`${this.where}.${method}`, method === "set" ? "used" : "units", units, "an integer >= 0"),
      );
    }
    try {
      const answer = this.applyInput(key, input);
      // Units given back, or a new count, may let waiting acquire calls in now.
      const done = method === "reward" || method === "set" ? (d: RateLimitDecision) => this.freed(key, d) : usage;
      return isPromiseLike(answer) ? answer.then(done) : Promise.resolve(done(answer));
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/** A peek at one unit as a {@link KeyUsage}. */
function usage(d: RateLimitDecision): KeyUsage {
  const remaining = d.allowed ? d.remaining + 1 : d.remaining;
  return { used: d.limit - remaining, remaining, limit: d.limit, retryAfterMs: d.retryAfterMs };
}

/** Validates the `lease` option. */
function leaseOptions(where: string, lease: LeaseOptions | undefined): LeaseOptions | undefined {
  if (lease === undefined) return undefined;
  if (typeof lease !== "object" || lease === null) {
    throw new InvalidOptionError(where, "lease", lease, "an object { units, maxHoldMs }");
  }
  checkKeys(where, lease, ["units", "maxHoldMs"], "lease.");
  const units = integer(where, "lease.units", lease.units);
  const maxHoldMs = positive(where, "lease.maxHoldMs", lease.maxHoldMs);
  return { units, maxHoldMs };
}
