/**
 * Ported from p-limit test.js (sindresorhus/p-limit) and p-queue test/basic.ts,
 * test/advanced.ts, test/rate-limit.ts (sindresorhus/p-queue). Their API maps to Breakwater as:
 * pLimit(n) / new PQueue({ concurrency: n }) -> bulkhead({ maxConcurrent: n, maxQueue });
 * limit(fn) / queue.add(fn, { signal }) -> bulkhead.execute(fn, { signal });
 * activeCount / pending -> running; pendingCount / size -> queued;
 * p-queue's { interval, intervalCap } -> FixedWindow({ limit: intervalCap, windowMs: interval })
 * (or TokenBucket({ limit, windowMs })) in front of the bulkhead with pipeline(...);
 * p-queue's { timeout } -> timeout(ms) inside the bulkhead (it times the run, not the wait).
 * Every delay is a ManualClock sleep. Each case keeps the peer's assertion, translated, except
 * where Breakwater deliberately differs: there it asserts Breakwater's behaviour and a comment
 * names the peer's assertion and the doc that states (or should state) the difference.
 *
 * No equivalent in Breakwater (not ported): priority / setPriority / sizeBy, pause / start /
 * autoStart / isPaused, clear() / clearQueue(), changing concurrency at run time,
 * onEmpty / onIdle / onSizeLessThan / onPendingZero / onError / onRateLimit(Cleared),
 * add / active / next / completed / error / idle / empty / rateLimit events, addAll,
 * limitFunction, extra arguments passed to fn, carryoverIntervalCount: true, task ids,
 * per-call timeout override on a shared queue (make a second timeout policy instead).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import {
  BulkheadRejectedError,
  FixedWindow,
  InvalidOptionError,
  SlidingWindow,
  ManualClock,
  TimeoutError,
  TokenBucket,
  bulkhead,
  pipeline,
  timeout,
} from "../../src/index.js";
import { deferred, drive, flush, lcg, manualStore } from "./helpers.js";

const BIG = 1_000_000;

/** Resolves `value` after `ms` on `clock`. */
function later<T>(clock: ManualClock, ms: number, value: T): Promise<T> {
  return clock.sleep(ms).then(() => value);
}

