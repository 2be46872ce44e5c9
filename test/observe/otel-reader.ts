/**
 * An in-memory OpenTelemetry setup for tests: a MeterProvider with a pull reader whose
 * `collect()` returns the points, flattened to { name, attributes, value } (histograms as
 * { count, sum, buckets }).
 */
import type { Attributes } from "@opentelemetry/api";
import { DataPointType, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";

/** A reader that exports nowhere: the test calls `collect()`. */
class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** One collected point. */
export interface Point {
  readonly name: string;
  readonly unit: string;
  readonly attributes: Attributes;
  readonly value: number | { readonly count: number; readonly sum: number; readonly boundaries: number[]; readonly counts: number[] };
}

/** A meter and a function that collects every point recorded so far. */
export function inMemoryMeter() {
  const reader = new PullReader();
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter("breakwater-test");
  async function collect(): Promise<Point[]> {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length > 0) throw errors[0];
    const points: Point[] = [];
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        for (const p of metric.dataPoints) {
          const v = p.value as unknown;
          const value =
            metric.dataPointType === DataPointType.HISTOGRAM
              ? (() => {
                  const h = v as { count: number; sum?: number; buckets: { boundaries: number[]; counts: number[] } };
                  return { count: h.count, sum: h.sum ?? 0, boundaries: h.buckets.boundaries, counts: h.buckets.counts };
                })()
              : (v as number);
          points.push({ name: metric.descriptor.name, unit: metric.descriptor.unit, attributes: p.attributes, value });
        }
      }
    }
    return points;
  }
  return { meter, collect, shutdown: () => provider.shutdown() };
}

/** The value of the one point of `name` whose attributes include `attributes`. */
export function pointOf(points: readonly Point[], name: string, attributes: Record<string, string> = {}): Point["value"] | undefined {
  const matching = points.filter((p) => p.name === name && Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
  if (matching.length > 1) throw new Error(`${matching.length} points of ${name} match ${JSON.stringify(attributes)}`);
  return matching[0]?.value;
}
