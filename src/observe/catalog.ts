/**
 * The metrics Breakwater exports, in one table shared by the Prometheus and OpenTelemetry
 * integrations (and checked against observability/*.{yaml,json} by the tests). The names
 * are those of obskit's resilience module, kept exactly so that its alerts and dashboards
 * keep working (docs/migrating-from-python.md); a `prefix` option may be put in front of them.
 */

/** How a metric's value is made. */
export type MetricKind = "counter" | "gauge" | "histogram";

/** One metric: its name (without prefix), kind, help text, labels and, for histograms, buckets. */
export interface MetricDefinition {
  readonly name: string;
  readonly kind: MetricKind;
  readonly help: string;
  readonly labels: readonly string[];
  /**
   * `"event"`: updated by a listener when the policy emits. `"pull"`: read from the
   * policy (`state`, `status()`, `snapshot()`) when the metrics are collected, so it costs
   * the hot path nothing.
   */
  readonly source: "event" | "pull";
  /** Upper bounds of a histogram's buckets, in the metric's unit. */
  readonly buckets?: readonly number[];
  /** The unit, for OpenTelemetry (UCUM: `s`, `1`, `{request}/s`). */
  readonly unit: string;
  /**
   * How the samples of a pulled metric merge when several targets report the same labels
   * (two clients of one integration, one per tenant): added up, or the largest. Default `"sum"`.
   */
  readonly combine?: "sum" | "max";
}

/** Breakwater's metrics, keyed by a short id. */
export const METRICS = {
  breakerState: {
    name: "circuit_breaker_state",
    kind: "gauge",
    help: "1 on the circuit breaker's current state (closed, open, half-open), 0 on the others.",
    labels: ["name", "state"],
    source: "pull",
    unit: "1",
    combine: "max",
  },
  breakerFailures: {
    name: "circuit_breaker_failures_total",
    kind: "counter",
    help: "Calls that counted as failures of the circuit breaker.",
    labels: ["name"],
    source: "pull",
    unit: "{call}",
  },
  breakerSuccesses: {
    name: "circuit_breaker_successes_total",
    kind: "counter",
    help: "Calls that succeeded through the circuit breaker.",
    labels: ["name"],
    source: "pull",
    unit: "{call}",
  },
  breakerRejections: {
    name: "circuit_breaker_rejections_total",
    kind: "counter",
    help: "Calls the circuit breaker refused (open, isolated, or half-open with no free trial).",
    labels: ["name"],
    source: "pull",
    unit: "{call}",
  },
  breakerStateChanges: {
    name: "circuit_breaker_state_changes_total",
    kind: "counter",
    help: "Transitions of the circuit breaker, by the state entered.",
    labels: ["name", "state"],
    source: "event",
    unit: "{transition}",
  },
  retryAttempts: {
    name: "retry_attempts",
    kind: "histogram",
    help: "Attempts per call of a retry policy (1 when the first attempt settled it).",
    labels: ["name"],
    source: "event",
    buckets: [1, 2, 3, 4, 5, 6, 8, 10, 15, 20],
    unit: "{attempt}",
  },
  retryAttemptsTotal: {
    name: "retry_attempts_total",
    kind: "counter",
    help: "Retries made by a retry policy: attempts after the first of each call.",
    labels: ["name"],
    source: "event",
    unit: "{attempt}",
  },
  rateLimitRejected: {
    name: "rate_limit_rejected_total",
    kind: "counter",
    help: "Requests a rate limiter refused (keys of keyed limiters are summed, never labels).",
    labels: ["limiter"],
    source: "event",
    unit: "{request}",
  },
  rateLimitWait: {
    name: "rate_limit_wait_seconds",
    kind: "histogram",
    help: "How long admitted requests waited for a rate limiter (0 when admitted at once).",
    labels: ["limiter"],
    source: "event",
    buckets: [0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    unit: "s",
  },
  adaptiveRate: {
    name: "adaptive_rate_limit_rate",
    kind: "gauge",
    help: "The adaptive rate limiter's current rate, in requests per second (limiters of one name, e.g. one per tenant, added up).",
    labels: ["limiter"],
    source: "pull",
    unit: "{request}/s",
    combine: "sum",
  },
  adaptiveCooldown: {
    name: "adaptive_rate_limit_cooldown_seconds",
    kind: "gauge",
    help: "Seconds left in the adaptive rate limiter's cooldown after a back-off status (0 when none).",
    labels: ["limiter"],
    source: "pull",
    unit: "s",
    combine: "max",
  },
  httpRequests: {
    name: "http_client_requests_total",
    kind: "counter",
    help: "Requests made by a Breakwater HTTP client, by integration and status (or error kind).",
    labels: ["integration", "status"],
    source: "event",
    unit: "{request}",
  },
  httpDuration: {
    name: "http_client_request_duration_seconds",
    kind: "histogram",
    help: "Duration of the requests made by a Breakwater HTTP client, waits for its limiter included.",
    labels: ["integration"],
    source: "event",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    unit: "s",
  },
  timeouts: {
    name: "timeout_total",
    kind: "counter",
    help: "Calls a timeout policy stopped because they ran past its limit.",
    labels: ["name"],
    source: "event",
    unit: "{call}",
  },
  bulkheadRejected: {
    name: "bulkhead_rejected_total",
    kind: "counter",
    help: "Calls a bulkhead refused: every slot busy and no room in its queue.",
    labels: ["name"],
    source: "event",
    unit: "{call}",
  },
  fallbacks: {
    name: "fallback_total",
    kind: "counter",
    help: "Failures a fallback policy replaced with its fallback value.",
    labels: ["name"],
    source: "event",
    unit: "{call}",
  },
} as const satisfies Record<string, MetricDefinition>;

/** The id of one of {@link METRICS}. */
export type MetricId = keyof typeof METRICS;

/** Label values of one series. */
export type Labels = Readonly<Record<string, string>>;

/** The three states a circuit can be in, each a value of the `state` label. */
export const CIRCUIT_STATES = ["closed", "open", "half-open"] as const;
