import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/clock.js";
import { WaitQueue } from "../../src/policy/wait-queue.js";
import { rejection, track } from "./settle.js";

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("WaitQueue", () => {
  it("serves waiters first in, first out, whatever their costs, and counts them", async () => {
    const queue = new WaitQueue<string>();
    const a = track(queue.enqueue({ cost: 5 }));
    const b = track(queue.enqueue({ cost: 1 }));
    const c = track(queue.enqueue({ cost: 3 }));
    expect([queue.size, queue.queuedCost]).toEqual([3, 9]);
    const order: number[] = [];
    for (let w = queue.first(); w !== undefined; w = queue.first()) {
      order.push(w.cost);
      expect(queue.admit(w, `cost ${w.cost}`)).toBe(true);
      expect(w.done).toBe(true);
      expect(queue.admit(w, "again")).toBe(false);
    }
    expect(order).toEqual([5, 1, 3]);
    expect([queue.size, queue.queuedCost]).toEqual([0, 0]);
    expect(await Promise.all([a.outcome, b.outcome, c.outcome])).toEqual([
      { ok: true, value: "cost 5" },
      { ok: true, value: "cost 1" },
      { ok: true, value: "cost 3" },
    ]);
  });

  it("puts a front waiter ahead of every waiter not yet served", () => {
    const queue = new WaitQueue<void>();
    void queue.enqueue({ cost: 1 });
    void queue.enqueue({ cost: 2 });
    queue.admit(queue.first()!, undefined);
    void queue.enqueue({ cost: 7, front: true });
    void queue.enqueue({ cost: 8, front: true });
    const order: number[] = [];
    for (let w = queue.first(); w !== undefined; w = queue.first()) {
      order.push(w.cost);
      queue.admit(w, undefined);
    }
    expect(order).toEqual([8, 7, 2]);
  });

  it("a front waiter takes the place in line of the head it goes ahead of", () => {
    const queue = new WaitQueue<void>();
    void queue.enqueue({ now: 10 });
    void queue.enqueue({ now: 20 });
    void queue.enqueue({ now: 50, front: true });
    expect(queue.first()).toMatchObject({ enqueuedAt: 50, since: 10 });
    queue.admit(queue.first()!, undefined);
    expect(queue.first()).toMatchObject({ enqueuedAt: 10, since: 10 });
    queue.admit(queue.first()!, undefined);
    void queue.enqueue({ now: 60, front: true });
    expect(queue.first()).toMatchObject({ enqueuedAt: 60, since: 20 });
    queue.admit(queue.first()!, undefined);
    queue.admit(queue.first()!, undefined);
    void queue.enqueue({ now: 70, front: true });
    expect(queue.first()).toMatchObject({ enqueuedAt: 70, since: 70 });
  });

  it("an abort takes a waiter out at once, wherever it stands, with the signal's reason", async () => {
    const queue = new WaitQueue<number>();
    const first = track(queue.enqueue({ cost: 1 }));
    const middle = new AbortController();
    const aborted = queue.enqueue({ cost: 4, signal: middle.signal });
    const last = track(queue.enqueue({ cost: 2 }));
    middle.abort(new Error("caller gave up"));
    expect(await rejection(aborted)).toMatchObject({ message: "caller gave up" });
    expect([queue.size, queue.queuedCost]).toEqual([2, 3]);
    queue.admit(queue.first()!, 1);
    expect(queue.first()?.cost).toBe(2);
    queue.admit(queue.first()!, 2);
    expect(await first.outcome).toEqual({ ok: true, value: 1 });
    expect(await last.outcome).toEqual({ ok: true, value: 2 });
  });

  it("refuses an already aborted signal without queueing, and detaches its listener once served", async () => {
    const queue = new WaitQueue<void>();
    const gone = AbortSignal.abort(new Error("already"));
    expect(await rejection(queue.enqueue({ signal: gone }))).toMatchObject({ message: "already" });
    expect(queue.size).toBe(0);
    const controller = new AbortController();
    const served = queue.enqueue({ signal: controller.signal });
    queue.admit(queue.first()!, undefined);
    await served;
    controller.abort();
    expect(queue.size).toBe(0);
  });

  it("the head's abort wakes whoever naps for it; a middle one's does not", async () => {
    const clock = new ManualClock();
    const queue = new WaitQueue<void>();
    const head = new AbortController();
    const middle = new AbortController();
    void queue.enqueue({ signal: head.signal }).catch(() => undefined);
    void queue.enqueue({ signal: middle.signal }).catch(() => undefined);
    void queue.enqueue();
    const nap = track(queue.nap(10_000, (ms, signal) => clock.sleep(ms, signal)));
    middle.abort();
    await flush();
    expect(nap.done()).toBe(false);
    head.abort();
    await flush();
    expect(nap.done()).toBe(true);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('with wakeOnAbort "last" only the abort that empties the queue wakes the server', async () => {
    const clock = new ManualClock();
    const queue = new WaitQueue<void>({ wakeOnAbort: "last" });
    const head = new AbortController();
    const last = new AbortController();
    void queue.enqueue({ signal: head.signal }).catch(() => undefined);
    void queue.enqueue({ signal: last.signal }).catch(() => undefined);
    const nap = track(queue.nap(10_000, (ms, signal) => clock.sleep(ms, signal)));
    head.abort();
    await flush();
    expect([nap.done(), queue.size]).toEqual([false, 1]);
    last.abort();
    await flush();
    expect([nap.done(), queue.size]).toEqual([true, 0]);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("nap ends after its time, or at once on wake(), and never rejects", async () => {
    const clock = new ManualClock();
    const queue = new WaitQueue<void>();
    const sleep = (ms: number, signal: AbortSignal): Promise<void> => clock.sleep(ms, signal);
    const timed = track(queue.nap(100, sleep));
    await clock.advanceAsync(99);
    expect(timed.done()).toBe(false);
    await clock.advanceAsync(1);
    expect(await timed.outcome).toEqual({ ok: true, value: undefined });
    const woken = track(queue.nap(100, sleep));
    queue.wake();
    expect(await woken.outcome).toEqual({ ok: true, value: undefined });
    expect(clock.now()).toBe(100);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("a wake() while nobody naps (the server is asking its store) ends the next nap at once, once", async () => {
    const clock = new ManualClock();
    const queue = new WaitQueue<void>();
    const sleep = (ms: number, signal: AbortSignal): Promise<void> => clock.sleep(ms, signal);
    queue.wake();
    const first = track(queue.nap(10_000, sleep));
    await clock.advanceAsync(0);
    expect(first.done()).toBe(true);
    expect([clock.now(), clock.pendingSleeps]).toEqual([0, 0]);
    const next = track(queue.nap(100, sleep));
    await clock.advanceAsync(99);
    expect(next.done()).toBe(false);
    await clock.advanceAsync(1);
    expect(next.done()).toBe(true);
  });

  it("expire rejects, each with its own reason, the waiters whose deadline (now + maxWaitMs) falls before the head's turn", async () => {
    const queue = new WaitQueue<void>();
    const head = track(queue.enqueue({ now: 0, maxWaitMs: 50 }));
    const patient = track(queue.enqueue({ now: 0 }));
    const late = track(queue.enqueue({ now: 10, cost: 2, maxWaitMs: 100 }));
    const onTime = track(queue.enqueue({ now: 10, maxWaitMs: 200 }));
    expect(queue.first()).toMatchObject({ deadline: 50, maxWaitMs: 50, enqueuedAt: 0 });
    // maxWaitMs is kept as given: deadline - enqueuedAt may round (here 0.20000000000000004).
    const fractional = new WaitQueue<void>();
    void fractional.enqueue({ now: 0.1, maxWaitMs: 0.2 });
    expect(fractional.first()).toMatchObject({ deadline: 0.1 + 0.2, maxWaitMs: 0.2 });
    expect(queue.expire(150, (w) => new Error(`late by ${150 - w.deadline}`))).toBe(2);
    expect(await head.outcome).toEqual({ ok: false, error: new Error("late by 100") });
    expect(await late.outcome).toEqual({ ok: false, error: new Error("late by 40") });
    expect([queue.size, queue.queuedCost]).toEqual([2, 2]);
    expect([patient.done(), onTime.done()]).toEqual([false, false]);
    expect(queue.expire(10_000, () => new Error("never"))).toBe(1);
    expect(patient.done()).toBe(false);
  });

  it("drain rejects every waiter and wakes the server", async () => {
    const clock = new ManualClock();
    const queue = new WaitQueue<void>();
    const waiters = [track(queue.enqueue()), track(queue.enqueue({ cost: 3 }))];
    const nap = track(queue.nap(1000, (ms, signal) => clock.sleep(ms, signal)));
    queue.drain(new Error("closed"));
    expect([queue.size, queue.queuedCost]).toEqual([0, 0]);
    for (const w of waiters) expect(await w.outcome).toEqual({ ok: false, error: new Error("closed") });
    expect(await nap.outcome).toEqual({ ok: true, value: undefined });
    expect(queue.first()).toBeUndefined();
  });

  it("aborts behind a head that never moves do not grow the queue without bound", async () => {
    const queue = new WaitQueue<void>();
    void queue.enqueue();
    for (let i = 0; i < 10_000; i++) {
      const controller = new AbortController();
      const waiting = queue.enqueue({ signal: controller.signal });
      controller.abort();
      await waiting.catch(() => undefined);
    }
    expect(queue.size).toBe(1);
    // The array behind the queue (private): compacted once removed waiters are most of it.
    expect((queue as unknown as { items: unknown[] }).items.length).toBeLessThan(200);
  });

  it("stays FIFO and keeps its counts through any mix of enqueues, aborts, front entries and admissions (property)", async () => {
    type Op = { type: "push"; cost: number; front: boolean } | { type: "abort"; pick: number } | { type: "admit" };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ type: fc.constant("push" as const), cost: fc.integer({ min: 0, max: 9 }), front: fc.boolean() }),
      fc.record({ type: fc.constant("abort" as const), pick: fc.nat() }),
      fc.record({ type: fc.constant("admit" as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 400 }), async (ops) => {
        const queue = new WaitQueue<number>();
        const model: { id: number; cost: number; abort: AbortController }[] = [];
        const served: number[] = [];
        const expected: number[] = [];
        let next = 0;
        for (const o of ops) {
          if (o.type === "push") {
            const entry = { id: next++, cost: o.cost, abort: new AbortController() };
            if (o.front) model.unshift(entry);
            else model.push(entry);
            void queue.enqueue({ cost: o.cost, signal: entry.abort.signal, front: o.front }).then(
              (id) => served.push(id),
              () => undefined,
            );
          } else if (o.type === "abort" && model.length > 0) {
            const [entry] = model.splice(o.pick % model.length, 1);
            entry!.abort.abort();
          } else if (o.type === "admit") {
            const head = queue.first();
            const entry = model.shift();
            expect(head?.cost).toBe(entry?.cost);
            if (head !== undefined && entry !== undefined) {
              queue.admit(head, entry.id);
              expected.push(entry.id);
            }
          }
          expect(queue.size).toBe(model.length);
          expect(queue.queuedCost).toBe(model.reduce((sum, e) => sum + e.cost, 0));
        }
        await flush();
        expect(served).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});
