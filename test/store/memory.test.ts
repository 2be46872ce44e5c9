import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/clock.js";
import { InvalidOptionError } from "../../src/core/errors.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { Decision } from "../../src/store/store.js";

interface Counter {
  n: number;
  until: number;
}

/** A test decision: counts calls; idle once `until` has passed. */
function counter(kind = "counter", evictable = true): Decision<Counter, number, number> {
  return {
    kind,
    params: {},
    evictable,
    init: () => ({ n: 0, until: 0 }),
    step: (s, holdMs, now) => {
      s.n++;
      s.until = now + holdMs;
      return s.n;
    },
    isIdle: (s, now) => now >= s.until,
  };
}

const quiet = { sweepIntervalMs: 0 };

describe("MemoryStore", () => {
  it("keeps one state per key and applies the decision to it in place", () => {
    const store = new MemoryStore(quiet);
    const d = counter();
    expect([store.apply(d, "a", 0, 0), store.apply(d, "a", 0, 0), store.apply(d, "b", 0, 0)]).toEqual([1, 2, 1]);
    expect(store.read(d, "a")).toEqual({ n: 2, until: 0 });
    expect(store.read(d, "missing")).toBeUndefined();
    expect(store.size).toBe(2);
  });

  it("evicts the least recently used keys past maxKeys, a generation of maxKeys / 2 at a time", () => {
    const store = new MemoryStore({ ...quiet, maxKeys: 4 });
    const d = counter();
    for (const key of ["a", "b", "c"]) store.apply(d, key, 1000, 0); // a, b age when c arrives
    store.apply(d, "a", 1000, 0); // used again: young
    store.apply(d, "d", 1000, 0); // c, a age; b, unused since, goes
    expect(["a", "b", "c", "d"].map((k) => store.read(d, k) !== undefined)).toEqual([true, false, true, true]);
    expect(store.read(d, "a")).toEqual({ n: 2, until: 1000 });
    for (let i = 0; i < 20; i++) store.apply(d, `k${i}`, 1000, 0);
    expect(store.size).toBeLessThanOrEqual(4);
    expect(["k18", "k19"].every((k) => store.read(d, k) !== undefined)).toBe(true);
  });

  it("holds at most one key with maxKeys: 1", () => {
    const store = new MemoryStore({ ...quiet, maxKeys: 1 });
    const d = counter();
    for (const key of ["a", "b", "a", "c"]) {
      store.apply(d, key, 1000, 0);
      expect(store.size).toBe(1);
      expect(store.read(d, key)).toBeDefined();
    }
  });

  it("never evicts a key used within the last maxKeys / 2 applies (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 300 }), (maxKeys, uses) => {
        const store = new MemoryStore({ ...quiet, maxKeys });
        const d = counter();
        const recent: number[] = [];
        for (const key of uses) {
          store.apply(d, `k${key}`, 1000, 0);
          recent.push(key);
          if (recent.length > maxKeys >> 1) recent.shift();
          for (const k of recent) expect(store.read(d, `k${k}`)).toBeDefined();
          expect(store.size).toBeLessThanOrEqual(maxKeys);
        }
      }),
    );
  });

  it("sweeps only idle keys, and never pinned (non-evictable) state", () => {
    const store = new MemoryStore(quiet);
    const limiter = counter();
    const breaker = counter("breaker", false);
    store.apply(limiter, "idle-soon", 100, 0);
    store.apply(limiter, "busy", 10_000, 0);
    store.apply(breaker, "breaker:x", 0, 0);
    expect(store.sweep(5_000)).toBe(1);
    expect(store.read(limiter, "idle-soon")).toBeUndefined();
    expect(store.read(limiter, "busy")).toBeDefined();
    expect(store.read(breaker, "breaker:x")).toBeDefined();
  });

  it("never evicts pinned state to make room", () => {
    const store = new MemoryStore({ ...quiet, maxKeys: 1 });
    const breaker = counter("breaker", false);
    store.apply(breaker, "breaker:x", 0, 0);
    for (let i = 0; i < 10; i++) store.apply(counter(), `k${i}`, 0, 0);
    expect(store.read(breaker, "breaker:x")).toEqual({ n: 1, until: 0 });
  });

  it("re-initialises pinned state in place on delete, so a bound handle keeps working", () => {
    const store = new MemoryStore(quiet);
    const breaker = counter("breaker", false);
    const bound = store.bind(breaker, "breaker:x");
    expect([bound.apply(0, 0), bound.apply(0, 0)]).toEqual([1, 2]);
    store.delete("breaker:x");
    expect(bound.apply(0, 0)).toBe(1);
    expect(store.read(breaker, "breaker:x")).toBe(bound.read(0));
  });

  it("binds evictable keys through apply", () => {
    const store = new MemoryStore(quiet);
    const bound = store.bind(counter(), "k");
    expect([bound.apply(0, 0), bound.apply(0, 0)]).toEqual([1, 2]);
    expect(bound.read(0)).toEqual({ n: 2, until: 0 });
  });

  it("starts afresh when a key's state belongs to another kind of decision", () => {
    const store = new MemoryStore(quiet);
    store.apply(counter("a"), "k", 0, 0);
    store.apply(counter("a"), "k", 0, 0);
    expect(store.apply(counter("b"), "k", 0, 0)).toBe(1);
    expect(store.read(counter("a"), "k")).toBeUndefined();
  });

  it("keeps evicting the oldest key correctly across many evictions, sweeps and refreshes", () => {
    const store = new MemoryStore({ ...quiet, maxKeys: 100 });
    const d = counter();
    for (let i = 0; i < 5_000; i++) {
      store.apply(d, `k${i}`, i % 7 === 0 ? 0 : 1_000_000, i);
      store.apply(d, "hot", 1_000_000, i);
      if (i % 1_000 === 999) store.sweep(i);
    }
    expect(store.size).toBeLessThanOrEqual(100);
    expect(store.read(d, "hot")).toBeDefined();
    for (let i = 4_960; i < 5_000; i++) expect(store.read(d, `k${i}`) !== undefined).toBe(i % 7 !== 0);
  });

  it("runs the sweep timer on its own clock, and close() stops it and forgets everything", async () => {
    const clock = new ManualClock(0);
    const store = new MemoryStore({ sweepIntervalMs: 5, clock });
    const d = counter();
    store.apply(d, "k", 100, 0);
    await new Promise((resolve) => setTimeout(resolve, 25));
    expect(store.size).toBe(1);
    clock.advance(100);
    await new Promise((resolve) => setTimeout(resolve, 25));
    expect(store.size).toBe(0);
    store.apply(d, "k", 100, 100);
    await store.close();
    expect(store.size).toBe(0);
  });

  it("rejects bad options", () => {
    expect(() => new MemoryStore({ maxKeys: 0 })).toThrow(InvalidOptionError);
    expect(() => new MemoryStore({ sweepIntervalMs: -1 })).toThrow(InvalidOptionError);
    expect(() => new MemoryStore({ clock: {} as never })).toThrow('option "clock"');
    expect(() => new MemoryStore({ maxkeys: 5 } as never)).toThrow('option "maxkeys"');
  });
});

