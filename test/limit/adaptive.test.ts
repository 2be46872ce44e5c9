import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/clock.js";
import { InvalidOptionError, RateLimitExceededError, ResilienceError } from "../../src/core/errors.js";
import {
  type AdaptiveEvents,
  type AdaptivePermit,
  AdaptiveRateLimiter,
  type AdaptiveRateLimiterOptions,
} from "../../src/limit/adaptive.js";
import { MemoryStore } from "../../src/store/memory.js";
import { AsyncStore, settle, track, nextPermit } from "./helpers.js";

/** A limiter on a manual clock and a private store without timers. */
function setup(options: AdaptiveRateLimiterOptions = {}): { clock: ManualClock; limiter: AdaptiveRateLimiter; store: MemoryStore } {
  const clock = new ManualClock(0);
  const store = new MemoryStore({ sweepIntervalMs: 0, clock });
  return { clock, store, limiter: new AdaptiveRateLimiter({ clock, store, ...options }) };
}

const next = nextPermit;

/** Sends requests back to back at the limiter's pace for `ms`, each answered with success. */
async function succeedFor(limiter: AdaptiveRateLimiter, clock: ManualClock, ms: number): Promise<number> {
  const end = clock.now() + ms;
  let sent = 0;
  for (; clock.now() < end && sent < 100_000; sent++) limiter.onSuccess(null, await next(limiter, clock));
  return sent;
}

/** Collects one event's payloads. */
function collect<K extends keyof AdaptiveEvents>(limiter: AdaptiveRateLimiter, event: K): AdaptiveEvents[K][] {
  const seen: AdaptiveEvents[K][] = [];
  limiter.on(event, (payload) => seen.push(payload));
  return seen;
}

