/**
 * A structured logger, pino-style: fields first, then the message. pino, bunyan-style
 * adapters and `console` all fit (`console.warn(fields, message)` prints both).
 */
export interface Logger {
  /** Detail for debugging (a call rejected, a retry scheduled). */
  debug(fields: object, message?: string): void;
  /** A normal event worth keeping (a request done, a circuit closed). */
  info(fields: object, message?: string): void;
  /** Something went wrong but was handled (a circuit opened, Redis unreachable). */
  warn(fields: object, message?: string): void;
  /** A failure the caller sees. */
  error(fields: object, message?: string): void;
}