/** Whatever removes or replaces a key's state, the next apply on it starts afresh. */
describe("MemoryStore: state removed or replaced", () => {
  it("delete() on the hot key: the next apply starts from a fresh state", () => {
    const store = new MemoryStore(quiet);
    const d = counter();
    store.apply(d, "hot", 0, 0);
    store.apply(d, "hot", 0, 0);
    store.delete("hot");
    expect(store.apply(d, "hot", 0, 0)).toBe(1);
  });

  it("a sweep that drops the hot key: the next apply starts afresh and the key is stored again", () => {
    const store = new MemoryStore(quiet);
    const d = counter();
    store.apply(d, "hot", 10, 0);
    expect(store.sweep(100)).toBe(1);
    expect(store.apply(d, "hot", 10, 100)).toBe(1);
    expect(store.read(d, "hot")).toEqual({ n: 1, until: 110 });
  });

  it("the hot key evicted by the maxKeys cap: its next apply is fresh, not the evicted state", () => {
    const store = new MemoryStore({ ...quiet, maxKeys: 2 });
    const d = counter();
    store.apply(d, "a", 1000, 0);
    store.apply(d, "b", 1000, 0);
    store.apply(d, "a", 1000, 0);
    store.apply(d, "c", 1000, 0); // evicts the oldest
    store.apply(d, "d", 1000, 0); // evicts the next
    const held = ["a", "b", "c", "d"].filter((k) => store.read(d, k) !== undefined);
    expect(held).toHaveLength(2);
    for (const k of ["a", "b", "c", "d"]) {
      const before = store.read(d, k)?.n ?? 0;
      expect(store.apply(d, k, 1000, 0)).toBe(before + 1);
    }
  });

  it("another decision on the hot key replaces the state; the first decision then starts afresh too", () => {
    const store = new MemoryStore(quiet);
    const first = counter("first");
    const second = counter("second");
    store.apply(first, "k", 0, 0);
    store.apply(first, "k", 0, 0);
    expect(store.apply(second, "k", 0, 0)).toBe(1);
    expect(store.apply(first, "k", 0, 0)).toBe(1);
  });

  it("answers as a plain map of states would, whatever the order of applies, deletes and sweeps (property)", () => {
    const key = fc.constantFrom("a", "b", "c");
    const op = fc.oneof(
      fc.record({ op: fc.constant("apply" as const), key, kind: fc.constantFrom("x" as const, "y" as const) }),
      fc.record({ op: fc.constant("delete" as const), key }),
      fc.record({ op: fc.constant("sweep" as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const store = new MemoryStore(quiet);
        const decisions = { x: counter("x"), y: counter("y") };
        const model = new Map<string, { kind: string; n: number; until: number }>();
        let now = 0;
        for (const o of ops) {
          now++;
          if (o.op === "apply") {
            const held = model.get(o.key);
            const n = held !== undefined && held.kind === o.kind ? held.n + 1 : 1;
            model.set(o.key, { kind: o.kind, n, until: now + 2 });
            expect(store.apply(decisions[o.kind], o.key, 2, now)).toBe(n);
          } else if (o.op === "delete") {
            store.delete(o.key);
            model.delete(o.key);
          } else {
            store.sweep(now);
            for (const [k, held] of model) if (now >= held.until) model.delete(k);
          }
        }
        expect(store.size).toBe(model.size);
      }),
    );
  });

  it("a custom decision whose init throws leaves the store as it was", () => {
    const store = new MemoryStore({ ...quiet, maxKeys: 1 });
    const d = counter();
    const failing: Decision<Counter, number, number> = {
      ...counter(),
      init: () => {
        throw new Error("init failed");
      },
    };
    store.apply(d, "a", 1000, 0);
    store.apply(d, "a", 1000, 0);
    expect(() => store.apply(failing, "b", 1000, 0)).toThrow("init failed");
    expect(store.apply(d, "a", 1000, 0)).toBe(3);
    expect(store.read(d, "a")).toEqual({ n: 3, until: 1000 });
    expect(store.size).toBe(1);
  });

  it("a sweep whose isIdle throws: the keys it dropped start afresh", () => {
    const store = new MemoryStore(quiet);
    let calls = 0;
    const d: Decision<Counter, number, number> = {
      ...counter(),
      isIdle: () => {
        if (++calls === 2) throw new Error("isIdle failed");
        return true;
      },
    };
    store.apply(d, "a", 0, 0);
    store.apply(d, "b", 0, 0);
    store.apply(d, "a", 0, 0);
    store.apply(d, "a", 0, 0);
    expect(() => store.sweep(1)).toThrow("isIdle failed");
    const held = store.read(d, "a");
    expect(store.apply(d, "a", 0, 1)).toBe(held === undefined ? 1 : held.n + 1);
  });

  it("close() forgets the hot key", async () => {
    const store = new MemoryStore(quiet);
    const d = counter();
    store.apply(d, "hot", 0, 0);
    await store.close();
    expect(store.apply(d, "hot", 0, 0)).toBe(1);
  });

  it("a pinned (breaker) key sharing a name with a limiter key: delete re-initialises it in place", () => {
    const store = new MemoryStore(quiet);
    const limiter = counter("limiter");
    const breaker = counter("breaker", false);
    store.apply(limiter, "x", 0, 0);
    store.apply(breaker, "x", 0, 0);
    store.apply(breaker, "x", 0, 0);
    store.delete("x");
    expect(store.apply(breaker, "x", 0, 0)).toBe(1);
    expect(store.apply(limiter, "x", 0, 0)).toBe(1);
  });
});
