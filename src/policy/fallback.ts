import { checkErrorFilter, type ErrorFilter, matchesError } from "../core/classify.js";
import { type AttachOptions, checkAttach, type Telemetry, telemetryOption } from "../core/telemetry.js";
import { Emitter, type ListenerErrorHandler } from "../core/events.js";
import { type ExecuteOptions, type Operation, toContext } from "../core/policy.js";
import { checkKeys, nonEmptyString, orDefault } from "../core/validate.js";

/** Options of {@link fallback}. */
export interface FallbackOptions {
  /** Which errors are replaced: error classes or a predicate. Default: every error. */
  readonly on?: ErrorFilter;
  /** Where listener errors go. Default: a process warning. */
  readonly onListenerError?: ListenerErrorHandler;
  /** Its name in telemetry, logs and metrics. Default `"fallback"`. */
  readonly name?: string;
  /** Where it reports its events (see docs/telemetry.md). Default: none. */
  readonly telemetry?: Telemetry;
}

/** The events of a {@link FallbackPolicy}. */
export interface FallbackEvents {
  /** A failure was replaced by the fallback. */
  fallback: { readonly error: unknown };
}

/** A fallback's replacement: a value, or a function of the error that computes one. */
export type FallbackValue<R> = R | ((error: unknown) => R | PromiseLike<R>);

const WHERE = "fallback()";

/**
 * Replaces a failure with a value: when `fn` throws an error that `on` selects, the call
 * resolves with the fallback instead. The caller's own abort is never replaced (the
 * caller has stopped listening). A function is called with the error; to fall back to
 * a function value, return it from one: `fallback(() => fn)`.
 *
 * Its `execute` resolves with `T | R`, and a `pipeline` that holds it says so in its type.
 */
export class FallbackPolicy<R> {
  /** Its name in telemetry, logs and metrics (`options.name`, default `"fallback"`). */
  readonly name: string;
  private readonly replacement: FallbackValue<R>;
  private readonly selects: ErrorFilter | undefined;
  private readonly events: Emitter<FallbackEvents>;

  constructor(valueOrFn: FallbackValue<R>, options: FallbackOptions = {}) {
    checkKeys(WHERE, options, ["on", "onListenerError", "name", "telemetry"]);
    this.replacement = valueOrFn;
    this.selects = checkErrorFilter(WHERE, "on", options.on);
    this.name = nonEmptyString(WHERE, "name", orDefault(options.name, "fallback"));
    this.events = new Emitter<FallbackEvents>(options.onListenerError, {
      source: "fallback",
      name: this.name,
      telemetry: telemetryOption(WHERE, options.telemetry),
    });
  }

  /** Subscribes to an event (named `fallback`); returns the unsubscribe function. */
  on<K extends keyof FallbackEvents>(event: K, listener: (payload: FallbackEvents[K]) => void): () => void {
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

  /** Runs `fn`; a selected failure resolves with the fallback instead. */
  async execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T | R> {
    try {
      return await fn(toContext(options));
    } catch (error) {
      const signal = options?.signal;
      // The caller aborted: nobody waits for a replacement, whatever error the abort surfaced as.
      if (signal?.aborted) throw error;
      if (this.selects !== undefined && !matchesError(this.selects, error)) throw error;
      if (this.events.has("fallback")) this.events.emit("fallback", { error });
      const replacement = this.replacement;
      return typeof replacement === "function" ? (replacement as (error: unknown) => R | PromiseLike<R>)(error) : replacement;
    }
  }
}

/**
 * A fallback policy: `fallback([])`, `fallback((error) => cached(error))`, or
 * `fallback(null, { on: [TimeoutError] })`.
 */
export function fallback<R>(valueOrFn: FallbackValue<R>, options?: FallbackOptions): FallbackPolicy<R> {
  return new FallbackPolicy(valueOrFn, options);
}
