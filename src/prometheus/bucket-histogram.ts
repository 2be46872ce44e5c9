/**
 * A Prometheus histogram whose observations are counted in process, for the hot path: a
 * bound recorder finds the bucket and adds (no label hashing, no allocation per call),
 * and the registry reads the series when it is scraped, in prom-client's own metric shape
 * (`get()` with `_bucket`, `_sum` and `_count` values), so `registry.metrics()` and
 * `getMetricsAsJSON()` print it like a prom-client `Histogram`.
 */
import type { Labels } from "../observe/catalog.js";
import type { Recorder } from "../observe/observations.js";

interface Series {
  readonly labels: Labels;
  /** Observations per bucket (not cumulative); the last slot is above the largest bound. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** One value of prom-client's metric shape. */
interface Value {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName: string;
}

/** A histogram registered on a prom-client `Registry` through `registerMetric`. */
export class BucketHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly bounds: readonly number[],
  ) {}

  /** The recorder of the series for `labels` (shared with any earlier one of the same labels). */
  bind(labels: Labels): Recorder {
    const key = this.labelNames.map((l) => labels[l] ?? "").join("\u0000");
    let series = this.series.get(key);
    if (series === undefined)
      this.series.set(key, (series = { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 }));
    const s = series;
    const bounds = this.bounds;
    const n = bounds.length;
    const counts = s.counts;
    return (value) => {
      if (!Number.isFinite(value)) return;
      let i = 0;
      // Buckets are few (at most 14) and most values fall in the first ones.
      while (i < n && value > (bounds[i] as number)) i++;
      counts[i] = (counts[i] as number) + 1;
      s.sum += value;
      s.count++;
    };
  }

  /** The series in prom-client's shape; a series that has seen no observation is left out, as prom-client does. */
  async get(): Promise<{ name: string; help: string; type: "histogram"; aggregator: "sum"; values: Value[] }> {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      if (s.count === 0) continue;
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i] as number;
        values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { le: "+Inf", ...s.labels }, value: s.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Zeroes every series (`registry.resetMetrics()`); bound recorders keep working. */
  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
