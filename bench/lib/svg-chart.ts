/**
 * A time-series chart as one standalone SVG string, with no dependencies: line and step
 * series against requests per second, and bar series (429s, 503s per time bucket) in a
 * strip of their own under the lines, sharing the time axis. Written for the adaptive
 * bench's charts (bench/charts/), readable at about 800 x 300.
 */
import { extentOf, finiteRuns } from "../../examples/lib/chart-points.js";
import { niceMax, niceTicks, tickLabel } from "../../examples/lib/ticks.js";

/** How a series is drawn. */
export type ChartSeriesKind = "line" | "step" | "bars";

/** One series of a {@link TimeSeriesChart}. */
export interface ChartSeries {
  /** Shown in the legend. */
  readonly name: string;
  /**
   * `"line"` joins the points; `"step"` holds each value until the next point's x (give a
   * last point at the end of the run to draw the last stretch); `"bars"` draws one bar per
   * point, centred on its x and as wide as the points are apart, in the strip under the
   * lines. Bar series are stacked where they share an x.
   */
  readonly kind: ChartSeriesKind;
  /** A CSS colour; default: the next colour of {@link CHART_PALETTE}. */
  readonly color?: string;
  /** Dashed line (line and step series only). Default false. */
  readonly dashed?: boolean;
  /** `[x, y]` pairs: x in seconds, y per second. Points with a non-finite x or y are skipped (and break a line). */
  readonly points: readonly (readonly [x: number, y: number])[];
}

/** What {@link renderTimeSeriesSvg} draws. */
export interface TimeSeriesChart {
  readonly title: string;
  /** A smaller line under the title (e.g. the run's parameters). */
  readonly subtitle?: string;
  /** The time axis' label, e.g. `"seconds"`. */
  readonly xLabel: string;
  /** The left axis' label, e.g. `"requests/s"`. */
  readonly yLabel: string;
  /** The bar strip's axis label. Default `"per s"`. */
  readonly barsLabel?: string;
  readonly series: readonly ChartSeries[];
  /** Pixels. Default 800. */
  readonly width?: number;
  /** Pixels. Default 300 (320 with a subtitle). */
  readonly height?: number;
}

/** Default series colours, in order (Tableau 10, as Observable Plot and matplotlib use). */
export const CHART_PALETTE: readonly string[] = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const INK = "#1d2430";
const MUTED = "#5f6b7a";
const GRID = "#e6e9ee";
const AXIS = "#9aa3af";

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** Rough width of `text` in pixels at `size` (no font metrics in a string renderer). */
function textWidth(text: string, size: number): number {
  return text.length * size * 0.56;
}