describe("AdaptiveRateLimiter: the control law", () => {
  it("starts at initialRatePerSec and paces at it", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 4, maxRatePerSec: 4 });
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: 4, source: "initial", epoch: 0 });
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      limiter.onSuccess(null, await next(limiter, clock));
      times.push(clock.now());
    }
    expect(times.map((t) => Math.round(t))).toEqual([0, 250, 500, 750, 1000]);
    // The longest pause a back-off imposes, for callers that pause on their own (ApiClient's 5xx retry).
    expect(limiter.maxCooldownMs).toBe(60_000);
    expect(setup({ maxCooldownMs: 5_000 }).limiter.maxCooldownMs).toBe(5_000);
  });

  it("doubles the rate every doublingMs while requests succeed (slow start)", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 10, maxRatePerSec: 10_000, doublingMs: 1000 });
    const rates: number[] = [];
    for (let i = 0; i < 12; i++) {
      await succeedFor(limiter, clock, 250);
      const rate = limiter.snapshot().ratePerSec;
      // Slow start from the first acquire at t = 0: 10 * 2^(t / 1000); in the first second
      // it is held to twice what was sent, since the meter has seen less than a second.
      const law = 10 * 2 ** (clock.now() / 1000);
      if (clock.now() >= 1000) expect(rate).toBeCloseTo(law, 6);
      else expect(rate).toBeLessThanOrEqual(law);
      rates.push(rate);
    }
    for (let i = 1; i < rates.length; i++) expect(rates[i]).toBeGreaterThan(rates[i - 1]!);
    expect(rates.at(-1)).toBeGreaterThan(70);
    expect(limiter.snapshot().source).toBe("adaptive");
  });

  it("grows no faster than twice the rate actually sent over the last second", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 10, maxRatePerSec: 10_000, doublingMs: 50 });
    for (let i = 0; i < 8; i++) {
      const sent = await succeedFor(limiter, clock, 1000);
      expect(limiter.snapshot().ratePerSec).toBeLessThanOrEqual(2 * sent + 2);
    }
  });

  it("does not grow a rate the caller never uses (application-limited)", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 10, doublingMs: 100 });
    // One request a second for ten seconds: slow start alone would reach 10 * 2^100.
    for (let i = 0; i < 10; i++) {
      limiter.onSuccess(null, await next(limiter, clock));
      clock.advance(1000);
    }
    expect(limiter.snapshot().ratePerSec).toBe(10);
  });

  it("never paces faster than maxRatePerSec", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 10, maxRatePerSec: 40, doublingMs: 200 });
    let max = 0;
    for (let i = 0; i < 20; i++) {
      await succeedFor(limiter, clock, 100);
      max = Math.max(max, limiter.snapshot().ratePerSec);
    }
    expect(max).toBe(40);
    expect(limiter.snapshot().ratePerSec).toBe(40);
    // The pace follows: 40 permits take 39 intervals of 25 ms.
    const start = clock.now();
    for (let i = 0; i < 40; i++) limiter.onSuccess(null, await next(limiter, clock));
    expect(clock.now() - start).toBeGreaterThanOrEqual(39 * 25 - 1);
  });

  it("cuts the rate by `decrease` on a back-off with too few samples to measure", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 10, decrease: 0.6, cooldownMultiplier: 0 });
    const changes = collect(limiter, "rateChange");
    const permit = await next(limiter, clock);
    limiter.onBackoff({ status: 429, permit });
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: 6, epoch: 1, backoffs: 1, source: "adaptive" });
    expect(changes).toEqual([{ limiter: "adaptive", key: "adaptive:adaptive", from: 10, to: 6, reason: "backoff" }]);
  });

  it("after a probe overshoots, paces (1 - headroom) below the rate the upstream accepted", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 10, maxRatePerSec: 10_000, headroom: 0.1, cooldownMultiplier: 0 });
    await succeedFor(limiter, clock, 2500);
    const before = limiter.snapshot().ratePerSec;
    limiter.onBackoff({ status: 429, permit: await next(limiter, clock) });
    const after = limiter.snapshot().ratePerSec;
    expect(after).toBeLessThan(before);
    // Pacing at a growing rate, the last second saw fewer successes than the current rate.
    expect(after).toBeLessThanOrEqual(0.9 * before);
    expect(after).toBeGreaterThan(0.3 * before);
  });

  it("holds the rate for holdMs after a cut, then probes upward again", async () => {
    const { clock, limiter } = setup({
      initialRatePerSec: 20,
      maxRatePerSec: 1000,
      holdMs: 1000,
      holdPerCooldown: 0,
      cooldownMultiplier: 0,
      probeGain: 1,
    });
    limiter.onBackoff({ status: 429, permit: await next(limiter, clock) });
    const base = limiter.snapshot().ratePerSec;
    expect(base).toBe(14);
    await succeedFor(limiter, clock, 900);
    expect(limiter.snapshot().ratePerSec).toBe(base);
    await succeedFor(limiter, clock, 1100);
    const grown = limiter.snapshot().ratePerSec;
    expect(grown).toBeGreaterThan(base);
    // Cubic growth from the end of the hold: at most base * (1 + t^3), t in seconds.
    const t = (clock.now() - 1000) / 1000;
    expect(grown).toBeLessThanOrEqual(base * (1 + t ** 3) + 1e-9);
  });

  it("holds longer after a long cooldown: holdPerCooldown times the pause", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 20, holdMs: 100, holdPerCooldown: 2, cooldownMultiplier: 0 });
    // Over a second, so the Retry-After is paused in full (a shorter one may be a rounding).
    limiter.onBackoff({ status: 429, retryAfterMs: 1500, permit: await next(limiter, clock) });
    const base = limiter.snapshot().ratePerSec;
    expect(limiter.snapshot().cooldownUntil).toBe(1500);
    clock.advance(1500);
    await succeedFor(limiter, clock, 1400);
    // 2.9 s after the cut: the hold is 2 * 1500 ms, so no growth yet.
    expect(limiter.snapshot().ratePerSec).toBe(base);
    await succeedFor(limiter, clock, 800);
    expect(limiter.snapshot().ratePerSec).toBeGreaterThan(base);
  });

  it("a lone back-off while holding pauses but does not cut; a confirmed one cuts by `decrease`", async () => {
    // Refusals (429): a 503 is an outage, which never cuts (see adaptive-law.test.ts).
    const { clock, limiter } = setup({ initialRatePerSec: 20, decrease: 0.5, holdMs: 10_000, cooldownMultiplier: 1 });
    limiter.onBackoff({ status: 429, permit: await next(limiter, clock) });
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: 10, epoch: 1 });
    clock.advance(1000);
    limiter.onBackoff({ status: 429, permit: await next(limiter, clock) });
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: 10, epoch: 1, backoffs: 2 });
    // It still paused: one pacing interval at 10/s.
    expect(limiter.snapshot().cooldownUntil).toBeCloseTo(clock.now() + 100, 6);
    clock.advance(100);
    limiter.onBackoff({ status: 429, permit: await next(limiter, clock) });
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: 5, epoch: 2, backoffs: 3 });
  });

  it("successes in between keep lone back-offs (at most 3% of the epoch's answers) from counting as confirmed", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 20, holdMs: 600_000, cooldownMultiplier: 0 });
    limiter.onBackoff({ status: 429, permit: await next(limiter, clock) });
    const base = limiter.snapshot().ratePerSec;
    expect(base).toBe(14);
    // One refusal per 101 answers: below the 3% share that confirms refusals since the cut.
    for (let i = 0; i < 10; i++) {
      limiter.onBackoff({ status: 429, permit: await next(limiter, clock) });
      for (let k = 0; k < 100; k++) limiter.onSuccess(null, await next(limiter, clock));
    }
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: base, epoch: 1, backoffs: 11 });
    // One refusal per 6 answers (17%) is over it: the second such refusal cuts.
    const b = setup({ initialRatePerSec: 20, holdMs: 600_000, cooldownMultiplier: 0 });
    b.limiter.onBackoff({ status: 429, permit: await next(b.limiter, b.clock) });
    b.limiter.onBackoff({ status: 429, permit: await next(b.limiter, b.clock) });
    for (let k = 0; k < 5; k++) b.limiter.onSuccess(null, await next(b.limiter, b.clock));
    expect(b.limiter.snapshot()).toMatchObject({ ratePerSec: 14, epoch: 1 });
    b.limiter.onBackoff({ status: 429, permit: await next(b.limiter, b.clock) });
    expect(b.limiter.snapshot()).toMatchObject({ epoch: 2, backoffs: 3 });
    // Five successes in the last second measure 5/s: the cut goes at most 2 * headroom below the pace.
    expect(b.limiter.snapshot().ratePerSec).toBeCloseTo(0.95 * 0.85 * 14, 9);
  });

  it("never paces slower than minRatePerSec, however many back-offs", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 50, minRatePerSec: 2, cooldownMultiplier: 0 });
    const rates: number[] = [];
    for (let i = 0; i < 40; i++) {
      limiter.onBackoff({ status: 429, permit: await next(limiter, clock) });
      rates.push(limiter.snapshot().ratePerSec);
    }
    expect(Math.min(...rates)).toBe(2);
    expect(rates.at(-1)).toBe(2);
    // And the pace holds it: two permits half a second apart.
    const a = clock.now();
    limiter.onSuccess(null, await next(limiter, clock));
    limiter.onSuccess(null, await next(limiter, clock));
    expect(clock.now() - a).toBeGreaterThanOrEqual(499);
  });

  it("keeps the rate within [minRatePerSec, maxRatePerSec] and cooldowns within maxCooldownMs for any feedback (property)", async () => {
    type Step =
      | { kind: "ok" }
      | { kind: "backoff"; status: number; retryAfterMs: number | undefined }
      | { kind: "unavailable"; retryAfterMs: number | undefined }
      | { kind: "wait"; ms: number }
      | { kind: "headers"; remaining: number; reset: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.constant<Step>({ kind: "ok" }),
      fc.record({
        kind: fc.constant("backoff" as const),
        status: fc.constantFrom(429, 503),
        retryAfterMs: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
      }),
      fc.record({
        kind: fc.constant("unavailable" as const),
        retryAfterMs: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
      }),
      fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 5_000 }) }),
      fc.record({
        kind: fc.constant("headers" as const),
        remaining: fc.integer({ min: 0, max: 500 }),
        reset: fc.integer({ min: 0, max: 120 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0.5, max: 20, noNaN: true }),
        fc.double({ min: 1, max: 50, noNaN: true }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.array(step, { minLength: 1, maxLength: 60 }),
        async (minRate, span, maxCooldownMs, steps) => {
          const maxRate = minRate + span;
          const { clock, limiter } = setup({ minRatePerSec: minRate, maxRatePerSec: maxRate, initialRatePerSec: maxRate, maxCooldownMs });
          for (const s of steps) {
            if (s.kind === "wait") clock.advance(s.ms);
            else if (s.kind === "ok") limiter.onSuccess(null, await next(limiter, clock));
            else if (s.kind === "unavailable")
              limiter.onUnavailable({
                ...(s.retryAfterMs === undefined ? {} : { retryAfterMs: s.retryAfterMs }),
                permit: await next(limiter, clock),
              });
            else if (s.kind === "headers")
              limiter.onSuccess(
                { headers: { "ratelimit-remaining": String(s.remaining), "ratelimit-reset": String(s.reset) } },
                await next(limiter, clock),
              );
            else
              limiter.onBackoff({
                status: s.status,
                ...(s.retryAfterMs === undefined ? {} : { retryAfterMs: s.retryAfterMs }),
                permit: await next(limiter, clock),
              });
            const snap = limiter.snapshot();
            expect(snap.ratePerSec).toBeGreaterThanOrEqual(minRate);
            expect(snap.ratePerSec).toBeLessThanOrEqual(maxRate);
            if (snap.cooldownUntil !== null) expect(snap.cooldownUntil - clock.now()).toBeLessThanOrEqual(maxCooldownMs + 1e-6);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("AdaptiveRateLimiter: cooldowns", () => {
  it("a 429 with Retry-After releases nothing for exactly that long", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 100 });
    const cooldowns = collect(limiter, "cooldown");
    const permit = await next(limiter, clock);
    clock.advance(5);
    limiter.onBackoff({ status: 429, retryAfterMs: 1500, permit });
    expect(limiter.snapshot()).toMatchObject({ cooldownUntil: 1505, lastBackoff: { status: 429, at: 5, retryAfterMs: 1500 } });
    expect(cooldowns).toEqual([{ limiter: "adaptive", key: "adaptive:adaptive", cooldownMs: 1500, until: 1505, reason: "retry-after" }]);
    const waiters = [track(limiter.acquire()), track(limiter.acquire()), track(limiter.acquire())];
    expect(limiter.snapshot().queued).toBe(3);
    await clock.advanceAsync(1499);
    expect(waiters.map((w) => w.state)).toEqual(["pending", "pending", "pending"]);
    await clock.advanceAsync(1);
    expect(waiters[0]!.state).toBe("resolved");
    expect(waiters[0]!.value).toMatchObject({ allowed: true, waitedMs: 1500 });
    await clock.advanceAsync(1000);
    expect(waiters.map((w) => w.state)).toEqual(["resolved", "resolved", "resolved"]);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("reads Retry-After from the headers (seconds or HTTP-date), as a Headers or a plain record", async () => {
    const { clock, limiter } = setup();
    limiter.onBackoff({ status: 429, headers: new Headers({ "Retry-After": "2" }), permit: await next(limiter, clock) });
    expect(limiter.snapshot().cooldownUntil).toBe(clock.now() + 2000);
    expect(limiter.snapshot().lastBackoff).toMatchObject({ retryAfterMs: 2000 });

    const b = setup();
    const date = "Wed, 21 Oct 2015 07:28:00 GMT";
    const later = "Wed, 21 Oct 2015 07:28:03 GMT";
    b.limiter.onBackoff({ status: 429, headers: { "retry-after": later, date }, permit: await next(b.limiter, b.clock) });
    expect(b.limiter.snapshot().cooldownUntil).toBe(b.clock.now() + 3000);
  });

  it("an explicit retryAfterMs wins over the headers", async () => {
    const { clock, limiter } = setup();
    limiter.onBackoff({ status: 429, retryAfterMs: 1700, headers: { "retry-after": "9" }, permit: await next(limiter, clock) });
    expect(limiter.snapshot().cooldownUntil).toBe(1700);
    // Up to a second, the explicit value still wins: 700 ms is capped by the law's pause,
    // 2 intervals at the cut rate 7/s (at most cooldownCapMs), where the header's 9 s would
    // have paused in full.
    const b = setup({ cooldownCapMs: Number.POSITIVE_INFINITY });
    b.limiter.onBackoff({ status: 429, retryAfterMs: 700, headers: { "retry-after": "9" }, permit: await next(b.limiter, b.clock) });
    expect(b.limiter.snapshot()).toMatchObject({ ratePerSec: 7, cooldownUntil: 2000 / 7, lastBackoff: { retryAfterMs: 700 } });
    const c = setup();
    c.limiter.onBackoff({ status: 429, retryAfterMs: 700, headers: { "retry-after": "9" }, permit: await next(c.limiter, c.clock) });
    expect(c.limiter.snapshot()).toMatchObject({ ratePerSec: 7, cooldownUntil: 150 });
  });

  it("caps Retry-After at maxCooldownMs", async () => {
    const { clock, limiter } = setup({ maxCooldownMs: 3000 });
    limiter.onBackoff({ status: 429, retryAfterMs: 3_600_000, permit: await next(limiter, clock) });
    expect(limiter.snapshot().cooldownUntil).toBe(3000);
    const waiter = track(limiter.acquire());
    await clock.advanceAsync(2999);
    expect(waiter.state).toBe("pending");
    await clock.advanceAsync(1);
    expect(waiter.state).toBe("resolved");
  });

  it("Retry-After: 0 opens no cooldown", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 10 });
    limiter.onBackoff({ status: 429, retryAfterMs: 0, permit: await next(limiter, clock) });
    expect(limiter.snapshot().cooldownUntil).toBeNull();
  });

  it("a later, shorter Retry-After does not shorten a cooldown in force", async () => {
    const { clock, limiter } = setup();
    const [a, b] = [await next(limiter, clock), await next(limiter, clock)];
    limiter.onBackoff({ status: 429, retryAfterMs: 2000, permit: a });
    limiter.onBackoff({ status: 429, retryAfterMs: 500, permit: b });
    expect(limiter.snapshot().cooldownUntil).toBe(clock.now() + 2000);
  });

  it("a 429 without Retry-After pauses cooldownMultiplier pacing intervals at the cut rate", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 20, decrease: 0.5, cooldownMultiplier: 3, cooldownCapMs: 400 });
    const cooldowns = collect(limiter, "cooldown");
    limiter.onBackoff({ status: 429, permit: await next(limiter, clock) });
    const snap = limiter.snapshot();
    expect(snap.ratePerSec).toBe(10);
    // 3 intervals at 10/s.
    expect(snap.cooldownUntil).toBeCloseTo(300, 9);
    expect(snap.lastBackoff).toEqual({ status: 429, at: 0, retryAfterMs: null });
    expect(cooldowns).toMatchObject([{ cooldownMs: 300, reason: "backoff" }]);
    const waiter = track(limiter.acquire());
    await clock.advanceAsync(299);
    expect(waiter.state).toBe("pending");
    await clock.advanceAsync(1);
    expect(waiter.state).toBe("resolved");
  });

  it("a 503 without Retry-After is an outage: no cut, no pause, only pacing", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 20, decrease: 0.5, cooldownMultiplier: 3 });
    const cooldowns = collect(limiter, "cooldown");
    const backoffs = collect(limiter, "backoff");
    limiter.onBackoff({ status: 503, permit: await next(limiter, clock) });
    const snap = limiter.snapshot();
    expect(snap).toMatchObject({ ratePerSec: 20, epoch: 0, cooldownUntil: null, backoffs: 1, source: "initial" });
    expect(snap.lastBackoff).toEqual({ status: 503, at: 0, retryAfterMs: null });
    expect(cooldowns).toEqual([]);
    expect(backoffs).toMatchObject([{ status: 503, congestion: false, ratePerSec: 20, epoch: 0 }]);
    // The next permit comes one pacing interval (50 ms at 20/s) after the first.
    const waiter = track(limiter.acquire());
    await clock.advanceAsync(49);
    expect(waiter.state).toBe("pending");
    await clock.advanceAsync(1);
    expect(waiter.state).toBe("resolved");
  });

  it("caps the rate-derived cooldown at maxCooldownMs too", async () => {
    const { clock, limiter } = setup({
      initialRatePerSec: 1,
      minRatePerSec: 0.1,
      cooldownMultiplier: 100,
      cooldownCapMs: Number.POSITIVE_INFINITY,
      maxCooldownMs: 5000,
    });
    limiter.onBackoff({ status: 429, permit: await next(limiter, clock) });
    expect(limiter.snapshot().cooldownUntil).toBe(5000);
  });

  it("caps cooldownMultiplier intervals at cooldownCapMs (default 150 ms), itself at most maxCooldownMs", async () => {
    const pause = async (options: AdaptiveRateLimiterOptions): Promise<number | null> => {
      const { clock, limiter } = setup({ initialRatePerSec: 1, minRatePerSec: 0.1, cooldownMultiplier: 100, ...options });
      limiter.onBackoff({ status: 429, permit: await next(limiter, clock) });
      return limiter.snapshot().cooldownUntil;
    };
    expect(await pause({})).toBe(150);
    expect(await pause({ cooldownCapMs: 2500 })).toBe(2500);
    expect(await pause({ cooldownCapMs: 0 })).toBeNull();
    expect(await pause({ cooldownCapMs: 9000, maxCooldownMs: 5000 })).toBe(5000);
  });

  it("treats the configured backoffStatuses as back-offs in record(), and only those", async () => {
    const { clock, limiter } = setup({ backoffStatuses: [429, 502], cooldownMultiplier: 1 });
    expect(limiter.backoffStatuses).toEqual([429, 502]);
    expect(limiter.record({ status: 503 }, await next(limiter, clock))).toBe(false);
    expect(limiter.snapshot()).toMatchObject({ successes: 1, backoffs: 0 });
    expect(limiter.record({ status: 502, headers: { "retry-after": "1" } }, await next(limiter, clock))).toBe(true);
    expect(limiter.snapshot()).toMatchObject({
      successes: 1,
      backoffs: 1,
      lastBackoff: { status: 502, retryAfterMs: 1000 },
      cooldownUntil: clock.now() + 1000,
    });
    expect(limiter.record({ status: 200 }, await next(limiter, clock))).toBe(false);
    expect(limiter.snapshot().successes).toBe(2);
  });

  it("backs off on 429 and 503 by default", () => {
    expect(setup().limiter.backoffStatuses).toEqual([429, 503]);
  });
});

