import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { renderTerminalChart, type TerminalSeries } from "../../examples/lib/terminal-chart.js";
import { niceMax, niceTicks, tickLabel } from "../../examples/lib/ticks.js";

const limit: TerminalSeries = {
  name: "hidden limit",
  kind: "step",
  points: [
    [0, 40],
    [4.5, 15],
    [7.5, 60],
    [13, 60],
  ],
};
const rate: TerminalSeries = {
  name: "Breakwater's rate",
  kind: "line",
  points: Array.from({ length: 66 }, (_, i) => [i / 5, i < 23 ? 30 : i < 38 ? 12 : 50] as [number, number]),
};
/** The text without its ANSI colour codes. */
const strip = (s: string): string =>
  s
    .split("\u001b[")
    .map((part, i) => (i === 0 ? part : part.slice(part.indexOf("m") + 1)))
    .join("");
const BRAILLE = /[\u2801-\u28ff]/;

describe("renderTerminalChart", () => {
  it("fits 80 columns and draws the axes, the step, the Braille line, the band and the legend", () => {
    const text = renderTerminalChart({
      title: "rate against the limit (requests/s)",
      series: [limit, rate],
      bands: [{ from: 10, to: 11, label: "outage" }],
    });
    const lines = text.split("\n");
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(80);
    expect(lines[0]).toBe("rate against the limit (requests/s)");
    // Title, 12 plot rows, the time axis, its labels, the legend.
    expect(lines).toHaveLength(16);
    expect(lines[13]).toMatch(/^ +└[─┬]+$/);
    expect(lines[14]).toMatch(/^ +0 s +2 +4 +6 +8 +10 +12$/);
    expect(lines[15]).toContain("── hidden limit");
    expect(lines[15]).toContain("⣿ Breakwater's rate");
    expect(lines[15]).toContain("· outage");
    expect(text).toMatch(BRAILLE);
    // The limit's rise from 15 to 60 is a corner, a vertical run and a corner.
    expect(text).toMatch(/┘/);
    expect(text).toMatch(/┌/);
    expect(text).toMatch(/│/);
    // The y axis: round ticks, 0 at the bottom row.
    expect(lines[12]).toMatch(/^ 0 ┤/);
    expect(lines.some((l) => l.startsWith("60 ┤"))).toBe(true);
    // No colour unless asked.
    expect(text).not.toContain("\x1b[");
  });

  it("puts a higher value on a higher row", () => {
    const rowOf = (y: number): number => {
      const lines = renderTerminalChart({
        series: [
          {
            name: "v",
            kind: "line",
            points: [
              [0, y],
              [1, y],
              [2, 100],
            ],
          },
        ],
      }).split("\n");
      return lines.findIndex((l) => BRAILLE.test(l.slice(5, 40)));
    };
    expect(rowOf(90)).toBeLessThan(rowOf(50));
    expect(rowOf(50)).toBeLessThan(rowOf(10));
  });

  it("colours series only when asked, and the plain text stays the same", () => {
    const plain = renderTerminalChart({ series: [limit, rate] });
    const coloured = renderTerminalChart({ series: [limit, rate], color: true });
    expect(coloured).toContain("\x1b[33m");
    expect(coloured).toContain("\x1b[36m");
    expect(strip(coloured)).toBe(plain);
  });

  it("draws an empty plot that says so for no data, NaN or infinite values, and never throws", () => {
    const empty = renderTerminalChart({
      series: [
        {
          name: "nothing",
          kind: "line",
          points: [
            [NaN, 1],
            [1, Infinity],
          ],
        },
      ],
    });
    expect(empty).toContain("no data");
    expect(empty).not.toMatch(/NaN|Infinity/);
    // Found by the property below: a value near the largest double once made the y axis Infinity.
    expect(() => renderTerminalChart({ series: [{ name: "huge", kind: "line", points: [[0, 1.6666666666666668e308]] }] })).not.toThrow();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double(), fc.double()), { maxLength: 30 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 40 }),
        (points, width, height) => {
          const text = renderTerminalChart({
            series: [
              { name: "r", kind: "line", points },
              { name: "l", kind: "step", points },
            ],
            width,
            height,
          });
          for (const line of text.split("\n")) expect([...line].length).toBeLessThanOrEqual(Math.max(20, width));
          expect(text).not.toMatch(/NaN|Infinity|undefined/);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("breaks a line at a NaN", () => {
    const rows = (points: [number, number][]): string =>
      renderTerminalChart({ series: [{ name: "v", kind: "line", points }], width: 40, height: 4 });
    const joined = rows([
      [0, 0],
      [10, 100],
    ]);
    const broken = rows([
      [0, 0],
      [5, NaN],
      [10, 100],
    ]);
    const dots = (t: string): number => [...t].filter((c) => BRAILLE.test(c)).length;
    expect(dots(broken)).toBeLessThan(dots(joined));
  });
});

describe("niceTicks and niceMax", () => {
  it("give round steps covering the range", () => {
    expect(niceTicks(0, 80, 5)).toEqual([0, 20, 40, 60, 80]);
    expect(niceTicks(0, 30, 8)).toEqual([0, 5, 10, 15, 20, 25, 30]);
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(5, 5, 5)).toEqual([5]);
    expect(niceTicks(0, NaN, 5)).toEqual([]);
    expect(niceTicks(0, 5e-324, 5)).toEqual([0, 5e-324]);
    expect(niceMax(63, 8)).toBe(70);
    expect(niceMax(63, 4)).toBe(80);
    expect(niceMax(0, 4)).toBe(1);
    expect(niceMax(NaN, 4)).toBe(1);
    // The next round number past the largest doubles would be Infinity: the value itself.
    expect(niceMax(1.75e308, 8)).toBe(1.75e308);
    expect(Number.isFinite(niceMax(Number.MAX_VALUE, 4))).toBe(true);
  });
});

describe("tickLabel", () => {
  it("keeps labels short", () => {
    expect(tickLabel(0)).toBe("0");
    expect(tickLabel(0.25)).toBe("0.25");
    expect(tickLabel(80)).toBe("80");
    expect(tickLabel(12_500)).toBe("12.5k");
    expect(tickLabel(1.25e19)).toBe("1.25e+19");
    expect(tickLabel(-2.5e-7)).toBe("-2.5e-7");
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
        expect(tickLabel(v).length).toBeLessThanOrEqual(10);
      }),
    );
  });
});