describe("p-limit test.js", () => {
  it("concurrency: 1 — values in order, 600 ms in all", async () => {
    const clock = new ManualClock();
    const limit = bulkhead({ maxConcurrent: 1, maxQueue: BIG });
    const input: Array<[number, number]> = [
      [10, 300],
      [20, 200],
      [30, 100],
    ];
    const all = Promise.all(input.map(([value, ms]) => limit.execute(() => later(clock, ms, value))));
    expect(await drive(clock, all, 10)).toEqual([10, 20, 30]);
    expect(clock.now()).toBe(600);
  });

  it("concurrency: 4 (5) — never more than 5 running over 100 calls", async () => {
    const clock = new ManualClock();
    const concurrency = 5;
    const limit = bulkhead({ maxConcurrent: concurrency, maxQueue: BIG });
    const rnd = lcg(7);
    let running = 0;
    let max = 0;
    const input = Array.from({ length: 100 }, () =>
      limit.execute(async () => {
        running++;
        max = Math.max(max, running);
        expect(running).toBeLessThanOrEqual(concurrency);
        expect(limit.running).toBeLessThanOrEqual(concurrency);
        await clock.sleep(30 + Math.floor(rnd() * 170));
        running--;
      }),
    );
    await drive(clock, Promise.all(input), 5);
    expect(max).toBe(concurrency);
    expect(limit.running).toBe(0);
    expect(limit.queued).toBe(0);
  });

  it("propagates async execution context properly (AsyncLocalStorage)", async () => {
    const limit = bulkhead({ maxConcurrent: 2, maxQueue: BIG });
    const store = new AsyncLocalStorage<{ id: number }>();
    const seen: Array<[number, number | undefined]> = [];
    const checkId = async (id: number): Promise<void> => {
      await Promise.resolve();
      seen.push([id, store.getStore()?.id]);
    };
    await Promise.all(Array.from({ length: 100 }, (_, id) => store.run({ id }, () => limit.execute(() => checkId(id)))));
    expect(seen).toHaveLength(100);
    for (const [id, stored] of seen) expect(stored).toBe(id);
  });

  it("non-promise returning function", async () => {
    const limit = bulkhead({ maxConcurrent: 1 });
    await expect(limit.execute(() => null)).resolves.toBeNull();
  });

  it("continues after sync throw", async () => {
    const limit = bulkhead({ maxConcurrent: 1, maxQueue: 10 });
    let ran = false;
    const promises = [
      limit.execute(() => {
        throw new Error("err");
      }),
      limit.execute(() => {
        ran = true;
      }),
    ];
    await Promise.all(promises).catch(() => {});
    await flush();
    expect(ran).toBe(true);
    expect(limit.running).toBe(0);
  });

  it("a synchronous throw rejects the returned promise; execute itself does not throw", () => {
    const limit = bulkhead({ maxConcurrent: 1 });
    let p: Promise<unknown> | undefined;
    expect(() => {
      p = limit.execute(() => {
        throw new Error("sync");
      });
    }).not.toThrow();
    return expect(p).rejects.toThrow("sync");
  });

  it("does not ignore errors", async () => {
    const clock = new ManualClock();
    const limit = bulkhead({ maxConcurrent: 1, maxQueue: 10 });
    const error = new Error("🦄");
    const promises = [
      limit.execute(() => clock.sleep(30)),
      limit.execute(async () => {
        await clock.sleep(80);
        throw error;
      }),
      limit.execute(() => clock.sleep(50)),
    ];
    const all = Promise.all(promises);
    all.catch(() => {});
    await clock.advanceAsync(200);
    await expect(all).rejects.toBe(error);
    // The third call still ran after the error (the queue is not blocked).
    await expect(promises[2]).resolves.toBeUndefined();
    expect(clock.now()).toBe(200);
  });

  it("activeCount and pendingCount properties (running / queued)", async () => {
    const clock = new ManualClock();
    const limit = bulkhead({ maxConcurrent: 5, maxQueue: BIG });
    expect(limit.running).toBe(0);
    expect(limit.queued).toBe(0);

    const runningPromise1 = limit.execute(() => clock.sleep(1000));
    // p-limit: activeCount 0, pendingCount 1 until a microtask passes (it starts the call
    // asynchronously). Breakwater starts a call with a free slot at once, synchronously:
    // running is 1 straight away: docs/bulkhead.md.
    expect(limit.running).toBe(1);
    expect(limit.queued).toBe(0);

    await Promise.resolve();
    expect(limit.running).toBe(1);
    expect(limit.queued).toBe(0);

    await drive(clock, runningPromise1);
    expect(limit.running).toBe(0);
    expect(limit.queued).toBe(0);

    const immediatePromises = Array.from({ length: 5 }, () => limit.execute(() => clock.sleep(1000)));
    const delayedPromises = Array.from({ length: 3 }, () => limit.execute(() => clock.sleep(1000)));
    await Promise.resolve();
    expect(limit.running).toBe(5);
    expect(limit.queued).toBe(3);

    await drive(clock, Promise.all(immediatePromises));
    expect(limit.running).toBe(3);
    expect(limit.queued).toBe(0);

    await drive(clock, Promise.all(delayedPromises));
    expect(limit.running).toBe(0);
    expect(limit.queued).toBe(0);
  });

  it("throws on invalid concurrency argument (0, -1, 1.2, undefined, true)", () => {
    for (const bad of [0, -1, 1.2, undefined, true]) {
      expect(() => bulkhead({ maxConcurrent: bad as unknown as number })).toThrow(InvalidOptionError);
    }
  });
});

