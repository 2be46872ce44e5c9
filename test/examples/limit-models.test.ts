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
