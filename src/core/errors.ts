/** The base class of every error Breakwater raises. */
export class ResilienceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** What a breaker remembers of its most recent failure. */
export interface FailureRecord {
  /** Why it failed: the error message, or the reason given to `recordFailure`. */
  readonly reason: string;
  /** When, in the breaker's clock (ms). */
  readonly at: number;
}

/** A call was refused because the circuit is open (or half-open with no free trial). */
export class CircuitOpenError extends ResilienceError {
  /** The breaker (or service) name. */
  readonly service: string;
  /** Milliseconds until a probe may run; 0 when one may run now; Infinity when isolated. */
  readonly retryAfterMs: number;
  /** The failure that last counted against the circuit, if any. */
  readonly lastFailure: FailureRecord | undefined;

  constructor(service: string, retryAfterMs: number, lastFailure?: FailureRecord) {
    const when = Number.isFinite(retryAfterMs) ? `retry in ${Math.ceil(retryAfterMs)} ms` : "isolated until reset";
    super(`Circuit "${service}" is open (${when})${lastFailure ? `; last failure: ${lastFailure.reason}` : ""}`);
    this.service = service;
    this.retryAfterMs = retryAfterMs;
    this.lastFailure = lastFailure;
  }
}

/** A rate limiter refused the call, or the wait for a permit would exceed `maxWaitMs`. */
export class RateLimitExceededError extends ResilienceError {
  /** Milliseconds until the request could be admitted. */
  readonly retryAfterMs: number;
  /** The limiter's name, when it has one. */
  readonly limiter: string | undefined;
  /** The key that was limited, when keyed. */
  readonly key: string | undefined;
  /** The limiter's limit, when known (always for a cost that can never be admitted). */
  readonly limit: number | undefined;

  constructor(retryAfterMs: number, details: { limiter?: string; key?: string; message?: string; limit?: number } = {}) {
    super(
      details.message ?? `Rate limit exceeded${details.limiter ? ` for "${details.limiter}"` : ""}; retry in ${Math.ceil(retryAfterMs)} ms`,
    );
    this.retryAfterMs = retryAfterMs;
    this.limiter = details.limiter;
    this.key = details.key;
    this.limit = details.limit;
  }
}

/** Every attempt failed; `cause` is the last error, `errors` all of them in order. */
export class RetryError extends ResilienceError {
  /** How many attempts ran. */
  readonly attempts: number;
  /** The error of each attempt, in order. */
  readonly errors: readonly unknown[];

  constructor(attempts: number, errors: readonly unknown[]) {
    const last = errors[errors.length - 1];
    super(`Gave up after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${describe(last)}`, { cause: last });
    this.attempts = attempts;
    this.errors = errors;
  }
}

/** A call returned a value that its return-value policy counts as a failure. */
export class ReturnValuePolicyError extends ResilienceError {
  /** The value the call returned. */
  readonly value: unknown;
  /** The policy (or predicate) that matched it. */
  readonly policy: unknown;

  constructor(value: unknown, policy: unknown, reason: string) {
    super(reason);
    this.value = value;
    this.policy = policy;
  }
}

/** A call ran past its time limit. */
export class TimeoutError extends ResilienceError {
  /** The limit that was exceeded (ms). */
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`Timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** A bulkhead had no free slot and no room in its queue. */
export class BulkheadRejectedError extends ResilienceError {
  /** Calls running when this one was refused. */
  readonly running: number;
  /** Calls queued when this one was refused. */
  readonly queued: number;

  constructor(running: number, queued: number) {
    super(`Bulkhead full: ${running} running, ${queued} queued`);
    this.running = running;
    this.queued = queued;
  }
}

/** An upstream kept answering with back-off statuses after every allowed retry. */
export class BackoffExhaustedError extends ResilienceError {
  /** The last back-off status (e.g. 429 or 503). */
  readonly status: number;
  /** The last Retry-After the upstream asked for, when it sent one. */
  readonly retryAfterMs: number | undefined;
  /** How many requests were sent. */
  readonly attempts: number;

  constructor(status: number, attempts: number, retryAfterMs?: number) {
    super(`Upstream still answered ${status} after ${attempts} attempt${attempts === 1 ? "" : "s"}`);
    this.status = status;
    this.attempts = attempts;
    this.retryAfterMs = retryAfterMs;
  }
}

/** An option was missing, unknown, or out of range. Thrown at construction, never later. */
export class InvalidOptionError extends ResilienceError {
  /** The option's path, e.g. `halfOpen.maxCalls`. */
  readonly option: string;
  /** The value that was given. */
  readonly value: unknown;

  constructor(where: string, option: string, value: unknown, allowed: string) {
    super(`${where}: option "${option}" must be ${allowed}; got ${show(value)}`);
    this.option = option;
    this.value = value;
  }
}

/** A short description of any thrown value, for messages. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return show(error);
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (typeof value === "bigint") return `${value}n`;
  if (value === undefined || typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
