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
