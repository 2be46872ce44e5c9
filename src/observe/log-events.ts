/**
 * One logger interface for every policy and client, and `logEvents`, which turns a
 * policy's events into structured log lines. Logging only subscribes to events: a policy
 * never logged costs nothing, and a logger that throws never breaks a call.
 */
import { checkKeys, nonEmptyString, oneOf } from "../core/validate.js";
import { describe, InvalidOptionError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import type { AttachOptions, Telemetry, TelemetryEvent } from "../core/telemetry.js";
import type { BreakerEvents, StateChangeEvent } from "../breaker/circuit-breaker.js";
import type { ClientRequestEvent } from "../http/events.js";
import type { AdaptiveEvents } from "../limit/adaptive.js";
import type { RateLimiterEvents } from "../limit/limiter.js";
import type { BulkheadEvents } from "../policy/bulkhead.js";
import type { FallbackEvents } from "../policy/fallback.js";
import type { TimeoutEvents } from "../policy/timeout.js";
import type { RetryEvents } from "../retry/retry-policy.js";
import { classify, type ObservableTarget } from "./targets.js";

export type { ObservableTarget } from "./targets.js";
export type { Logger } from "../core/log.js";

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
  /** A rate limiter (the adaptive one included) refused a request: `{ name, key, cost, retryAfterMs }`. */
  "limiter.rejected": "debug",
  /** An adaptive limiter entered (or extended) a cooldown: `{ name, cooldownMs, until, reason }`. */
  "adaptive.cooldown": "warn",
  /** An adaptive limiter recorded a back-off status: `{ name, status, retryAfterMs, congestion, ratePerSec }`. */
  "adaptive.backoff": "info",
  /** An adaptive limiter's pace changed: `{ name, from, to, reason }`. */
  "adaptive.rateChange": "debug",
  /** An HTTP client's request ended well: `{ integration, method, path, status, durationMs, attempts, outcome }`. */
  "http.request": "debug",
  /** An HTTP client's request failed (5xx, error, timeout, open circuit): the fields of `http.request` and `error`. */
  "http.failure": "warn",
  /** A timeout policy stopped a call that ran past its limit: `{ name, timeoutMs, mode }`. */
  "timeout.timeout": "debug",
  /** A bulkhead refused a call: `{ name, running, queued }`. */
  "bulkhead.rejected": "debug",
  /** A fallback policy replaced a failure: `{ name, error }`. */
  "fallback.fallback": "debug",
} as const satisfies Record<string, LogLevel>;

/** The name of an event `logEvents` can log. */
export type LoggedEvent = keyof typeof DEFAULT_LOG_LEVELS;

/** Options of {@link logEvents}. */
export interface LogEventsOptions {
  /** Per-event levels over {@link DEFAULT_LOG_LEVELS}; `"off"` leaves an event out. */
  readonly levels?: Partial<Record<LoggedEvent, LogLevel>>;
  /** The `name` (or `integration`) field instead of the target's own; default: its `name`, else its kind (`"retry"`). */
  readonly name?: string;
}

const WHERE = "logEvents";
const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "off"];
const METHODS = ["debug", "info", "warn", "error"] as const;

/**
 * Logs what `target` does, with structured fields: state changes at `warn`, rejections
 * and failures at `debug`, retries at `debug` and give-ups at `warn` (see
 * {@link DEFAULT_LOG_LEVELS}). `target` is a `CircuitBreaker`, a `CircuitBreakers`
 * registry (its services created later included), a `RetryPolicy`, a rate limiter, an
 * `AdaptiveRateLimiter` (cooldowns at `warn`, refusals at `debug`), an HTTP client
 * (failed requests at `warn`, others at `debug`; its limiter and breaker are logged too),
 * a timeout, a bulkhead or a fallback. Every line carries `event` (e.g.
 * `"breaker.stateChange"`) besides the event's own fields. Returns the function that
 * removes every listener it added. A logger that throws is ignored: the policy and its
 * callers never see it.
 *
 * It attaches {@link logTelemetry}'s sink to the target: to log every policy handed one
 * `TelemetryStream`, subscribe `logTelemetry(logger)` to the stream instead.
 *
 * @example
 * ```ts
 * const stop = logEvents(breakers, pino());
 * // {"level":40,"event":"breaker.stateChange","name":"payments","from":"closed","to":"open",...,"msg":"circuit payments: closed -> open (5 consecutive failures)"}
 * ```
 */
