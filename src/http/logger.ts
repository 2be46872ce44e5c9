import type { Logger } from "../core/log.js";
import { InvalidOptionError } from "../core/errors.js";

/** The levels the HTTP clients write at. */
export type HttpLogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: readonly HttpLogLevel[] = ["debug", "info", "warn", "error"];

/** Validates a logger option: a pino-style logger with `debug`, `info`, `warn` and `error`. */
export function checkLogger(where: string, value: unknown): Logger | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || LEVELS.some((l) => typeof (value as Record<string, unknown>)[l] !== "function")) {
    throw new InvalidOptionError(
      where,
      "logger",
      value,
      "a pino-style logger with debug, info, warn and error methods (pino, console, ...)",
    );
  }
  return value as Logger;
}

/** Writes one line; a logger that throws is ignored, since logging must never break a request. */
export function safeLog(logger: Logger | undefined, level: HttpLogLevel, fields: Record<string, unknown>, message: string): void {
  if (logger === undefined) return;
  try {
    logger[level](fields, message);
  } catch {
    // A failing logger must not fail the request that was being logged.
  }
}

/** A serialisable summary of a thrown value, for logs and metrics. */
export function errorSummary(error: unknown): { readonly name: string; readonly message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: typeof error, message: String(error) };
}
