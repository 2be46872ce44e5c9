/**
 * `breakwater/prometheus`: Breakwater's metrics on a prom-client registry.
 *
 * prom-client is an optional peer dependency: this module (and only this one) imports it,
 * so the metric classes come from the application's own prom-client and the core never
 * loads it.
 *
 * @module breakwater/prometheus
 */
import { Counter, Gauge, type Metric, register as defaultRegistry, type Registry } from "prom-client";
import { InvalidOptionError } from "../core/errors.js";
import type { Telemetry } from "../core/telemetry.js";
import { checkKeys } from "../core/validate.js";
import { type Labels, type MetricDefinition, type MetricId, METRICS } from "../observe/catalog.js";
import { BucketHistogram } from "./bucket-histogram.js";
import { CounterCells, type Emit, type ObserveOptions, Observations, Pulls } from "../observe/observations.js";
import type { ObservableTarget } from "../observe/targets.js";

export { METRICS, type MetricDefinition, type MetricId, type MetricKind, type Labels } from "../observe/catalog.js";
export type { ObserveOptions } from "../observe/observations.js";
export type {
  ObservableTarget,
  BreakerTarget,
  BreakersTarget,
  RetryTarget,
  LimiterTarget,
  AdaptiveTarget,
  HttpClientTarget,
  PolicyTarget,
} from "../observe/targets.js";

/** Options of {@link instrumentPrometheus}. */
export interface PrometheusOptions {
  /** The prom-client registry to create the metrics on. Default: prom-client's global `register`. */
  readonly registry?: Registry;
  /** Put before every metric name, e.g. `"myapp_"`. Default `""` (the catalogue's names as they are). */
  readonly prefix?: string;
}

/** What {@link instrumentPrometheus} returns. */
export interface PrometheusMetrics {
  /**
   * The event metrics as a telemetry sink: hand it to policies as their `telemetry` option,
   * or subscribe it to a `TelemetryStream`. It feeds the counters and histograms; gauges and
   * a breaker's totals are read from targets passed to `observe`.
   */
  readonly telemetry: Telemetry;
  /** The registry holding the metrics. */
  readonly registry: Registry;
  /** The full name of every metric created, prefix included. */
  readonly names: readonly string[];
  /**
   * Starts exporting `target`'s metrics: a `CircuitBreaker`, a `CircuitBreakers` registry
   * (its services created later included), a retry policy, a rate limiter, an adaptive
   * rate limiter or an HTTP client. Returns the function that removes every listener it
   * added; the target's pulled series (gauges, breaker totals) leave the next scrape,
   * event counters keep their totals.
   */
  observe(target: ObservableTarget, options?: ObserveOptions): () => void;
  /** Stops observing every target and removes the metrics from the registry. */
  close(): void;
}

const WHERE = "instrumentPrometheus";
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

type AnyMetric = Counter<string> | Gauge<string> | BucketHistogram;

/**
 * Creates Breakwater's metrics on a prom-client registry; `observe(target)` then feeds them.
 * Counters and histograms are updated by listeners on the policies' events, into series
 * kept in process (a few additions per event, no label hashing) that the registry reads
 * when it is scraped; gauges and the breakers' totals are read from the policies then.
 *
 * @example
 * ```ts
 * const metrics = instrumentPrometheus({ registry });
 * metrics.observe(breakers);
 * ```
 */
export function instrumentPrometheus(options: PrometheusOptions = {}): PrometheusMetrics {
  checkKeys(WHERE, options, ["registry", "prefix"]);
  const registry = options.registry ?? defaultRegistry;
  if (
    typeof registry !== "object" ||
    registry === null ||
    typeof registry.metrics !== "function" ||
    typeof registry.getSingleMetric !== "function"
  ) {
    throw new InvalidOptionError(WHERE, "registry", registry, "a prom-client Registry");
  }
  const prefix = options.prefix ?? "";
  if (typeof prefix !== "string" || (prefix !== "" && !METRIC_NAME.test(prefix))) {
    throw new InvalidOptionError(WHERE, "prefix", prefix, 'a metric-name prefix such as "myapp_" (letters, digits, _ and :)');
  }
  const ids = Object.keys(METRICS) as MetricId[];
  for (const id of ids) {
    const name = prefix + METRICS[id].name;
    if (registry.getSingleMetric(name) !== undefined) {
      throw new InvalidOptionError(
        WHERE,
        "registry",
        `a registry that has ${name}`,
        "a registry without Breakwater's metrics (one instrumentPrometheus per registry and prefix)",
      );
    }
  }

  const pulls = new Pulls();
  const cells = new CounterCells();
  const metrics = new Map<MetricId, AnyMetric>();
  for (const id of ids) {
    metrics.set(
      id,
      create(
        METRICS[id],
        prefix + METRICS[id].name,
        registry,
        (emit) => pulls.read(id, emit),
        () => flush(id),
      ),
    );
  }
  // An event counter's cells hold what happened since the last scrape; the scrape moves it into the Counter.
  const flush = (id: MetricId): void => {
    const counter = metrics.get(id) as Counter<string>;
    for (const cell of cells.of(id)) {
      if (cell.value === 0) continue;
      counter.inc(cell.labels, cell.value);
      cell.value = 0;
    }
  };

  const observations = new Observations(
    {
      counter: (id, labels) => cells.bind(id, labels),
      histogram: (id, labels) => (metrics.get(id) as BucketHistogram).bind(labels),
      pull: (id, read) => pulls.add(id, read),
    },
    `${WHERE}(...).observe`,
  );
  const names = ids.map((id) => prefix + METRICS[id].name);
  return {
    registry,
    names,
    telemetry: observations.telemetry,
    observe: (target, observeOptions) => observations.observe(target, observeOptions),
    close() {
      observations.close();
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}

function create(def: MetricDefinition, name: string, registry: Registry, read: (emit: Emit) => void, flush: () => void): AnyMetric {
  const common = { name, help: def.help, labelNames: def.labels, registers: [registry] };
  switch (def.kind) {
    case "histogram": {
      const histogram = new BucketHistogram(name, def.help, def.labels, def.buckets ?? []);
      // prom-client reads any metric through get(): BucketHistogram has prom-client's metric shape.
      registry.registerMetric(histogram as unknown as Metric);
      return histogram;
    }
    case "gauge":
      return new Gauge({
        ...common,
        collect() {
          this.reset();
          read((labels: Labels, value: number) => this.set(labels, value));
        },
      });
    case "counter":
      if (def.source === "event") {
        return new Counter({
          ...common,
          collect() {
            flush();
          },
        });
      }
      return new Counter({
        ...common,
        collect() {
          // A pulled counter reports the policy's own running total, which never decreases.
          this.reset();
          read((labels: Labels, value: number) => this.inc(labels, value));
        },
      });
  }
}
