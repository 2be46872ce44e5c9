/**
 * A time-series chart for the terminal, in plain text with no dependencies: `"line"`
 * series in Braille dots (2 x 4 dots per character, so a line is finer than the grid),
 * `"step"` series in box-drawing lines, spans such as an outage shaded under them, a y
 * axis with round ticks, a time axis and a legend. It fits the width it is given (80
 * columns by default); colours (ANSI) only when asked for.
 *
 * Where a line and a step meet in one character, the line is drawn: the step is the
 * reference (a limit), the line the thing measured against it.
 */
import { extentOf, finiteRuns } from "./chart-points.js";
import { niceMax, niceTicks, tickLabel } from "./ticks.js";

/** One series of a {@link TerminalChart}. */
export interface TerminalSeries {
  /** Shown in the legend. */
  readonly name: string;
  /** `"line"`: Braille dots joining the points. `"step"`: each value held until the next point's x. */
  readonly kind: "line" | "step";
  /** `[x, y]` pairs (x in seconds); a non-finite one breaks a line. */
  readonly points: readonly (readonly [x: number, y: number])[];
  /** ANSI colour, used when the chart's `color` is on. Default: cyan for lines, yellow for steps. */
  readonly color?: TerminalColor;
}

/** The ANSI colours a series may take. */
export type TerminalColor = "red" | "green" | "yellow" | "blue" | "magenta" | "cyan" | "gray";

/** A shaded span of x (e.g. an outage), with its legend label. */
export interface TerminalBand {
  readonly from: number;
  readonly to: number;
  readonly label: string;
}

/** What {@link renderTerminalChart} draws. */
export interface TerminalChart {
  /** A first line above the chart. */
  readonly title?: string;
  /** Unit of the x axis' labels. Default `"s"`. */
  readonly xUnit?: string;
  readonly series: readonly TerminalSeries[];
  readonly bands?: readonly TerminalBand[];
  /** Columns of every line, axis labels included (at least 20). Default 80. */
  readonly width?: number;
  /** Rows of the plot (at least 3), without the axis, labels, title and legend. Default 12. */
  readonly height?: number;
  /** ANSI colours. Default false. */
  readonly color?: boolean;
}

const ANSI: Record<TerminalColor, number> = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90 };
const BAND = "·";
/** Braille dot bits by [column][row within the character]. */
const DOTS = [
  [0x01, 0x02, 0x04, 0x40],
  [0x08, 0x10, 0x20, 0x80],
] as const;

interface Cell {
  ch: string;
  /** Braille bits, when the cell holds line dots. */
  dots: number;
  color: TerminalColor | undefined;
}

/**
 * Renders `chart` as lines of text joined by `\n` (no trailing newline), each at most
 * `width` columns wide (ANSI codes aside). Empty or non-finite data draws an empty plot
 * that says so; it never throws on data.
 */
