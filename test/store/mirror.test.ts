import { describe, expect, it } from "vitest";
import {
  type BreakerEvents,
  CircuitBreaker,
  consecutiveFailures,
  type Decision,
  InvalidOptionError,
  ManualClock,
  MemoryStore,
  type MirroredState,
  type MirrorListener,
  type Store,
} from "../../src/index.js";
import type { BoundState } from "../../src/store/store.js";

interface Counter {
  n: number;
}

function counter(evictable: boolean): Decision<Counter, number, number> {
  return {
    kind: "counter",
    params: {},
    evictable,
    init: () => ({ n: 0 }),
    step: (s, by) => (s.n += by),
    isIdle: (s) => s.n === 0,
  };
}

const boom = (): never => {
  throw new Error("boom");
};

describe("MemoryStore.mirror: the state itself, held", () => {
  it("reads, applies and sends at once on the pinned state, which store.read sees", async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const decision = counter(false);
    const held = store.mirror(decision, "k");
    expect(held).toMatchObject({ exclusive: true, offset: 0, processId: null });
    expect(held.apply(2, 0)).toBe(2);
    expect(held.send(3, 0)).toBe(5);
    expect(held.read()).toBe(store.read(decision, "k"));
    expect(held.fleet()).toBe(held.read());
    expect(held.own()).toBeUndefined();
    await expect(held.flush()).resolves.toBeUndefined();
    // Nothing is learnt later in process: the listener is never called.
    const heard: unknown[] = [];
    held.attach(new ManualClock(), (output) => heard.push(output))();
    held.send(1, 0);
    expect(heard).toEqual([]);
    store.delete("k");
    expect(held.read()).toEqual({ n: 0 });
  });

  it("refuses a decision whose state may be evicted", () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    expect(() => store.mirror(counter(true), "k")).toThrow(InvalidOptionError);
    expect(() => store.mirror(counter(true), "k")).toThrow(/"decision" must be a decision whose state is never evicted/);
  });
});

/**
 * A shared store in miniature: the state lives in a MemoryStore standing for the server, and
 * its mirror is a copy: sent inputs are applied in order a few microtasks later and what they
 * cause is heard by the listener, as a shared store's are.
 */
class SlowSharedStore implements Store {
  readonly name = "slow-shared";
  readonly synchronous = false;
  readonly server = new MemoryStore({ sweepIntervalMs: 0 });
  flushes = 0;

  apply<S, I, O>(decision: Decision<S, I, O>, key: string, input: I, now: number): Promise<O> {
    return Promise.resolve(this.server.apply(decision, key, input, now));
  }

  bind<S, I, O>(decision: Decision<S, I, O>, key: string): BoundState<S, I, O> {
    return { apply: (input, now) => this.apply(decision, key, input, now), read: () => this.read(decision, key) };
  }

  read<S>(decision: Decision<S, unknown, unknown>, key: string): Promise<S | undefined> {
    return Promise.resolve(this.server.read(decision, key));
  }

  delete(key: string): void {
    this.server.delete(key);
  }

  async close(): Promise<void> {
    await this.server.close();
  }

  mirror<S, I, O>(decision: Decision<S, I, O>, key: string): MirroredState<S, I, O> {
    const server = this.server.mirror(decision, key);
    let copy = structuredClone(server.read());
    let listener: MirrorListener<O> | undefined;
    let pending = Promise.resolve();
    return {
      exclusive: false,
      offset: 0,
      processId: "p1",
      read: () => copy,
      fleet: () => copy,
      own: () => undefined,
      apply(input, now) {
        return (pending = pending.then(() => undefined)).then(() => server.apply(input, now));
      },
      send(input, now) {
        pending = pending.then(() => {
          const output = server.apply(input, now);
          copy = structuredClone(server.read());
          if (output !== undefined && output !== null) listener?.(output as NonNullable<O>, "local", "fleet");
        });
        return undefined;
      },
      flush: () => {
        this.flushes++;
        return (pending = pending.then(() => {
          copy = structuredClone(server.read());
        }));
      },
      attach(_clock, l) {
        listener = l;
        return () => (listener = undefined);
      },
    };
  }
}

describe("CircuitBreaker on a store's mirror: one interface, whatever the store", () => {
  it("a shared store's breaker waits for its first flush, sends outcomes and hears its transitions from the mirror", async () => {
    const store = new SlowSharedStore();
    const events: string[] = [];
    const b = new CircuitBreaker({ name: "s", store, trip: consecutiveFailures(2), recovery: 60_000, clock: new ManualClock() });
    const on = (e: keyof BreakerEvents) => b.on(e, () => events.push(e));
    (["success", "failure", "stateChange"] as const).forEach(on);
    expect(store.flushes).toBe(1);
    expect(await b.execute(() => 1)).toBe(1);
    await b.execute(boom).catch(() => undefined);
    await b.execute(boom).catch(() => undefined);
    await b.flush();
    expect(b.state).toBe("open");
    expect(events).toEqual(["success", "failure", "failure", "stateChange"]);
    await expect(b.execute(() => 2)).rejects.toMatchObject({ name: "CircuitOpenError", retryAfterMs: 60_000 });
  });

  it("refuses an asynchronous store that offers no mirror, and takes a synchronous one through bind", async () => {
    const noMirror = withoutMirror("no-mirror", new SlowSharedStore());
    expect(() => new CircuitBreaker({ store: noMirror })).toThrow(InvalidOptionError);
    expect(() => new CircuitBreaker({ store: noMirror })).toThrow(/a synchronous store, or one that offers mirror\(\)/);

    const syncOnly = withoutMirror("sync-only", new MemoryStore({ sweepIntervalMs: 0 }));
    const b = new CircuitBreaker({ store: syncOnly, trip: consecutiveFailures(1), clock: new ManualClock() });
    await b.execute(boom).catch(() => undefined);
    expect(b.state).toBe("open");
    expect(b.status()).toMatchObject({ state: "open", store: "sync-only", fleet: null });
  });
});

/** `store` as a store named `name` that offers no `mirror`. */
function withoutMirror(name: string, store: Store): Store {
  return {
    name,
    synchronous: store.synchronous,
    apply: (d, k, i, n) => store.apply(d, k, i, n),
    bind: (d, k) => store.bind(d, k),
    read: (d, k, n) => store.read(d, k, n),
    delete: (k) => store.delete(k),
    close: () => store.close(),
  };
}