describe("p-queue test/basic.ts", () => {
  it(".add() — running at once, result passed through", async () => {
    const queue = bulkhead({ maxConcurrent: BIG, maxQueue: BIG });
    const fixture = Symbol("fixture");
    const promise = queue.execute(async () => fixture);
    expect(queue.queued).toBe(0);
    expect(queue.running).toBe(1);
    expect(await promise).toBe(fixture);
  });

  it(".add() - limited concurrency: size 1, pending 2", async () => {
    const clock = new ManualClock();
    const queue = bulkhead({ maxConcurrent: 2, maxQueue: BIG });
    const fixture = Symbol("fixture");
    const promise = queue.execute(async () => fixture);
    const promise2 = queue.execute(() => later(clock, 100, fixture));
    const promise3 = queue.execute(async () => fixture);
    expect(queue.queued).toBe(1);
    expect(queue.running).toBe(2);
    expect(await promise).toBe(fixture);
    expect(await promise3).toBe(fixture);
    expect(await drive(clock, promise2)).toBe(fixture);
  });

  it(".add() - concurrency: 1 — in order, 600 ms", async () => {
    const clock = new ManualClock();
    const queue = bulkhead({ maxConcurrent: 1, maxQueue: BIG });
    const input: Array<[number, number]> = [
      [10, 300],
      [20, 200],
      [30, 100],
    ];
    const all = Promise.all(input.map(([value, ms]) => queue.execute(() => later(clock, ms, value))));
    expect(await drive(clock, all, 10)).toEqual([10, 20, 30]);
    expect(clock.now()).toBe(600);
  });

  it("FIFO: a queued call starts in arrival order, and a newcomer never takes a freed slot first", async () => {
    const queue = bulkhead({ maxConcurrent: 1, maxQueue: BIG });
    const order: number[] = [];
    const gate = deferred();
    const first = queue.execute(async () => {
      await gate.promise;
      order.push(0);
    });
    const rest = [1, 2, 3, 4].map((i) => queue.execute(() => void order.push(i)));
    gate.resolve();
    // A newcomer arriving in the same turn as the slot frees goes behind the queue.
    const late = first.then(() => queue.execute(() => void order.push(99)));
    await Promise.all([first, ...rest, late]);
    expect(order).toEqual([0, 1, 2, 3, 4, 99]);
  });

  it("maxQueue: a full queue rejects the newcomer at once with BulkheadRejectedError", async () => {
    const queue = bulkhead({ maxConcurrent: 1, maxQueue: 2 });
    const gate = deferred();
    const calls = [0, 1, 2].map(() => queue.execute(() => gate.promise));
    const rejected: unknown[] = [];
    queue.on("rejected", (e) => rejected.push(e));
    const fourth = queue.execute(() => "never");
    await expect(fourth).rejects.toBeInstanceOf(BulkheadRejectedError);
    expect(rejected).toEqual([{ running: 1, queued: 2 }]);
    gate.resolve();
    await Promise.all(calls);
    expect(queue.running).toBe(0);
  });

  it(".add() sync/async mixed tasks", async () => {
    const clock = new ManualClock();
    const queue = bulkhead({ maxConcurrent: 1, maxQueue: BIG });
    const fixture = Symbol("fixture");
    const ps = [
      queue.execute(() => "sync 1"),
      queue.execute(() => clock.sleep(1000)),
      queue.execute(() => "sync 2"),
      queue.execute(() => fixture),
    ];
    // p-queue: size 3, pending 1. The first call ran synchronously and finished, but its
    // slot is handed on only when its (async) run settles: still running 1, queued 3.
    expect(queue.queued).toBe(3);
    expect(queue.running).toBe(1);
    expect(await drive(clock, Promise.all(ps), 10)).toEqual(["sync 1", undefined, "sync 2", fixture]);
    expect(queue.queued).toBe(0);
    expect(queue.running).toBe(0);
  });

  it(".add() - handle task throwing error", async () => {
    const queue = bulkhead({ maxConcurrent: 1, maxQueue: BIG });
    const task1 = queue.execute(() => "sync 1");
    const task2 = queue.execute(() => {
      throw new Error("broken");
    });
    const task3 = queue.execute(() => "sync 2");
    await expect(task1).resolves.toBe("sync 1");
    await expect(task2).rejects.toThrow("broken");
    await expect(task3).resolves.toBe("sync 2");
    expect(queue.running).toBe(0);
  });

  it(".add() - handle task promise failure", async () => {
    const queue = bulkhead({ maxConcurrent: 1, maxQueue: BIG });
    await expect(
      queue.execute(async () => {
        throw new Error("broken");
      }),
    ).rejects.toThrow("broken");
    const next = queue.execute(() => "task #1");
    expect(queue.running).toBe(1);
    await next;
    expect(queue.running).toBe(0);
  });

  it("enforce number in options.concurrency: 0 and undefined refused, 1 and 10 accepted", () => {
    expect(() => bulkhead({ maxConcurrent: 0 })).toThrow(InvalidOptionError);
    expect(() => bulkhead({ maxConcurrent: undefined as unknown as number })).toThrow(InvalidOptionError);
    expect(() => bulkhead({ maxConcurrent: 1 })).not.toThrow();
    expect(() => bulkhead({ maxConcurrent: 10 })).not.toThrow();
  });

  it("enforce number in options.concurrency: Infinity", () => {
    // p-queue accepts concurrency: Infinity (no limit). Breakwater's maxConcurrent is "an
    // integer >= 1" (src/policy/bulkhead.ts:11, BulkheadOptions.maxConcurrent), so Infinity is
    // refused; use Number.MAX_SAFE_INTEGER, or leave the bulkhead out (docs/bulkhead.md).
    expect(() => bulkhead({ maxConcurrent: Infinity })).toThrow(InvalidOptionError);
    expect(() => bulkhead({ maxConcurrent: 1, maxQueue: Infinity })).toThrow(InvalidOptionError);
    expect(() => bulkhead({ maxConcurrent: Number.MAX_SAFE_INTEGER, maxQueue: Number.MAX_SAFE_INTEGER })).not.toThrow();
  });

  it(".add() - timeout always throws (timeout inside the bulkhead)", async () => {
    const clock = new ManualClock();
    const queue = pipeline(bulkhead({ maxConcurrent: BIG, maxQueue: BIG }), timeout(300, { clock, graceMs: 0 }));
    const slow = queue.execute(({ signal }) => clock.sleep(400, signal).then(() => "🐌"));
    await expect(drive(clock, slow)).rejects.toBeInstanceOf(TimeoutError);
    await expect(
      drive(
        clock,
        queue.execute(() => later(clock, 200, "🦆")),
      ),
    ).resolves.toBe("🦆");
  });

  it("the timeout counts the run, not the wait in the queue (p-queue's timeout starts when the task starts)", async () => {
    const clock = new ManualClock();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: BIG });
    const queue = pipeline(b, timeout(300, { clock, graceMs: 0 }));
    const a = queue.execute(({ signal }) => clock.sleep(250, signal).then(() => "a"));
    const c = queue.execute(({ signal }) => clock.sleep(250, signal).then(() => "c"));
    expect(await drive(clock, Promise.all([a, c]))).toEqual(["a", "c"]);
    expect(clock.now()).toBe(500);
  });
});