describe("AdaptiveRateLimiter: one congestion event per round trip", () => {
  it("back-offs to requests that were in flight when the rate was cut cut it only once", async () => {
    const { limiter } = setup({ initialRatePerSec: 100, burst: 8, decrease: 0.5, cooldownMultiplier: 0 });
    const backoffs = collect(limiter, "backoff");
    const inFlight: AdaptivePermit[] = [];
    for (let i = 0; i < 8; i++) inFlight.push(await limiter.acquire());
    expect(limiter.snapshot().inFlight).toBe(8);
    for (const permit of inFlight) limiter.onBackoff({ status: 429, permit });
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: 50, epoch: 1, backoffs: 8, inFlight: 0 });
    expect(backoffs.map((b) => b.congestion)).toEqual([true, false, false, false, false, false, false, false]);
    expect(backoffs.every((b) => b.epoch === 1)).toBe(true);
  });

  it("holds for many concurrent callers sharing one limiter, whatever the order of the answers", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 30 }), fc.integer({ min: 0, max: 1000 }), async (n, shift) => {
        const { limiter } = setup({ initialRatePerSec: 100, burst: 30, cooldownMultiplier: 0 });
        const permits = await Promise.all(Array.from({ length: n }, () => limiter.acquire()));
        // A deterministic shuffle of the answers.
        const order = permits.map((p, i) => ({ p, k: (i * 7919 + shift) % 1009 })).sort((x, y) => x.k - y.k);
        for (const { p } of order) limiter.onBackoff({ status: 429, permit: p });
        expect(limiter.snapshot()).toMatchObject({ epoch: 1, backoffs: n, inFlight: 0 });
      }),
      { numRuns: 40 },
    );
  });

  it("without permits, answers are matched to the oldest permits in flight", async () => {
    const { limiter } = setup({ initialRatePerSec: 100, burst: 4, decrease: 0.5, cooldownMultiplier: 0 });
    for (let i = 0; i < 4; i++) await limiter.acquire();
    for (let i = 0; i < 4; i++) limiter.on429();
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: 50, epoch: 1, backoffs: 4, inFlight: 0 });
  });

  it("a request issued after the cut may cut again (once confirmed)", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 100, burst: 4, decrease: 0.5, cooldownMultiplier: 0, holdMs: 60_000 });
    const old = [await limiter.acquire(), await limiter.acquire()];
    limiter.onBackoff({ status: 429, permit: old[0] });
    const fresh = [await next(limiter, clock), await next(limiter, clock)];
    limiter.onBackoff({ status: 429, permit: old[1] });
    expect(limiter.snapshot().epoch).toBe(1);
    limiter.onBackoff({ status: 429, permit: fresh[0] });
    limiter.onBackoff({ status: 429, permit: fresh[1] });
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: 25, epoch: 2 });
  });

  it("a stale back-off with Retry-After still honours the wait, but does not cut", async () => {
    const { limiter } = setup({ initialRatePerSec: 100, burst: 2, cooldownMultiplier: 0 });
    const [a, b] = [await limiter.acquire(), await limiter.acquire()];
    limiter.onBackoff({ status: 429, permit: a });
    const rate = limiter.snapshot().ratePerSec;
    limiter.onBackoff({ status: 429, retryAfterMs: 4000, permit: b });
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: rate, epoch: 1, cooldownUntil: 4000 });
  });

  it("reporting a permit twice counts once in flight", async () => {
    const { limiter } = setup({ burst: 2 });
    const [a] = [await limiter.acquire(), await limiter.acquire()];
    limiter.onSuccess(null, a);
    limiter.onSuccess(null, a);
    expect(limiter.snapshot().inFlight).toBe(1);
  });

  it("release() returns a permit without growing or cutting the rate", async () => {
    const { limiter } = setup({ burst: 2 });
    const permit = await limiter.acquire();
    limiter.release(permit);
    expect(limiter.snapshot()).toMatchObject({ inFlight: 0, successes: 0, backoffs: 0, ratePerSec: 10, epoch: 0 });
  });
});

