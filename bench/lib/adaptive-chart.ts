/**
 * The adaptive bench's chart of one upstream model: the hidden limit, the rate Breakwater
 * paced at and its goodput, AWS's rate, and Breakwater's 429s and 503s per time bucket,
 * with the same names and colours on every model's chart.
 */
import { type RatePoints, type StatusSeries, stepPoints } from "./chart-series.js";
import { type ChartSeries, renderTimeSeriesSvg } from "./svg-chart.js";

/** What one model's chart shows. */
export interface AdaptiveChartInput {
  readonly title: string;
  /** E.g. the run's parameters and its goodput. */
  readonly subtitle?: string;
  /** The run's length (ms). */
  readonly durationMs: number;
  /** The upstream's limit `ms` after the start (`upstream.limitAt`). */
  readonly limitAt: (ms: number) => number;
  /** Breakwater's run: its limiter's rate sampled over time (`[seconds, requests/s]`), and the upstream's answers. */
  readonly breakwater: { readonly rate: RatePoints; readonly statuses: StatusSeries };
  /** AWS's adaptive limiter's rate over its run, sampled the same way; left out when absent. */
  readonly aws?: { readonly rate: RatePoints };
  /** Pixels. Default 800 x 320. */
  readonly width?: number;
  readonly height?: number;
}

/** The colours of the adaptive charts, by series. */
export const ADAPTIVE_COLORS = {
  limit: "#1d2430",
  breakwater: "#4e79a7",
  goodput: "#8cc2e8",
  aws: "#f28e2b",
  throttled: "#e15759",
  unavailable: "#9c755f",
} as const;

/** Renders one model's chart as a standalone SVG (see {@link renderTimeSeriesSvg}). */
export function renderAdaptiveChartSvg(input: AdaptiveChartInput): string {
  const series: ChartSeries[] = [
    {
      name: "hidden limit",
      kind: "step",
      dashed: true,
      color: ADAPTIVE_COLORS.limit,
      points: stepPoints(input.limitAt, input.durationMs, 50),
    },
    { name: "Breakwater paced", kind: "line", color: ADAPTIVE_COLORS.breakwater, points: input.breakwater.rate },
    { name: "Breakwater goodput", kind: "line", color: ADAPTIVE_COLORS.goodput, points: input.breakwater.statuses.goodput },
  ];
  if (input.aws !== undefined) series.push({ name: "AWS adaptive", kind: "line", color: ADAPTIVE_COLORS.aws, points: input.aws.rate });
  series.push(
    { name: "429s", kind: "bars", color: ADAPTIVE_COLORS.throttled, points: input.breakwater.statuses.throttled },
    { name: "503s", kind: "bars", color: ADAPTIVE_COLORS.unavailable, points: input.breakwater.statuses.unavailable },
  );
  return renderTimeSeriesSvg({
    title: input.title,
    ...(input.subtitle === undefined ? {} : { subtitle: input.subtitle }),
    xLabel: "seconds",
    yLabel: "requests/s",
    barsLabel: "Breakwater /s",
    series,
    width: input.width ?? 800,
    height: input.height ?? 320,
  });
}
