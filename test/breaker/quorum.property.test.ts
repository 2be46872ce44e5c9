/**
 * Quorum over simulated processes: the fleet's record opens only when the outcomes that
 * meet the trip rule include failures from at least `quorum` different processes. The
 * decision (what RedisStore's Lua twin runs, see test/conformance for the twin) is driven
 * with outcomes from several process ids and checked against a plain model that keeps
 * every outcome with its process.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BreakerDecision,
  type BreakerRecord,
  constant,
  consecutiveFailures,
  failureRatio,
  failuresInWindow,
  type TripRule,
} from "../../src/index.js";

interface Outcome {
  readonly process: string;
  readonly failed: boolean;
  readonly at: number;
}

/** Which recorded outcomes the trip rule still considers, and whether they meet it. */
interface RuleModel {
  readonly rule: () => TripRule;
  /** The outcomes (oldest first) that count now; whether they meet the rule. */
  judge(outcomes: readonly Outcome[], now: number): { counted: readonly Outcome[]; met: boolean };
}

const SLOT = 100;
const rules: readonly RuleModel[] = [
  {
    rule: () => consecutiveFailures(3),
    judge(outcomes) {
      const run: Outcome[] = [];
      for (let i = outcomes.length - 1; i >= 0 && outcomes[i]?.failed; i--) run.unshift(outcomes[i] as Outcome);
      return { counted: run, met: run.length >= 3 };
    },
  },
  {
    rule: () => failureRatio(0.5, { windowCalls: 4, minimumCalls: 2 }),
    judge(outcomes) {
      const window = outcomes.slice(-4);
      const failures = window.filter((o) => o.failed).length;
      return { counted: window, met: window.length >= 2 && failures > 0 && failures >= 0.5 * window.length - 1e-9 };
    },
  },
  {
    rule: () => failuresInWindow(3, 10 * SLOT, { buckets: 10 }),
    judge(outcomes, now) {
      const oldest = Math.floor(now / SLOT) - 9;
      const inside = outcomes.filter((o) => o.failed && Math.floor(o.at / SLOT) >= oldest);
      return { counted: inside, met: inside.length >= 3 };
    },
  },
  {
    // Only the failures since the last success count.
    rule: () => failuresInWindow(3, 10 * SLOT, { buckets: 10, resetOnSuccess: true }),
    judge(outcomes, now) {
      const oldest = Math.floor(now / SLOT) - 9;
      let last = -1;
      outcomes.forEach((o, i) => {
        if (!o.failed) last = i;
      });
      const inside = outcomes.filter((o, i) => i > last && o.failed && Math.floor(o.at / SLOT) >= oldest);
      return { counted: inside, met: inside.length >= 3 };
    },
  },
];

/** The fleet's state in the model: closed with its outcomes, or open. */
class QuorumModel {
  outcomes: Outcome[] = [];
  open = false;
  constructor(
    readonly rule: RuleModel,
    readonly quorum: number,
  ) {}

  record(o: Outcome): boolean {
    if (this.open) return false;
    this.outcomes.push(o);
    const { counted, met } = this.rule.judge(this.outcomes, o.at);
    const processes = new Set(counted.filter((c) => c.failed).map((c) => c.process));
    if (met && processes.size >= this.quorum) {
      this.open = true;
      return true;
    }
    return false;
  }
}

type Step = { readonly process: number; readonly failed: boolean; readonly advance: number };

/** A decision opening on 2 failures in a row, with `quorum`. */
function twoInARow(quorum: number): BreakerDecision {
  return new BreakerDecision({
    trip: consecutiveFailures(2),
    recovery: constant(1_000),
    maxCalls: 1,
    successesToClose: 1,
    trialTimeoutMs: 1_000,
    quorum,
  });
}

describe("quorum over simulated processes", () => {
  it("the fleet opens exactly when the outcomes meeting the trip rule hold failures from quorum processes", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: rules.length - 1 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.record({ process: fc.integer({ min: 0, max: 3 }), failed: fc.boolean(), advance: fc.integer({ min: 0, max: 250 }) }), {
          maxLength: 60,
        }),
        (r, quorum, steps: Step[]) => {
          const rule = rules[r] as RuleModel;
          const decision = new BreakerDecision({
            trip: rule.rule(),
            recovery: constant(60_000),
            maxCalls: 1,
            successesToClose: 1,
            trialTimeoutMs: 60_000,
            quorum,
          });
          const record: BreakerRecord = decision.init();
          const model = new QuorumModel(rule, quorum);
          let now = 1_000;
          for (const s of steps) {
            now += s.advance;
            const origin = `host:${s.process}`;
            const t = s.failed
              ? decision.step(record, { type: "failure", epoch: -1, reason: origin, random: 0.5, origin }, now)
              : decision.step(record, { type: "success", epoch: -1 }, now);
            const opened = model.record({ process: origin, failed: s.failed, at: now });
            expect(t !== undefined && "to" in t && t.to === "open").toBe(opened);
            expect(record.state).toBe(model.open ? "open" : "closed");
            // The bookkeeping stays bounded by the processes that still count.
            expect(Object.keys(record.failers).length).toBeLessThanOrEqual(4);
          }
        },
      ),
      {
        numRuns: 2_000,
        // Found by this property: with resetOnSuccess, failures after a success in the same
        // millisecond still count, and so do the processes they came from.
        examples: [
          [
            3,
            2,
            [
              { process: 0, failed: true, advance: 0 },
              { process: 0, failed: false, advance: 0 },
              { process: 0, failed: true, advance: 0 },
              { process: 0, failed: true, advance: 0 },
              { process: 1, failed: true, advance: 0 },
            ],
          ],
        ],
      },
    );
  });

  it("quorum 1 is today's rule: the first process to meet it opens the fleet", () => {
    const decision = twoInARow(1);
    const r = decision.init();
    decision.step(r, { type: "failure", epoch: -1, reason: "a", random: 0, origin: "a" }, 0);
    decision.step(r, { type: "failure", epoch: -1, reason: "a", random: 0, origin: "a" }, 0);
    expect(r.state).toBe("open");
    expect(r.failers).toEqual({});
  });

  it("two processes meeting the rule together open it; one alone never does", () => {
    const decision = twoInARow(2);
    const r = decision.init();
    const fail = (origin: string) => decision.step(r, { type: "failure", epoch: -1, reason: `from ${origin}`, random: 0, origin }, 0);
    for (let i = 0; i < 10; i++) fail("a");
    expect(r.state).toBe("closed");
    expect(fail("b")).toMatchObject({ from: "closed", to: "open", reason: "trip rule consecutiveFailures reached: from b (2 processes)" });
  });
});
