import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FixedWindow,
  type LimitDecision,
  type RateLimitDecision,
  type RateLimiter,
  SlidingCounterDecision,
  SlidingLogDecision,
  SlidingWindow,
  TokenBucket,
  TokenBucketDecision,
} from "../../src/limit/index.js";
import { manual } from "./helpers.js";

interface Arrival {
  readonly gap: number;
  readonly cost: number;
}

interface Admission {
  readonly at: number;
  readonly cost: number;
}

const arrivals = (maxGap: number, maxCost: number): fc.Arbitrary<Arrival[]> =>
  fc.array(fc.record({ gap: fc.integer({ min: 0, max: maxGap }), cost: fc.integer({ min: 0, max: maxCost }) }), {
    minLength: 1,
    maxLength: 60,
  });

/** Sends every arrival through `limiter.tryAcquire` at its time; returns the admissions and every decision. */
async function drive(
  limiter: RateLimiter,
  clock: { set(ms: number): void },
  list: Arrival[],
  start = 0,
): Promise<{ admitted: Admission[]; decisions: [number, Arrival, RateLimitDecision][] }> {
  const admitted: Admission[] = [];
  const decisions: [number, Arrival, RateLimitDecision][] = [];
  let t = start;
  for (const a of list) {
    t += a.gap;
    clock.set(t);
    const d = await limiter.tryAcquire("k", a.cost);
    decisions.push([t, a, d]);
    if (d.allowed) admitted.push({ at: t, cost: a.cost });
  }
  return { admitted, decisions };
}

/** Units admitted in the interval (from, to]. */
function within(admitted: Admission[], from: number, to: number): number {
  return admitted.reduce((sum, a) => (a.at > from && a.at <= to ? sum + a.cost : sum), 0);
}

/** Replays the decision on a copy of the state at `now + retryAfterMs`: the same cost must then fit. */
function retryAfterSuffices<S>(d: LimitDecision<S>, state: S, cost: number, now: number, retryAfterMs: number): boolean {
  const copy = JSON.parse(JSON.stringify(state)) as S;
  return d.step(copy, { cost, peek: true }, now + retryAfterMs).allowed;
}

