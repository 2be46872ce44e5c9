import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/clock.js";
import { AdaptiveRateLimiter } from "../../src/limit/adaptive.js";
import { MemoryStore } from "../../src/store/memory.js";

/**
 * The control law against a simulated upstream, all on a ManualClock: 16 workers share one
 * limiter, each request takes 20 ms to reach the upstream and 20 ms to come back, and the
 * upstream's hidden limit changes on a schedule (the bench's 50 -> 20 -> 80 requests/s).
 */

type Answers = "none" | "retry-after" | "headers" | "headers+policy";

interface Scenario {
  /** `[fromMs, limit per second]`, the first from 0. */
  readonly schedule: readonly (readonly [number, number])[];
  /** How the upstream counts: a rolling second, or fixed windows of `windowSec`. */
  readonly window: "rolling" | { readonly windowSec: number };
  readonly answers: Answers;
  readonly durationMs: number;
}

interface Second {
  ok: number;
  refused: number;
}

const WORKERS = 16;
const LEG_MS = 20;

async function simulate(scenario: Scenario): Promise<{ seconds: Second[]; limiter: AdaptiveRateLimiter }> {
  const clock = new ManualClock(0);
  const limiter = new AdaptiveRateLimiter({
    clock,
    store: new MemoryStore({ sweepIntervalMs: 0, clock }),
    initialRatePerSec: 10,
    maxRatePerSec: 1000,
  });
  const limitAt = (t: number): number => {
    let limit = scenario.schedule[0]![1];
    for (const [from, l] of scenario.schedule) if (t >= from) limit = l;
    return limit;
  };
  const seconds: Second[] = Array.from({ length: Math.ceil(scenario.durationMs / 1000) + 1 }, () => ({ ok: 0, refused: 0 }));
  const admitted: number[] = [];
  let windowStart = 0;
  let windowCount = 0;

  /** Admits or refuses at `now`; returns the response headers the upstream sends. */
  const answer = (now: number): { ok: boolean; headers: Record<string, string> } => {
    const perSec = limitAt(now);
    const headers: Record<string, string> = {};
    let ok: boolean;
    if (scenario.window === "rolling") {
      while (admitted.length > 0 && admitted[0]! <= now - 1000) admitted.shift();
      ok = admitted.length < perSec;
      if (ok) admitted.push(now);
      // Whole seconds, rounded up, as servers send it.
      const freeSec = admitted.length === 0 ? 0 : Math.max(1, Math.ceil((admitted[0]! + 1000 - now) / 1000));
      if (!ok && scenario.answers === "retry-after") headers["retry-after"] = String(freeSec);
      if (scenario.answers === "headers+policy") {
        headers["ratelimit-limit"] = String(perSec);
        headers["ratelimit-remaining"] = String(Math.max(0, perSec - admitted.length));
        headers["ratelimit-reset"] = String(freeSec);
        headers["ratelimit-policy"] = `${perSec};w=1`;
      }
    } else {
      const windowMs = scenario.window.windowSec * 1000;
      const quota = perSec * scenario.window.windowSec;
      if (now >= windowStart + windowMs) {
        windowStart = Math.floor(now / windowMs) * windowMs;
        windowCount = 0;
      }
      ok = windowCount < quota;
      if (ok) windowCount++;
      const resetSec = Math.ceil((windowStart + windowMs - now) / 1000);
      if (scenario.answers === "headers" || scenario.answers === "headers+policy") {
        headers["ratelimit-limit"] = String(quota);
        headers["ratelimit-remaining"] = String(quota - windowCount);
        headers["ratelimit-reset"] = String(resetSec);
        if (scenario.answers === "headers+policy") headers["ratelimit-policy"] = `${quota};w=${scenario.window.windowSec}`;
      }
      if (!ok) headers["retry-after"] = String(resetSec);
    }
    const second = seconds[Math.floor(now / 1000)]!;
    if (ok) second.ok++;
    else second.refused++;
    return { ok, headers };
  };

  const worker = async (): Promise<void> => {
    for (let i = 0; i < 10_000 && clock.now() < scenario.durationMs; i++) {
      const permit = await limiter.acquire();
      if (clock.now() >= scenario.durationMs) {
        limiter.release(permit);
        return;
      }
      await clock.sleep(LEG_MS);
      const { ok, headers } = answer(clock.now());
      await clock.sleep(LEG_MS);
      if (ok) limiter.onSuccess({ headers }, permit);
      else limiter.onBackoff({ status: 429, headers, permit });
    }
  };
  const workers = Array.from({ length: WORKERS }, () => worker().catch(() => undefined));
  await clock.advanceAsync(scenario.durationMs + 1000);
  limiter.close();
  await Promise.all(workers);
  return { seconds, limiter };
}