describe("p-queue test/advanced.ts — abort", () => {
  it("should skip an aborted job (aborted before add)", async () => {
    const queue = bulkhead({ maxConcurrent: 1 });
    const controller = new AbortController();
    controller.abort();
    let ran = false;
    await expect(queue.execute(() => void (ran = true), { signal: controller.signal })).rejects.toMatchObject({ name: "AbortError" });
    expect(ran).toBe(false);
    expect(queue.running).toBe(0);
  });

  it("should pass AbortSignal instance to job", async () => {
    const queue = bulkhead({ maxConcurrent: 1 });
    const controller = new AbortController();
    await queue.execute(
      ({ signal }) => {
        expect(signal).toBe(controller.signal);
      },
      { signal: controller.signal },
    );
  });

  it("aborting a queued job rejects it with the signal's reason and frees its place", async () => {
    const queue = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const gate = deferred();
    const running = queue.execute(() => gate.promise);
    const controller = new AbortController();
    let ran = false;
    const queued = queue.execute(() => void (ran = true), { signal: controller.signal });
    expect(queue.queued).toBe(1);
    const reason = new Error("stop");
    controller.abort(reason);
    await expect(queued).rejects.toBe(reason);
    expect(queue.queued).toBe(0);
    // Its place is free again: a newcomer can queue.
    const next = queue.execute(() => "next");
    gate.resolve();
    await running;
    await expect(next).resolves.toBe("next");
    expect(ran).toBe(false);
  });

  it("aborting multiple jobs at the same time — queued ones reject; the running one is the callee's to stop", async () => {
    const clock = new ManualClock();
    const queue = bulkhead({ maxConcurrent: 1, maxQueue: BIG });
    const controller1 = new AbortController();
    const controller2 = new AbortController();
    // Unlike p-queue's `new Promise(() => {})`, the running task honours its signal: Breakwater
    // hands it the signal and waits for it to settle (see the next case).
    const task1 = queue.execute(({ signal }) => clock.sleep(1e9, signal), { signal: controller1.signal });
    const task2 = queue.execute(() => new Promise(() => {}), { signal: controller2.signal });
    controller1.abort();
    controller2.abort();
    await expect(task1).rejects.toMatchObject({ name: "AbortError" });
    await expect(task2).rejects.toMatchObject({ name: "AbortError" });
    expect(queue.queued).toBe(0);
    expect(queue.running).toBe(0);
  });

  it("aborting a running job: p-queue rejects at once; Breakwater waits for the callee", async () => {
    // p-queue races a running task against its signal: add() rejects on abort even when the
    // task ignores the signal (and frees the slot). Breakwater's bulkhead aborts only waiters
    // (docs/bulkhead.md:6-7: "a waiter whose signal aborts leaves the queue at once"); a running
    // call keeps its slot until fn settles, so concurrency is never exceeded by abandoned work.
    // docs/bulkhead.md says so for running calls too.
    const queue = bulkhead({ maxConcurrent: 1, maxQueue: BIG });
    const controller = new AbortController();
    const gate = deferred<string>();
    const task = queue.execute(() => gate.promise, { signal: controller.signal });
    let settled = false;
    task.then(
      () => (settled = true),
      () => (settled = true),
    );
    controller.abort();
    await flush();
    expect(settled).toBe(false);
    expect(queue.running).toBe(1);
    gate.resolve("done");
    await expect(task).resolves.toBe("done");
    expect(queue.running).toBe(0);
  });

  it("abort listener is removed when job is completed (running and queued jobs)", async () => {
    const clock = new ManualClock();
    const queue = bulkhead({ maxConcurrent: 1, maxQueue: BIG });
    let listenerCount = 0;
    const controller = new AbortController();
    const signal = controller.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<typeof add>) => {
      if (args[0] === "abort") listenerCount++;
      add(...args);
    }) as typeof signal.addEventListener;
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      if (args[0] === "abort") listenerCount--;
      remove(...args);
    }) as typeof signal.removeEventListener;
    for (let i = 0; i < 5; i++) {
      await drive(
        clock,
        queue.execute(() => clock.sleep(10), { signal }),
      );
      expect(listenerCount).toBe(0);
    }
    // Queued jobs too.
    const ps = Array.from({ length: 5 }, () => queue.execute(() => clock.sleep(10), { signal }));
    await drive(clock, Promise.all(ps));
    expect(listenerCount).toBe(0);
    expect(queue.queued).toBe(0);
    expect(queue.running).toBe(0);
  });

  it("pending promises with abortions counted fast enough", async () => {
    const clock = new ManualClock();
    const queue = bulkhead({ maxConcurrent: 2, maxQueue: BIG });
    const controller = new AbortController();
    let hasThirdRun = false;
    const a = queue.execute(() => clock.sleep(1000));
    const b = queue.execute(() => clock.sleep(1000));
    const abortedPromise = queue.execute(() => clock.sleep(1000), { signal: controller.signal });
    abortedPromise.catch(() => {});
    const third = queue.execute(() => void (hasThirdRun = true));
    controller.abort();
    await clock.advanceAsync(100);
    expect(hasThirdRun).toBe(false);
    await expect(abortedPromise).rejects.toMatchObject({ name: "AbortError" });
    await clock.advanceAsync(1000);
    expect(hasThirdRun).toBe(true);
    await Promise.all([a, b, third]);
  });

  it("a queued job aborted as the running job finishes does not run, and the slot goes to the next", async () => {
    const queue = bulkhead({ maxConcurrent: 1, maxQueue: BIG });
    const controller = new AbortController();
    const first = queue.execute(() => {
      controller.abort(); // the last thing the running job does
      return "first";
    });
    let ran = false;
    const second = queue.execute(() => void (ran = true), { signal: controller.signal });
    second.catch(() => {});
    const third = queue.execute(() => "third");
    await expect(first).resolves.toBe("first");
    await expect(second).rejects.toMatchObject({ name: "AbortError" });
    await expect(third).resolves.toBe("third");
    expect(ran).toBe(false);
    expect(queue.running).toBe(0);
  });
});