describe("AdaptiveRateLimiter: pacing from rate-limit headers", () => {
  it("spreads RateLimit-Remaining over RateLimit-Reset", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 50 });
    const changes = collect(limiter, "rateChange");
    limiter.onSuccess(
      { headers: { "RateLimit-Limit": "100", "RateLimit-Remaining": "10", "RateLimit-Reset": "5" } },
      await next(limiter, clock),
    );
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: 2, source: "headers" });
    expect(changes).toMatchObject([{ from: 50, to: 2, reason: "headers" }]);
    const a = await next(limiter, clock);
    const t = clock.now();
    limiter.onSuccess(null, a);
    limiter.onSuccess(null, await next(limiter, clock));
    expect(clock.now() - t).toBeCloseTo(500, 6);
  });

  it("reads X-RateLimit-* the same way", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 50 });
    limiter.onSuccess(
      { headers: new Headers({ "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "20", "X-RateLimit-Reset": "10" }) },
      await next(limiter, clock),
    );
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: 2, source: "headers" });
  });

  it("reads the combined RateLimit field", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 50 });
    limiter.onSuccess({ headers: { RateLimit: "limit=100, remaining=8, reset=4" } }, await next(limiter, clock));
    expect(limiter.snapshot().ratePerSec).toBe(2);
  });

  it("the cap lasts until the reset, then the law's rate is back", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 50 });
    limiter.onSuccess({ headers: { "ratelimit-remaining": "3", "ratelimit-reset": "3" } }, await next(limiter, clock));
    expect(limiter.snapshot().ratePerSec).toBe(1);
    clock.advance(3001);
    expect(limiter.snapshot().ratePerSec).toBe(50);
  });

  it("never caps below minRatePerSec", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 50, minRatePerSec: 5 });
    limiter.onSuccess({ headers: { "ratelimit-remaining": "1", "ratelimit-reset": "60" } }, await next(limiter, clock));
    expect(limiter.snapshot().ratePerSec).toBe(5);
  });

  it("an empty budget pauses until the reset, before any 429", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 50 });
    const cooldowns = collect(limiter, "cooldown");
    limiter.onSuccess({ headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "3" } }, await next(limiter, clock));
    expect(limiter.snapshot()).toMatchObject({ cooldownUntil: 3000, backoffs: 0 });
    expect(cooldowns).toMatchObject([{ cooldownMs: 3000, reason: "quota" }]);
    const waiter = track(limiter.acquire());
    await clock.advanceAsync(2999);
    expect(waiter.state).toBe("pending");
    await clock.advanceAsync(1);
    expect(waiter.state).toBe("resolved");
  });

  it("an empty budget's pause is capped at maxCooldownMs", async () => {
    const { clock, limiter } = setup({ maxCooldownMs: 1000 });
    limiter.onSuccess({ headers: { "ratelimit-remaining": "0", "ratelimit-reset": "3600" } }, await next(limiter, clock));
    expect(limiter.snapshot().cooldownUntil).toBe(1000);
  });

  it("a quota policy sets the rate outright, at 97.5% of the quota rate", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 50, maxRatePerSec: 100 });
    limiter.onSuccess(
      { headers: { "RateLimit-Policy": "5;w=1", "RateLimit-Remaining": "5", "RateLimit-Reset": "1" } },
      await next(limiter, clock),
    );
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: 5 * 0.975, source: "headers" });
    const b = setup({ initialRatePerSec: 1, maxRatePerSec: 100 });
    b.limiter.onSuccess({ headers: { "RateLimit-Policy": "600;w=60" } }, await next(b.limiter, b.clock));
    expect(b.limiter.snapshot()).toMatchObject({ ratePerSec: 10 * 0.975, source: "headers" });
    // Clamped like any rate.
    const c = setup({ initialRatePerSec: 1, maxRatePerSec: 3 });
    c.limiter.onSuccess({ headers: { "RateLimit-Policy": "600;w=60" } }, await next(c.limiter, c.clock));
    expect(c.limiter.snapshot().ratePerSec).toBe(3);
  });

  it("a 429 with RateLimit-Reset and no budget waits for the reset", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 50, cooldownMultiplier: 0 });
    limiter.onBackoff({ status: 429, headers: { "ratelimit-remaining": "0", "ratelimit-reset": "2" }, permit: await next(limiter, clock) });
    expect(limiter.snapshot().cooldownUntil).toBe(2000);
  });

  it("garbage in rate-limit headers changes nothing", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 50, maxRatePerSec: 50 });
    limiter.onSuccess(
      { headers: { "ratelimit-remaining": "lots", "ratelimit-reset": "-4", "x-ratelimit-remaining": "soon" } },
      await next(limiter, clock),
    );
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: 50, cooldownUntil: null });
  });
});

