/**
 * Before/after figures and their verdict. For times, the ratio is the median of paired
 * ratios (each round's after over the same round's before, taken next to each other, so
 * drift cancels) and the noise is the spread of those ratios; a difference within the noise
 * is no difference.
 */
import { median } from "./measure.js";

/** One path's comparison. */
export interface AbRow {
  readonly name: string;
  readonly before: number;
  readonly after: number;
  /** Median of after / before, over paired rounds. */
  readonly ratio: number;
  /** The spread of the paired ratios, as a fraction (0.03 = ±3 %). */
  readonly noise: number;
}

/** Compares paired rounds: `before[i]` and `after[i]` were taken together. Noise: half the interquartile range of the ratios. */
export function compare(name: string, before: readonly number[], after: readonly number[]): AbRow {
  const ratios = after.map((a, i) => a / (before[i] ?? NaN));
  return { name, before: median(before), after: median(after), ratio: median(ratios), noise: halfIqr(ratios) };
}

/**
 * Compares independent estimates (instruction counts, which do not drift: nothing to pair):
 * the ratio of the medians; noise: the two sides' half interquartile ranges, relative, added.
 */
export function compareCounts(name: string, before: readonly number[], after: readonly number[]): AbRow {
  const b = median(before);
  const a = median(after);
  return { name, before: b, after: a, ratio: a / b, noise: halfIqr(before) / b + halfIqr(after) / a };
}

function halfIqr(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (q: number): number => sorted[Math.round(q * (sorted.length - 1))] ?? NaN;
  return (at(0.75) - at(0.25)) / 2;
}

/** "same within noise", or how much more (`words[0]`: slower) or less (`words[1]`: faster) beyond it. */
export function verdict(row: AbRow, words: readonly [string, string] = ["SLOWER", "faster"]): string {
  const change = row.ratio - 1;
  if (Math.abs(change) <= row.noise) return "same within noise";
  return `${change > 0 ? words[0] : words[1]} by ${(Math.abs(change) * 100).toFixed(1)} %`;
}

/** A Markdown table of the rows, `unit` naming the figures (ns/op, instructions/op), `words` the verdict's. */
export function abTable(rows: readonly AbRow[], unit: string, words?: readonly [string, string]): string {
  const pct = (x: number): string => `±${(x * 100).toFixed(x < 0.001 ? 2 : 1)} %`;
  return [
    `| path | before ${unit} | after ${unit} | after / before | noise | verdict |`,
    "| --- | ---: | ---: | ---: | ---: | --- |",
    ...rows.map(
      (r) =>
        `| ${r.name} | ${Math.round(r.before).toLocaleString("en-US")} | ${Math.round(r.after).toLocaleString("en-US")} | ${r.ratio.toFixed(3)} | ${pct(r.noise)} | ${verdict(r, words)} |`,
    ),
  ].join("\n");
}
