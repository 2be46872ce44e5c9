/** Chart points, shared by the terminal chart and the bench's SVG charts. */

/** An `[x, y]` pair. */
export type ChartPoint = readonly [x: number, y: number];

/**
 * The finite points of a series, in runs split where a non-finite one (NaN, Infinity, a
 * hole) breaks it, each run sorted by x: a line is drawn run by run, with a gap between.
 */
export function finiteRuns(points: readonly ChartPoint[]): ChartPoint[][] {
  const runs: ChartPoint[][] = [];
  let run: ChartPoint[] = [];
  for (const p of points) {
    if (Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1])) run.push([p[0], p[1]]);
    else if (run.length > 0) {
      runs.push(run);
      run = [];
    }
  }
  if (run.length > 0) runs.push(run);
  return runs.map((r) => r.sort((a, b) => a[0] - b[0]));
}

/** The span of some runs: x from least to most, y's most (at least 0). */
export interface Extent {
  readonly xMin: number;
  readonly xMax: number;
  readonly yMax: number;
  /** False when there was no point at all (the extent is then Infinity / -Infinity / 0). */
  readonly any: boolean;
}

/** The extent of `runs` (as {@link finiteRuns} gives them); y only from those `countY` accepts. */
export function extentOf(series: readonly { readonly runs: readonly ChartPoint[][]; readonly countY?: boolean }[]): Extent {
  let xMin = Infinity;
  let xMax = -Infinity;
  let yMax = 0;
  for (const s of series)
    for (const run of s.runs)
      for (const [x, y] of run) {
        xMin = Math.min(xMin, x);
        xMax = Math.max(xMax, x);
        if (s.countY !== false) yMax = Math.max(yMax, y);
      }
  return { xMin, xMax, yMax, any: xMin <= xMax };
}