describe("AdaptiveRateLimiter: acquire", () => {
  it("waits in FIFO order", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 10, maxRatePerSec: 10 });
    await limiter.acquire();
    const order: number[] = [];
    const all = [1, 2, 3, 4].map((i) => limiter.acquire().then(() => order.push(i)));
    await clock.advanceAsync(400);
    await Promise.all(all);
    expect(order).toEqual([1, 2, 3, 4]);
    expect(clock.now()).toBe(400);
  });

  it("a retry goes to the front of the queue", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 10, maxRatePerSec: 10 });
    await limiter.acquire();
    const order: string[] = [];
    const first = limiter.acquire().then(() => order.push("first"));
    const retry = limiter.acquire({ retry: true }).then(() => order.push("retry"));
    await clock.advanceAsync(200);
    await Promise.all([first, retry]);
    expect(order).toEqual(["retry", "first"]);
  });

  it("a retry that goes first waits for its own permit only: the waiter it went ahead of is not ahead of it", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 10, maxRatePerSec: 10 });
    const permit = await limiter.acquire();
    const granted: [string, number][] = [];
    const first = limiter.acquire().then(() => granted.push(["first", clock.now()]));
    await clock.advanceAsync(90);
    // Refused: the rate is cut to 7/s with no pause, and the refused request is retried first.
    limiter.onBackoff({ status: 429, retryAfterMs: 0, permit });
    const retry = limiter.acquire({ retry: true }).then(() => granted.push(["retry", clock.now()]));
    await clock.advanceAsync(600);
    await Promise.all([first, retry]);
    // One pacing interval each (1000 / 7 ms). Before, the retry (0 ms in line) was told to
    // wait for the older waiter too, and got its permit at 376 ms.
    expect(granted.map(([who]) => who)).toEqual(["retry", "first"]);
    expect(granted[0]![1]).toBeCloseTo(90 + 1000 / 7, 0);
    expect(granted[1]![1]).toBeCloseTo(90 + 2000 / 7, 0);
  });

  it("rejects with the signal's reason when it aborts, and frees the queue", async () => {
    const { clock, limiter } = setup();
    limiter.onBackoff({ status: 429, retryAfterMs: 10_000, permit: await next(limiter, clock) });
    const controller = new AbortController();
    const waiter = track(limiter.acquire({ signal: controller.signal }));
    const other = track(limiter.acquire());
    await settle();
    expect(limiter.snapshot().queued).toBe(2);
    const reason = new Error("caller gave up");
    controller.abort(reason);
    await settle();
    expect(waiter.state).toBe("rejected");
    expect(waiter.error).toBe(reason);
    expect(limiter.snapshot().queued).toBe(1);
    await clock.advanceAsync(10_000);
    expect(other.state).toBe("resolved");
    expect(clock.pendingSleeps).toBe(0);
  });

  it("an abort of the only waiter stops the sleep", async () => {
    const { clock, limiter } = setup();
    limiter.onBackoff({ status: 429, retryAfterMs: 10_000, permit: await next(limiter, clock) });
    const controller = new AbortController();
    const waiter = track(limiter.acquire({ signal: controller.signal }));
    await settle();
    expect(clock.pendingSleeps).toBe(1);
    controller.abort();
    await settle();
    expect(waiter.state).toBe("rejected");
    expect((waiter.error as Error).name).toBe("AbortError");
    expect(clock.pendingSleeps).toBe(0);
  });

  it("an abort of the head while others wait leaves the pump asleep: the next waiter's turn is no sooner", async () => {
    const clock = new ManualClock(0);
    const store = new AsyncStore();
    const limiter = new AdaptiveRateLimiter({ clock, store, initialRatePerSec: 10, maxRatePerSec: 10 });
    await limiter.acquire();
    const controller = new AbortController();
    const head = track(limiter.acquire({ signal: controller.signal }));
    const behind = track(limiter.acquire());
    await settle();
    expect(store.applied).toBe(2);
    await clock.advanceAsync(50);
    controller.abort();
    await settle();
    expect(head.state).toBe("rejected");
    expect([store.applied, clock.pendingSleeps]).toEqual([2, 1]);
    await clock.advanceAsync(50);
    expect(behind.state).toBe("resolved");
    expect(store.applied).toBe(3);
  });

  it("a listener of acquired or rejected sees the queue without the waiter it is about", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 10, maxRatePerSec: 10 });
    await limiter.acquire();
    const seen: string[] = [];
    limiter.on("acquired", () => seen.push(`acquired, ${limiter.snapshot().queued} queued`));
    limiter.on("rejected", () => seen.push(`rejected, ${limiter.snapshot().queued} queued`));
    const first = track(limiter.acquire());
    const late = track(limiter.acquire({ maxWaitMs: 250 }));
    const last = track(limiter.acquire());
    await settle();
    limiter.onBackoff({ status: 429, retryAfterMs: 1000 });
    await clock.advanceAsync(1200);
    expect([first.state, late.state, last.state]).toEqual(["resolved", "rejected", "resolved"]);
    expect(seen).toEqual(["acquired, 2 queued", "rejected, 1 queued", "acquired, 0 queued"]);
  });

  it("a store failure while serving the queue rejects every waiter with it; the next acquire starts afresh", async () => {
    const clock = new ManualClock(0);
    const store = new AsyncStore();
    const limiter = new AdaptiveRateLimiter({ clock, store, initialRatePerSec: 10, maxRatePerSec: 10 });
    await limiter.acquire();
    const waiters = [track(limiter.acquire()), track(limiter.acquire())];
    await settle();
    const down = new Error("store down");
    const apply = store.apply.bind(store);
    store.apply = () => Promise.reject(down);
    await clock.advanceAsync(100);
    for (const w of waiters) expect([w.state, w.error]).toEqual(["rejected", down]);
    expect([limiter.snapshot().queued, clock.pendingSleeps]).toEqual([0, 0]);
    store.apply = apply;
    await expect(limiter.acquire()).resolves.toMatchObject({ allowed: true });
  });

  it("rejects at once with an already aborted signal, even with a permit free", async () => {
    const { limiter } = setup();
    const reason = new Error("already");
    await expect(limiter.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(limiter.snapshot().inFlight).toBe(0);
  });

  it("rejects with RateLimitExceededError when the wait would exceed maxWaitMs", async () => {
    const { clock, limiter } = setup();
    // Over a second: paused in full (a Retry-After up to a second may pause less).
    limiter.onBackoff({ status: 429, retryAfterMs: 2000, permit: await next(limiter, clock) });
    const rejected = collect(limiter, "rejected");
    const error = await limiter.acquire({ maxWaitMs: 1500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitExceededError);
    expect(error).toMatchObject({ retryAfterMs: 2000 });
    expect(rejected).toMatchObject([{ retryAfterMs: 2000, cost: 1 }]);
    expect(limiter.snapshot().queued).toBe(0);
    // A long enough maxWaitMs waits.
    const waiter = track(limiter.acquire({ maxWaitMs: 2000 }));
    await clock.advanceAsync(1999);
    expect(waiter.state).toBe("pending");
    await clock.advanceAsync(1);
    expect(waiter.state).toBe("resolved");
  });

  it("checks maxWaitMs again at the head of the queue", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 10, maxRatePerSec: 10 });
    await limiter.acquire();
    const ahead = track(limiter.acquire());
    const behind = track(limiter.acquire({ maxWaitMs: 250 }));
    await settle();
    // Admitted to the queue (about 200 ms ahead of it), then a back-off pushes everything back.
    expect(behind.state).toBe("pending");
    limiter.onBackoff({ status: 429, retryAfterMs: 1000 });
    await clock.advanceAsync(1000);
    expect(ahead.state).toBe("resolved");
    expect(behind.state).toBe("rejected");
    expect(behind.error).toBeInstanceOf(RateLimitExceededError);
  });

  it("takes its default maxWaitMs from the options", async () => {
    const { clock, limiter } = setup({ maxWaitMs: 100 });
    // Over a second, a Retry-After is waited out in full.
    limiter.onBackoff({ status: 429, retryAfterMs: 1500, permit: await next(limiter, clock) });
    await expect(limiter.acquire()).rejects.toBeInstanceOf(RateLimitExceededError);
  });

  it("a cost above burst can never be served", async () => {
    const { limiter } = setup({ burst: 2 });
    const error = await limiter.acquire({ cost: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitExceededError);
    expect((error as RateLimitExceededError).retryAfterMs).toBe(Number.POSITIVE_INFINITY);
  });

  it("rejects bad acquire options, naming them", async () => {
    const { limiter } = setup();
    await expect(limiter.acquire({ cost: -1 })).rejects.toMatchObject({ option: "cost" });
    await expect(limiter.acquire({ cost: 1.5 })).rejects.toMatchObject({ option: "cost" });
    await expect(limiter.acquire({ maxWaitMs: -1 })).rejects.toMatchObject({ option: "maxWaitMs" });
    await expect(limiter.acquire({ maxWaitMs: Number.NaN })).rejects.toBeInstanceOf(InvalidOptionError);
  });

  it("works the same on a store that answers asynchronously", async () => {
    const clock = new ManualClock(0);
    const limiter = new AdaptiveRateLimiter({ clock, store: new AsyncStore(), initialRatePerSec: 10, maxRatePerSec: 10 });
    const permit = await limiter.acquire();
    limiter.onBackoff({ status: 429, retryAfterMs: 1800, permit });
    await settle();
    expect(limiter.snapshot().cooldownUntil).toBe(1800);
    const waiter = track(limiter.acquire());
    await clock.advanceAsync(1799);
    expect(waiter.state).toBe("pending");
    await clock.advanceAsync(1);
    expect(waiter.state).toBe("resolved");
  });

  it("close() rejects waiters and refuses new ones; reset() forgets the cooldown", async () => {
    const { clock, limiter } = setup();
    limiter.onBackoff({ status: 429, retryAfterMs: 5000, permit: await next(limiter, clock) });
    const waiter = track(limiter.acquire());
    limiter.reset();
    await clock.advanceAsync(0);
    expect(waiter.state).toBe("resolved");
    expect(limiter.snapshot()).toMatchObject({ cooldownUntil: null, ratePerSec: 10, epoch: 0, backoffs: 0 });
    limiter.onBackoff({ status: 429, retryAfterMs: 5000 });
    const closed = track(limiter.acquire());
    await settle();
    limiter.close();
    await settle();
    expect(closed.state).toBe("rejected");
    expect(closed.error).toBeInstanceOf(ResilienceError);
    await expect(limiter.acquire()).rejects.toBeInstanceOf(ResilienceError);
    expect(clock.pendingSleeps).toBe(0);
  });
});

