/**
 * The events of the HTTP clients (`client.on("request", listener)`), which metrics and
 * `logEvents` subscribe to. Emitted only when someone listens: a client nobody observes
 * reads no clock and builds no event.
 */
import { BackoffExhaustedError, TimeoutError } from "../core/errors.js";
import type { RequestOutcome } from "./enterprise-client.js";

/** One request, reported once when it ends (response or error). */
export interface ClientRequestEvent {
  /** The integration (`EnterpriseClient`), or the client's `name` (`ApiClient`: the base URL's host by default). */
  readonly integration: string;
  /** Upper-cased. */
  readonly method: string;
  readonly path: string;
  /** The final response's status (a back-off status when the retries ran out); null when there was none. */
  readonly status: number | null;
  /** From the call to the response or the error, on the client's clock (ms). */
  readonly durationMs: number;
  /** Requests sent (0 when the circuit was open or no permit was granted). */
  readonly attempts: number;
  /** How it ended (see `RequestOutcome`). */
  readonly outcome: RequestOutcome;
  /** What was thrown, when the request failed; undefined otherwise. */
  readonly error: unknown;
}

/** The events of `ApiClient` and `EnterpriseClient`. */
export interface HttpClientEvents {
  /** A request ended: one event per `request` call, whatever happened. */
  request: ClientRequestEvent;
}

/**
 * The event of an `ApiClient` request that settled with `response` or `error`.
 * @internal
 */
export function requestEvent(
  integration: string,
  method: string,
  path: string,
  durationMs: number,
  attempts: number,
  response: Response | undefined,
  error: unknown,
): ClientRequestEvent {
  const upper = typeof method === "string" ? method.toUpperCase() : String(method);
  if (response !== undefined) {
    return {
      integration,
      method: upper,
      path,
      status: response.status,
      durationMs,
      attempts,
      outcome: response.status >= 500 ? "server-error" : "ok",
      error: undefined,
    };
  }
  const outcome: RequestOutcome =
    error instanceof BackoffExhaustedError ? "backoff-exhausted" : error instanceof TimeoutError ? "timeout" : "error";
  return {
    integration,
    method: upper,
    path,
    status: error instanceof BackoffExhaustedError ? error.status : null,
    durationMs,
    attempts,
    outcome,
    error,
  };
}
