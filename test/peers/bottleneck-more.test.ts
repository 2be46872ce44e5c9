/**
 * Ported from bottleneck test/retries.js, test/stop.js, test/promises.js ("rejectOnDrop",
 * "Wrap") and test/general.js ("Events", "Reservoir Refresh": keeping the process alive)
 * (SGrondin/bottleneck, installed at node_modules/bottleneck/test), on a ManualClock except the
 * one case that runs a child process.
 *
 * API mapping, besides test/peers/bottleneck.test.ts's (maxConcurrent -> bulkhead, minTime ->
 * TokenBucket({ ratePerSec: 1000 / minTime, capacity: 1 }), reservoir -> FixedWindow):
 * - a `failed` listener that returns a delay -> RetryPolicy({ maxAttempts, backoff:
 *   constant(delay) }) inside the bulkhead (pipeline(bulkhead, retry): the job keeps its slot
 *   while it is retried, as bottleneck's EXECUTING count); the `retry` event -> onRetry;
 *   info.retryCount -> onRetry's attempt - 1; a `failed` listener that returns null (no retry)
 *   -> retryOn answering false; counts().EXECUTING -> bulkhead.running.
 * - stop({ dropWaitingJobs: true }) -> limiter.close() (rejects every waiting acquire);
 *   `dropped` -> the bulkhead's `rejected` event; strategy OVERFLOW + highWater -> maxQueue.
 * - limiter.wrap(fn) -> RetryPolicy.wrap(fn) (the only policy with a wrap).
 * - the `error` event for a listener that throws -> onListenerError.
 * Each case keeps the peer's assertion, translated, except where Breakwater deliberately
 * differs: there a comment names what bottleneck asserts and the page that says so.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  BulkheadRejectedError,
  ManualClock,
  ResilienceError,
  RetryError,
  RetryPolicy,
  TokenBucket,
  bulkhead,
  constant,
  pipeline,
} from "../../src/index.js";
import { flush, manualStore } from "./helpers.js";

describe("bottleneck retries.js (a retry inside the concurrency cap)", () => {
  function retrying(options: { retryOn?: (error: unknown) => boolean; onListenerError?: (error: unknown) => void } = {}) {
    const clock = new ManualClock();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 10 });
    const retries: Array<{ attempt: number; delayMs: number; running: number }> = [];
    const policy = new RetryPolicy({
      maxAttempts: 3,
      backoff: constant(50),
      clock,
      ...(options.retryOn ? { retryOn: options.retryOn } : {}),
      ...(options.onListenerError ? { onListenerError: options.onListenerError } : {}),
    });
    policy.on("retry", ({ attempt, delayMs }) => retries.push({ attempt, delayMs, running: b.running }));
    return { clock, b, policy, retries, p: pipeline(b, policy) };
  }

  it("Should retry when requested by the user (a 50 ms delay; two failures, then success, in 100 ms)", async () => {
    const { clock, b, p, retries } = retrying();
    let times = 0;
    const job = async (): Promise<string> => {
      times++;
      if (times <= 2) throw new Error("boom");
      return "Success!";
    };
    const done = p.execute(job);
    await clock.advanceAsync(99);
    expect(times).toBe(2);
    await clock.advanceAsync(1);
    expect(await done).toBe("Success!");
    expect(clock.now()).toBe(100);
    // failed.retryCount 0, 1 -> attempts 1, 2; EXECUTING stays 1 through the retries.
    expect(retries).toEqual([
      { attempt: 1, delayMs: 50, running: 1 },
      { attempt: 2, delayMs: 50, running: 1 },
    ]);
    expect(b.running).toBe(0);
  });

  it("Should not retry when user returns an error (ours: a throwing onRetry is reported and the retries go on)", async () => {
    // bottleneck: a `failed` listener that throws stops the retries (the job rejects with "boom", one
    // `error` event). Ours reports a throwing listener and retries all the same (docs/retry.md, option
    // onRetry; docs/comparison.md, "Coming from a peer", Retry). To stop retrying, retryOn says so (next case).
    const reported: unknown[] = [];
    const { clock, b, policy, p } = retrying({ onListenerError: (error) => reported.push(error) });
    policy.on("retry", () => {
      throw new Error("Nope");
    });
    let times = 0;
    const done = p
      .execute(async () => {
        times++;
        throw new Error("boom");
      })
      .catch((e: unknown) => e);
    await clock.advanceAsync(200);
    const error = await done;
    expect(error).toBeInstanceOf(RetryError);
    expect((error as RetryError).cause).toMatchObject({ message: "boom" });
    expect(times).toBe(3);
    expect(reported.map((e) => (e as Error).message)).toEqual(["Nope", "Nope"]);
    expect(b.running).toBe(0);
  });

  it("Should not retry when user returns null (retryOn answers false: the error is rethrown as it is)", async () => {
    const { clock, b, p, retries } = retrying({ retryOn: () => false });
    let times = 0;
    const done = p
      .execute(async () => {
        times++;
        throw new Error("boom");
      })
      .catch((e: unknown) => e);
    await clock.advanceAsync(200);
    expect(await done).toMatchObject({ message: "boom" });
    expect(await done).not.toBeInstanceOf(RetryError);
    expect(times).toBe(1);
    expect(retries).toEqual([]);
    expect(b.running).toBe(0);
  });
});

describe("bottleneck stop.js (limiter.close())", () => {
  it("Should stop and drop the queue (the waiting jobs reject; the running one finishes)", async () => {
    // minTime 100 -> a one-token bucket refilled every 100 ms (the peer's maxConcurrent 2 never binds here).
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({ ratePerSec: 10, capacity: 1, clock, store });
    const results: Array<[number, number]> = [];
    const job = (id: number, ms = 0) =>
      limiter.execute(async () => {
        if (ms > 0) await clock.sleep(ms);
        results.push([id, clock.now()]);
        return id;
      });
    const outcomes = [job(0), job(1, 100), job(2), job(3)].map((p) => p.catch((e: unknown) => e));
    await clock.advanceAsync(125);
    // bottleneck at 125 ms: DONE 1, EXECUTING 1 (job 1), jobs 2 and 3 waiting.
    expect(results).toEqual([[0, 0]]);
    expect(limiter.waiting()).toBe(2);
    await limiter.close();
    expect(limiter.waiting()).toBe(0);
    await clock.advanceAsync(200);
    const [r0, r1, r2, r3] = await Promise.all(outcomes);
    expect([r0, r1]).toEqual([0, 1]);
    // bottleneck rejects dropped jobs with its dropErrorMessage ("Dropped!"); ours with "was closed".
    for (const dropped of [r2, r3]) {
      expect(dropped).toBeInstanceOf(ResilienceError);
      expect((dropped as Error).message).toBe('Rate limiter "tokenBucket" was closed');
    }
    expect(results).toEqual([
      [0, 0],
      [1, 200],
    ]);
  });

  it("a job submitted after stop() (ours: a closed limiter still admits it)", async () => {
    // bottleneck rejects a job scheduled after stop() with its enqueueErrorMessage ("Stopped!"). close()
    // rejects the calls waiting at that moment, and later calls are still admitted while a token is free
    // (src/limit/base.ts, close(): "keeps answering tryAcquire"); not stated in docs/rate-limiting.md
    // (proposed for "Keys and memory bounds", where close() is described).
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({ ratePerSec: 10, capacity: 1, clock, store });
    await limiter.close();
    expect(await limiter.execute(async () => "ran")).toBe("ran");
    expect((await limiter.tryAcquire()).allowed).toBe(false);
  });

  it("Should not allow calling stop() twice (ours: close() twice resolves both times)", async () => {
    // bottleneck rejects the second stop() with "stop() has already been called"; ours is idempotent (proposed for docs/rate-limiting.md, with the close() sentence above).
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({ ratePerSec: 10, capacity: 1, clock, store });
    await expect(limiter.close()).resolves.toBeUndefined();
    await expect(limiter.close()).resolves.toBeUndefined();
  });
});

describe("bottleneck promises.js", () => {
  it("Should get rejected when rejectOnDrop is true (OVERFLOW, highWater 1: the newcomer is dropped)", async () => {
    const clock = new ManualClock();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    let dropped = 0;
    b.on("rejected", () => dropped++);
    const results: Array<[number, number]> = [];
    const job = (id: number) =>
      b.execute(async () => {
        await clock.sleep(50);
        results.push([id, clock.now()]);
        return id;
      });
    const p1 = job(1);
    const p2 = job(2);
    const e = await job(3).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BulkheadRejectedError);
    await clock.advanceAsync(100);
    expect(await Promise.all([p1, p2])).toEqual([1, 2]);
    expect(results).toEqual([
      [1, 50],
      [2, 100],
    ]);
    expect(dropped).toBe(1);
  });

  describe("Wrap (RetryPolicy.wrap)", () => {
    const once = (): RetryPolicy => new RetryPolicy({ maxAttempts: 1, clock: new ManualClock() });

    it("Should automatically wrap a returned value in a resolved promise", async () => {
      const fn = once().wrap(() => 7);
      const result = fn();
      expect(result).toBeInstanceOf(Promise);
      expect(await result).toBe(7);
    });

    it("Should automatically wrap an exception in a rejected promise (ours: RetryError with the exception as cause)", async () => {
      // bottleneck rejects with the exception itself; giving up rejects with RetryError, the last error as cause (docs/retry.md; docs/comparison.md, "Coming from a peer", Retry).
      const fn = once().wrap(() => {
        throw new Error("I will reject");
      });
      const error = await fn().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryError);
      expect((error as RetryError).cause).toMatchObject({ message: "I will reject" });
    });

    it("Should inherit the original target for wrapped methods", async () => {
      const object: { fn: () => Promise<unknown> } = {
        fn: once().wrap(function (this: unknown) {
          return this;
        }),
      };
      expect(await object.fn()).toBe(object);
    });

    it("Should inherit the original target on prototype methods", async () => {
      class Animal {
        constructor(readonly name: string) {}
        getName(): string | Promise<string> {
          return this.name;
        }
      }
      const wrapped = once().wrap(Animal.prototype.getName);
      Animal.prototype.getName = wrapped;
      expect(await new Animal("Dumbo").getName()).toBe("Dumbo");
    });

    it("Should pass errors back (the others resolve; retryOn false rethrows the error as it is)", async () => {
      const wrapped = new RetryPolicy({ maxAttempts: 3, retryOn: () => false, clock: new ManualClock() }).wrap(
        async (error: Error | null, x: number) => {
          if (error) throw error;
          return x;
        },
      );
      const all = await Promise.all([wrapped(null, 1), wrapped(null, 2), wrapped(new Error("BLEW UP!!!"), 3).catch((e: unknown) => e)]);
      expect(all.slice(0, 2)).toEqual([1, 2]);
      expect(all[2]).toMatchObject({ message: "BLEW UP!!!" });
    });
  });
});

describe("bottleneck general.js: Events", () => {
  it("Should return itself (ours: on() returns the unsubscribe function)", async () => {
    // bottleneck's on() returns the limiter, for chaining; ours returns the function that ends the subscription (src/limit/limiter.ts, RateLimiter.on).
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({ name: "test-limiter", ratePerSec: 10, capacity: 1, clock, store });
    let heard = 0;
    const off = limiter.on("acquired", () => heard++);
    expect(typeof off).toBe("function");
    await limiter.tryAcquire();
    off();
    clock.advance(100);
    await limiter.tryAcquire();
    expect(heard).toBe(1);
  });

  it("Should support faulty event listeners (a throwing listener is reported; the job runs)", async () => {
    const reported: string[] = [];
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({
      ratePerSec: 10,
      capacity: 1,
      clock,
      store,
      onListenerError: (error, event) => reported.push(`${event}: ${(error as Error).message}`),
    });
    limiter.on("acquired", () => {
      throw new Error("Oh noes!");
    });
    expect(await limiter.execute(async () => 1)).toBe(1);
    const b = bulkhead({ maxConcurrent: 1, onListenerError: (error, event) => reported.push(`${event}: ${(error as Error).message}`) });
    b.on("rejected", () => {
      throw new Error("Oh noes!");
    });
    const running = b.execute(() => clock.sleep(10));
    await expect(b.execute(async () => 2)).rejects.toBeInstanceOf(BulkheadRejectedError);
    await clock.advanceAsync(10);
    await running;
    expect(reported).toEqual(["acquired: Oh noes!", "rejected: Oh noes!"]);
  });

  it("Should wait for async event listeners (a listener whose promise rejects is reported)", async () => {
    // bottleneck awaits an async listener and emits `error` when it rejects ("It broke!"). Ours promises a
    // throwing listener is reported to onListenerError and never reaches the caller (docs/retry.md, onRetry;
    // src/core/events.ts, Emitter). Found: an async listener's rejection is dropped by emit() and becomes an
    // unhandled rejection (which ends a Node process by default); onListenerError never hears of it.
    const reported: string[] = [];
    const { clock, store } = manualStore();
    const limiter = new TokenBucket({
      ratePerSec: 10,
      capacity: 1,
      clock,
      store,
      onListenerError: (error, event) => reported.push(`${event}: ${(error as Error).message}`),
    });
    limiter.on("acquired", async () => {
      await clock.sleep(100);
      throw new Error("It broke!");
    });
    expect(await limiter.execute(async () => 1)).toBe(1);
    await clock.advanceAsync(100);
    for (let i = 0; i < 5; i++) await flush();
    expect(reported).toEqual(["acquired: It broke!"]);
  });
});

describe("bottleneck general.js: Reservoir Refresh", () => {
  it("Should keep process alive until queue is empty (a process whose jobs wait for the window ends after them)", async () => {
    // bottleneck's test/spawn/refreshKeepAlive.js prints [0][0][2][2]: two jobs, then two more after the
    // refresh. Here a FixedWindow of 2 per 150 ms: the process must not exit while acquire calls wait.
    const dir = await mkdtemp(join(tmpdir(), "bw-keepalive-"));
    const index = fileURLToPath(new URL("../../src/index.ts", import.meta.url));
    const script = join(dir, "keep-alive.ts");
    await writeFile(
      script,
      [
        `import { FixedWindow } from ${JSON.stringify(index)};`,
        "const window = new FixedWindow({ limit: 2, windowMs: 150 });",
        "const t0 = Date.now();",
        "for (let i = 0; i < 4; i++) void window.execute(async () => process.stdout.write(`[${Math.round((Date.now() - t0) / 150)}]`));",
        "",
      ].join("\n"),
    );
    try {
      const stdout = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ["--import", "tsx", script], { timeout: 15_000 }, (error, out, err) =>
          error ? reject(new Error(`${String(error)}: ${err}`)) : resolve(out),
        ),
      );
      expect(stdout).toBe("[0][0][1][1]");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
