/** The adaptive limiter as a Policy: execute records outcomes, composes in a pipeline; the limiters' acquire / reset / close shape. */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/clock.js";
import { InvalidOptionError, ResilienceError } from "../../src/core/errors.js";
import { AdaptiveRateLimiter } from "../../src/limit/adaptive.js";
import { pipeline } from "../../src/policy/pipeline.js";
import { timeout } from "../../src/policy/timeout.js";
import { MemoryStore } from "../../src/store/memory.js";

function setup(): { clock: ManualClock; limiter: AdaptiveRateLimiter } {
  const clock = new ManualClock(0);
  const store = new MemoryStore({ sweepIntervalMs: 0, clock });
  return { clock, limiter: new AdaptiveRateLimiter({ clock, store, initialRatePerSec: 20, burst: 5 }) };
}

describe("AdaptiveRateLimiter.execute", () => {
  it("runs the function with the caller's signal and records a Response by its status", async () => {
    const { limiter } = setup();
    const signal = new AbortController().signal;
    let seen: AbortSignal | undefined;
    const ok = await limiter.execute(
      ({ signal: s }) => {
        seen = s;
        return new Response("ok", { status: 200 });
      },
      { signal },
    );
    expect(ok.status).toBe(200);
    expect(seen).toBe(signal);
    expect(limiter.snapshot()).toMatchObject({ successes: 1, backoffs: 0, inFlight: 0 });
    await limiter.execute(() => new Response(null, { status: 429, headers: { "retry-after": "3" } }));
    expect(limiter.snapshot()).toMatchObject({ successes: 1, backoffs: 1, epoch: 1, inFlight: 0 });
    expect(limiter.snapshot().cooldownMs).toBe(3000);
  });

  it("a call whose signal aborted once admitted never starts, and returns its permit unjudged", async () => {
    const { limiter } = setup();
    const controller = new AbortController();
    const reason = new Error("stop");
    const { signal } = controller;
    const started: number[] = [];
    // Both are admitted from the burst in the same turn; the first aborts the batch.
    const first = limiter.execute(
      () => {
        started.push(1);
        controller.abort(reason);
        return new Response("ok", { status: 200 });
      },
      { signal },
    );
    const second = limiter.execute(() => (started.push(2), new Response("ok", { status: 200 })), { signal });
    expect((await first).status).toBe(200);
    await expect(second).rejects.toBe(reason);
    expect(started).toEqual([1]);
    expect(limiter.snapshot()).toMatchObject({ successes: 1, backoffs: 0, inFlight: 0 });
  });

  it("a thrown error with a status is recorded by it, and rethrown", async () => {
    const { limiter } = setup();
    const error = Object.assign(new Error("Too Many Requests"), { statusCode: 429 });
    await expect(limiter.execute(() => Promise.reject(error))).rejects.toBe(error);
    expect(limiter.snapshot()).toMatchObject({ backoffs: 1, lastBackoff: { status: 429 }, inFlight: 0 });
  });

  it("a network failure is an outage (the rate is kept); any other error returns the permit unjudged", async () => {
    const { limiter } = setup();
    const rate = limiter.snapshot().ratePerSec;
    const refused = Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error("connect"), { code: "ECONNREFUSED" }) });
    await expect(limiter.execute(() => Promise.reject(refused))).rejects.toBe(refused);
    await expect(limiter.execute(() => Promise.reject(refused))).rejects.toBe(refused);
    // Two outage answers in a row: the pace drops to half, the rate itself is kept.
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: rate / 2, backoffs: 0, successes: 0, inFlight: 0 });
    await limiter.execute(() => "a value without a status");
    expect(limiter.snapshot()).toMatchObject({ ratePerSec: rate, successes: 1 });
    const bug = new RangeError("a bug");
    await expect(limiter.execute(() => Promise.reject(bug))).rejects.toBe(bug);
    expect(limiter.snapshot()).toMatchObject({ successes: 1, backoffs: 0, inFlight: 0 });
  });

  it("composes in a pipeline with a timeout", async () => {
    const { limiter } = setup();
    const policy = pipeline(limiter, timeout(1_000));
    await expect(policy.execute(() => new Response("ok"))).resolves.toBeInstanceOf(Response);
    expect(limiter.snapshot().successes).toBe(1);
  });
});

describe("AdaptiveRateLimiter: the limiters' shape", () => {
  it("acquire(key, options) takes its own key or undefined, and names a wrong one", async () => {
    const { limiter } = setup();
    await expect(limiter.acquire(limiter.key, { maxWaitMs: 0 })).resolves.toMatchObject({ allowed: true });
    await expect(limiter.acquire(undefined, { maxWaitMs: 0 })).resolves.toMatchObject({ allowed: true });
    await expect(limiter.acquire({ maxWaitMs: 0 })).resolves.toMatchObject({ allowed: true });
    const wrong = limiter.acquire("tenant-7");
    await expect(wrong).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(wrong).rejects.toThrow(/key.*tenant-7/);
  });

  it("reset() and close() return promises; close() rejects waiters", async () => {
    const { clock, limiter } = setup();
    limiter.onBackoff({ status: 429, retryAfterMs: 60_000 });
    const waiting = limiter.acquire();
    await expect(limiter.reset()).resolves.toBeUndefined();
    clock.advance(0);
    await expect(waiting).resolves.toMatchObject({ allowed: true });
    const queued = [limiter.acquire(), limiter.acquire(), limiter.acquire(), limiter.acquire(), limiter.acquire(), limiter.acquire()];
    await expect(limiter.close()).resolves.toBeUndefined();
    const settled = await Promise.allSettled(queued);
    expect(settled.some((s) => s.status === "rejected" && s.reason instanceof ResilienceError)).toBe(true);
    await expect(limiter.acquire()).rejects.toBeInstanceOf(ResilienceError);
  });
});
