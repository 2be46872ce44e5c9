import { describe, expect, expectTypeOf, it } from "vitest";
import { constant } from "../../src/backoff/index.js";
import { CircuitBreaker, CircuitBreakers, consecutiveFailures } from "../../src/breaker/index.js";
import { ManualClock } from "../../src/core/clock.js";
import { BulkheadRejectedError, CircuitOpenError, InvalidOptionError, RetryError, TimeoutError } from "../../src/core/errors.js";
import type { ExecuteOptions, ExecutionContext, Operation, Policy } from "../../src/core/policy.js";
import { bulkhead, fallback, pipeline, timeout } from "../../src/policy/index.js";
import { RetryPolicy } from "../../src/retry/index.js";
import { rejection, tick, track } from "./settle.js";

/** A user-written policy: logs when it enters and leaves, and what context it was given. */
class Recorder implements Policy {
  constructor(
    private readonly name: string,
    private readonly log: string[],
  ) {}

  async execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    this.log.push(`${this.name}> attempt=${options?.attempt ?? "-"}`);
    try {
      return await fn({ signal: options?.signal, attempt: options?.attempt ?? 1 });
    } finally {
      this.log.push(`<${this.name}`);
    }
  }
}

const boom = (): never => {
  throw new Error("boom");
};

describe("pipeline: order and context", () => {
  it("runs outermost first and unwinds in reverse", async () => {
    const log: string[] = [];
    const stack = pipeline(new Recorder("a", log), new Recorder("b", log), new Recorder("c", log));
    await expect(stack.execute(() => (log.push("fn"), 7))).resolves.toBe(7);
    expect(log).toEqual(["a> attempt=-", "b> attempt=1", "c> attempt=1", "fn", "<c", "<b", "<a"]);
  });

  it("hands the retry's attempt and the timeout's signal down to fn", async () => {
    const clock = new ManualClock();
    const seen: ExecutionContext[] = [];
    const stack = pipeline(new RetryPolicy({ clock, backoff: constant(10) }), new Recorder("mid", []), timeout(1_000, { clock }));
    const call = track(
      stack.execute((ctx) => {
        seen.push(ctx);
        if (ctx.attempt < 3) throw new Error("again");
        return "ok";
      }),
    );
    await clock.advanceAsync(100);
    expect(await call.outcome).toEqual({ ok: true, value: "ok" });
    expect(seen.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(new Set(seen.map((c) => c.signal)).size).toBe(3);
    expect(seen.every((c) => c.signal instanceof AbortSignal && !c.signal.aborted)).toBe(true);
  });

  it("the caller's signal reaches every level; aborting it stops the whole stack at once", async () => {
    const clock = new ManualClock();
    const caller = new AbortController();
    const stack = pipeline(new RetryPolicy({ clock, backoff: constant(5_000) }), new CircuitBreaker({ clock }), timeout(1_000, { clock }));
    const call = track(stack.execute(boom, { signal: caller.signal }));
    await clock.advanceAsync(10);
    caller.abort(new Error("stop"));
    await tick();
    expect(((await rejection(call)) as Error).message).toBe("stop");
    expect(clock.pendingSleeps).toBe(0);
  });

  it("zero policies run fn with the caller's context; one policy is that policy", async () => {
    const signal = new AbortController().signal;
    await expect(pipeline().execute((ctx) => ctx, { signal, attempt: 2 })).resolves.toEqual({ signal, attempt: 2 });
    await expect(pipeline().execute(() => 1)).resolves.toBe(1);
    expect(await rejection(pipeline().execute(boom))).toBeInstanceOf(Error);
    const log: string[] = [];
    await pipeline(new Recorder("only", log)).execute(() => 1);
    expect(log).toEqual(["only> attempt=-", "<only"]);
  });

  it("a caller's { signal } without an attempt: fn sees attempt 1 under every policy, never undefined", async () => {
    const signal = new AbortController().signal;
    const seen = (ctx: ExecutionContext): ExecutionContext => ({ signal: ctx.signal, attempt: ctx.attempt });
    await expect(fallback(null).execute(seen, { signal })).resolves.toMatchObject({ attempt: 1 });
    const policies: Policy[] = [
      new CircuitBreaker(),
      bulkhead({ maxConcurrent: 2 }),
      timeout(1_000, { clock: new ManualClock() }),
      new RetryPolicy({ clock: new ManualClock() }),
    ];
    for (const policy of [...policies, pipeline(), pipeline(bulkhead({ maxConcurrent: 1 }), fallback(0))]) {
      expect(await policy.execute(seen, { signal })).toMatchObject({ attempt: 1 });
    }
  });

  it("nests: a pipeline is a policy of another", async () => {
    const log: string[] = [];
    const inner = pipeline(new Recorder("b", log), new Recorder("c", log));
    await pipeline(new Recorder("a", log), inner).execute(() => log.push("fn"));
    expect(log).toEqual(["a> attempt=-", "b> attempt=1", "c> attempt=1", "fn", "<c", "<b", "<a"]);
  });

  it("refuses what is not a policy, naming its position", () => {
    expect(() => pipeline(new Recorder("a", []), {} as never)).toThrow(InvalidOptionError);
    expect(() => pipeline(new Recorder("a", []), null as never)).toThrow(/option "policies\[1\]" must be a policy with execute/);
    expect(() => pipeline((() => 1) as never)).toThrow(/policies\[0\]/);
  });
});

describe("pipeline: retry, breaker and timeout, in both orders", () => {
  it("pipeline(retry, breaker, timeout): each attempt timed out, counted by the breaker, retried until the circuit opens", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, trip: consecutiveFailures(2), recovery: 10_000 });
    const stack = pipeline(new RetryPolicy({ clock, maxAttempts: 5, backoff: constant(100) }), breaker, timeout(1_000, { clock }));
    const attempts: [number, number][] = [];
    const call = track(
      stack.execute(async ({ attempt, signal }) => {
        attempts.push([attempt, clock.now()]);
        await clock.sleep(5_000, signal);
        return "never";
      }),
    );
    await clock.advanceAsync(3_000);
    const error = (await rejection(call)) as CircuitOpenError;
    // Two attempts time out; the open circuit then fails fast and is not retried.
    expect(attempts).toEqual([
      [1, 0],
      [2, 1_100],
    ]);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error.retryAfterMs).toBe(9_900);
    expect(error.lastFailure?.reason).toBe("Timed out after 1000 ms");
    expect(breaker.state).toBe("open");
    expect(clock.pendingSleeps).toBe(0);
  });

  it("pipeline(timeout, breaker, retry): one budget for all attempts; the breaker counts one failure per call", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, trip: consecutiveFailures(2) });
    const stack = pipeline(timeout(1_000, { clock }), breaker, new RetryPolicy({ clock, maxAttempts: 10, backoff: constant(300) }));
    const times: number[] = [];
    const call = track(stack.execute(() => (times.push(clock.now()), boom())));
    await clock.advanceAsync(2_000);
    expect(await rejection(call)).toBeInstanceOf(TimeoutError);
    expect(times).toEqual([0, 300, 600, 900]);
    expect(breaker.status().failures).toBe(1);
    expect(breaker.state).toBe("closed");
    expect(clock.pendingSleeps).toBe(0);
  });

  it("retry outside the breaker counts every attempt; inside, one per call", async () => {
    const clock = new ManualClock();
    const retry = (): RetryPolicy => new RetryPolicy({ clock, maxAttempts: 3, backoff: constant(0) });
    const outer = new CircuitBreaker({ clock, trip: consecutiveFailures(3) });
    expect(await rejection(pipeline(retry(), outer).execute(boom))).toBeInstanceOf(RetryError);
    expect(outer.state).toBe("open");
    const inner = new CircuitBreaker({ clock, trip: consecutiveFailures(3) });
    expect(await rejection(pipeline(inner, retry()).execute(boom))).toBeInstanceOf(RetryError);
    expect(inner.state).toBe("closed");
    expect(inner.status().failures).toBe(1);
  });
});