describe("p-queue interval / intervalCap -> FixedWindow / TokenBucket", () => {
  function throttled(opts: { concurrency?: number; intervalCap: number; interval: number; kind?: "window" | "bucket" }) {
    const { clock, store } = manualStore();
    const limiter =
      opts.kind === "bucket"
        ? new TokenBucket({ limit: opts.intervalCap, windowMs: opts.interval, clock, store })
        : new FixedWindow({ limit: opts.intervalCap, windowMs: opts.interval, clock, store });
    const b = bulkhead({ maxConcurrent: opts.concurrency ?? BIG, maxQueue: BIG });
    return { clock, limiter, b, queue: pipeline(limiter, b) };
  }

  it(".add() - throttled (intervalCap 1, interval 500)", async () => {
    const { clock, queue } = throttled({ intervalCap: 1, interval: 500 });
    const result: number[] = [];
    void queue.execute(() => result.push(1));
    await clock.advanceAsync(250);
    void queue.execute(() => result.push(2));
    await flush();
    expect(result).toEqual([1]);
    await clock.advanceAsync(300);
    expect(result).toEqual([1, 2]);
  });

  it(".add() - throttled, carryoverIntervalCount false: a start counts, a run does not carry over", async () => {
    const { clock, queue, b } = throttled({ intervalCap: 1, interval: 500 });
    const result: number[] = [];
    const ps = [0, 1].map((value) =>
      queue.execute(async () => {
        await clock.sleep(600);
        result.push(value);
      }),
    );
    await clock.advanceAsync(550);
    expect(b.running).toBe(2);
    expect(result).toEqual([]);
    await clock.advanceAsync(100);
    expect(b.running).toBe(1);
    expect(result).toEqual([0]);
    await clock.advanceAsync(600);
    await Promise.all(ps);
    expect(result).toEqual([0, 1]);
  });

  it(".add() - throttled 10, concurrency 5", async () => {
    const { clock, queue, b } = throttled({ concurrency: 5, intervalCap: 10, interval: 1000 });
    const result: number[] = [];
    const values = [...Array.from({ length: 13 }).keys()];
    const ps = values.map((value) =>
      queue.execute(async () => {
        await clock.sleep(300);
        result.push(value);
      }),
    );
    expect(result).toEqual([]);
    await clock.advanceAsync(400);
    expect(result).toEqual(values.slice(0, 5));
    expect(b.running).toBe(5);
    await clock.advanceAsync(300);
    expect(result).toEqual(values.slice(0, 10));
    await clock.advanceAsync(500);
    expect(b.running).toBe(3);
    expect(result).toEqual(values.slice(0, 10));
    await clock.advanceAsync(200);
    await Promise.all(ps);
    expect(result).toEqual(values);
  });

  it(".add() - throttled finish and resume (FixedWindow)", async () => {
    const { clock, queue } = throttled({ concurrency: 1, intervalCap: 2, interval: 2000 });
    const result: number[] = [];
    const job = (value: number) => async () => {
      await clock.sleep(100);
      result.push(value);
    };
    void queue.execute(job(0));
    void queue.execute(job(1));
    await clock.advanceAsync(1000);
    expect(result).toEqual([0, 1]);
    void queue.execute(job(2));
    await clock.advanceAsync(500);
    expect(result).toEqual([0, 1]);
    await clock.advanceAsync(700);
    expect(result).toEqual([0, 1, 2]);
  });

  it(".add() - throttled finish and resume (TokenBucket refills continuously)", async () => {
    // p-queue: the third task waits for the next interval (runs at 2000). A TokenBucket of
    // limit 2 per 2000 ms refills one token per 1000 ms, continuously (docs/rate-limiting.md:30-31,
    // "tokens refill continuously"), so the third task added at 1000 runs at once. Use FixedWindow
    // for p-queue's interval semantics.
    const { clock, queue } = throttled({ concurrency: 1, intervalCap: 2, interval: 2000, kind: "bucket" });
    const result: number[] = [];
    const job = (value: number) => async () => {
      await clock.sleep(100);
      result.push(value);
    };
    void queue.execute(job(0));
    void queue.execute(job(1));
    await clock.advanceAsync(1000);
    expect(result).toEqual([0, 1]);
    void queue.execute(job(2));
    await clock.advanceAsync(500);
    expect(result).toEqual([0, 1, 2]);
  });

  it("intervalCap: the third call waits for the next interval", async () => {
    const { clock, queue } = throttled({ intervalCap: 2, interval: 1000 });
    let hasThirdRun = false;
    void queue.execute(async () => "🧜");
    void queue.execute(async () => "🧜");
    void queue.execute(async () => void (hasThirdRun = true));
    await clock.advanceAsync(100);
    expect(hasThirdRun).toBe(false);
    await clock.advanceAsync(1500);
    expect(hasThirdRun).toBe(true);
  });

  it("consumed interval is remembered between idle states", async () => {
    const { clock, queue } = throttled({ intervalCap: 2, interval: 1000 });
    await queue.execute(async () => "🧜");
    await clock.advanceAsync(300);
    let hasThirdRun = false;
    void queue.execute(() => later(clock, 200, "🧜"));
    void queue.execute(async () => void (hasThirdRun = true));
    await clock.advanceAsync(50);
    expect(hasThirdRun).toBe(false);
    await clock.advanceAsync(1500);
    expect(hasThirdRun).toBe(true);
  });

  it("consumed interval is updated on time, even between idle states", async () => {
    const { clock, queue } = throttled({ intervalCap: 2, interval: 1000 });
    await drive(clock, Promise.all([queue.execute(() => later(clock, 500, "🧜")), queue.execute(() => later(clock, 500, "🧜"))]));
    await clock.advanceAsync(600);
    let hasThirdRun = false;
    void queue.execute(async () => void (hasThirdRun = true));
    await clock.advanceAsync(50);
    expect(hasThirdRun).toBe(true);
  });

  it("interval should be maintained when using await between adds (issue #182)", async () => {
    for (const kind of ["window", "bucket"] as const) {
      const { clock, queue } = throttled({ intervalCap: 1, interval: 100, kind });
      const timestamps: number[] = [];
      const stamp = () => void timestamps.push(clock.now());
      const first = [queue.execute(stamp), queue.execute(stamp), queue.execute(stamp)];
      await drive(clock, queue.execute(stamp));
      await drive(clock, queue.execute(stamp));
      await drive(clock, queue.execute(stamp));
      await Promise.all(first);
      expect(timestamps).toHaveLength(6);
      for (let i = 1; i < timestamps.length; i++) expect(timestamps[i]! - timestamps[i - 1]!).toBeGreaterThanOrEqual(100);
    }
  });

  it("interval maintained when queue becomes empty multiple times; reset after a long idle period", async () => {
    const { clock, queue } = throttled({ intervalCap: 1, interval: 100 });
    const timestamps: number[] = [];
    const stamp = () => void timestamps.push(clock.now());
    await drive(clock, queue.execute(stamp));
    await drive(clock, queue.execute(stamp));
    await clock.advanceAsync(50);
    await drive(clock, queue.execute(stamp));
    await drive(clock, queue.execute(stamp));
    for (let i = 1; i < timestamps.length; i++) expect(timestamps[i]! - timestamps[i - 1]!).toBeGreaterThanOrEqual(100);
    const before = clock.now();
    await clock.advanceAsync(250);
    await drive(clock, queue.execute(stamp));
    expect(timestamps.at(-1)).toBe(before + 250); // at once after a long idle
    await drive(clock, queue.execute(stamp));
    expect(timestamps.at(-1)! - timestamps.at(-2)!).toBeGreaterThanOrEqual(100);
  });

  it("aborted jobs do not use interval cap", async () => {
    const { clock, queue, limiter } = throttled({ concurrency: 1, intervalCap: 1, interval: 100 });
    const controller = new AbortController();
    const aborted = Array.from({ length: 5 }, () => queue.execute(() => {}, { signal: controller.signal }));
    for (const p of aborted) p.catch(() => {});
    let lastRan = false;
    const last = queue.execute(() => void (lastRan = true));
    await flush();
    controller.abort();
    await clock.advanceAsync(150);
    expect(lastRan).toBe(true);
    await last;
    // The first job was admitted before the abort (it took the window's unit); the four
    // queued behind it left without taking any: the last job came in the next window.
    const settled = await Promise.allSettled(aborted);
    expect(settled.filter((s) => s.status === "rejected")).toHaveLength(4);
    expect((await limiter.get("default")).used).toBe(1);
  });

  it("rate-limit preserves the interval count for re-entrant task additions", async () => {
    const { clock, queue } = throttled({ intervalCap: 2, interval: 100 });
    const starts: number[] = [];
    const tasks: Promise<unknown>[] = [];
    const addTask = (index: number): void => {
      tasks.push(
        queue.execute(() => {
          starts.push(index);
          if (index < 4) addTask(index + 1);
        }),
      );
    };
    addTask(0);
    // p-queue starts tasks synchronously in add(): [0, 1] at once. A limiter's permit is
    // asynchronous (its store may be remote), so they start a few turns later, still at t=0.
    await clock.advanceAsync(0);
    expect(starts).toEqual([0, 1]);
    await clock.advanceAsync(100);
    expect(starts).toEqual([0, 1, 2, 3]);
    await clock.advanceAsync(100);
    expect(starts).toEqual([0, 1, 2, 3, 4]);
    await Promise.all(tasks);
  });

  it("should skip an aborted job: a job admitted with others in one turn does not start once a sibling aborted their shared signal", async () => {
    // p-queue checks the signal as each job starts (skipping it once aborted), and so does
    // Breakwater's bulkhead (BulkheadPolicy.run: throwIfAborted before fn). A limiter admits
    // every waiter the new window has room for in one turn; job 2 aborts the batch's shared
    // controller, and job 3, admitted in the same turn, must not start.
    // execute checks the signal once admitted (docs/rate-limiting.md, "tryAcquire and acquire"):
    // job 3 rejects with the reason and never starts.
    for (const kind of ["window", "sliding"] as const) {
      const { clock, store } = manualStore();
      const limiter =
        kind === "window"
          ? new FixedWindow({ limit: 2, windowMs: 100, clock, store })
          : new SlidingWindow({ limit: 2, windowMs: 100, clock, store });
      const controller = new AbortController();
      const reason = new Error("batch cancelled");
      const ran: number[] = [];
      const ps = [0, 1, 2, 3].map((i) =>
        limiter.execute(
          () => {
            ran.push(i);
            if (i === 2) controller.abort(reason);
            return i;
          },
          { signal: controller.signal },
        ),
      );
      const settled = await drive(clock, Promise.allSettled(ps));
      expect(ran, kind).toEqual([0, 1, 2]);
      expect(settled[3], kind).toEqual({ status: "rejected", reason });
    }
  });

  it("rate-limit edge case with zero-interval / intervalCap validation", () => {
    const { clock, store } = manualStore();
    // p-queue: interval 0 disables rate limiting; intervalCap Infinity is accepted. A
    // Breakwater limiter with windowMs 0 or an infinite limit is refused at construction
    // (leave the limiter out instead). intervalCap 0 is refused by both.
    expect(() => new FixedWindow({ limit: 1, windowMs: 0, clock, store })).toThrow(InvalidOptionError);
    expect(() => new FixedWindow({ limit: 0, windowMs: 100, clock, store })).toThrow(InvalidOptionError);
    expect(() => new FixedWindow({ limit: 1, windowMs: -1, clock, store })).toThrow(InvalidOptionError);
    expect(() => new FixedWindow({ limit: 1, windowMs: Infinity, clock, store })).toThrow(InvalidOptionError);
    expect(() => new FixedWindow({ limit: Infinity, windowMs: 100, clock, store })).toThrow(InvalidOptionError);
  });
});