export function logEvents(target: ObservableTarget, logger: Logger, options: LogEventsOptions = {}): () => void {
  classify(WHERE, target);
  checkKeys(WHERE, options, ["levels", "name"]);
  if (options.name !== undefined) nonEmptyString(WHERE, "name", options.name);
  const sink = logTelemetry(logger, { levels: options.levels }, WHERE);
  return (target as { attach(telemetry: Telemetry, options?: AttachOptions): () => void }).attach(
    sink,
    options.name === undefined ? undefined : { name: options.name },
  );
}

/** Options of {@link logTelemetry}. */
export interface LogTelemetryOptions {
  /** Per-event levels over {@link DEFAULT_LOG_LEVELS}; `"off"` leaves an event out. */
  readonly levels?: Partial<Record<LoggedEvent, LogLevel>> | undefined;
}

/**
 * A telemetry sink that writes each event it knows as one structured line (the lines of
 * {@link logEvents}); hand it to policies as `telemetry`, or subscribe it to a
 * `TelemetryStream`. Events it does not know, and those whose level is `"off"`, are not
 * asked of the policies at all.
 *
 * @example
 * ```ts
 * const telemetry = new TelemetryStream();
 * telemetry.subscribe(logTelemetry(pino()));
 * ```
 */
export function logTelemetry(logger: Logger, options: LogTelemetryOptions = {}, where = "logTelemetry"): Telemetry {
  if (
    typeof logger !== "object" ||
    logger === null ||
    METHODS.some((m) => typeof (logger as unknown as Record<string, unknown>)[m] !== "function")
  ) {
    throw new InvalidOptionError(where, "logger", logger, "a logger with debug, info, warn and error methods (pino, console, ...)");
  }
  checkKeys(where, options, ["levels"]);
  checkKeys(where, options.levels, Object.keys(DEFAULT_LOG_LEVELS), "levels.");
  const levels: Record<LoggedEvent, LogLevel> = { ...DEFAULT_LOG_LEVELS };
  for (const [event, level] of Object.entries(options.levels ?? {})) {
    levels[event as LoggedEvent] = oneOf(where, `levels.${event}`, level, LEVELS);
  }
  return {
    wants(source: string, event: string): boolean {
      const line = LINES[source]?.[event];
      return line !== undefined && line.events.some((e) => levels[e] !== "off");
    },
    report(t: TelemetryEvent): void {
      const line = LINES[t.source]?.[t.event];
      if (line === undefined) return;
      const { event, fields, message } = line.format(t.name, t.payload);
      const level = levels[event];
      if (level === "off") return;
      try {
        logger[level]({ event, ...fields }, message);
      } catch {
        // A failing logger must not fail the call that was being logged.
      }
    },
  };
}

/** One line: the logged event's name, its fields and its message. */
interface Line {
  readonly event: LoggedEvent;
  readonly fields: object;
  readonly message: string;
}

/** How one telemetry event is logged: the logged events it may become, and its line. */
interface LineFormat {
  readonly events: readonly LoggedEvent[];
  format(name: string, payload: object): Line;
}

function line<P>(event: LoggedEvent, format: (name: string, p: P) => { fields: object; message: string }): LineFormat {
  return { events: [event], format: (name, payload) => ({ event, ...format(name, payload as P) }) };
}

const waitText = (retryAfterMs: number, none: string): string =>
  Number.isFinite(retryAfterMs) ? `retry in ${Math.ceil(retryAfterMs)} ms` : none;

const limiterRejected = line<RateLimiterEvents["rejected"]>("limiter.rejected", (name, { key, cost, retryAfterMs }) => ({
  fields: { name, key, cost, retryAfterMs },
  message: `rate limiter ${name} refused a request (${waitText(retryAfterMs, "cost above the limit")})`,
}));

