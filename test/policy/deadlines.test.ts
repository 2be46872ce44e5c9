import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Clock, ManualClock, preciseClock, systemClock } from "../../src/core/clock.js";
import { type Deadline, DeadlineLists, Deadlines } from "../../src/policy/deadlines.js";

class Entry implements Deadline<Entry> {
  deadline = 0;
  prev: Entry | undefined = undefined;
  next: Entry | undefined = undefined;
  linked = false;
  constructor(readonly id: number) {}
}

/** A list on `clock` that records which entries expired, and when. */
function list<C extends Clock>(ms: number, clock: C) {
  const expired: { id: number; at: number }[] = [];
  const deadlines = new Deadlines<Entry>(ms, clock, (e) => expired.push({ id: e.id, at: clock.now() }));
  return { clock, deadlines, expired };
}

describe("Deadlines: calls under one limit, expired by one alarm", () => {
  it("expires each entry when its own limit passes, in start order, with one sleep pending at a time", async () => {
    const { clock, deadlines, expired } = list(100, new ManualClock());
    const [a, b, c] = [new Entry(1), new Entry(2), new Entry(3)];
    deadlines.add(a);
    await clock.advanceAsync(30);
    deadlines.add(b);
    await clock.advanceAsync(30);
    deadlines.add(c);
    expect(clock.pendingSleeps).toBe(1);
    await clock.advanceAsync(39); // t = 99
    expect(expired).toEqual([]);
    await clock.advanceAsync(1);
    expect(expired).toEqual([{ id: 1, at: 100 }]);
    await clock.advanceAsync(30);
    await clock.advanceAsync(30);
    expect(expired).toEqual([
      { id: 1, at: 100 },
      { id: 2, at: 130 },
      { id: 3, at: 160 },
    ]);
    expect([a, b, c].map((e) => e.linked)).toEqual([false, false, false]);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("never expires an entry removed in time, and cancels the sleep once nothing is left", async () => {
    const { clock, deadlines, expired } = list(100, new ManualClock());
    const [a, b] = [new Entry(1), new Entry(2)];
    deadlines.add(a);
    deadlines.add(b);
    deadlines.remove(a);
    expect(clock.pendingSleeps).toBe(1);
    deadlines.remove(b);
    deadlines.remove(b); // twice: nothing
    expect(clock.pendingSleeps).toBe(0);
    await clock.advanceAsync(1_000);
    expect(expired).toEqual([]);
  });

  it("an alarm aimed at an entry that ended finds nothing due and aims at the next one", async () => {
    const { clock, deadlines, expired } = list(100, new ManualClock());
    const [a, b] = [new Entry(1), new Entry(2)];
    deadlines.add(a);
    await clock.advanceAsync(50);
    deadlines.add(b);
    deadlines.remove(a);
    await clock.advanceAsync(50); // a's deadline: the alarm fires, b is not due
    expect(expired).toEqual([]);
    expect(clock.pendingSleeps).toBe(1);
    await clock.advanceAsync(49);
    expect(expired).toEqual([]);
    await clock.advanceAsync(1);
    expect(expired).toEqual([{ id: 2, at: 150 }]);
  });

  it("an entry added while the alarm fires (an expired call's listener starting a call) gets its own limit and leaves no sleep behind", async () => {
    const clock = new ManualClock();
    const expired: { id: number; at: number }[] = [];
    const late = new Entry(2);
    const deadlines: Deadlines<Entry> = new Deadlines<Entry>(100, clock, (e) => {
      expired.push({ id: e.id, at: clock.now() });
      if (e.id === 1) deadlines.add(late); // re-entrant, as a `timeout` listener retrying at once
    });
    deadlines.add(new Entry(1));
    await clock.advanceAsync(100);
    expect(expired).toEqual([{ id: 1, at: 100 }]);
    expect(clock.pendingSleeps).toBe(1);
    await clock.advanceAsync(100);
    expect(expired).toEqual([
      { id: 1, at: 100 },
      { id: 2, at: 200 },
    ]);
    expect(clock.pendingSleeps).toBe(0);
    // And removed before its limit: nothing pending, nothing expires.
    const again = new Entry(3);
    const d2: Deadlines<Entry> = new Deadlines<Entry>(100, clock, (e) => {
      if (e.id === 1) d2.add(again);
    });
    d2.add(new Entry(1));
    await clock.advanceAsync(100);
    d2.remove(again);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("a clock moved past many deadlines in one step expires them all, in order", async () => {
    const { clock, deadlines, expired } = list(10, new ManualClock());
    for (let i = 0; i < 5; i++) {
      deadlines.add(new Entry(i));
      clock.advance(1);
    }
    clock.advance(1_000);
    await Promise.resolve();
    expect(expired.map((e) => e.id)).toEqual([0, 1, 2, 3, 4]);
  });

  it("matches a model under any order of adds, removes and clock moves", async () => {
    type Op = { type: "add" } | { type: "remove"; pick: number } | { type: "advance"; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.constant({ type: "add" as const }),
      fc.record({ type: fc.constant("remove" as const), pick: fc.nat() }),
      fc.record({ type: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 60 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const ms = 50;
        const { clock, deadlines, expired } = list(ms, new ManualClock());
        const live: { entry: Entry; deadline: number }[] = [];
        const model: { id: number; at: number }[] = [];
        let id = 0;
        for (const o of ops) {
          if (o.type === "add") {
            const entry = new Entry(id++);
            deadlines.add(entry);
            live.push({ entry, deadline: clock.now() + ms });
          } else if (o.type === "remove") {
            const [gone] = live.length === 0 ? [] : live.splice(o.pick % live.length, 1);
            if (gone !== undefined) deadlines.remove(gone.entry);
          } else {
            const end = clock.now() + o.ms;
            // The model: every live entry due by `end` expires at its deadline, in start order.
            for (const l of live.filter((x) => x.deadline <= end)) model.push({ id: l.entry.id, at: l.deadline });
            live.splice(0, live.length, ...live.filter((x) => x.deadline > end));
            await clock.advanceAsync(o.ms);
          }
          expect(expired).toEqual(model);
        }
        expect(clock.pendingSleeps).toBe(live.length === 0 ? 0 : 1);
      }),
      { numRuns: 200 },
    );
  });
});

describe("Deadlines on a real clock", () => {
  afterEach(() => vi.restoreAllMocks());

  it("expires real calls no sooner than their limit, in start order", async () => {
    const ms = 40;
    const { deadlines, expired } = list(ms, systemClock);
    const started: number[] = [];
    const at = new Map<number, number>();
    const all = [0, 1, 2].map((id) => new Entry(id));
    for (const e of all) {
      started.push(performance.now());
      deadlines.add(e);
      await new Promise((r) => setTimeout(r, 10));
    }
    for (let i = 0; i < 50 && expired.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 10));
      for (const e of expired) if (!at.has(e.id)) at.set(e.id, performance.now());
    }
    expect(expired.map((e) => e.id)).toEqual([0, 1, 2]);
    for (const e of all) expect((at.get(e.id) ?? 0) - (started[e.id] ?? 0)).toBeGreaterThanOrEqual(ms - 1);
  });

  it("a wall-clock step back of an hour does not hold a call for the hour (a monotonic time line, not Date.now, says what is due)", async () => {
    const { deadlines, expired } = list(30, systemClock);
    deadlines.add(new Entry(1));
    const real = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => real() - 3_600_000);
    deadlines.add(new Entry(2)); // its deadline on the stepped-back clock: before the first's
    for (let i = 0; i < 40 && expired.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(expired.map((e) => e.id)).toEqual([1, 2]);
  });

  it("a call started while the alarm fires gets its whole limit, and holds no timer once it ends", async () => {
    const ms = 60;
    const t: { start: number; at: number }[] = [];
    const late = new Entry(2);
    const third = new Entry(3);
    let started = 0;
    const deadlines: Deadlines<Entry> = new Deadlines<Entry>(ms, systemClock, (e) => {
      if (e.id === 1) {
        deadlines.add(late); // re-entrant: a `timeout` listener starting a call at once
        started = performance.now();
      } else t.push({ start: started, at: performance.now() });
    });
    const timers = vi.spyOn(globalThis, "setTimeout");
    /** The alarms the list set (its timers call back with the list itself). */
    const alarms = (): NodeJS.Timeout[] =>
      timers.mock.calls.flatMap((c, i) => ((c as unknown[])[2] === deadlines ? [timers.mock.results[i]?.value as NodeJS.Timeout] : []));
    deadlines.add(new Entry(1));
    while (!late.linked) await new Promise((r) => setTimeout(r, 2));
    deadlines.remove(late); // it settled: nothing waits, so nothing may hold the process
    // One alarm at a time: the first, then the one the fire set (and, when a Node timer
    // fired a fraction of a millisecond before the monotonic reading said it was due, a
    // 1 ms alarm between them); the last, still set, holds the process no more.
    const delays = timers.mock.calls.filter((c) => (c as unknown[])[2] === deadlines).map((c) => c[1]);
    expect(delays.filter((d) => d !== 1)).toEqual([ms, ms]);
    expect(alarms().at(-1)?.hasRef()).toBe(false); // the others have fired
    await new Promise((r) => setTimeout(r, ms / 2));
    started = performance.now();
    deadlines.add(third);
    for (let i = 0; i < 60 && t.length < 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(t).toHaveLength(1);
    expect((t[0]?.at ?? 0) - (t[0]?.start ?? 0)).toBeGreaterThanOrEqual(ms - 1);
  });

  it("on preciseClock as on systemClock: one shared Node alarm, ref'd while a call waits, unref'd once none does", async () => {
    const { deadlines, expired } = list(40, preciseClock);
    const timers = vi.spyOn(globalThis, "setTimeout");
    const first = new Entry(1);
    deadlines.add(first);
    const alarm = timers.mock.calls.findIndex((c) => (c as unknown[])[2] === deadlines);
    expect(alarm).toBeGreaterThanOrEqual(0);
    const timer = timers.mock.results[alarm]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(true);
    deadlines.remove(first);
    expect(timer.hasRef()).toBe(false);
    const second = new Entry(2);
    deadlines.add(second);
    expect(timer.hasRef()).toBe(true);
    for (let i = 0; i < 40 && expired.length < 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(expired.map((e) => e.id)).toEqual([2]);
  });

  it("a call started after a wall-clock step back gets its whole limit", async () => {
    const ms = 80;
    const { deadlines, expired } = list(ms, systemClock);
    deadlines.add(new Entry(1));
    await new Promise((r) => setTimeout(r, 40));
    const real = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => real() - 3_600_000);
    const start = performance.now();
    deadlines.add(new Entry(2));
    let at = 0;
    for (let i = 0; i < 80 && expired.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 5));
      if (expired.length === 2 && at === 0) at = performance.now();
    }
    expect(expired.map((e) => e.id)).toEqual([1, 2]);
    expect(at - start).toBeGreaterThanOrEqual(ms - 1);
  });

  it("an alarm held late by a blocked event loop expires every call then overdue at once", async () => {
    const ms = 50;
    const { deadlines, expired } = list(ms, systemClock);
    for (let i = 0; i < 4; i++) {
      deadlines.add(new Entry(i));
      await new Promise((r) => setTimeout(r, 10));
    }
    const end = performance.now() + 200; // every deadline passes while the loop is blocked
    while (performance.now() < end);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(expired.map((e) => e.id)).toEqual([0, 1, 2, 3]);
  });

  it("a wall-clock step forward does not expire a call early", async () => {
    const { deadlines, expired } = list(60, systemClock);
    deadlines.add(new Entry(1));
    await new Promise((r) => setTimeout(r, 20));
    const t = performance.now();
    deadlines.add(new Entry(2));
    const real = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => real() + 3_600_000); // stepped while both run
    for (let i = 0; i < 40 && expired.length < 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(expired.map((e) => e.id)).toEqual([1]); // the first at its time; the second not with it
    for (let i = 0; i < 40 && expired.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(expired.map((e) => e.id)).toEqual([1, 2]);
    expect(performance.now() - t).toBeGreaterThanOrEqual(59);
  });
});

describe("DeadlineLists: one list per clock and limit", () => {
  afterEach(() => vi.restoreAllMocks());

  it("hands every user of one clock and limit the same list, and drops it once empty with no alarm", async () => {
    const lists = new DeadlineLists<Entry>(() => undefined);
    const clock = new ManualClock();
    const a = lists.get(clock, 100);
    expect(lists.get(clock, 100)).toBe(a);
    expect(lists.get(clock, 70)).not.toBe(a);
    expect(lists.get(new ManualClock(), 100)).not.toBe(a);
    const e = new Entry(1);
    a.add(e);
    a.remove(e); // empty, its sleep cancelled: the list leaves
    expect(lists.get(clock, 100)).not.toBe(a);
  });

  it("limits computed per call leave at most twice maxIdle alarms set, not one per call", () => {
    const set = vi.spyOn(globalThis, "setTimeout");
    const cleared = vi.spyOn(globalThis, "clearTimeout");
    const lists = new DeadlineLists<Entry>(() => undefined, 8);
    for (let i = 0; i < 300; i++) {
      const list = lists.get(systemClock, 60_000 + i);
      const e = new Entry(i);
      list.add(e);
      list.remove(e);
    }
    expect(set).toHaveBeenCalledTimes(300);
    expect(set.mock.calls.length - cleared.mock.calls.length).toBeLessThanOrEqual(16);
    expect(lists.idleArmed).toBeLessThanOrEqual(16);
    for (const r of set.mock.results) clearTimeout(r.value as NodeJS.Timeout); // leave nothing behind
  });

  it("a list in use is not disarmed by others going idle, and one limit reused keeps its one alarm", () => {
    const set = vi.spyOn(globalThis, "setTimeout");
    const lists = new DeadlineLists<Entry>(() => undefined, 2);
    const hot = lists.get(systemClock, 50_000);
    const busy = new Entry(0);
    hot.add(busy);
    for (let i = 1; i <= 50; i++) {
      const list = lists.get(systemClock, 70_000 + i);
      const e = new Entry(i);
      list.add(e);
      list.remove(e);
      const h = new Entry(-i);
      hot.add(h);
      hot.remove(h);
    }
    expect(busy.linked).toBe(true);
    expect(set.mock.calls.filter((c) => c[1] === 50_000)).toHaveLength(1);
    hot.remove(busy);
    for (const r of set.mock.results) clearTimeout(r.value as NodeJS.Timeout);
  });
});
