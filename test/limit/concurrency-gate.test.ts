import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/clock.js";
import { GATE_VERDICTS, type GateRecord, type GateVerdict, refuse, SuccessCounts, widen } from "../../src/limit/concurrency-gate.js";
import { AdaptiveRateLimiter, type AdaptivePermit } from "../../src/limit/adaptive.js";
import { FLIGHT_SPAN_MS } from "../../src/limit/in-flight.js";
import { MemoryStore } from "../../src/store/memory.js";
import { AdaptiveDecision, type AdaptiveInput } from "../../src/limit/adaptive-decision.js";
import type { Decision, Store } from "../../src/store/store.js";
import { ADAPTIVE_DEFAULTS, AsyncStore, settle, track } from "./helpers.js";

/** A record's gate before anything happened. */
function openGate(): GateRecord {
  return new AdaptiveDecision(ADAPTIVE_DEFAULTS).init(0);
}

/**
 * The gate's two parts joined as one limiter joins them: the successes it counts in process,
 * and the gate the decision keeps in the record.
 */
class ConcurrencyGate {
  private readonly successes = new SuccessCounts();
  private readonly record = openGate();

  get limit(): number {
    return this.record.gateLimit < 0 ? Number.POSITIVE_INFINITY : this.record.gateLimit;
  }

  allows(inFlight: number): boolean {
    return inFlight < this.limit;
  }

  onSuccess(others: number, now: number): void {
    this.successes.add(others);
    widen(this.record, others, now);
  }

  onRefusal(others: number, now: number): GateVerdict {
    const closeFrom = this.record.gateLimit < 0 ? this.successes.closeFrom() : -1;
    const verdict = GATE_VERDICTS[refuse(this.record, others, closeFrom, now)]!;
    if (verdict === "opened") this.successes.forgetFrom(others);
    return verdict;
  }

  reset(): void {
    this.successes.reset();
    Object.assign(this.record, openGate());
  }
}

/** Successes at counts in flight `from..to` (round robin), `n` of them, at `now`. */
function succeed(gate: ConcurrencyGate, n: number, from: number, to: number, now: number): void {
  for (let i = 0; i < n; i++) gate.onSuccess(from + (i % (to - from + 1)), now);
}