export function renderTerminalChart(chart: TerminalChart): string {
  const width = Math.max(20, Math.floor(chart.width ?? 80));
  const rows = Math.max(3, Math.floor(chart.height ?? 12));
  const xUnit = chart.xUnit ?? "s";
  const series = chart.series.map((s) => ({
    ...s,
    runs: finiteRuns(s.points),
    color: s.color ?? (s.kind === "line" ? "cyan" : "yellow"),
  }));
  const paint = (text: string, color: TerminalColor | undefined): string =>
    chart.color === true && color !== undefined ? `\x1b[${ANSI[color]}m${text}\x1b[0m` : text;

  const extent = extentOf(series);
  const { yMax, any: hasData } = extent;
  let { xMin, xMax } = extent;
  if (!hasData) {
    xMin = 0;
    xMax = 1;
  }
  // A time axis starts at 0 when the data starts just after it.
  if (xMin > 0 && xMin < (xMax - xMin) * 0.05) xMin = 0;
  if (!(xMax / 2 - xMin / 2 > 0)) xMax = xMin + Math.max(1, Math.abs(xMin) * 1e-9);
  const yTop = niceMax(yMax * 1.05, 8);
  const yTicks = niceTicks(0, yTop, Math.min(4, rows - 1));
  const labelWidth = Math.max(...yTicks.map((t) => tickLabel(t).length));
  const cols = Math.max(4, width - labelWidth - 2);
  const dotW = cols * 2;
  const dotH = rows * 4;

  // Dot coordinates: px from the left, py from the bottom; values outside are clamped.
  // Halves first, so that no span of finite numbers overflows.
  const frac = (x: number): number => (x / 2 - xMin / 2) / (xMax / 2 - xMin / 2);
  const px = (x: number): number => Math.max(0, Math.min(dotW - 1, Math.round(frac(x) * (dotW - 1))));
  const py = (y: number): number => Math.max(0, Math.min(dotH - 1, Math.round((Math.max(0, y) / yTop) * (dotH - 1))));
  const rowOf = (dotY: number): number => rows - 1 - Math.floor(dotY / 4);
  const colX = (c: number): number => xMin + ((c + 0.5) / cols) * xMax - ((c + 0.5) / cols) * xMin;

  const grid: Cell[][] = Array.from({ length: rows }, () => Array.from({ length: cols }, () => ({ ch: " ", dots: 0, color: undefined })));

  for (const band of chart.bands ?? []) {
    for (let c = 0; c < cols; c++) {
      const x = colX(c);
      if (x >= band.from && x < band.to) for (const row of grid) row[c] = { ch: BAND, dots: 0, color: "gray" };
    }
  }

  // Steps, one character per column: the row of the value in force at the column's middle.
  for (const s of series.filter((t) => t.kind === "step")) {
    const points = s.runs.flat().sort((a, b) => a[0] - b[0]);
    let previous: number | undefined;
    for (let c = 0; c < cols; c++) {
      const x = colX(c);
      let value: number | undefined;
      for (const [px0, v] of points) if (px0 <= x) value = v;
      if (value === undefined || points.length === 0 || x > points[points.length - 1]![0] + xMax / cols - xMin / cols) {
        previous = undefined;
        continue;
      }
      const r = rowOf(py(value));
      const set = (row: number, ch: string): void => void (grid[row]![c] = { ch, dots: 0, color: s.color });
      if (previous === undefined || previous === r) set(r, "─");
      else if (r < previous) {
        // Up: the old level turns up into the new one.
        set(previous, "┘");
        for (let k = r + 1; k < previous; k++) set(k, "│");
        set(r, "┌");
      } else {
        set(previous, "┐");
        for (let k = previous + 1; k < r; k++) set(k, "│");
        set(r, "└");
      }
      previous = r;
    }
  }

  // Lines, in Braille dots: each segment drawn dot by dot between its ends.
  const dot = (x: number, y: number, color: TerminalColor): void => {
    const cell = grid[rowOf(y)]![Math.floor(x / 2)]!;
    cell.dots |= DOTS[x % 2]![3 - (y % 4)]!;
    cell.ch = String.fromCharCode(0x2800 + cell.dots);
    cell.color = color;
  };
  for (const s of series.filter((t) => t.kind === "line")) {
    for (const run of s.runs) {
      run.forEach(([x, y], i) => {
        const x1 = px(x);
        const y1 = py(y);
        if (i === 0) return dot(x1, y1, s.color);
        const [x0p, y0p] = run[i - 1]!;
        const x0 = px(x0p);
        const y0 = py(y0p);
        const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
        for (let k = 1; k <= steps; k++) dot(Math.round(x0 + ((x1 - x0) * k) / steps), Math.round(y0 + ((y1 - y0) * k) / steps), s.color);
      });
    }
  }

  const lines: string[] = [];
  if (chart.title !== undefined) lines.push(chart.title.slice(0, width));
  const tickAt = new Map<number, number>();
  for (const t of yTicks) tickAt.set(rowOf(py(t)), t);
  grid.forEach((row, r) => {
    const tick = tickAt.get(r);
    const axis = tick === undefined ? `${" ".repeat(labelWidth)} │` : `${tickLabel(tick).padStart(labelWidth)} ┤`;
    lines.push(
      axis +
        row
          .map((cell) => paint(cell.ch, cell.color))
          .join("")
          .replace(/ +$/, ""),
    );
  });
  if (!hasData) {
    const middle = Math.floor(rows / 2) + (chart.title !== undefined ? 1 : 0);
    const text = "no data";
    const at = labelWidth + 2 + Math.max(0, Math.floor((cols - text.length) / 2));
    lines[middle] = lines[middle]!.padEnd(at) + text;
  }

  // The time axis: ticks under round x values, labels centred on them where they fit.
  const xTicks = niceTicks(xMin, xMax, Math.max(2, Math.floor(cols / 10)));
  const axis = Array.from({ length: cols }, () => "─");
  let labels = " ".repeat(labelWidth + 2 + cols);
  let free = 0;
  for (const t of xTicks) {
    const c = Math.floor(px(t) / 2);
    axis[c] = "┬";
    const text = `${tickLabel(t)}${t === xTicks[0] ? ` ${xUnit}` : ""}`;
    const start = Math.min(Math.max(labelWidth + 2 + c - Math.floor(tickLabel(t).length / 2), free), width - text.length);
    if (start < free) continue;
    labels = labels.slice(0, start) + text + labels.slice(start + text.length);
    free = start + text.length + 1;
  }
  lines.push(`${" ".repeat(labelWidth)} └${axis.join("")}`);
  lines.push(labels.replace(/ +$/, ""));

  // The legend, wrapped to the width; a name too long for a line is cut.
  const indent = labelWidth + 2;
  const entries = [
    ...series.map((s) => ({ mark: s.kind === "line" ? "⣿" : "──", color: s.color, name: s.name })),
    ...(chart.bands ?? []).map((b) => ({ mark: BAND, color: "gray" as const, name: b.label })),
  ];
  let legend = " ".repeat(indent);
  let used = indent;
  const seen = new Set<string>();
  for (const { mark, color, name } of entries) {
    const text = `${mark} ${name}`.slice(0, width - indent);
    if (seen.has(text)) continue;
    seen.add(text);
    if (used + text.length > width && used > indent) {
      lines.push(legend.replace(/ +$/, ""));
      legend = " ".repeat(indent);
      used = indent;
    }
    legend += paint(text.slice(0, mark.length), color) + text.slice(mark.length) + "   ";
    used += text.length + 3;
  }
  lines.push(legend.replace(/ +$/, ""));
  return lines.join("\n");
}
