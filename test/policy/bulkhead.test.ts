import { describe, expect, it } from "vitest";
import { BulkheadRejectedError } from "../../src/core/errors.js";
import { bulkhead, type BulkheadPolicy } from "../../src/policy/index.js";
import { type BadInput, refusesBadInput } from "./invalid.js";
import { rejection, tick, track, type Tracked } from "./settle.js";

/** Jobs that run until released by hand, recording the order in which they started. */
function gate() {
  const started: string[] = [];
  const releases = new Map<string, (ok: boolean) => void>();
  const job = (name: string) => (): Promise<string> => {
    started.push(name);
    return new Promise<string>((resolve, reject) => releases.set(name, (ok) => (ok ? resolve(name) : reject(new Error(name)))));
  };
  const finish = async (name: string, ok = true): Promise<void> => {
    releases.get(name)?.(ok);
    await tick();
  };
  return { started, job, finish };
}

function submit(policy: BulkheadPolicy, g: ReturnType<typeof gate>, names: readonly string[], signal?: AbortSignal): Tracked<string>[] {
  return names.map((name) => track(policy.execute(g.job(name), { signal })));
}

describe("bulkhead", () => {
  it("runs at most maxConcurrent at once; the rest wait in FIFO order", async () => {
    const policy = bulkhead({ maxConcurrent: 2, maxQueue: 3 });
    const g = gate();
    const calls = submit(policy, g, ["a", "b", "c", "d", "e"]);
    await tick();
    expect(g.started).toEqual(["a", "b"]);
    expect([policy.running, policy.queued]).toEqual([2, 3]);
    await g.finish("b");
    expect(g.started).toEqual(["a", "b", "c"]);
    await g.finish("a");
    await g.finish("c");
    expect(g.started).toEqual(["a", "b", "c", "d", "e"]);
    await g.finish("d");
    await g.finish("e");
    expect(await Promise.all(calls.map((c) => c.outcome))).toEqual(["a", "b", "c", "d", "e"].map((value) => ({ ok: true, value })));
    expect([policy.running, policy.queued]).toEqual([0, 0]);
  });

  it("rejects beyond the queue with BulkheadRejectedError(running, queued) and emits `rejected`", async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const events: unknown[] = [];
    policy.on("rejected", (e) => events.push(e));
    const g = gate();
    submit(policy, g, ["a", "b"]);
    const error = (await rejection(policy.execute(g.job("c")))) as BulkheadRejectedError;
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect([error.running, error.queued]).toEqual([1, 1]);
    expect(events).toEqual([{ running: 1, queued: 1 }]);
    expect(g.started).toEqual(["a"]);
  });

  it("maxQueue defaults to 0: no waiting at all", async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    const g = gate();
    submit(policy, g, ["a"]);
    expect(await rejection(policy.execute(g.job("b")))).toBeInstanceOf(BulkheadRejectedError);
  });

  it("a failing call frees its slot too (async rejection and sync throw)", async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    const g = gate();
    const [a] = submit(policy, g, ["a"]);
    const sync = track(
      policy.execute(() => {
        throw new Error("sync");
      }),
    );
    const [c] = submit(policy, g, ["c"]);
    await g.finish("a", false);
    expect(((await rejection(a as Tracked<string>)) as Error).message).toBe("a");
    expect(((await rejection(sync)) as Error).message).toBe("sync");
    await tick();
    expect(g.started).toEqual(["a", "c"]);
    await g.finish("c");
    expect(await c?.outcome).toEqual({ ok: true, value: "c" });
    expect(policy.running).toBe(0);
  });

  it("a queued call whose signal aborts leaves the queue at once with the reason; the others keep their turn", async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 3 });
    const g = gate();
    const controller = new AbortController();
    submit(policy, g, ["a"]);
    const [b] = submit(policy, g, ["b"]);
    const [c] = submit(policy, g, ["c"], controller.signal);
    const [d] = submit(policy, g, ["d"]);
    expect(policy.queued).toBe(3);
    const reason = new Error("client gone");
    controller.abort(reason);
    await tick();
    expect(c?.done()).toBe(true);
    expect(await rejection(c as Tracked<string>)).toBe(reason);
    expect(policy.queued).toBe(2);
    await g.finish("a");
    await g.finish("b");
    await g.finish("d");
    expect(g.started).toEqual(["a", "b", "d"]);
    expect((await b?.outcome)?.ok).toBe(true);
    expect((await d?.outcome)?.ok).toBe(true);
  });

  it("an aborted signal never takes a slot or a queue place", async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    let ran = false;
    expect(((await rejection(policy.execute(() => (ran = true), { signal: AbortSignal.abort(new Error("x")) }))) as Error).message).toBe(
      "x",
    );
    expect([ran, policy.running]).toEqual([false, 0]);
  });

  it("a freed slot goes to the first waiter, not to a newcomer, whenever the newcomer arrives", async () => {
    for (let depth = 0; depth < 8; depth++) {
      const policy = bulkhead({ maxConcurrent: 1, maxQueue: 2 });
      const g = gate();
      submit(policy, g, ["a", "b"]);
      await tick();
      void g.finish("a");
      // The newcomer arrives `depth` microtasks after a's release: during the hand-off to b.
      for (let i = 0; i < depth; i++) await Promise.resolve();
      const [c] = submit(policy, g, ["c"]);
      expect(policy.running).toBe(1);
      await tick();
      expect(g.started).toEqual(["a", "b"]);
      await g.finish("b");
      expect(g.started).toEqual(["a", "b", "c"]);
      await g.finish("c");
      expect((await c?.outcome)?.ok).toBe(true);
    }
  });

  it("a waiter admitted after its signal aborted releases the slot and rejects", async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 2 });
    const g = gate();
    const controller = new AbortController();
    submit(policy, g, ["a"]);
    const [b] = submit(policy, g, ["b"], controller.signal);
    const [c] = submit(policy, g, ["c"]);
    g.finish("a");
    controller.abort(new Error("late abort"));
    await tick();
    expect(((await rejection(b as Tracked<string>)) as Error).message).toBe("late abort");
    expect(g.started).toEqual(["a", "c"]);
    await g.finish("c");
    expect((await c?.outcome)?.ok).toBe(true);
    expect(policy.running).toBe(0);
  });

  it("passes { signal, attempt } to the callee", async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    const signal = new AbortController().signal;
    const seen = await policy.execute((ctx) => ctx, { signal, attempt: 3 });
    expect(seen).toEqual({ signal, attempt: 3 });
  });
});

describe("bulkhead: bad input", () => {
  const bad: BadInput[] = [
    ["no options", () => bulkhead(undefined as never), "maxConcurrent"],
    ["maxConcurrent missing", () => bulkhead({} as never), "maxConcurrent"],
    ["maxConcurrent 0", () => bulkhead({ maxConcurrent: 0 }), "maxConcurrent"],
    ["maxConcurrent fractional", () => bulkhead({ maxConcurrent: 1.5 }), "maxConcurrent"],
    ["maxQueue negative", () => bulkhead({ maxConcurrent: 1, maxQueue: -1 }), "maxQueue"],
    ["maxQueue Infinity", () => bulkhead({ maxConcurrent: 1, maxQueue: Infinity }), "maxQueue"],
    ["unknown key", () => bulkhead({ maxConcurrent: 1, queue: 5 } as never), "queue"],
  ];
  refusesBadInput(/^bulkhead\(\): /, bad);
});
