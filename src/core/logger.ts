/**
 * One logger interface for every policy and client, and `logEvents`, which turns a
 * policy's events into structured log lines. Logging only subscribes to events: a policy
 * never logged costs nothing, and a logger that throws never breaks a call.
 */
import { checkKeys, nonEmptyString, oneOf } from "./validate.js";
import { describe, InvalidOptionError } from "./errors.js";
import { all, type BreakerTarget, classify, eachBreaker, labelOf, type ObservableTarget, type RetryTarget } from "../metrics/targets.js";

export type { ObservableTarget } from "../metrics/targets.js";

/**
 * A structured logger, pino-style: fields first, then the message. pino, bunyan-style
 * adapters and `console` all fit (`console.warn(fields, message)` prints both).
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/** A level of {@link Logger}, or `"off"` to leave an event out. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "off";

/** The events `logEvents` logs, with their default levels. */
export const DEFAULT_LOG_LEVELS = {
  /** A breaker changed state: `{ name, from, to, reason }`. */
  "breaker.stateChange": "warn",
  /** A breaker refused a call: `{ name, state, retryAfterMs }`. */
  "breaker.rejected": "debug",
  /** A call counted as a failure of a breaker: `{ name, reason }`. */
  "breaker.failure": "debug",
  /** A retry policy will try again: `{ name, attempt, delayMs, error }`. */
  "retry.retry": "debug",
  /** A retry policy gave up: `{ name, attempts, reason, error }` (reason: exhausted, notRetryable, aborted). */
  "retry.giveUp": "warn",
} as const satisfies Record<string, LogLevel>;

/** The name of an event `logEvents` can log. */
export type LoggedEvent = keyof typeof DEFAULT_LOG_LEVELS;

/** Options of {@link logEvents}. */
export interface LogEventsOptions {
  /** Per-event levels over {@link DEFAULT_LOG_LEVELS}; `"off"` leaves an event out. */
  readonly levels?: Partial<Record<LoggedEvent, LogLevel>>;
  /** The `name` field for a target that has no name of its own (a `RetryPolicy`). Default: its `name`, else `"retry"`. */
  readonly name?: string;
}

const WHERE = "logEvents";
const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "off"];
const METHODS = ["debug", "info", "warn", "error"] as const;

/**
 * Logs what `target` does, with structured fields: state changes at `warn`, rejections
 * and failures at `debug`, retries at `debug` and give-ups at `warn` (see
 * {@link DEFAULT_LOG_LEVELS}). `target` is a `CircuitBreaker`, a `CircuitBreakers`
 * registry (its services created later included) or a `RetryPolicy`.
 * Every line carries `event` (e.g. `"breaker.stateChange"`) besides the event's own
 * fields. Returns the function that removes every listener it added. A logger that throws
 * is ignored: the policy and its callers never see it.
 *
 * @example
 * ```ts
 * const stop = logEvents(breakers, pino());
 * // {"level":40,"event":"breaker.stateChange","name":"payments","from":"closed","to":"open",...,"msg":"circuit payments: closed -> open (5 consecutive failures)"}
 * ```
 */
export function logEvents(target: ObservableTarget, logger: Logger, options: LogEventsOptions = {}): () => void {
  const kind = classify(WHERE, target);
  if (typeof logger !== "object" || logger === null || METHODS.some((m) => typeof (logger as unknown as Record<string, unknown>)[m] !== "function")) {
    throw new InvalidOptionError(WHERE, "logger", logger, "a logger with debug, info, warn and error methods (pino, console, ...)");
  }
  checkKeys(WHERE, options, ["levels", "name"]);
  if (options.name !== undefined) nonEmptyString(WHERE, "name", options.name);
  checkKeys(WHERE, options.levels, Object.keys(DEFAULT_LOG_LEVELS), "levels.");
  const levels: Record<LoggedEvent, LogLevel> = { ...DEFAULT_LOG_LEVELS };
  for (const [event, level] of Object.entries(options.levels ?? {})) {
    levels[event as LoggedEvent] = oneOf(WHERE, `levels.${event}`, level, LEVELS);
  }
  const write = (event: LoggedEvent, fields: object, message: string): void => {
    const level = levels[event];
    if (level === "off") return;
    try {
      logger[level]({ event, ...fields }, message);
    } catch {
      // A failing logger must not fail the call that was being logged.
    }
  };
  const breaker = (b: BreakerTarget): (() => void) => {
    const offs: (() => void)[] = [];
    if (levels["breaker.stateChange"] !== "off") {
      offs.push(b.on("stateChange", ({ name, from, to, reason, at }) => write("breaker.stateChange", { name, from, to, reason, at }, `circuit ${name}: ${from} -> ${to} (${reason})`)));
    }
    if (levels["breaker.rejected"] !== "off") {
      offs.push(
        b.on("rejected", ({ name, state, retryAfterMs }) =>
          write("breaker.rejected", { name, state, retryAfterMs }, `circuit ${name} rejected a call (${state}; ${Number.isFinite(retryAfterMs) ? `retry in ${Math.ceil(retryAfterMs)} ms` : "isolated"})`),
        ),
      );
    }
    if (levels["breaker.failure"] !== "off") {
      offs.push(b.on("failure", ({ name, reason }) => write("breaker.failure", { name, reason }, `circuit ${name} counted a failure: ${reason}`)));
    }
    return all(offs);
  };
  const retry = (policy: RetryTarget, name: string): (() => void) => {
    const offs: (() => void)[] = [];
    if (levels["retry.retry"] !== "off") {
      offs.push(
        policy.on("retry", ({ attempt, delayMs, error }) =>
          write("retry.retry", { name, attempt, delayMs, error: describe(error) }, `retry ${name}: attempt ${attempt} failed, next in ${Math.round(delayMs)} ms`),
        ),
      );
    }
    if (levels["retry.giveUp"] !== "off") {
      offs.push(
        policy.on("giveUp", ({ attempts, reason, error }) =>
          write("retry.giveUp", { name, attempts, reason, error: describe(error) }, `retry ${name}: gave up after ${attempts} attempt(s) (${reason})`),
        ),
      );
    }
    return all(offs);
  };
  switch (kind.kind) {
    case "breaker":
      return breaker(kind.target);
    case "breakers":
      return eachBreaker(kind.target, breaker);
    case "retry":
      return retry(kind.target, labelOf(kind.target, options.name, "retry"));
  }
}