describe("ConcurrencyGate: a cap on requests in flight learned from where refusals fall", () => {
  it("closes at k on the first refusal of all when it came with k or more others in flight and successes (almost) never did", () => {
    const gate = new ConcurrencyGate();
    succeed(gate, 40, 2, 4, 0);
    expect(gate.onRefusal(5, 100)).toBe("closed");
    expect(gate.limit).toBe(5);
    expect([gate.allows(4), gate.allows(5)]).toEqual([true, false]);
  });

  it("a lone first refusal with one other in flight is timing noise behind a rate limit, not a cap; two are evidence", () => {
    const gate = new ConcurrencyGate();
    succeed(gate, 40, 0, 0, 0);
    expect(gate.onRefusal(1, 100)).toBe("rate");
    expect(gate.onRefusal(1, 200)).toBe("closed");
    expect(gate.limit).toBe(1);
  });

  it("after the first refusal, closes at k when the last 2 refusals came with k or more others in flight and successes (almost) never did", () => {
    const gate = new ConcurrencyGate();
    succeed(gate, 40, 2, 4, 0);
    expect(gate.onRefusal(3, 50)).toBe("rate"); // successes at 3 and 4: a rate limit, so far
    expect(gate.onRefusal(6, 100)).toBe("rate");
    expect(gate.limit).toBe(Number.POSITIVE_INFINITY);
    expect(gate.onRefusal(5, 200)).toBe("closed");
    expect(gate.limit).toBe(5);
  });

  it("a single success at a count does not rule out a cap there, however few successes a process sees; a second one does", () => {
    // A process of a fleet of 4: each of its successes is one of 4 of the fleet's.
    const inFleet = new SuccessCounts();
    for (let i = 0; i < 6; i++) inFleet.add(2 + (i % 3), 4);
    expect(inFleet.closeFrom()).toBe(5);
    // An answer on its way still counted: a success at the cap's count, a fifth of this process's share.
    inFleet.add(5, 4);
    expect(inFleet.closeFrom()).toBe(5);
    inFleet.add(5, 4);
    expect(inFleet.closeFrom()).toBe(6);
    // Alone, a tenth of its recent successes (a decaying count of about 20) is about as many.
    const alone = new SuccessCounts();
    for (let i = 0; i < 40; i++) alone.add(1 + (i % 4));
    alone.add(5);
    expect(alone.closeFrom()).toBe(5);
    alone.add(5);
    expect(alone.closeFrom()).toBe(6);
  });

  it("stays open behind a rate limit: refusals fall where successes do", () => {
    const gate = new ConcurrencyGate();
    for (let t = 0; t < 20; t++) {
      succeed(gate, 10, 3, 6, t * 100);
      expect(gate.onRefusal(4 + (t % 3), t * 100)).toBe("rate");
    }
    expect(gate.limit).toBe(Number.POSITIVE_INFINITY);
  });

  it("stays open when a refusal came with nothing else in flight, or the evidence is older than 10 s", () => {
    const alone = new ConcurrencyGate();
    succeed(alone, 40, 0, 0, 0);
    for (const [i, others] of [0, 1].entries()) expect(alone.onRefusal(others, i)).toBe("rate");
    const old = new ConcurrencyGate();
    succeed(old, 40, 1, 3, 0);
    expect(old.onRefusal(0, 0)).toBe("rate");
    expect(old.onRefusal(4, 1)).toBe("rate");
    expect(old.onRefusal(4, 10_002)).toBe("rate");
  });

  it("needs recent successes before it closes: a decayed count of 10 (14 in a row)", () => {
    const gate = new ConcurrencyGate();
    succeed(gate, 13, 1, 3, 0);
    expect(gate.onRefusal(4, 0)).toBe("rate");
    expect(gate.limit).toBe(Number.POSITIVE_INFINITY);
    succeed(gate, 1, 1, 1, 5);
    expect(gate.onRefusal(4, 6)).toBe("closed");
  });

  it("probes like a congestion window: 1.5 s after a refusal each success with the window full widens it; a refusal at the new width narrows it", () => {
    const gate = new ConcurrencyGate();
    succeed(gate, 40, 1, 3, 0);
    expect(gate.onRefusal(4, 1)).toBe("closed");
    expect(gate.limit).toBe(4);
    gate.onSuccess(3, 1_500); // the hold
    expect(gate.limit).toBe(4);
    gate.onSuccess(2, 1_503); // window not full
    expect(gate.limit).toBe(4);
    gate.onSuccess(3, 1_503);
    gate.onSuccess(4, 1_504);
    gate.onSuccess(5, 1_505);
    expect(gate.limit).toBe(7);
    // The width it probed is refused: a probe of the window, not a rate limit.
    expect(gate.onRefusal(6, 2_100)).toBe("window");
    expect(gate.limit).toBe(6);
    expect(gate.onRefusal(7, 2_101)).toBe("window");
    expect(gate.limit).toBe(6);
    gate.onSuccess(5, 3_000); // held again
    expect(gate.limit).toBe(6);
  });

  it("opens at a second refusal below its width within 1 s (a rate limit after all, or a cap that fell), and closes again on new evidence", () => {
    const gate = new ConcurrencyGate();
    succeed(gate, 40, 3, 4, 0);
    expect(gate.onRefusal(5, 0)).toBe("closed");
    expect(gate.onRefusal(2, 90)).toBe("window");
    expect(gate.limit).toBe(5);
    expect(gate.onRefusal(2, 100)).toBe("opened");
    expect(gate.limit).toBe(Number.POSITIVE_INFINITY);
    succeed(gate, 80, 0, 1, 200);
    // Two refusals at 2 in flight, and successes only below it now: the cap fell to 2.
    expect(gate.onRefusal(2, 300)).toBe("closed");
    expect(gate.limit).toBe(2);
  });

  it("a refusal that opens it is the rate law's, and the successes at or above its count are forgotten: a cap that fell is learned from those under it", () => {
    const gate = new ConcurrencyGate();
    succeed(gate, 100, 0, 4, 0); // a decayed count of 12 at 0 to 2, over the 10 needed
    expect(gate.onRefusal(5, 0)).toBe("closed");
    // The cap falls to 3. The opening refusal (the second below the width) does not close the
    // gate at once, though the successes below 3 are evidence enough: it starts the evidence again.
    expect(gate.onRefusal(3, 90)).toBe("window");
    expect(gate.onRefusal(3, 100)).toBe("opened");
    expect(gate.limit).toBe(Number.POSITIVE_INFINITY);
    // The successes at 3 and 4 came under the old cap; those at 0 to 2 still count.
    expect(gate.onRefusal(3, 200)).toBe("closed");
    expect(gate.limit).toBe(3);
  });

  it("a lone refusal below its width (a request overtaken by others granted after it) neither opens nor narrows it; one at the width in between starts the count again", () => {
    const gate = new ConcurrencyGate();
    succeed(gate, 40, 3, 4, 0);
    expect(gate.onRefusal(5, 0)).toBe("closed");
    expect(gate.onRefusal(3, 100)).toBe("window");
    expect(gate.limit).toBe(5);
    // Over a second later: alone again.
    expect(gate.onRefusal(3, 1_101)).toBe("window");
    // A refusal at the width confirms the cap; the next one below it is alone again.
    expect(gate.onRefusal(5, 1_200)).toBe("window");
    expect(gate.onRefusal(3, 1_300)).toBe("window");
    expect(gate.onRefusal(3, 1_400)).toBe("opened");
  });

  it("reset forgets everything", () => {
    const gate = new ConcurrencyGate();
    succeed(gate, 40, 1, 3, 0);
    expect(gate.onRefusal(0, 0)).toBe("rate"); // evidence of a rate limit, if kept
    gate.reset();
    expect(gate.limit).toBe(Number.POSITIVE_INFINITY);
    expect(gate.onRefusal(4, 10)).toBe("rate"); // no successes any more
    gate.reset();
    succeed(gate, 40, 1, 3, 20);
    expect(gate.onRefusal(4, 30)).toBe("closed"); // a first refusal again
  });
});