describe("pipeline: four and five policies", () => {
  it("pipeline(fallback, bulkhead, retry, breaker): an open circuit becomes the fallback value, not retried", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, trip: consecutiveFailures(1), recovery: 5_000 });
    const retries: number[] = [];
    const retry = new RetryPolicy({ clock, maxAttempts: 3, backoff: constant(0), onRetry: (e) => retries.push(e.attempt) });
    const stack = pipeline(
      fallback((error) => ({ unavailable: true, retryInMs: error instanceof CircuitOpenError ? error.retryAfterMs : null }), {
        on: [CircuitOpenError],
      }),
      bulkhead({ maxConcurrent: 1, maxQueue: 0 }),
      retry,
      breaker,
    );
    let runs = 0;
    const call = stack.execute(() => {
      runs++;
      throw new Error("upstream 500");
    });
    await expect(call).resolves.toEqual({ unavailable: true, retryInMs: 5_000 });
    expect(runs).toBe(1);
    expect(retries).toEqual([1]);
  });

  it("pipeline(bulkhead, fallback, retry, breaker, timeout): a full bulkhead is not hidden by the inner fallback", async () => {
    const clock = new ManualClock();
    const stack = pipeline(
      bulkhead({ maxConcurrent: 1 }),
      fallback("stale"),
      new RetryPolicy({ clock, backoff: constant(10) }),
      new CircuitBreaker({ clock }),
      timeout(100, { clock }),
    );
    const first = track(stack.execute(async ({ signal }) => (await clock.sleep(1_000, signal), "fresh")));
    expect(await rejection(stack.execute(() => "fresh"))).toBeInstanceOf(BulkheadRejectedError);
    await clock.advanceAsync(1_000);
    // Three attempts each time out after 100 ms; the fallback answers.
    expect(await first.outcome).toEqual({ ok: true, value: "stale" });
    await expect(stack.execute(() => "fresh")).resolves.toBe("fresh");
  });

  it("a named service's breaker from CircuitBreakers composes like any policy", async () => {
    const clock = new ManualClock();
    const breakers = new CircuitBreakers({ clock, defaults: { trip: consecutiveFailures(2) } });
    const stack = pipeline(new RetryPolicy({ clock, maxAttempts: 4, backoff: constant(0) }), breakers.get("payments"));
    expect(await rejection(stack.execute(boom))).toBeInstanceOf(CircuitOpenError);
    expect(breakers.status()["payments"]?.state).toBe("open");
    await breakers.close();
  });
});

describe("pipeline: types", () => {
  it("a pipeline without fallback is a Policy; with one, its value joins the result type", () => {
    const plain = pipeline(new RetryPolicy(), new CircuitBreaker(), timeout(10));
    expectTypeOf(plain).toMatchTypeOf<Policy>();
    expectTypeOf(plain.execute(() => 1)).toEqualTypeOf<Promise<number>>();
    const withFallback = pipeline(fallback("none" as const), new RetryPolicy());
    expectTypeOf(withFallback.execute(() => 1)).toEqualTypeOf<Promise<number | "none">>();
    expectTypeOf(withFallback).not.toMatchTypeOf<Policy>();
    const nested = pipeline(new RetryPolicy(), withFallback);
    expectTypeOf(nested.execute(() => true)).toEqualTypeOf<Promise<boolean | "none">>();
    expectTypeOf(fallback(() => 5).execute(() => "a")).toEqualTypeOf<Promise<string | number>>();
  });
});