describe("p-queue test/strict.ts (strict: true) -> SlidingWindow (exact)", () => {
  function strict(opts: { concurrency?: number; intervalCap: number; interval: number }) {
    const { clock, store } = manualStore();
    const limiter = new SlidingWindow({ limit: opts.intervalCap, windowMs: opts.interval, clock, store });
    const b = bulkhead({ maxConcurrent: opts.concurrency ?? BIG, maxQueue: BIG });
    return { clock, limiter, b, queue: pipeline(limiter, b) };
  }

  /** No more than `cap` starts in any `interval` ms: start i and start i - cap are at least `interval` apart. */
  function assertSlidingWindow(times: readonly number[], interval: number, cap: number): void {
    for (let i = cap; i < times.length; i++) expect(times[i]! - times[i - cap]!).toBeGreaterThanOrEqual(interval);
  }

  it("strict mode enforces sliding window rate limiting (6 tasks, 2 per 1000 ms)", async () => {
    const { clock, queue } = strict({ interval: 1000, intervalCap: 2 });
    const times: number[] = [];
    const ps = Array.from({ length: 6 }, () => queue.execute(async () => void times.push(clock.now())));
    await drive(clock, Promise.all(ps), 10);
    expect(times).toEqual([0, 0, 1000, 1000, 2000, 2000]);
    assertSlidingWindow(times, 1000, 2);
  });

  it("strict mode vs fixed window timing: tasks 2 and 3 wait ~500 ms", async () => {
    const { clock, queue } = strict({ interval: 500, intervalCap: 2 });
    const times: number[] = [];
    const ps = Array.from({ length: 4 }, () => queue.execute(async () => void times.push(clock.now())));
    await drive(clock, Promise.all(ps), 10);
    expect(times).toEqual([0, 0, 500, 500]);
  });

  it("strict mode with large intervalCap (30 tasks, 10 per 100 ms)", async () => {
    const { clock, queue } = strict({ interval: 100, intervalCap: 10 });
    const times: number[] = [];
    const ps = Array.from({ length: 30 }, () => queue.execute(async () => void times.push(clock.now())));
    await drive(clock, Promise.all(ps), 5);
    expect(times).toHaveLength(30);
    assertSlidingWindow(times, 100, 10);
  });

  it("strict mode with concurrency limit (3 per 100 ms, concurrency 1, 10 ms tasks)", async () => {
    const { clock, queue } = strict({ concurrency: 1, interval: 100, intervalCap: 3 });
    const times: number[] = [];
    let running = 0;
    const ps = Array.from({ length: 6 }, () =>
      queue.execute(async () => {
        running++;
        expect(running).toBe(1);
        times.push(clock.now());
        await clock.sleep(10);
        running--;
      }),
    );
    await drive(clock, Promise.all(ps));
    expect(times).toEqual([0, 10, 20, 100, 110, 120]);
    assertSlidingWindow(times, 100, 3);
  });

  it("strict mode with AbortSignal: 3 of 4 tasks run", async () => {
    const { clock, queue } = strict({ interval: 100, intervalCap: 2 });
    const controller = new AbortController();
    const times: number[] = [];
    const stamp = async () => void times.push(clock.now());
    const a = queue.execute(stamp);
    const b = queue.execute(stamp);
    const abortedPromise = queue.execute(stamp, { signal: controller.signal });
    abortedPromise.catch(() => {});
    const d = queue.execute(stamp);
    await flush();
    controller.abort();
    await expect(abortedPromise).rejects.toMatchObject({ name: "AbortError" });
    await drive(clock, Promise.all([a, b, d]));
    expect(times).toEqual([0, 0, 100]);
  });

  it("strict mode frees capacity / ignores tasks aborted before start", async () => {
    const { clock, queue } = strict({ interval: 120, intervalCap: 2 });
    for (let i = 0; i < 2; i++) {
      const controller = new AbortController();
      controller.abort();
      await expect(queue.execute(async () => undefined, { signal: controller.signal })).rejects.toMatchObject({ name: "AbortError" });
    }
    const times: number[] = [];
    await queue.execute(async () => void times.push(clock.now()));
    await queue.execute(async () => void times.push(clock.now()));
    expect(times).toEqual([0, 0]);
  });

  it("strict mode after queue becomes idle: the second batch runs at once", async () => {
    const { clock, queue } = strict({ interval: 100, intervalCap: 2 });
    const times: number[] = [];
    const stamp = async () => void times.push(clock.now());
    await queue.execute(stamp);
    await queue.execute(stamp);
    await clock.advanceAsync(150);
    await queue.execute(stamp);
    await queue.execute(stamp);
    expect(times).toEqual([0, 0, 150, 150]);
  });

  it("strict mode with long-running tasks: the window counts starts", async () => {
    const { clock, queue } = strict({ concurrency: 2, interval: 100, intervalCap: 2 });
    const starts: number[] = [];
    const ps = Array.from({ length: 4 }, () =>
      queue.execute(async () => {
        starts.push(clock.now());
        await clock.sleep(150);
      }),
    );
    await drive(clock, Promise.all(ps));
    expect(starts).toEqual([0, 0, 150, 150]);
    assertSlidingWindow(starts, 100, 2);
  });

  it("strict mode multiple complete intervals (12 tasks, 3 per 50 ms)", async () => {
    const { clock, queue } = strict({ interval: 50, intervalCap: 3 });
    const times: number[] = [];
    const ps = Array.from({ length: 12 }, () => queue.execute(async () => void times.push(clock.now())));
    await drive(clock, Promise.all(ps));
    expect(times).toEqual([0, 0, 0, 50, 50, 50, 100, 100, 100, 150, 150, 150]);
  });

  it("strict mode refuses interval 0 and intervalCap Infinity", () => {
    const { clock, store } = manualStore();
    expect(() => new SlidingWindow({ limit: 5, windowMs: 0, clock, store })).toThrow(InvalidOptionError);
    expect(() => new SlidingWindow({ limit: Infinity, windowMs: 1000, clock, store })).toThrow(InvalidOptionError);
  });
});
