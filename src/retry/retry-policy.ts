import { matchesError } from "../core/classify.js";
import { abortReason, anySignal } from "../core/abort.js";
import { type Clock } from "../core/clock.js";
import { RetryError, ReturnValuePolicyError } from "../core/errors.js";
import { type AttachOptions, checkAttach, type Telemetry } from "../core/telemetry.js";
import { Emitter } from "../core/events.js";
import type { ExecuteOptions, ExecutionContext, Operation, Policy } from "../core/policy.js";
import { raceAbort } from "../policy/race.js";
import { type ResolvedRetryOptions, resolveRetryOptions, type RetryEvent, type RetryOptions } from "./options.js";
import { retryAfterOf } from "./retry-after.js";
import { isNeverRetried } from "./retryable.js";

/** Why a retry policy stopped without a success. */
export type GiveUpReason = "exhausted" | "notRetryable" | "aborted";

/** The events of a {@link RetryPolicy}, for logs and metrics. */
export interface RetryEvents {
  /** An attempt failed and another follows after `delayMs`. */
  retry: RetryEvent;
  /** An attempt succeeded; `attempts` counts it. */
  success: { readonly attempts: number };
  /**
   * The call failed for good: every attempt failed (`exhausted`, the error is the
   * `RetryError`), an error was not retryable (`notRetryable`), or the signal aborted.
   */
  giveUp: { readonly attempts: number; readonly reason: GiveUpReason; readonly error: unknown };
}

const FIRST: ExecutionContext = Object.freeze({ signal: undefined, attempt: 1 });
/** Marks "no failure yet" where any thrown value, `undefined` included, is a failure. */
const NO_FAILURE: unique symbol = Symbol("no failure");

/**
 * Runs an operation again when it fails, waiting by a backoff between attempts.
 *
 * The first attempt runs at once with no timer, no `AbortController` and (without a
 * signal) no allocation beyond the call's own promise. A failure is retried when it is
 * retryable (see {@link RetryOptions.retryOn}) and attempts remain; the wait is the
 * backoff's delay, or longer when the failure carries a Retry-After. Every attempt failed:
 * `RetryError` (`attempts`, `errors`, `cause` = the last). A non-retryable error is
 * rethrown as it is. An abort rejects at once with the signal's reason, also mid-wait.
 */
export class RetryPolicy implements Policy {
  /** Total attempts allowed, the first included. */
  readonly maxAttempts: number;
  /** The name its telemetry, logs and metrics carry (`options.name`, default `"retry"`). */
  readonly name: string;
  private readonly options: ResolvedRetryOptions;
  private readonly clock: Clock;
  private readonly events: Emitter<RetryEvents>;
  private readonly firstContext: ExecutionContext;

