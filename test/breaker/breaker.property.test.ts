import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CircuitBreaker, CircuitOpenError, consecutiveFailures, failureRatio, ManualClock } from "../../src/index.js";

/**
 * A deliberately plain reference model of the breaker (consecutive failures, constant
 * recovery, N half-open trials) that the real one must agree with, step by step.
 */
class Model {
  state: "closed" | "open" | "half-open" = "closed";
  gen = 0;
  fails = 0;
  openUntil = 0;
  trials = 0;
  trialSuccesses = 0;
  now = 0;
  constructor(
    readonly threshold: number,
    readonly recoveryMs: number,
    readonly maxCalls: number,
    readonly toClose: number,
  ) {}

  admit(): number | null {
    if (this.state === "closed") return this.gen;
    if (this.state === "open") {
      if (this.now < this.openUntil) return null;
      this.halfOpen();
    }
    if (this.trials >= this.maxCalls) return null;
    this.trials++;
    return this.gen;
  }
  complete(gen: number, ok: boolean): void {
    if (gen !== this.gen) return;
    if (this.state === "closed") return this.closedOutcome(ok);
    if (this.state === "half-open") {
      this.trials--;
      if (ok) this.trialSucceeded();
      else this.open();
    }
  }
  manual(ok: boolean): void {
    if (this.state === "closed") return this.closedOutcome(ok);
    if (this.state === "open") {
      if (this.now < this.openUntil) return;
      if (ok) {
        this.halfOpen();
        this.trialSucceeded();
      } else this.open();
      return;
    }
    if (ok) this.trialSucceeded();
    else this.open();
  }
  available(): boolean {
    if (this.state === "closed") return true;
    if (this.state === "open") return this.now >= this.openUntil;
    return this.trials < this.maxCalls;
  }
  private closedOutcome(ok: boolean): void {
    this.fails = ok ? 0 : this.fails + 1;
    if (this.fails >= this.threshold) this.open();
  }
  private trialSucceeded(): void {
    this.trialSuccesses++;
    if (this.trialSuccesses >= this.toClose) {
      this.state = "closed";
      this.gen++;
      this.fails = 0;
    }
  }
  private open(): void {
    this.state = "open";
    this.gen++;
    this.openUntil = this.now + this.recoveryMs;
  }
  private halfOpen(): void {
    this.state = "half-open";
    this.gen++;
    this.trials = 0;
    this.trialSuccesses = 0;
  }
}

type Op =
  | { t: "call"; ok: boolean }
  | { t: "start" }
  | { t: "finish"; index: number; ok: boolean }
  | { t: "advance"; ms: number }
  | { t: "manual"; ok: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant("call" as const), ok: fc.boolean() }),
  fc.record({ t: fc.constant("start" as const) }),
  fc.record({ t: fc.constant("finish" as const), index: fc.nat(20), ok: fc.boolean() }),
  fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 1_500 }) }),
  fc.record({ t: fc.constant("manual" as const), ok: fc.boolean() }),
);

