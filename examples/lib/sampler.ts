/**
 * Samples values over a run (e.g. a limiter's `snapshot().ratePerSec` and an upstream's
 * current limit) every `everyMs`, as `[seconds, value]` points for a chart.
 */

/** The points of one probe: `[seconds since start, value]`. */
export type SamplePoints = Array<[seconds: number, value: number]>;

/** A running sampler. */
export interface Sampler<K extends string> {
  /** Takes one more sample now, stops, and returns every probe's points. */
  stop(): Record<K, SamplePoints>;
}

/**
 * Starts sampling each of `probes` now and every `everyMs` after, until `stop()`. A probe
 * gets the ms elapsed since the start; one that throws records NaN (a gap in a line).
 * Its timer is unref'd: nobody waits on it.
 */
export function startSampler<K extends string>(everyMs: number, probes: Record<K, (elapsedMs: number) => number>): Sampler<K> {
  if (!(Number.isFinite(everyMs) && everyMs >= 1))
    throw new RangeError(`startSampler: everyMs must be a finite number >= 1, got ${everyMs}`);
  const t0 = performance.now();
  const keys = Object.keys(probes) as K[];
  const points = Object.fromEntries(keys.map((k) => [k, [] as SamplePoints])) as Record<K, SamplePoints>;
  const sample = (): void => {
    const elapsed = performance.now() - t0;
    for (const k of keys) {
      let value: number;
      try {
        value = probes[k](elapsed);
      } catch {
        value = NaN;
      }
      points[k].push([elapsed / 1000, value]);
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();
  let stopped = false;
  return {
    stop() {
      if (!stopped) {
        stopped = true;
        clearInterval(timer);
        sample();
      }
      return points;
    },
  };
}
