import { describe, expect, it } from "vitest";
import { createLimitModel } from "../../examples/lib/limit-models.js";

describe("upstream limit models: a fixed window's length", () => {
  const admitted = (windowSec: number | undefined, fromMs: number, toMs: number, limit: number): number => {
    const model = createLimitModel("fixed-window", windowSec === undefined ? {} : { windowSec });
    let ok = 0;
    for (let ms = fromMs; ms < toMs; ms++) if (model.admit(ms, limit).ok) ok++;
    return ok;
  };

  it("a window of 10 s admits 10 s of the rate, then nothing until it turns", () => {
    const model = createLimitModel("fixed-window", { windowSec: 10 });
    let ok = 0;
    for (let ms = 0; ms < 10_000; ms++) if (model.admit(ms, 5).ok) ok++;
    expect(ok).toBe(50);
    const refused = model.admit(9_999, 5);
    expect(refused).toMatchObject({ ok: false, remaining: 0, quota: 50, windowSec: 10, resetSec: 1 });
    expect(model.admit(10_000, 5)).toMatchObject({ ok: true, remaining: 49 });
  });

  it("the default is the clock's second", () => {
    expect(admitted(undefined, 0, 3_000, 5)).toBe(15);
    expect(admitted(1, 0, 3_000, 5)).toBe(15);
    expect(admitted(2, 0, 4_000, 5)).toBe(20);
  });
});

describe("upstream limit models: refused requests that count", () => {
  /** Requests every 10 ms (100/s) for 2 s under a limit of 50/s (twice the limit): how many each second admits. */
  const perSecond = (kind: "sliding-log" | "sliding-window", countsRefused: boolean): [number, number] => {
    const model = createLimitModel(kind, { countsRefused });
    const ok = [0, 0];
    for (let ms = 0; ms < 2_000; ms += 10) if (model.admit(ms, 50).ok) ok[Math.floor(ms / 1000)]!++;
    return [ok[0]!, ok[1]!];
  };

  it("by default a refusal costs the client nothing: each second admits the limit", () => {
    expect(perSecond("sliding-log", false)).toEqual([50, 50]);
    expect(perSecond("sliding-window", false)).toEqual([50, 50]);
  });

  it("counted, a client that keeps sending over the limit is shut out until it slows down", () => {
    // The log fills with the first second's 100 requests: nothing frees in the next.
    expect(perSecond("sliding-log", true)).toEqual([50, 0]);
    expect(perSecond("sliding-window", true)).toEqual([50, 0]);
  });
});