/** The lines of the events logging knows, by source and event: `LINES[source][event]`. */
const LINES: Readonly<Record<string, Readonly<Record<string, LineFormat>> | undefined>> = {
  breaker: {
    stateChange: line<StateChangeEvent>("breaker.stateChange", (name, { from, to, reason, at }) => ({
      fields: { name, from, to, reason, at },
      message: `circuit ${name}: ${from} -> ${to} (${reason})`,
    })),
    rejected: line<BreakerEvents["rejected"]>("breaker.rejected", (name, { state, retryAfterMs }) => ({
      fields: { name, state, retryAfterMs },
      message: `circuit ${name} rejected a call (${state}; ${waitText(retryAfterMs, "isolated")})`,
    })),
    failure: line<BreakerEvents["failure"]>("breaker.failure", (name, { reason }) => ({
      fields: { name, reason },
      message: `circuit ${name} counted a failure: ${reason}`,
    })),
  },
  retry: {
    retry: line<RetryEvents["retry"]>("retry.retry", (name, { attempt, delayMs, error }) => ({
      fields: { name, attempt, delayMs, error: describe(error) },
      message: `retry ${name}: attempt ${attempt} failed, next in ${Math.round(delayMs)} ms`,
    })),
    giveUp: line<RetryEvents["giveUp"]>("retry.giveUp", (name, { attempts, reason, error }) => ({
      fields: { name, attempts, reason, error: describe(error) },
      message: `retry ${name}: gave up after ${attempts} attempt(s) (${reason})`,
    })),
  },
  limiter: { rejected: limiterRejected },
  adaptive: {
    rejected: limiterRejected,
    cooldown: line<AdaptiveEvents["cooldown"]>("adaptive.cooldown", (name, { cooldownMs, until, reason }) => ({
      fields: { name, cooldownMs, until, reason },
      message: `rate limiter ${name}: cooling down for ${Math.ceil(cooldownMs)} ms (${reason})`,
    })),
    backoff: line<AdaptiveEvents["backoff"]>("adaptive.backoff", (name, { status, retryAfterMs, congestion, ratePerSec }) => ({
      fields: { name, status, retryAfterMs: retryAfterMs ?? null, congestion, ratePerSec },
      message: `rate limiter ${name}: upstream answered ${status}, pacing at ${round(ratePerSec)}/s`,
    })),
    rateChange: line<AdaptiveEvents["rateChange"]>("adaptive.rateChange", (name, { from, to, reason }) => ({
      fields: { name, from, to, reason },
      message: `rate limiter ${name}: ${round(from)}/s -> ${round(to)}/s (${reason})`,
    })),
  },
  http: {
    request: {
      events: ["http.request", "http.failure"],
      format(integration, payload) {
        const { method, path, status, durationMs, attempts, outcome, error } = payload as ClientRequestEvent;
        const fields = { integration, method, path, status, durationMs, attempts, outcome };
        const text = `${integration} ${method} ${path}: ${status ?? outcome} in ${Math.round(durationMs)} ms`;
        if (outcome === "ok") return { event: "http.request", fields, message: text };
        return {
          event: "http.failure",
          fields: error === undefined ? fields : { ...fields, error: describe(error) },
          message: `${text} (${outcome})`,
        };
      },
    },
  },
  timeout: {
    timeout: line<TimeoutEvents["timeout"]>("timeout.timeout", (name, { timeoutMs, mode }) => ({
      fields: { name, timeoutMs, mode },
      message: `timeout ${name}: a call ran past ${timeoutMs} ms (${mode})`,
    })),
  },
  bulkhead: {
    rejected: line<BulkheadEvents["rejected"]>("bulkhead.rejected", (name, { running, queued }) => ({
      fields: { name, running, queued },
      message: `bulkhead ${name} refused a call (${running} running, ${queued} queued)`,
    })),
  },
  fallback: {
    fallback: line<FallbackEvents["fallback"]>("fallback.fallback", (name, { error }) => ({
      fields: { name, error: describe(error) },
      message: `fallback ${name} replaced a failure: ${describe(error)}`,
    })),
  },
};

/** A rate for a message: at most two decimals. */
function round(ratePerSec: number): number {
  return Math.round(ratePerSec * 100) / 100;
}
