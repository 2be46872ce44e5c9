/**
 * `breakwater/http`: the HTTP clients, header parsing and per-API rate presets.
 *
 * @module breakwater/http
 */
export {
  ApiClient,
  DEFAULT_TIMEOUT_MS,
  type ApiClientOptions,
  type ApiRequestOptions,
  type BackoffNotice,
  type FetchLike,
} from "./api-client.js";
export {
  EnterpriseClient,
  UpstreamServerError,
  type EnterpriseClientOptions,
  type CircuitBreakerConfig,
  type RequestMetricsEvent,
  type RequestOutcome,
} from "./enterprise-client.js";
export {
  headerValue,
  parseRetryAfter,
  parseHttpDate,
  parseRateLimit,
  parseBackoffHints,
  MAX_HEADER_WAIT_MS,
  type HeadersInput,
  type HeaderParseOptions,
  type RateLimitInfo,
  type BackoffHints,
} from "../core/headers.js";
export type { Query, QueryValue, RequestBody, RequestParts, HeadersInit } from "./build-request.js";
export type { RateConfig } from "./rate-config.js";
export { resolveRateConfig, DEFAULT_RATE_CONFIG, type ResolvedRateConfig } from "./resolve-rate-config.js";
export { apiRateConfig, registerApiRateConfig, knownApiRateConfigs, type ApiRateConfig, type ApiRateConfigInput } from "./presets.js";
export { UnknownApiRateConfigError } from "./errors.js";
export type { ClientRequestEvent, HttpClientEvents } from "./events.js";