/** `text`, cut with an ellipsis when it would be wider than `px` at `size`. */
function fit(text: string, size: number, px: number): string {
  const chars = Math.max(1, Math.floor(px / (size * 0.56)));
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

const fmt = (n: number): string => String(Math.round(n * 10) / 10);

/**
 * Renders `chart` as a standalone SVG document (UTF-8 text, no external references).
 * Empty series, non-finite values and charts with no data at all are drawn as such
 * (an empty plot that says so), never thrown on.
 */
export function renderTimeSeriesSvg(chart: TimeSeriesChart): string {
  const width = Math.max(240, chart.width ?? 800);
  const height = Math.max(160, chart.height ?? (chart.subtitle === undefined ? 300 : 320));
  const series = chart.series.map((s, i) => ({
    ...s,
    color: s.color ?? CHART_PALETTE[i % CHART_PALETTE.length]!,
    runs: finiteRuns(s.points),
  }));
  const lines = series.filter((s) => s.kind !== "bars");
  const bars = series.filter((s) => s.kind === "bars");

  // Domains: x over every series; y from 0 over the lines; the bars' stacked totals.
  const extent = extentOf(series.map((s) => ({ runs: s.runs, countY: s.kind !== "bars" })));
  const { yMax } = extent;
  let { xMin, xMax } = extent;
  const stacks = new Map<number, number>();
  for (const s of bars) for (const run of s.runs) for (const [x, y] of run) stacks.set(x, (stacks.get(x) ?? 0) + Math.max(0, y));
  const xs = [...stacks.keys()].sort((a, b) => a - b);
  let barStep = Infinity;
  for (let i = 1; i < xs.length; i++) barStep = Math.min(barStep, xs[i]! - xs[i - 1]!);
  if (!Number.isFinite(barStep)) barStep = xMax > xMin ? (xMax - xMin) / 50 : 1;
  const hasData = extent.any;
  if (!hasData) {
    xMin = 0;
    xMax = 1;
  } else if (bars.length > 0) {
    // Room for the first and last bars' halves.
    xMin = Math.min(xMin, (xs[0] ?? xMin) - barStep / 2);
    xMax = Math.max(xMax, (xs[xs.length - 1] ?? xMax) + barStep / 2);
  }
  if (xMax <= xMin) xMax = xMin + 1;
  if (xMin > 0 && xMin < (xMax - xMin) * 0.05) xMin = 0;

  // Layout: title, subtitle, legend rows, plot, bar strip, x axis.
  const out: string[] = [];
  const pad = 16;
  let top = 24;
  out.push(
    `<text x="${pad}" y="${top}" font-size="15" font-weight="600" fill="${INK}">${escapeXml(fit(chart.title, 15.5, width - 2 * pad))}</text>`,
  );
  if (chart.subtitle !== undefined) {
    top += 18;
    out.push(`<text x="${pad}" y="${top}" font-size="12" fill="${MUTED}">${escapeXml(fit(chart.subtitle, 12, width - 2 * pad))}</text>`);
  }
  const left = 58;
  const right = width - 18;
  // Legend: swatch + name, wrapped onto more rows when needed.
  const legend: string[] = [];
  let lx = left;
  let ly = top + 20;
  for (const s of series) {
    const w = 26 + textWidth(s.name, 12) + 18;
    if (lx + w > right && lx > left) {
      lx = left;
      ly += 18;
    }
    const mid = ly - 4;
    if (s.kind === "bars")
      legend.push(`<rect x="${fmt(lx)}" y="${fmt(mid - 5)}" width="18" height="10" rx="1.5" fill="${s.color}" fill-opacity="0.85"/>`);
    else
      legend.push(
        `<line x1="${fmt(lx)}" y1="${fmt(mid)}" x2="${fmt(lx + 18)}" y2="${fmt(mid)}" stroke="${s.color}" stroke-width="${s.kind === "step" ? 2 : 2.25}"${s.dashed === true ? ' stroke-dasharray="5 3"' : ""} stroke-linecap="round"/>`,
      );
    legend.push(`<text x="${fmt(lx + 24)}" y="${fmt(ly)}" font-size="12" fill="${INK}">${escapeXml(s.name)}</text>`);
    lx += w;
  }
  out.push(`<g class="legend">${legend.join("")}</g>`);
  const plotTop = ly + 14;
  const axisBottom = height - 38;
  const stripHeight = bars.length > 0 ? Math.max(28, Math.round((axisBottom - plotTop) * 0.24)) : 0;
  const gap = bars.length > 0 ? 18 : 0;
  const plotBottom = axisBottom - stripHeight - gap;
  const stripTop = axisBottom - stripHeight;

  const sx = (x: number): number => left + ((x - xMin) / (xMax - xMin)) * (right - left);
  // Headroom, so a line at the maximum does not run along the frame.
  const yTop = niceMax(yMax * 1.06, 5);
  const sy = (y: number): number => plotBottom - (Math.max(0, Math.min(y, yTop)) / yTop) * (plotBottom - plotTop);
  const barMax = niceMax(Math.max(0, ...stacks.values()), 2);
  const sb = (v: number): number => (Math.max(0, Math.min(v, barMax)) / barMax) * stripHeight;

  // Grid and axes.
  const grid: string[] = [];
  const ticksX = niceTicks(xMin, xMax, Math.max(2, Math.floor((right - left) / 80)));
  for (const t of ticksX) {
    const x = fmt(sx(t));
    grid.push(`<line x1="${x}" y1="${fmt(plotTop)}" x2="${x}" y2="${fmt(axisBottom)}" stroke="${GRID}"/>`);
    grid.push(`<text x="${x}" y="${fmt(axisBottom + 15)}" font-size="11" fill="${MUTED}" text-anchor="middle">${tickLabel(t)}</text>`);
  }
  for (const t of niceTicks(0, yTop, 5)) {
    const y = fmt(sy(t));
    grid.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="${t === 0 ? AXIS : GRID}"/>`);
    grid.push(`<text x="${left - 7}" y="${y}" dy="0.32em" font-size="11" fill="${MUTED}" text-anchor="end">${tickLabel(t)}</text>`);
  }
  if (bars.length > 0) {
    for (const t of [0, barMax]) {
      const y = fmt(axisBottom - sb(t));
      grid.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="${t === 0 ? AXIS : GRID}"/>`);
      grid.push(`<text x="${left - 7}" y="${y}" dy="0.32em" font-size="11" fill="${MUTED}" text-anchor="end">${tickLabel(t)}</text>`);
    }
    const mid = (stripTop + axisBottom) / 2;
    grid.push(
      `<text transform="translate(${left - 40} ${fmt(mid)}) rotate(-90)" font-size="10" fill="${MUTED}" text-anchor="middle">${escapeXml(chart.barsLabel ?? "per s")}</text>`,
    );
  }
  grid.push(
    `<text transform="translate(${pad + 2} ${fmt((plotTop + plotBottom) / 2)}) rotate(-90)" dy="0.7em" font-size="12" fill="${MUTED}" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`,
  );
  grid.push(
    `<text x="${fmt((left + right) / 2)}" y="${height - 8}" font-size="12" fill="${MUTED}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
  );
  out.push(`<g class="grid">${grid.join("")}</g>`);

  // Bars: stacked per x, in series order from the bottom.
  if (bars.length > 0) {
    const base = new Map<number, number>();
    const w = Math.max(1, (barStep / (xMax - xMin)) * (right - left) * 0.8);
    for (const s of bars) {
      const rects: string[] = [];
      for (const run of s.runs)
        for (const [x, y] of run) {
          if (!(y > 0)) continue;
          const below = base.get(x) ?? 0;
          base.set(x, below + y);
          const y0 = axisBottom - sb(below);
          const y1 = axisBottom - sb(below + y);
          if (y0 - y1 < 0.05) continue;
          rects.push(`<rect x="${fmt(sx(x) - w / 2)}" y="${fmt(y1)}" width="${fmt(w)}" height="${fmt(y0 - y1)}"/>`);
        }
      out.push(`<g class="series bars" data-name="${escapeXml(s.name)}" fill="${s.color}" fill-opacity="0.85">${rects.join("")}</g>`);
    }
  }

  // Lines and steps, clipped to the plot.
  const clip = `<clipPath id="plot"><rect x="${left}" y="${fmt(plotTop - 2)}" width="${right - left}" height="${fmt(plotBottom - plotTop + 4)}"/></clipPath>`;
  for (const s of lines) {
    const paths = s.runs.map((run) => {
      let d = "";
      run.forEach(([x, y], i) => {
        if (i === 0) d += `M${fmt(sx(x))},${fmt(sy(y))}`;
        else if (s.kind === "step") d += `H${fmt(sx(x))}V${fmt(sy(y))}`;
        else d += `L${fmt(sx(x))},${fmt(sy(y))}`;
      });
      // A lone point shows as a dot.
      return run.length === 1
        ? `<circle cx="${fmt(sx(run[0]![0]))}" cy="${fmt(sy(run[0]![1]))}" r="2" fill="${s.color}"/>`
        : `<path d="${d}"/>`;
    });
    out.push(
      `<g class="series ${s.kind}" data-name="${escapeXml(s.name)}" clip-path="url(#plot)" fill="none" stroke="${s.color}" stroke-width="${s.kind === "step" ? 1.75 : 2}" stroke-linejoin="round" stroke-linecap="round"${s.dashed === true ? ' stroke-dasharray="6 4"' : ""}>${paths.join("")}</g>`,
    );
  }
  if (!hasData)
    out.push(
      `<text x="${fmt((left + right) / 2)}" y="${fmt((plotTop + plotBottom) / 2)}" font-size="13" fill="${MUTED}" text-anchor="middle">no data</text>`,
    );

  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" role="img" aria-label="${escapeXml(chart.title)}">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<defs>${clip}</defs>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...out,
    `</svg>`,
    "",
  ].join("\n");
}
