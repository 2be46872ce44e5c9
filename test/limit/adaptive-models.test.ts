/**
 * The adaptive limiter's control law on virtual time against the bench's upstream models
 * (bench/lib/adaptive-sim.ts: Breakwater's real `ApiClient` with an injected clock and
 * fetch, network delays and late timers drawn from a fixed random source). Each run is deterministic, so these pin
 * what the law achieves; the real-time bench (bench/adaptive.bench.ts) reports the figures.
 */
import { describe, expect, it } from "vitest";
import { scenarioNamed } from "../../bench/lib/adaptive-scenarios.js";
import { breakwaterSimClient, simulate } from "../../bench/lib/adaptive-sim.js";
import { shapeFromArgs } from "../../bench/lib/sim-args.js";

describe("the adaptive limiter on upstream models (virtual time)", () => {
  it.each(["token-bucket", "sliding-log", "sliding-window", "changing"])(
    "%s without headers: >= 90%% of the limit in every phase, <= 5%% refused, 90%% within 3 s of every change",
    async (name) => {
      const { measures: m } = await simulate({ scenario: scenarioNamed(name), headers: "none", run: 1 });
      for (const g of m.steadyGoodput) expect(g).toBeGreaterThanOrEqual(0.9);
      expect(m.share429).toBeLessThanOrEqual(0.05);
      for (const t of m.toNinetyMs) expect(t).not.toBeNull();
      for (const t of m.toNinetyMs) expect(t!).toBeLessThanOrEqual(3000);
    },
  );

  it("fixed window without headers: >= 90% of the limit in every phase; refusals run to about 5% (a probe that fills a window is refused for the rest of it)", async () => {
    const { measures: m } = await simulate({ scenario: scenarioNamed("fixed-window"), headers: "none", run: 1 });
    for (const g of m.steadyGoodput) expect(g).toBeGreaterThanOrEqual(0.9);
    expect(m.share429).toBeLessThanOrEqual(0.06);
    for (const t of m.toNinetyMs) expect(t!).toBeLessThanOrEqual(3000);
  });

  // FAILS on ced032e (outages 0.67, GCRA 0.55, sliding window 0.90 in their 4 requests/s phase):
  // a refusal paused two pacing intervals, half a second at 4/s, and the pauses, not the
  // pace, held the rate sent while the pace sat over the limit.
  it.each([
    ["outages", 0.8],
    ["gcra", 0.6],
    ["sliding-window", 0.95],
  ] as const)(
    "at low limits (10 -> 4 -> 16 requests/s), %s without headers keeps >= %s of the limit in every phase: the pause is capped",
    async (name, floor) => {
      const scenario = shapeFromArgs(scenarioNamed(name), ["--scale=0.2"]);
      const { measures: m } = await simulate({ scenario, headers: "none", run: 1 });
      for (const g of m.steadyGoodput) expect(g).toBeGreaterThanOrEqual(floor);
    },
  );

  it("keeps what it learned through 503 outages of 1, 3 and 5 s: back to 90% within 3 s of each", async () => {
    const { measures: m } = await simulate({ scenario: scenarioNamed("outages"), headers: "none", run: 1 });
    for (const g of m.steadyGoodput) expect(g).toBeGreaterThanOrEqual(0.9);
    for (const t of m.toNinetyMs) expect(t!).toBeLessThanOrEqual(3000);
  });

  it("paces from RateLimit-* headers with at most 1% refused", async () => {
    for (const name of ["token-bucket", "fixed-window", "sliding-log", "sliding-window", "outages"]) {
      const { measures: m } = await simulate({ scenario: scenarioNamed(name), headers: "full", run: 1 });
      expect(m.share429, name).toBeLessThanOrEqual(0.01);
      for (const g of m.steadyGoodput) expect(g, name).toBeGreaterThanOrEqual(0.9);
    }
  });

  it("with a quota policy the pace keeps 97.5% of a window's quota: the 2.5% it leaves free is no shortage (>= 95% in every phase)", async () => {
    for (const name of ["fixed-window", "sliding-log", "sliding-window"]) {
      const { measures: m } = await simulate({ scenario: scenarioNamed(name), headers: "full", run: 1 });
      for (const g of m.steadyGoodput) expect(g, name).toBeGreaterThanOrEqual(0.95);
    }
  });

  it("a fixed window of 10 s: without headers the whole quota is used (burst and wait); with a quota policy it is paced, nothing refused", async () => {
    const base = scenarioNamed("fixed-window");
    const scenario = {
      ...base,
      phases: base.phases.map((p) => ({ limit: p.limit, fromMs: p.fromMs * 6, toMs: p.toMs * 6 })),
      shape: { windowSec: 10 },
    };
    const bare = (await simulate({ scenario, headers: "none", run: 1 })).measures;
    for (const g of bare.steadyGoodput) expect(g).toBeGreaterThanOrEqual(0.95);
    const told = (await simulate({ scenario, headers: "full", run: 1 })).measures;
    for (const g of told.steadyGoodput) expect(g).toBeGreaterThanOrEqual(0.95);
    expect(told.share429).toBeLessThanOrEqual(0.001);
    for (const [i, p99] of told.p99Ms.entries()) expect(p99).toBeLessThanOrEqual(told.floorMs[i]! + 1000);
  });

  it("a rate config below the real limit is corrected: rateConfig 10/s on an upstream that allows 50", async () => {
    const scenario = { ...scenarioNamed("sliding-log"), phases: [{ limit: 50, fromMs: 0, toMs: 10_000 }] };
    const { measures: m } = await simulate({
      scenario,
      headers: "none",
      run: 2,
      client: (fetch, clock) => breakwaterSimClient(fetch, clock, { rateConfig: { ratePerSec: 10 } }),
    });
    expect(m.steadyGoodput[0]).toBeGreaterThanOrEqual(0.9);
    expect(m.toNinetyMs[0]!).toBeLessThanOrEqual(3000);
  });

  it("a pinned maxRatePerSec is never exceeded", async () => {
    const scenario = { ...scenarioNamed("sliding-log"), phases: [{ limit: 50, fromMs: 0, toMs: 5_000 }] };
    const { timeline } = await simulate({
      scenario,
      headers: "none",
      run: 3,
      client: (fetch, clock) => breakwaterSimClient(fetch, clock, { rateConfig: { ratePerSec: 10, maxRatePerSec: 10 } }),
    });
    // 10/s in every whole second (the pacing bucket holds one permit).
    for (let s = 0; s < 5; s++) expect(timeline.ok.slice(s * 10, s * 10 + 10).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(11);
    expect(timeline.throttled.reduce((a, b) => a + b, 0)).toBe(0);
  });
});
