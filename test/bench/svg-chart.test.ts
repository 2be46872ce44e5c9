import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { renderTimeSeriesSvg, type ChartSeries } from "../../bench/lib/svg-chart.js";

/** A rough XML check: one root, every tag closed in order, attributes quoted, no stray `<` or `&`. Returns the tag names seen. */
function checkXml(svg: string): string[] {
  const body = svg.replace(/^<\?xml[^?]*\?>\s*/, "");
  const stack: string[] = [];
  const names: string[] = [];
  let roots = 0;
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < body.length) {
    const lt = body.indexOf("<", i);
    const text = body.slice(i, lt < 0 ? body.length : lt);
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(text)) throw new Error(`bare & in text: ${text}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(body);
    if (m === null) throw new Error(`malformed tag at ${lt}: ${body.slice(lt, lt + 60)}`);
    const [, close, name, , selfClose] = m;
    if (close === "/") {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      if (stack.length === 0) roots++;
      names.push(name!);
      if (selfClose !== "/") stack.push(name!);
    }
    i = tag.lastIndex;
  }
  if (stack.length > 0) throw new Error(`unclosed: ${stack.join(", ")}`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return names;
}

/** The plot box: the clip rectangle of the lines. */
function plotBox(svg: string): { left: number; right: number; top: number; bottom: number } {
  const m = /<clipPath id="plot"><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/.exec(svg)!;
  const [x, y, w, h] = m.slice(1).map(Number) as [number, number, number, number];
  // The clip has 2 px of slack above and below the plot.
  return { left: x, right: x + w, top: y + 2, bottom: y + h - 2 };
}

/** Every coordinate pair of the paths of the series named `name`. */
function pathPoints(svg: string, name: string): [number, number][] {
  const group = new RegExp(`<g class="series [a-z]+" data-name="${name}"[^>]*>(.*?)</g>`).exec(svg);
  if (group === null) return [];
  const points: [number, number][] = [];
  for (const d of group[1]!.matchAll(/d="([^"]*)"/g)) {
    let x = 0;
    let y = 0;
    for (const [, cmd, args] of d[1]!.matchAll(/([MLHV])([\d.,-]+)/g)) {
      const nums = args!.split(",").map(Number);
      if (cmd === "H") x = nums[0]!;
      else if (cmd === "V") y = nums[0]!;
      else [x, y] = nums as [number, number];
      points.push([x, y]);
    }
  }
  return points;
}

const base = { title: "Bucket upstream", xLabel: "seconds", yLabel: "requests/s" };

describe("renderTimeSeriesSvg", () => {
  it("renders a well-formed SVG with the title, axis labels and every series in the legend", () => {
    const svg = renderTimeSeriesSvg({
      ...base,
      subtitle: "16 workers",
      series: [
        {
          name: "hidden limit",
          kind: "step",
          dashed: true,
          points: [
            [0, 50],
            [10, 20],
            [20, 80],
            [30, 80],
          ],
        },
        {
          name: "Breakwater paced",
          kind: "line",
          points: [
            [0, 10],
            [5, 48],
            [15, 19],
            [25, 79],
          ],
        },
        {
          name: "AWS adaptive",
          kind: "line",
          color: "#f28e2b",
          points: [
            [0, 10],
            [5, 30],
            [15, 15],
            [25, 55],
          ],
        },
        {
          name: "429s",
          kind: "bars",
          points: [
            [0.25, 2],
            [0.75, 0],
            [1.25, 4],
          ],
        },
        {
          name: "503s",
          kind: "bars",
          points: [
            [0.25, 1],
            [1.25, 8],
          ],
        },
      ],
    });
    const tags = checkXml(svg);
    expect(tags[0]).toBe("svg");
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).toContain('width="800" height="320"');
    const legend = /<g class="legend">(.*?)<\/g>/.exec(svg)![1]!;
    for (const name of ["hidden limit", "Breakwater paced", "AWS adaptive", "429s", "503s"]) expect(legend).toContain(`>${name}</text>`);
    for (const text of ["Bucket upstream", "16 workers", "seconds", "requests/s"]) expect(svg).toContain(`>${text}</`);
    expect(svg).toContain('stroke="#f28e2b"');
    // Stacked bars: the 503s of x = 1.25 sit on its 429s; the zero bar is not drawn.
    expect(svg.match(/data-name="429s"[^>]*>(.*?)<\/g>/)![1]!.match(/<rect/g)).toHaveLength(2);
  });

  it("maps values into the plot box: the first point at the bottom left, the largest at the top right", () => {
    const svg = renderTimeSeriesSvg({
      ...base,
      series: [
        {
          name: "rate",
          kind: "line",
          points: [
            [0, 0],
            [5, 50],
            [10, 100],
          ],
        },
      ],
    });
    const box = plotBox(svg);
    const points = pathPoints(svg, "rate");
    expect(points).toHaveLength(3);
    expect(points[0]![0]).toBeCloseTo(box.left, 0);
    expect(points[0]![1]).toBeCloseTo(box.bottom, 0);
    expect(points[2]![0]).toBeCloseTo(box.right, 0);
    // The axis leaves headroom above the largest value, and the middle point is halfway in both directions.
    expect(points[2]![1]).toBeGreaterThan(box.top);
    expect(points[2]![1]).toBeLessThan(box.top + (box.bottom - box.top) * 0.2);
    expect(points[1]![0]).toBeCloseTo((box.left + box.right) / 2, 0);
    expect(points[1]![1]).toBeCloseTo((points[0]![1] + points[2]![1]) / 2, 0);
  });

  it("draws a step series as horizontal then vertical moves", () => {
    const svg = renderTimeSeriesSvg({
      ...base,
      series: [
        {
          name: "limit",
          kind: "step",
          points: [
            [0, 50],
            [10, 20],
            [20, 20],
          ],
        },
      ],
    });
    const d = /data-name="limit"[^>]*><path d="([^"]*)"/.exec(svg)![1]!;
    expect(d).toMatch(/^M[\d.]+,[\d.]+H[\d.]+V[\d.]+H[\d.]+V[\d.]+$/);
  });

  it("keeps every drawn point inside the plot box, whatever the values", () => {
    const value = fc.oneof(fc.double({ min: -1e6, max: 1e6 }), fc.constantFrom(NaN, Infinity, -Infinity, 0));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.double({ min: 0, max: 1e4, noNaN: true }), value), { maxLength: 40 }), (points) => {
        const svg = renderTimeSeriesSvg({ ...base, series: [{ name: "rate", kind: "line", points }] });
        checkXml(svg);
        const box = plotBox(svg);
        for (const [x, y] of pathPoints(svg, "rate")) {
          expect(x).toBeGreaterThanOrEqual(box.left - 0.05);
          expect(x).toBeLessThanOrEqual(box.right + 0.05);
          expect(y).toBeGreaterThanOrEqual(box.top - 0.05);
          expect(y).toBeLessThanOrEqual(box.bottom + 0.05);
        }
        expect(svg).not.toMatch(/NaN|Infinity/);
      }),
      { numRuns: 200 },
    );
  });

  it("breaks a line at a NaN, skips non-finite points, and says so when there is no data at all", () => {
    const broken = renderTimeSeriesSvg({
      ...base,
      series: [
        {
          name: "rate",
          kind: "line",
          points: [
            [0, 1],
            [1, 2],
            [2, NaN],
            [3, 4],
            [4, 5],
          ],
        },
      ],
    });
    expect(broken.match(/data-name="rate"[^>]*>(.*?)<\/g>/)![1]!.match(/<path/g)).toHaveLength(2);
    expect(broken).not.toMatch(/NaN/);
    const empty = renderTimeSeriesSvg({
      ...base,
      series: [
        { name: "nothing", kind: "line", points: [] },
        { name: "none", kind: "bars", points: [] },
      ],
    });
    checkXml(empty);
    expect(empty).toContain(">no data</text>");
    expect(empty).toContain(">nothing</text>");
    expect(empty).not.toMatch(/NaN|Infinity/);
    const noSeries = renderTimeSeriesSvg({ ...base, series: [] });
    checkXml(noSeries);
    expect(noSeries).toContain(">no data</text>");
    // One point: a dot, not an empty path.
    expect(renderTimeSeriesSvg({ ...base, series: [{ name: "one", kind: "line", points: [[3, 3]] }] })).toMatch(
      /data-name="one"[^>]*><circle /,
    );
  });

  it("escapes names and titles", () => {
    const svg = renderTimeSeriesSvg({
      ...base,
      title: 'a < b & "c"',
      series: [
        {
          name: "<script>",
          kind: "line",
          points: [
            [0, 1],
            [1, 2],
          ],
        },
      ],
    });
    checkXml(svg);
    expect(svg).toContain("a &lt; b &amp; &quot;c&quot;");
    expect(svg).toContain("&lt;script&gt;");
    expect(svg).not.toContain("<script>");
  });

  it("wraps a long legend onto more rows and honours the size", () => {
    const series: ChartSeries[] = Array.from({ length: 12 }, (_, i) => ({
      name: `a rather long series name ${i}`,
      kind: "line",
      points: [
        [0, i],
        [1, i + 1],
      ],
    }));
    const svg = renderTimeSeriesSvg({ ...base, series, width: 640, height: 400 });
    checkXml(svg);
    expect(svg).toContain('width="640" height="400"');
    const rows = new Set([...svg.matchAll(/<text x="[\d.]+" y="([\d.]+)" font-size="12" fill="#1d2430">a rather/g)].map((m) => m[1]));
    expect(rows.size).toBeGreaterThan(1);
  });
});

describe("renderTimeSeriesSvg: long text", () => {
  it("cuts a title too wide for the chart with an ellipsis, and keeps it whole in <title>", () => {
    const title = "A very long title ".repeat(10).trim();
    const svg = renderTimeSeriesSvg({ ...base, title, width: 400, series: [] });
    const shown = /font-weight="600"[^>]*>([^<]*)</.exec(svg)![1]!;
    expect(shown.endsWith("…")).toBe(true);
    expect(shown.length).toBeLessThan(title.length);
    expect(svg).toContain(`<title>${title}</title>`);
  });
});