describe("CircuitBreaker against a reference model", () => {
  it("agrees on every admission, state and availability over random runs", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(op, { maxLength: 80 }),
        async (threshold, recoveryMs, maxCalls, toClose, ops) => {
          const clock = new ManualClock();
          const model = new Model(threshold, recoveryMs, maxCalls, toClose);
          const b = new CircuitBreaker({
            clock,
            trip: consecutiveFailures(threshold),
            recovery: recoveryMs,
            halfOpen: { maxCalls, successesToClose: toClose, trialTimeoutMs: Infinity },
          });
          const pending: { gen: number; settle: (ok: boolean) => void; done: Promise<unknown> }[] = [];

          for (const o of ops) {
            if (o.t === "advance") {
              clock.advance(o.ms);
              model.now += o.ms;
            } else if (o.t === "manual") {
              if (o.ok) b.recordSuccess();
              else b.recordFailure("manual");
              model.manual(o.ok);
            } else if (o.t === "call") {
              const gen = model.admit();
              const outcome = await b
                .execute(() => (o.ok ? 1 : Promise.reject(new Error("x"))))
                .then(
                  () => "ok",
                  (e: unknown) => (e instanceof CircuitOpenError ? "rejected" : "failed"),
                );
              expect(outcome).toBe(gen === null ? "rejected" : o.ok ? "ok" : "failed");
              if (gen !== null) model.complete(gen, o.ok);
            } else if (o.t === "start") {
              const gen = model.admit();
              let settle!: (ok: boolean) => void;
              const call = b.execute(() => new Promise((resolve, reject) => (settle = (ok) => (ok ? resolve(1) : reject(new Error("x"))))));
              if (gen === null) {
                await expect(call).rejects.toBeInstanceOf(CircuitOpenError);
              } else {
                pending.push({ gen, settle: (ok) => settle(ok), done: call.catch(() => undefined) });
              }
            } else if (pending.length > 0) {
              const [p] = pending.splice(o.index % pending.length, 1);
              if (p) {
                p.settle(o.ok);
                await p.done;
                model.complete(p.gen, o.ok);
              }
            }
            expect(b.state).toBe(model.state);
            expect(b.isAvailable()).toBe(model.available());
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

/**
 * A plain model of the ratio rule judged on every outcome, with slow calls counted as
 * failures: a window of the last `windowCalls` outcomes, judged once it holds
 * `minimumCalls`; one trial call while half-open.
 */
class RatioModel {
  state: "closed" | "open" | "half-open" = "closed";
  window: boolean[] = [];
  openUntil = 0;
  now = 0;
  constructor(
    readonly ratio: number,
    readonly minimumCalls: number,
    readonly windowCalls: number,
    readonly recoveryMs: number,
    readonly slowCallMs: number,
  ) {}

  /** Admits a call now (true) or refuses it. */
  admit(): boolean {
    if (this.state === "open") {
      if (this.now < this.openUntil) return false;
      this.state = "half-open";
    }
    return true;
  }
  /** The call admitted before took `ms` and did (`ok`) or did not throw. */
  complete(ok: boolean, ms: number): void {
    const failed = !ok || ms > this.slowCallMs;
    if (this.state === "half-open") {
      if (failed) this.open();
      else {
        this.state = "closed";
        this.window = [];
      }
      return;
    }
    this.window.push(failed);
    if (this.window.length > this.windowCalls) this.window.shift();
    const failures = this.window.filter(Boolean).length;
    if (this.window.length >= this.minimumCalls && failures > 0 && failures >= this.ratio * this.window.length - 1e-9) this.open();
  }
  private open(): void {
    this.state = "open";
    this.openUntil = this.now + this.recoveryMs;
  }
}

type RatioOp = { t: "call"; ok: boolean; ms: number } | { t: "advance"; ms: number };

describe("CircuitBreaker with failureRatio and slowCallMs against a reference model", () => {
  it("agrees on every admission, value and state: every outcome judges the ratio; slow calls fail but return", async () => {
    const ratioOp: fc.Arbitrary<RatioOp> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ t: fc.constant("call" as const), ok: fc.boolean(), ms: fc.integer({ min: 0, max: 200 }) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 1_500 }) }) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }).map((n) => n / 10),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 150 }),
        fc.array(ratioOp, { maxLength: 60 }),
        async (ratio, windowCalls, extra, recoveryMs, slowCallMs, ops) => {
          const minimumCalls = Math.max(1, windowCalls - extra);
          const clock = new ManualClock();
          const model = new RatioModel(ratio, minimumCalls, windowCalls, recoveryMs, slowCallMs);
          const b = new CircuitBreaker({
            clock,
            trip: failureRatio(ratio, { windowCalls, minimumCalls }),
            recovery: recoveryMs,
            slowCallMs,
          });
          for (const o of ops) {
            if (o.t === "advance") {
              clock.advance(o.ms);
              model.now += o.ms;
            } else {
              const admitted = model.admit();
              const call = b.execute(() => clock.sleep(o.ms).then(() => (o.ok ? "value" : Promise.reject(new Error("x")))));
              clock.advance(o.ms);
              model.now += o.ms;
              const outcome = await call.then(
                (v) => v,
                (e: unknown) => (e instanceof CircuitOpenError ? "rejected" : "failed"),
              );
              expect(outcome).toBe(!admitted ? "rejected" : o.ok ? "value" : "failed");
              if (admitted) model.complete(o.ok, o.ms);
            }
            expect(b.state).toBe(model.state);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