describe("AdaptiveRateLimiter: on429 and snapshot", () => {
  it("on429 is onBackoff (429 by default, any status given)", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 20, cooldownMultiplier: 0 });
    limiter.on429({ retryAfterMs: 1250, permit: await next(limiter, clock) });
    expect(limiter.snapshot()).toMatchObject({
      ratePerSec: 14,
      backoffs: 1,
      epoch: 1,
      cooldownUntil: 1250,
      lastBackoff: { status: 429, retryAfterMs: 1250 },
    });
    clock.advance(1250);
    limiter.on429({ status: 503, permit: await next(limiter, clock) });
    // The status given is the one recorded; a 503 is an outage: the rate stays.
    expect(limiter.snapshot()).toMatchObject({
      ratePerSec: 14,
      epoch: 1,
      backoffs: 2,
      lastBackoff: { status: 503, at: 1250, retryAfterMs: null },
    });
    const { limiter: twin, clock: c2 } = setup({ initialRatePerSec: 20, cooldownMultiplier: 0 });
    twin.onBackoff({ retryAfterMs: 250, permit: await next(twin, c2) });
    expect(twin.snapshot().ratePerSec).toBe(setup({ initialRatePerSec: 20 }).limiter.snapshot().ratePerSec * 0.7);
  });

  it("snapshot() reports every field: pace, cooldown, in flight, queued, counts", async () => {
    const { clock, limiter } = setup({ initialRatePerSec: 10, burst: 3, name: "notion" });
    expect(limiter.snapshot()).toEqual({
      ratePerSec: 10,
      cooldownUntil: null,
      cooldownMs: 0,
      inFlight: 0,
      queued: 0,
      concurrencyCap: null,
      successes: 0,
      backoffs: 0,
      lastBackoff: null,
      source: "initial",
      epoch: 0,
    });
    const [a, b, c] = [await limiter.acquire(), await limiter.acquire(), await limiter.acquire()];
    expect(limiter.snapshot().inFlight).toBe(3);
    limiter.onSuccess(null, a);
    clock.advance(10);
    limiter.onBackoff({ status: 429, retryAfterMs: 2000, permit: b });
    const queued = track(limiter.acquire());
    await settle();
    expect(limiter.snapshot()).toEqual({
      ratePerSec: 7,
      cooldownUntil: 2010,
      cooldownMs: 2000,
      inFlight: 1,
      queued: 1,
      concurrencyCap: null,
      successes: 1,
      backoffs: 1,
      lastBackoff: { status: 429, at: 10, retryAfterMs: 2000 },
      source: "adaptive",
      epoch: 1,
    });
    limiter.release(c);
    await clock.advanceAsync(2000);
    expect(queued.state).toBe("resolved");
    expect(limiter.snapshot()).toMatchObject({ cooldownUntil: null, cooldownMs: 0, inFlight: 1, queued: 0 });
  });

  it("limiters sharing a store and key share rate and cooldown", async () => {
    const clock = new ManualClock(0);
    const store = new MemoryStore({ sweepIntervalMs: 0, clock });
    const a = new AdaptiveRateLimiter({ clock, store, key: "shared" });
    const b = new AdaptiveRateLimiter({ clock, store, key: "shared" });
    a.onBackoff({ status: 429, retryAfterMs: 1900, permit: await a.acquire() });
    expect(b.snapshot()).toMatchObject({ ratePerSec: 7, epoch: 1, cooldownUntil: 1900, backoffs: 1 });
    await expect(b.acquire({ maxWaitMs: 0 })).rejects.toBeInstanceOf(RateLimitExceededError);
  });
});