describe("AdaptiveRateLimiter: an upstream that caps requests in flight", () => {
  /** Acquires `n` permits at once (the limiter's pace is high enough). */
  async function permits(limiter: AdaptiveRateLimiter, n: number): Promise<AdaptivePermit[]> {
    const out: AdaptivePermit[] = [];
    for (let i = 0; i < n; i++) out.push(await limiter.acquire());
    return out;
  }

  it("learns the cap, holds callers until a request is answered, and a refusal of its own probe cuts nothing", async () => {
    const clock = new ManualClock(0);
    const store = new MemoryStore({ sweepIntervalMs: 0, clock });
    // A fixed pace, so that only the gate holds callers.
    const limiter = new AdaptiveRateLimiter({ clock, store, initialRatePerSec: 1000, minRatePerSec: 1000, maxRatePerSec: 1000, burst: 10 });
    // Up to 3 in flight succeed; a fourth is refused, 5 times.
    const cutByClosing: boolean[] = [];
    for (let round = 0; round < 5; round++) {
      const batch = await permits(limiter, 4);
      expect(batch.map((p) => p.othersInFlight)).toEqual([0, 1, 2, 3]);
      for (const p of batch.slice(0, 3)) limiter.onSuccess(null, p);
      const before = limiter.snapshot();
      limiter.onBackoff({ status: 429, retryAfterMs: 0, permit: batch[3]! });
      const after = limiter.snapshot();
      if (before.concurrencyCap === null && after.concurrencyCap !== null) cutByClosing.push(after.epoch !== before.epoch);
      clock.advance(100);
    }
    expect(limiter.snapshot().concurrencyCap).toBe(3);
    // The refusal that showed the cap is the cap's: the rate law did not cut on it.
    expect(cutByClosing).toEqual([false]);
    const epoch = limiter.snapshot().epoch;
    const held = await permits(limiter, 3);
    const fourth = track(limiter.acquire());
    await clock.advanceAsync(500);
    expect(fourth.state).toBe("pending");
    limiter.onSuccess(null, held[0]);
    await settle();
    expect(fourth.state).toBe("resolved");
    // 2 s later the window probes one wider; its refusal narrows it, and the rate law never hears of it.
    clock.advance(2_000);
    limiter.onSuccess(null, held[2]); // sent with the window full
    expect(limiter.snapshot().concurrencyCap).toBe(4);
    const probe = [await limiter.acquire(), await limiter.acquire()];
    expect(probe[1]!.othersInFlight).toBe(3);
    limiter.onBackoff({ status: 429, retryAfterMs: 0, permit: probe[1]! });
    expect(limiter.snapshot()).toMatchObject({ concurrencyCap: 3, epoch });
    await limiter.reset();
    expect(limiter.snapshot().concurrencyCap).toBeNull();
  });

  it("a first refusal that shows the cap neither cuts nor pauses; a second refusal below the window's width within 1 s opens it, and the rate law cuts on it", async () => {
    const clock = new ManualClock(0);
    const store = new MemoryStore({ sweepIntervalMs: 0, clock });
    const limiter = new AdaptiveRateLimiter({ clock, store, initialRatePerSec: 1000, minRatePerSec: 1000, maxRatePerSec: 1000, burst: 10 });
    for (let round = 0; round < 4; round++) {
      for (const p of await permits(limiter, 4)) limiter.onSuccess(null, p);
      clock.advance(100);
    }
    const batch = await permits(limiter, 5);
    for (const p of batch.slice(0, 4)) limiter.onSuccess(null, p);
    const before = limiter.snapshot();
    limiter.onBackoff({ status: 429, permit: batch[4]! });
    expect(limiter.snapshot()).toMatchObject({ concurrencyCap: 4, epoch: before.epoch, cooldownUntil: before.cooldownUntil });
    clock.advance(100);
    // The cap falls to 2: a refusal with 2 others in flight.
    // The cap falls to 2: two refusals with 2 others in flight.
    const low = await permits(limiter, 4);
    limiter.onSuccess(null, low[0]);
    limiter.onSuccess(null, low[1]);
    limiter.onBackoff({ status: 429, permit: low[2]! });
    expect(limiter.snapshot()).toMatchObject({ concurrencyCap: 4, epoch: before.epoch });
    limiter.onBackoff({ status: 429, permit: low[3]! });
    const after = limiter.snapshot();
    expect(after.concurrencyCap).toBeNull();
    expect(after.epoch).toBe(before.epoch + 1);
    expect(after.cooldownUntil).toBeGreaterThan(clock.now());
  });

  it("leaves requests refused while another was out out of its count in flight (a refused request holds no place under the cap)", async () => {
    const clock = new ManualClock(0);
    const store = new MemoryStore({ sweepIntervalMs: 0, clock });
    const limiter = new AdaptiveRateLimiter({ clock, store, initialRatePerSec: 1000, minRatePerSec: 1000, maxRatePerSec: 1000, burst: 10 });
    // A cap of 2: c, sent with a and b out, is refused; d, sent once a is answered but before
    // c's refusal comes back, counts b and c in flight, though only b holds a place.
    const rounds: number[][] = [];
    for (let round = 0; round < 6 && limiter.snapshot().concurrencyCap === null; round++) {
      const [a, b, c] = await permits(limiter, 3);
      limiter.onSuccess(null, a);
      const d = await limiter.acquire();
      rounds.push([a!.othersInFlight, b!.othersInFlight, c!.othersInFlight, d.othersInFlight]);
      limiter.onBackoff({ status: 429, retryAfterMs: 0, permit: c! });
      limiter.onSuccess(null, b);
      limiter.onSuccess(null, d);
      clock.advance(100);
    }
    expect(rounds[0]).toEqual([0, 1, 2, 2]);
    // Counted as sent with 2 in flight, d would be a success at the cap in every round, and the gate would never close.
    expect(limiter.snapshot().concurrencyCap).toBe(2);
  });

  /** Limiters of one fleet: one record in `store` (a fixed pace, so that only the gate holds callers). */
  function fleetOf(clock: ManualClock, store: Store, ...names: string[]): AdaptiveRateLimiter[] {
    return names.map(
      (name) =>
        new AdaptiveRateLimiter({
          name,
          key: "fleet",
          clock,
          store,
          initialRatePerSec: 1000,
          minRatePerSec: 1000,
          maxRatePerSec: 1000,
          burst: 10,
        }),
    );
  }

  /** Up to 3 in flight in all succeed, a fourth is refused: each of `a` and `b` sends 2, until the fleet learns the cap. */
  async function learnCapOf3(a: AdaptiveRateLimiter, b: AdaptiveRateLimiter, clock: ManualClock): Promise<void> {
    for (let round = 0; round < 12 && b.snapshot().concurrencyCap === null; round++) {
      const batch = [...(await permits(a, 2)), ...(await permits(b, 2))];
      expect(batch.map((p) => p.othersInFlight)).toEqual([0, 1, 2, 3]);
      a.onSuccess(null, batch[0]);
      a.onSuccess(null, batch[1]);
      b.onSuccess(null, batch[2]);
      b.onBackoff({ status: 429, retryAfterMs: 0, permit: batch[3]! });
      await settle();
      clock.advance(100);
    }
    expect(b.snapshot().concurrencyCap).toBe(3);
  }

  it("a fleet sharing one record shares the count in flight, the cap any of them learns, and forgets a dead process's permits", async () => {
    const clock = new ManualClock(0);
    const [a, b] = fleetOf(clock, new MemoryStore({ sweepIntervalMs: 0, clock }), "a", "b") as [AdaptiveRateLimiter, AdaptiveRateLimiter];
    // Their counts in flight are the fleet's (learnCapOf3); b saw the refusals, a learns the cap from the record at its next step.
    await learnCapOf3(a, b, clock);
    const held = await permits(a, 3);
    expect(a.snapshot().concurrencyCap).toBe(3);
    // a holds every place: b's caller waits, though b has nothing in flight, until a's answer frees one.
    const waiting = track(b.acquire());
    await clock.advanceAsync(50);
    expect(waiting.state).toBe("pending");
    a.onSuccess(null, held[0]);
    await clock.advanceAsync(5);
    expect(waiting.state).toBe("resolved");
    expect(waiting.value!.othersInFlight).toBe(2);
    // a dies with 2 permits out; b's own answer frees one place, and the dead ones are forgotten within two spans.
    b.onSuccess(null, waiting.value);
    await permits(b, 1);
    const blocked = track(b.acquire());
    await clock.advanceAsync(FLIGHT_SPAN_MS);
    expect(blocked.state).toBe("pending");
    await clock.advanceAsync(FLIGHT_SPAN_MS);
    expect(blocked.state).toBe("resolved");
    // b's own permit, out as long, is forgotten with them: a request longer than a span may leave the count early.
    expect(blocked.value!.othersInFlight).toBe(0);
  });

  it("a process whose own permits are never answered holds its callers only until the record forgets them", async () => {
    const clock = new ManualClock(0);
    const [a, b] = fleetOf(clock, new MemoryStore({ sweepIntervalMs: 0, clock }), "a", "b") as [AdaptiveRateLimiter, AdaptiveRateLimiter];
    await learnCapOf3(a, b, clock);
    await permits(a, 3); // never answered
    const waiting = track(a.acquire());
    await clock.advanceAsync(2 * FLIGHT_SPAN_MS - 1_000);
    expect(waiting.state).toBe("pending");
    await clock.advanceAsync(2_100);
    expect(waiting.state).toBe("resolved");
  });

  it("a waiter that leaves while a remote store answers gives back the place the store counted for it", async () => {
    const clock = new ManualClock(0);
    const [limiter] = fleetOf(clock, new AsyncStore(), "a") as [AdaptiveRateLimiter];
    const gone = new AbortController();
    const left = track(limiter.acquire({ signal: gone.signal }));
    gone.abort();
    await settle();
    expect(left.state).toBe("rejected");
    const next = await limiter.acquire();
    expect(next.othersInFlight).toBe(0);
  });

  it("a process that joins a busy record needs successes of its own before its refusals may close the gate", async () => {
    const clock = new ManualClock(0);
    const [old, fresh] = fleetOf(clock, new MemoryStore({ sweepIntervalMs: 0, clock }), "old", "fresh") as [
      AdaptiveRateLimiter,
      AdaptiveRateLimiter,
    ];
    for (let i = 0; i < 200; i++) {
      old.onSuccess(null, await old.acquire());
      clock.advance(1);
    }
    fresh.onSuccess(null, await fresh.acquire());
    // One success of its own is no evidence, whatever the record counted before it came.
    const batch = await permits(fresh, 3);
    fresh.onBackoff({ status: 429, retryAfterMs: 0, permit: batch[2]! });
    expect(fresh.snapshot().concurrencyCap).toBeNull();
  });

  it("processes that start together count the fleet's successes since each first asked: its own first may follow many of the fleet's", async () => {
    const clock = new ManualClock(0);
    const [a, b] = fleetOf(clock, new MemoryStore({ sweepIntervalMs: 0, clock }), "a", "b") as [AdaptiveRateLimiter, AdaptiveRateLimiter];
    // b asks at the start, and its first answer comes after 30 of a's.
    const first = await b.acquire();
    for (let i = 0; i < 30; i++) {
      a.onSuccess(null, await a.acquire());
      clock.advance(1);
    }
    b.onSuccess(null, first);
    const batch = await permits(b, 3);
    expect(batch[2]!.othersInFlight).toBe(2);
    b.onBackoff({ status: 429, retryAfterMs: 0, permit: batch[2]! });
    expect(b.snapshot().concurrencyCap).toBe(2);
  });

  it("a refusal carries where the process's successes allow a cap, even when it last saw the gate closed (another may have opened it)", async () => {
    const clock = new ManualClock(0);
    const store = new RecordingStore();
    const [a, b] = fleetOf(clock, store, "a", "b") as [AdaptiveRateLimiter, AdaptiveRateLimiter];
    await learnCapOf3(a, b, clock);
    const [p] = await permits(a, 1);
    expect(a.snapshot().concurrencyCap).toBe(3);
    a.onBackoff({ status: 429, retryAfterMs: 0, permit: p! });
    await settle();
    const sent = store.inputs.filter((i) => i.type === "backoff").at(-1) as Extract<AdaptiveInput, { type: "backoff" }>;
    expect(sent.closeFrom).toBeGreaterThanOrEqual(0);
  });

  it("a reset keeps the requests in flight counted (their answers will come) and opens the gate for every process", async () => {
    const clock = new ManualClock(0);
    const [a, b] = fleetOf(clock, new MemoryStore({ sweepIntervalMs: 0, clock }), "a", "b") as [AdaptiveRateLimiter, AdaptiveRateLimiter];
    await learnCapOf3(a, b, clock);
    const out = await permits(a, 2);
    await b.reset();
    const next = await b.acquire();
    expect(next.othersInFlight).toBe(2);
    for (const p of out) a.onSuccess(null, p);
    expect((await b.acquire()).othersInFlight).toBe(1);
    // a sees the open gate at its next step.
    expect([a.snapshot().concurrencyCap, b.snapshot().concurrencyCap]).toEqual([null, null]);
  });
});

/** A remote-like store that keeps every input it was given. */
class RecordingStore extends AsyncStore {
  readonly inputs: AdaptiveInput[] = [];

  override apply<S, I, O>(decision: Decision<S, I, O>, key: string, input: I, now: number): Promise<O> {
    this.inputs.push(input as AdaptiveInput);
    return super.apply(decision, key, input, now);
  }
}
