/**
 * One logger interface for every policy and client, and `logEvents`, which turns a
 * policy's events into structured log lines. Logging only subscribes to events: a policy
 * never logged costs nothing, and a logger that throws never breaks a call.
 */
import { checkKeys, nonEmptyString, oneOf } from "../core/validate.js";
import { describe, InvalidOptionError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import type { RateLimiterEvents } from "../limit/limiter.js";
import {
  type AdaptiveTarget,
  all,
  breakerOf,
  type BreakerTarget,
  classify,
  eachBreaker,
  type HttpClientTarget,
  integrationOf,
  labelOf,
  limiterOf,
  type ObservableTarget,
  type RetryTarget,
} from "./targets.js";

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
 * `AdaptiveRateLimiter` (cooldowns at `warn`, refusals at `debug`) or an HTTP client
 * (failed requests at `warn`, others at `debug`; its limiter and breaker are logged too).
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
  if (
    typeof logger !== "object" ||
    logger === null ||
    METHODS.some((m) => typeof (logger as unknown as Record<string, unknown>)[m] !== "function")
  ) {
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
      offs.push(
        b.on("stateChange", ({ name, from, to, reason, at }) =>
          write("breaker.stateChange", { name, from, to, reason, at }, `circuit ${name}: ${from} -> ${to} (${reason})`),
        ),
      );
    }
    if (levels["breaker.rejected"] !== "off") {
      offs.push(
        b.on("rejected", ({ name, state, retryAfterMs }) =>
          write(
            "breaker.rejected",
            { name, state, retryAfterMs },
            `circuit ${name} rejected a call (${state}; ${Number.isFinite(retryAfterMs) ? `retry in ${Math.ceil(retryAfterMs)} ms` : "isolated"})`,
          ),
        ),
      );
    }
    if (levels["breaker.failure"] !== "off") {
      offs.push(
        b.on("failure", ({ name, reason }) => write("breaker.failure", { name, reason }, `circuit ${name} counted a failure: ${reason}`)),
      );
    }
    return all(offs);
  };
  const limiter = (l: LimiterEvents, name: string): (() => void) => {
    if (levels["limiter.rejected"] === "off") return () => undefined;
    return l.on("rejected", ({ key, cost, retryAfterMs }) =>
      write(
        "limiter.rejected",
        { name, key, cost, retryAfterMs },
        `rate limiter ${name} refused a request (${Number.isFinite(retryAfterMs) ? `retry in ${Math.ceil(retryAfterMs)} ms` : "cost above the limit"})`,
      ),
    );
  };
  const adaptive = (a: AdaptiveTarget, name: string): (() => void) => {
    const offs: (() => void)[] = [limiter(a, name)];
    if (levels["adaptive.cooldown"] !== "off") {
      offs.push(
        a.on("cooldown", ({ cooldownMs, until, reason }) =>
          write(
            "adaptive.cooldown",
            { name, cooldownMs, until, reason },
            `rate limiter ${name}: cooling down for ${Math.ceil(cooldownMs)} ms (${reason})`,
          ),
        ),
      );
    }
    if (levels["adaptive.backoff"] !== "off") {
      offs.push(
        a.on("backoff", ({ status, retryAfterMs, congestion, ratePerSec }) =>
          write(
            "adaptive.backoff",
            { name, status, retryAfterMs: retryAfterMs ?? null, congestion, ratePerSec },
            `rate limiter ${name}: upstream answered ${status}, pacing at ${round(ratePerSec)}/s`,
          ),
        ),
      );
    }
    if (levels["adaptive.rateChange"] !== "off") {
      offs.push(
        a.on("rateChange", ({ from, to, reason }) =>
          write("adaptive.rateChange", { name, from, to, reason }, `rate limiter ${name}: ${round(from)}/s -> ${round(to)}/s (${reason})`),
        ),
      );
    }
    return all(offs);
  };
  const http = (client: HttpClientTarget): (() => void) => {
    const integration = integrationOf(client, options.name);
    const offs: (() => void)[] = [];
    if (levels["http.request"] !== "off" || levels["http.failure"] !== "off") {
      offs.push(
        client.on("request", ({ method, path, status, durationMs, attempts, outcome, error }) => {
          const fields = { integration, method, path, status, durationMs, attempts, outcome };
          const line = `${integration} ${method} ${path}: ${status ?? outcome} in ${Math.round(durationMs)} ms`;
          if (outcome === "ok") write("http.request", fields, line);
          else write("http.failure", error === undefined ? fields : { ...fields, error: describe(error) }, `${line} (${outcome})`);
        }),
      );
    }
    const own = limiterOf(client);
    if (own !== undefined) offs.push(adaptive(own, own.name));
    const b = breakerOf(client);
    if (b !== undefined) offs.push(breaker(b));
    return all(offs);
  };
  const retry = (policy: RetryTarget, name: string): (() => void) => {
    const offs: (() => void)[] = [];
    if (levels["retry.retry"] !== "off") {
      offs.push(
        policy.on("retry", ({ attempt, delayMs, error }) =>
          write(
            "retry.retry",
            { name, attempt, delayMs, error: describe(error) },
            `retry ${name}: attempt ${attempt} failed, next in ${Math.round(delayMs)} ms`,
          ),
        ),
      );
    }
    if (levels["retry.giveUp"] !== "off") {
      offs.push(
        policy.on("giveUp", ({ attempts, reason, error }) =>
          write(
            "retry.giveUp",
            { name, attempts, reason, error: describe(error) },
            `retry ${name}: gave up after ${attempts} attempt(s) (${reason})`,
          ),
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
    case "limiter":
      return limiter(kind.target, labelOf(kind.target, options.name, "limiter"));
    case "adaptive":
      return adaptive(kind.target, labelOf(kind.target, options.name, "adaptive"));
    case "http":
      return http(kind.target);
  }
}

/** What limiter logging needs: the events every limiter emits. */
interface LimiterEvents {
  on<K extends keyof RateLimiterEvents>(event: K, listener: (payload: RateLimiterEvents[K]) => void): () => void;
}

/** A rate for a message: at most two decimals. */
function round(ratePerSec: number): number {
  return Math.round(ratePerSec * 100) / 100;
}