  constructor(options: RetryOptions<never> = {}) {
    this.options = resolveRetryOptions("RetryPolicy", options);
    this.maxAttempts = this.options.maxAttempts;
    this.clock = this.options.clock;
    this.name = this.options.name;
    this.events = new Emitter<RetryEvents>(options.onListenerError, {
      source: "retry",
      name: this.name,
      telemetry: this.options.telemetry,
    });
    if (this.options.onRetry !== undefined) this.events.on("retry", this.options.onRetry);
    this.firstContext = this.options.signal === undefined ? FIRST : Object.freeze({ signal: this.options.signal, attempt: 1 });
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof RetryEvents>(event: K, listener: (payload: RetryEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /**
   * Reports this policy's events to `telemetry` too (logging and metrics use it), under
   * `options.name` if given; returns the function that detaches it. Attaching one sink
   * twice reports each event to it once.
   */
  attach(telemetry: Telemetry, options?: AttachOptions): () => void {
    return this.events.attach(telemetry, checkAttach("RetryPolicy.attach", telemetry, options));
  }

  /**
   * Runs `fn` until it succeeds, a failure is not retryable, attempts run out or the
   * signal (this policy's or `options.signal`) aborts. `fn` receives `{ attempt, signal }`.
   */
  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    const own = this.options.signal;
    const signal = options?.signal === undefined ? own : anySignal(own, options.signal);
    if (signal !== undefined || this.options.retryOnResult !== undefined || this.events.has("success")) {
      return this.run(fn, signal, signal === own ? this.firstContext : { signal, attempt: 1 }, NO_FAILURE);
    }
    // The hot path: no signal to race, no result to check, nobody to tell about a success.
    // The first attempt's own promise carries the result; only a failure costs more.
    let pending: T | PromiseLike<T>;
    try {
      pending = fn(FIRST);
    } catch (error) {
      return this.run(fn, undefined, FIRST, error);
    }
    // An inline (unnamed) arrow: the one closure this path allocates.
    return (pending instanceof Promise ? pending : Promise.resolve(pending)).then(undefined, (error: unknown) =>
      this.run(fn, undefined, FIRST, error),
    );
  }

  /**
   * The attempt loop, from the attempt `context` describes. When `failed` is given (not
   * {@link NO_FAILURE}), that attempt already ran and threw it.
   */
  private async run<T>(fn: Operation<T>, signal: AbortSignal | undefined, context: ExecutionContext, failed: unknown): Promise<T> {
    const errors: unknown[] = [];
    let previousDelay: number | undefined;
    for (let attempt = context.attempt; ; attempt++) {
      let failure: unknown;
      let hint: unknown;
      if (failed !== NO_FAILURE) {
        this.mustRetry(failed, signal, attempt);
        failure = hint = failed;
        failed = NO_FAILURE;
      } else {
        if (signal?.aborted) return this.giveUp(attempt - 1, "aborted", abortReason(signal));
        try {
          const pending = fn(context);
          const value = await (signal === undefined ? pending : raceAbort(pending, signal));
          // A synchronous attempt that aborted the signal and then returned: the abort wins, as for an async one.
          if (signal?.aborted) return this.giveUp(attempt, "aborted", abortReason(signal));
          const onResult = this.options.retryOnResult;
          if (onResult === undefined || !onResult(value)) {
            if (this.events.has("success")) this.events.emit("success", { attempts: attempt });
            return value;
          }
          failure = new ReturnValuePolicyError(value, onResult, `the result of attempt ${attempt} matched retryOnResult`);
          hint = value;
        } catch (error) {
          this.mustRetry(error, signal, attempt);
          failure = hint = error;
        }
      }
      errors.push(failure);
      if (attempt >= this.maxAttempts) return this.giveUp(attempt, "exhausted", new RetryError(attempt, errors));
      const backoffDelay = this.options.backoff.delay(attempt, this.options.random, previousDelay);
      previousDelay = backoffDelay;
      const delayMs = this.withRetryAfter(backoffDelay, hint);
      if (this.events.has("retry")) this.events.emit("retry", { attempt, delayMs, error: failure });
      if (delayMs > 0) {
        try {
          await this.clock.sleep(delayMs, signal);
        } catch (error) {
          return this.giveUp(attempt, "aborted", error);
        }
      }
      context = { signal, attempt: attempt + 1 };
    }
  }

  /** Wraps `fn` so that every call goes through {@link execute} (without a signal). */
  wrap<A extends unknown[], T>(fn: (...args: A) => T | PromiseLike<T>): (...args: A) => Promise<T> {
    const run = (thisArg: unknown, args: A): Promise<T> => this.execute(() => fn.apply(thisArg, args));
    return function retried(this: unknown, ...args: A): Promise<T> {
      return run(this, args);
    };
  }

  /** Gives up (throws) unless `error`, from `attempt`, may be retried. */
  private mustRetry(error: unknown, signal: AbortSignal | undefined, attempt: number): void {
    if (signal?.aborted) this.giveUp(attempt, "aborted", abortReason(signal));
    const retryOn = this.options.retryOn;
    if (isNeverRetried(error) || (retryOn !== undefined && !matchesError(retryOn, error))) this.giveUp(attempt, "notRetryable", error);
  }

  private withRetryAfter(delayMs: number, subject: unknown): number {
    if (!this.options.respectRetryAfter) return delayMs;
    const asked = retryAfterOf(subject);
    return asked === undefined ? delayMs : Math.max(delayMs, Math.min(asked, this.options.maxRetryAfterMs));
  }

  private giveUp(attempts: number, reason: GiveUpReason, error: unknown): never {
    if (this.events.has("giveUp")) this.events.emit("giveUp", { attempts, reason, error });
    throw error;
  }
}
