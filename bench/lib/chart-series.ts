/**
 * Turns what a bench run recorded into chart series (per-second rates per time bucket),
 * ready for {@link renderTimeSeriesSvg}'s `points`.
 */
import { BUCKET_MS, type UpstreamTimeline } from "../../examples/lib/upstream.js";

/** One request as the upstream answered it: when (ms since the run began) and with what status. */
export interface RequestRecord {
  readonly atMs: number;
  readonly status: number;
}

/** A chart series' points: `[seconds, per second]`. */
export type RatePoints = Array<[seconds: number, perSec: number]>;

/** Answers per second, per bucket: 2xx (goodput), 429 and 503 (any other 5xx counts as 503, as an outage does). */
export interface StatusSeries {
  readonly goodput: RatePoints;
  readonly throttled: RatePoints;
  readonly unavailable: RatePoints;
}

function checkBucket(where: string, bucketMs: number): void {
  if (!(Number.isFinite(bucketMs) && bucketMs > 0)) throw new RangeError(`${where}: bucketMs must be a finite number > 0, got ${bucketMs}`);
}

/** Counts per bucket as per-second rates, each at its bucket's middle (seconds). */
function toRates(counts: readonly number[], bucketMs: number): RatePoints {
  return counts.map((n, i) => [((i + 0.5) * bucketMs) / 1000, (n * 1000) / bucketMs]);
}

/**
 * Buckets `records` by `bucketMs` from time 0 (records before 0 or not finite are left
 * out) and returns the per-second rate of each kind of answer in each bucket, from the
 * first bucket to the last one holding a record (empty buckets are 0, so a line drops
 * to 0 in a silence). Each point sits at its bucket's middle.
 */
export function seriesFromRecords(records: readonly RequestRecord[], bucketMs: number): StatusSeries {
  checkBucket("seriesFromRecords", bucketMs);
  const ok: number[] = [];
  const throttled: number[] = [];
  const unavailable: number[] = [];
  let buckets = 0;
  for (const r of records) {
    if (!(Number.isFinite(r.atMs) && r.atMs >= 0)) continue;
    const i = Math.floor(r.atMs / bucketMs);
    buckets = Math.max(buckets, i + 1);
    const series = r.status === 429 ? throttled : r.status >= 500 ? unavailable : r.status >= 200 && r.status < 300 ? ok : undefined;
    if (series !== undefined) series[i] = (series[i] ?? 0) + 1;
  }
  const dense = (s: number[]): number[] => Array.from({ length: buckets }, (_, i) => s[i] ?? 0);
  return {
    goodput: toRates(dense(ok), bucketMs),
    throttled: toRates(dense(throttled), bucketMs),
    unavailable: toRates(dense(unavailable), bucketMs),
  };
}

/**
 * The same from an upstream's timeline (counts per {@link BUCKET_MS}), regrouped into
 * buckets of `bucketMs` (a multiple of {@link BUCKET_MS}) up to `durationMs`.
 */
export function seriesFromTimeline(timeline: UpstreamTimeline, bucketMs: number, durationMs: number): StatusSeries {
  checkBucket("seriesFromTimeline", bucketMs);
  if (bucketMs % BUCKET_MS !== 0) throw new RangeError(`seriesFromTimeline: bucketMs must be a multiple of ${BUCKET_MS}, got ${bucketMs}`);
  if (!(Number.isFinite(durationMs) && durationMs >= 0))
    throw new RangeError(`seriesFromTimeline: durationMs must be a finite number >= 0, got ${durationMs}`);
  const per = bucketMs / BUCKET_MS;
  const buckets = Math.ceil(durationMs / bucketMs);
  const regroup = (series: readonly number[]): number[] =>
    Array.from({ length: buckets }, (_, i) => {
      let total = 0;
      for (let j = i * per; j < (i + 1) * per; j++) total += series[j] ?? 0;
      return total;
    });
  return {
    goodput: toRates(regroup(timeline.ok), bucketMs),
    throttled: toRates(regroup(timeline.throttled), bucketMs),
    unavailable: toRates(regroup(timeline.unavailable), bucketMs),
  };
}

/**
 * A step series of a value sampled over time (e.g. the hidden limit, `upstream.limitAt`):
 * one point where it changes, and one at `toMs`, so a `"step"` series draws to the end.
 */
export function stepPoints(valueAt: (ms: number) => number, toMs: number, everyMs: number): RatePoints {
  checkBucket("stepPoints", everyMs);
  const points: RatePoints = [];
  let last = NaN;
  // Bounded: toMs / everyMs samples.
  for (let t = 0; t < toMs; t += everyMs) {
    const v = valueAt(t);
    if (v !== last) points.push([t / 1000, v]);
    last = v;
  }
  points.push([toMs / 1000, valueAt(Math.max(0, toMs - everyMs))]);
  return points;
}
