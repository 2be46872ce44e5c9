/**
 * What every policy passes down to the function it runs: the caller's signal (possibly
 * combined with a timeout's) and the attempt number (1 for the first try).
 */
export interface ExecutionContext {
  /** Aborts when the caller gives up or a timeout fires. */
  readonly signal: AbortSignal | undefined;
  /** 1 for the first attempt; a retry policy increments it. */
  readonly attempt: number;
}

/** What a caller may pass in: every field optional. */
export interface ExecuteOptions {
  /** Aborts the call (and any wait inside it). */
  readonly signal?: AbortSignal | undefined;
  /** The attempt number seen by the function (set by retry; defaults to 1). */
  readonly attempt?: number | undefined;
}

/** A function a policy can run: sync or async, given the execution context. */
export type Operation<T> = (context: ExecutionContext) => T | PromiseLike<T>;

/**
 * The one interface every policy implements, so that `pipeline(...)` can compose any of
 * them, and users can write their own.
 */
export interface Policy {
  /** Runs `fn` under this policy. */
  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T>;
}

const defaultContext: ExecutionContext = Object.freeze({ signal: undefined, attempt: 1 });

/** The context to hand to `fn`, allocating nothing when the caller passed nothing. */
export function toContext(options: ExecuteOptions | undefined): ExecutionContext {
  if (options === undefined) return defaultContext;
  if (options.signal === undefined && (options.attempt === undefined || options.attempt === 1)) return defaultContext;
  // A caller's `{ signal }` without an attempt: the attempt is still 1, never undefined.
  if (options.attempt === undefined) return { signal: options.signal, attempt: 1 };
  return options as ExecutionContext;
}