describe("properties", () => {
  it("exact sliding window: never more than limit in any interval of windowMs, and refuses only when it must", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 2_000 }),
        arrivals(1_200, 8),
        async (limit, windowMs, list) => {
          const { clock, store } = manual();
          const limiter = new SlidingWindow({ limit, windowMs, clock, store });
          const fitting = list.map((a) => ({ gap: a.gap, cost: Math.min(a.cost, limit) }));
          const { admitted, decisions } = await drive(limiter, clock, fitting);
          for (const a of admitted) expect(within(admitted, a.at - windowMs, a.at)).toBeLessThanOrEqual(limit);
          const before: Admission[] = [];
          for (const [t, a, d] of decisions) {
            const used = within(before, t - windowMs, t);
            // Admitted exactly when it fits the model.
            expect(d.allowed).toBe(used + a.cost <= limit);
            if (!d.allowed) {
              // retryAfterMs is exact: the first moment the same cost fits.
              expect(within(before, t + d.retryAfterMs - windowMs, t) + a.cost).toBeLessThanOrEqual(limit);
              expect(within(before, t + d.retryAfterMs - 1 - windowMs, t) + a.cost).toBeGreaterThan(limit);
            } else {
              before.push({ at: t, cost: a.cost });
            }
          }
        },
      ),
    );
  });

  it("token bucket: never more than capacity + rate × elapsed, over every span", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0.5, max: 200, noNaN: true }),
        arrivals(500, 20),
        async (capacity, ratePerSec, list) => {
          const { clock, store } = manual(1_000_000);
          const limiter = new TokenBucket({ ratePerSec, capacity, clock, store });
          const fitting = list.map((a) => ({ gap: a.gap, cost: Math.min(a.cost, capacity) }));
          const { admitted } = await drive(limiter, clock, fitting, 1_000_000);
          for (let i = 0; i < admitted.length; i++) {
            let sum = 0;
            for (let j = i; j < admitted.length; j++) {
              sum += (admitted[j] as Admission).cost;
              const elapsed = (admitted[j] as Admission).at - (admitted[i] as Admission).at;
              expect(sum).toBeLessThanOrEqual(capacity + (ratePerSec * elapsed) / 1000 + 1e-6);
            }
          }
        },
      ),
    );
  });

  it("approximate sliding window: at most limit per aligned window, fewer than 2 × limit in any interval", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 1_000 }),
        arrivals(600, 10),
        async (limit, windowMs, list) => {
          const { clock, store } = manual();
          const limiter = new SlidingWindow({ limit, windowMs, precision: "approximate", clock, store });
          const { admitted } = await drive(
            limiter,
            clock,
            list.map((a) => ({ gap: a.gap, cost: Math.min(a.cost, limit) })),
          );
          for (const a of admitted) {
            const start = a.at - (a.at % windowMs);
            expect(within(admitted, start - 1, start + windowMs - 1)).toBeLessThanOrEqual(limit);
            expect(within(admitted, a.at - windowMs, a.at)).toBeLessThan(2 * limit);
          }
        },
      ),
    );
  });

  it("fixed window: at most 2 × limit in any interval of windowMs", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 1_000 }),
        arrivals(600, 10),
        async (limit, windowMs, list) => {
          const { clock, store } = manual();
          const limiter = new FixedWindow({ limit, windowMs, clock, store });
          const { admitted } = await drive(
            limiter,
            clock,
            list.map((a) => ({ gap: a.gap, cost: Math.min(a.cost, limit) })),
          );
          for (const a of admitted) expect(within(admitted, a.at - windowMs, a.at)).toBeLessThanOrEqual(2 * limit);
        },
      ),
    );
  });

  it("every algorithm: a refused request fits once retryAfterMs has passed, and a refusal takes nothing", () => {
    const decisions: fc.Arbitrary<LimitDecision<unknown>> = fc.oneof(
      fc
        .tuple(fc.integer({ min: 1, max: 10 }), fc.double({ min: 0.1, max: 100, noNaN: true }))
        .map(([c, r]) => new TokenBucketDecision(c, r) as LimitDecision<unknown>),
      fc
        .tuple(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 5_000 }))
        .map(([l, w]) => new SlidingLogDecision(l, w) as LimitDecision<unknown>),
      fc
        .tuple(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 5_000 }))
        .map(([l, w]) => new SlidingCounterDecision(l, w) as LimitDecision<unknown>),
    );
    fc.assert(
      fc.property(decisions, arrivals(3_000, 10), (d, list) => {
        let now = 0;
        const state = d.init(now);
        for (const a of list) {
          now += a.gap;
          const cost = Math.min(a.cost, d.limit);
          const before = JSON.stringify(state);
          const out = d.step(state, { cost, peek: false }, now);
          if (!out.allowed) {
            expect(out.retryAfterMs).toBeGreaterThan(0);
            expect(Number.isFinite(out.retryAfterMs)).toBe(true);
            expect(retryAfterSuffices(d, state, cost, now, out.retryAfterMs)).toBe(true);
            // Only expiry may have tidied the state: every answer it gives is the same as before.
            for (const at of [now, now + out.retryAfterMs]) {
              for (let c = 0; c <= d.limit; c++) {
                expect(d.step(JSON.parse(JSON.stringify(state)), { cost: c, peek: true }, at)).toEqual(
                  d.step(JSON.parse(before), { cost: c, peek: true }, at),
                );
              }
            }
          }
          expect(out.remaining).toBeGreaterThanOrEqual(0);
          expect(out.remaining).toBeLessThanOrEqual(d.limit);
          if (d.isIdle(state, now)) expect(d.step(JSON.parse(JSON.stringify(state)), { cost: 0, peek: true }, now).remaining).toBe(d.limit);
        }
      }),
    );
  });

  it("acquire serves each key's waiters in arrival order, whatever their costs", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 12 }), async (costs) => {
        const { clock, store } = manual();
        const limiter = new TokenBucket({ ratePerSec: 5, capacity: 5, clock, store });
        await limiter.tryAcquire("k", 5);
        const order: number[] = [];
        const all = costs.map((cost, i) => limiter.acquire("k", { cost }).then(() => order.push(i)));
        await clock.advanceAsync(costs.reduce((a, b) => a + b, 0) * 200);
        await Promise.all(all);
        expect(order).toEqual(costs.map((_, i) => i));
        expect(clock.pendingSleeps).toBe(0);
      }),
      { numRuns: 50 },
    );
  });
});