/** Mean goodput over whole seconds [from, to). */
function goodput(seconds: readonly Second[], from: number, to: number): number {
  let sum = 0;
  for (let s = from; s < to; s++) sum += seconds[s]!.ok;
  return sum / (to - from);
}

function refusedShare(seconds: readonly Second[]): number {
  let ok = 0;
  let refused = 0;
  for (const s of seconds) {
    ok += s.ok;
    refused += s.refused;
  }
  return refused / (ok + refused);
}

const BENCH: Scenario["schedule"] = [
  [0, 50],
  [10_000, 20],
  [20_000, 80],
];

describe("AdaptiveRateLimiter against a simulated upstream (16 workers, 40 ms round trips)", () => {
  it("finds a rolling-second limit as it moves 50 -> 20 -> 80, from bare 429s", async () => {
    const { seconds } = await simulate({ schedule: BENCH, window: "rolling", answers: "none", durationMs: 30_000 });
    // Steady state: at least 90% of the limit.
    expect(goodput(seconds, 4, 10)).toBeGreaterThanOrEqual(0.9 * 50);
    expect(goodput(seconds, 13, 20)).toBeGreaterThanOrEqual(0.9 * 20);
    expect(goodput(seconds, 24, 30)).toBeGreaterThanOrEqual(0.9 * 80);
    // At most 5% of requests refused, drops of the limit included.
    expect(refusedShare(seconds)).toBeLessThanOrEqual(0.05);
    // Back above 90% within 3 s after the limit rises.
    expect(Math.max(...[20, 21, 22].map((s) => seconds[s]!.ok))).toBeGreaterThanOrEqual(0.9 * 80);
  });

  it("honours whole-second Retry-After without a storm of 429s", async () => {
    const { seconds } = await simulate({ schedule: BENCH, window: "rolling", answers: "retry-after", durationMs: 30_000 });
    expect(refusedShare(seconds)).toBeLessThanOrEqual(0.05);
    // Each 429 stops every worker for a whole second, which costs goodput (see the report on issue 5).
    expect(goodput(seconds, 4, 10)).toBeGreaterThanOrEqual(0.75 * 50);
    expect(goodput(seconds, 24, 30)).toBeGreaterThanOrEqual(0.6 * 80);
  });

  it("paces from RateLimit-Policy and the budget of a rolling-second upstream: at most 1% refused", async () => {
    const { seconds, limiter } = await simulate({ schedule: BENCH, window: "rolling", answers: "headers+policy", durationMs: 30_000 });
    expect(refusedShare(seconds)).toBeLessThanOrEqual(0.01);
    expect(goodput(seconds, 1, 10)).toBeGreaterThanOrEqual(0.9 * 50);
    expect(goodput(seconds, 11, 20)).toBeGreaterThanOrEqual(0.9 * 20);
    expect(goodput(seconds, 21, 30)).toBeGreaterThanOrEqual(0.9 * 80);
    expect(limiter.snapshot().source).toBe("headers");
  });

  it("paces from the headers of a fixed-window upstream without a 429 (with or without RateLimit-Policy)", async () => {
    for (const answers of ["headers", "headers+policy"] as const) {
      const { seconds, limiter } = await simulate({
        schedule: [
          [0, 50],
          [15_000, 80],
        ],
        window: { windowSec: 5 },
        answers,
        durationMs: 30_000,
      });
      expect(refusedShare(seconds)).toBeLessThanOrEqual(0.01);
      expect(goodput(seconds, 2, 15)).toBeGreaterThanOrEqual(0.9 * 50);
      expect(goodput(seconds, 16, 30)).toBeGreaterThanOrEqual(0.9 * 80);
      expect(limiter.snapshot().source).toBe("headers");
    }
  });
});
