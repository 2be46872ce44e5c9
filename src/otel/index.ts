/**
 * `breakwater/otel`: Breakwater's metrics through an OpenTelemetry `Meter`.
 *
 * @opentelemetry/api is an optional peer dependency, used for its types only: the
 * application hands over its own `Meter`, so nothing of OpenTelemetry is loaded here.
 *
 * @module breakwater/otel
 */
import type { Histogram, Meter, Observable as OtelObservable, ObservableCallback } from "@opentelemetry/api";
import { InvalidOptionError } from "../core/errors.js";
import type { Telemetry } from "../core/telemetry.js";
import { checkKeys } from "../core/validate.js";
import { type MetricId, METRICS } from "../observe/catalog.js";
import { CounterCells, type ObserveOptions, Observations, Pulls } from "../observe/observations.js";
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

/** Options of {@link instrumentOpenTelemetry}. */
export interface OpenTelemetryOptions {
  /** The meter to create the instruments on, e.g. `metrics.getMeter("breakwater")`. Required. */
  readonly meter: Meter;
  /** Put before every instrument name. Default `""`. */
  readonly prefix?: string;
}

/** What {@link instrumentOpenTelemetry} returns. */
export interface OpenTelemetryMetrics {
  /**
   * The event metrics as a telemetry sink: hand it to policies as their `telemetry` option,
   * or subscribe it to a `TelemetryStream`. It feeds the counters and histograms; gauges and
   * a breaker's totals are read from targets passed to `observe`.
   */
  readonly telemetry: Telemetry;
  /** The full name of every instrument created, prefix included. */
  readonly names: readonly string[];
  /**
   * Starts recording `target`'s metrics (the same targets as `breakwater/prometheus`);
   * returns the function that removes every listener it added.
   */
  observe(target: ObservableTarget, options?: ObserveOptions): () => void;
  /** Stops observing every target and detaches the observable instruments' callbacks. */
  close(): void;
}

const WHERE = "instrumentOpenTelemetry";

/**
 * Creates Breakwater's instruments on an OpenTelemetry meter: histograms fed by the
 * policies' events; observable counters over totals kept in process (a listener adds to a
 * number; the meter reads it at each collection); observable gauges and counters read
 * from the policies at each collection (the breakers' state and totals, the adaptive
 * limiters' rate and cooldown). Names and attributes are those of `breakwater/prometheus`.
 *
 * @example
 * ```ts
 * const metrics = instrumentOpenTelemetry({ meter: otel.metrics.getMeter("breakwater") });
 * metrics.observe(breakers);
 * ```
 */
export function instrumentOpenTelemetry(options: OpenTelemetryOptions): OpenTelemetryMetrics {
  checkKeys(WHERE, options, ["meter", "prefix"]);
  const meter = options?.meter;
  if (
    typeof meter !== "object" ||
    meter === null ||
    typeof meter.createCounter !== "function" ||
    typeof meter.createObservableGauge !== "function"
  ) {
    throw new InvalidOptionError(WHERE, "meter", meter, "an OpenTelemetry Meter (metrics.getMeter(name))");
  }
  const prefix = options.prefix ?? "";
  if (typeof prefix !== "string") throw new InvalidOptionError(WHERE, "prefix", prefix, "a string");

  const pulls = new Pulls();
  const cells = new CounterCells();
  const histograms = new Map<MetricId, Histogram>();
  const callbacks: [OtelObservable, ObservableCallback][] = [];
  const ids = Object.keys(METRICS) as MetricId[];
  for (const id of ids) {
    const def = METRICS[id];
    const name = prefix + def.name;
    const base = { description: def.help, unit: def.unit };
    if (def.kind === "histogram") {
      histograms.set(id, meter.createHistogram(name, { ...base, advice: { explicitBucketBoundaries: [...(def.buckets ?? [])] } }));
    } else {
      const instrument = def.kind === "gauge" ? meter.createObservableGauge(name, base) : meter.createObservableCounter(name, base);
      const callback: ObservableCallback =
        def.source === "event"
          ? (result) => {
              for (const cell of cells.of(id)) result.observe(cell.value, cell.labels);
            }
          : (result) => pulls.read(id, (labels, value) => result.observe(value, labels));
      instrument.addCallback(callback);
      callbacks.push([instrument, callback]);
    }
  }

  const observations = new Observations(
    {
      counter: (id, labels) => cells.bind(id, labels),
      histogram: (id, labels) => {
        const histogram = histograms.get(id) as Histogram;
        return (value) => histogram.record(value, labels);
      },
      pull: (id, read) => pulls.add(id, read),
    },
    `${WHERE}(...).observe`,
  );
  return {
    names: ids.map((id) => prefix + METRICS[id].name),
    telemetry: observations.telemetry,
    observe: (target, observeOptions) => observations.observe(target, observeOptions),
    close() {
      observations.close();
      for (const [instrument, callback] of callbacks.splice(0)) instrument.removeCallback(callback);
    },
  };
}
