import { describe, expect, it } from "vitest";
import { renderAdaptiveChartSvg } from "../../bench/lib/adaptive-chart.js";
import { seriesFromRecords } from "../../bench/lib/chart-series.js";

describe("renderAdaptiveChartSvg", () => {
  it("draws the limit, both rates, the goodput and the 429 / 503 bars with their names", () => {
    const records = Array.from({ length: 300 }, (_, i) => ({ atMs: i * 10, status: i % 10 === 0 ? 429 : i > 250 ? 503 : 200 }));
    const svg = renderAdaptiveChartSvg({
      title: "Token bucket, no headers",
      subtitle: "worst of 5 runs",
      durationMs: 3_000,
      limitAt: (ms) => (ms < 1_500 ? 50 : 20),
      breakwater: {
        rate: [
          [0, 10],
          [1, 45],
          [2, 19],
          [3, 20],
        ],
        statuses: seriesFromRecords(records, 500),
      },
      aws: {
        rate: [
          [0, 10],
          [1, 30],
          [2, 15],
          [3, 14],
        ],
      },
    });
    for (const name of ["hidden limit", "Breakwater paced", "Breakwater goodput", "AWS adaptive", "429s", "503s"])
      expect(svg).toContain(`data-name="${name}"`);
    expect(svg).toContain(">worst of 5 runs</text>");
    expect(svg).toContain('width="800" height="320"');
    // The limit steps down once: H, V, then H to the end.
    expect(/data-name="hidden limit"[^>]*><path d="(M[^"]*)"/.exec(svg)![1]).toMatch(/^M[\d.]+,[\d.]+H[\d.]+V[\d.]+H[\d.]+V[\d.]+$/);
  });

  it("leaves AWS out when it did not run", () => {
    const svg = renderAdaptiveChartSvg({
      title: "t",
      durationMs: 1_000,
      limitAt: () => 10,
      breakwater: { rate: [], statuses: seriesFromRecords([], 100) },
    });
    expect(svg).not.toContain("AWS adaptive");
    expect(svg).toContain('data-name="hidden limit"');
  });
});