describe("AdaptiveRateLimiter: options", () => {
  const bad: [keyof AdaptiveRateLimiterOptions, unknown][] = [
    ["name", ""],
    ["name", 5],
    ["key", ""],
    ["initialRatePerSec", 0],
    ["initialRatePerSec", Number.NaN],
    ["initialRatePerSec", 20_000],
    ["minRatePerSec", -1],
    ["minRatePerSec", Number.POSITIVE_INFINITY],
    ["maxRatePerSec", 0],
    ["maxRatePerSec", "10"],
    ["burst", 0],
    ["burst", 1.5],
    ["cooldownMultiplier", -1],
    ["cooldownMultiplier", Number.POSITIVE_INFINITY],
    ["maxCooldownMs", -1],
    ["maxCooldownMs", Number.NaN],
    ["backoffStatuses", "429"],
    ["decrease", 0],
    ["decrease", 1],
    ["headroom", 1],
    ["headroom", -0.1],
    ["holdMs", -1],
    ["holdPerCooldown", Number.POSITIVE_INFINITY],
    ["doublingMs", 0],
    ["probeGain", 0],
    ["forgetAfterMs", 0],
    ["cooldownCapMs", -1],
    ["cooldownCapMs", Number.NaN],
    ["cooldownCapMs", "100"],
    ["maxWaitMs", -1],
    ["maxWaitMs", Number.NaN],
    ["store", {}],
    ["clock", { now: () => 0 }],
    ["onListenerError", "log"],
  ];

  it.each(bad)("%s = %o throws InvalidOptionError naming the option", (option, value) => {
    let error: unknown;
    try {
      new AdaptiveRateLimiter({ [option]: value } as AdaptiveRateLimiterOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ option });
    expect((error as Error).message).toContain(`"${option}"`);
    // A known option, checked for its value (an unknown key would be rejected too, but for its name).
    expect((error as Error).message).not.toContain("one of the known options");
  });

  it.each([[[200]], [[429.5]], [[429, 600]], [[399, 429]]])("backoffStatuses = %o throws InvalidOptionError naming the entry", (value) => {
    const index = value.findIndex((s) => !(Number.isInteger(s) && s >= 400 && s <= 599));
    expect(() => new AdaptiveRateLimiter({ backoffStatuses: value })).toThrow(
      expect.objectContaining({ name: "InvalidOptionError", option: `backoffStatuses[${index}]`, value: value[index] }),
    );
  });

  it("rejects a range with maxRatePerSec below minRatePerSec", () => {
    expect(() => new AdaptiveRateLimiter({ minRatePerSec: 5, maxRatePerSec: 4 })).toThrow(
      expect.objectContaining({ option: "maxRatePerSec" }),
    );
    expect(() => new AdaptiveRateLimiter({ minRatePerSec: 5, initialRatePerSec: 4 })).toThrow(
      expect.objectContaining({ option: "initialRatePerSec" }),
    );
  });

  it("rejects unknown options (typos)", () => {
    expect(() => new AdaptiveRateLimiter({ initialRate: 5 } as unknown as AdaptiveRateLimiterOptions)).toThrow(
      expect.objectContaining({ option: "initialRate" }),
    );
  });

  it("accepts the edge values", () => {
    const { clock, store } = setup();
    expect(
      () =>
        new AdaptiveRateLimiter({
          clock,
          store,
          headroom: 0,
          holdMs: 0,
          holdPerCooldown: 0,
          cooldownMultiplier: 0,
          maxCooldownMs: 0,
          maxWaitMs: Number.POSITIVE_INFINITY,
          backoffStatuses: [],
        }),
    ).not.toThrow();
    expect(new AdaptiveRateLimiter({ clock, store, minRatePerSec: 20 }).snapshot().ratePerSec).toBe(20);
    expect(new AdaptiveRateLimiter({ clock, store, maxRatePerSec: 3 }).snapshot().ratePerSec).toBe(3);
  });

  it("onBackoff rejects a status or retryAfterMs that is not one", () => {
    const { limiter } = setup();
    expect(() => limiter.onBackoff({ status: 42 })).toThrow(expect.objectContaining({ option: "status" }));
    expect(() => limiter.onBackoff({ status: 429.5 })).toThrow(InvalidOptionError);
    expect(() => limiter.onBackoff({ retryAfterMs: -1 })).toThrow(expect.objectContaining({ option: "retryAfterMs" }));
    expect(() => limiter.onBackoff({ retryAfterMs: Number.NaN })).toThrow(expect.objectContaining({ option: "retryAfterMs" }));
    expect(limiter.snapshot().backoffs).toBe(0);
  });
});
