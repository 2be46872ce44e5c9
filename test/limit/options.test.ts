import { describe, expect, it } from "vitest";
import { InvalidOptionError } from "../../src/core/errors.js";
import { FixedWindow, SlidingWindow, TokenBucket } from "../../src/limit/index.js";
import { manual, rejects } from "./helpers.js";

const badPositive = [0, -1, Number.NaN, Infinity, "10", undefined];
const badCount = [0, -3, 2.5, Number.NaN, Infinity, "3", undefined];

describe("construction", () => {
  it("TokenBucket: non-positive or non-finite rates, non-integer capacities, mixed forms", () => {
    for (const ratePerSec of badPositive)
      rejects(() => new TokenBucket({ ratePerSec: ratePerSec as number }), "ratePerSec", ratePerSec, "a finite number > 0");
    for (const capacity of badCount.filter((c) => c !== undefined)) {
      rejects(() => new TokenBucket({ ratePerSec: 1, capacity: capacity as number }), "capacity", capacity, "an integer >= 1");
    }
    for (const limit of badCount)
      rejects(() => new TokenBucket({ limit: limit as number, windowMs: 1000 }), "limit", limit, "an integer >= 1");
    for (const windowMs of badPositive)
      rejects(() => new TokenBucket({ limit: 5, windowMs: windowMs as number }), "windowMs", windowMs, "a finite number > 0");
    rejects(
      () => new TokenBucket({ ratePerSec: 1, limit: 5, windowMs: 1000 }),
      "ratePerSec",
      1,
      "left out when limit and windowMs are given",
    );
    rejects(() => new TokenBucket({ capacity: 2, windowMs: 1000 }), "capacity", 2, "left out when limit and windowMs are given");
    rejects(() => new TokenBucket(undefined as never), "options", undefined, "an object with ratePerSec");
  });

  it("windows: non-integer or non-positive limits, non-positive or non-finite windows, unknown precision", () => {
    for (const Limiter of [FixedWindow, SlidingWindow]) {
      for (const limit of badCount)
        rejects(() => new Limiter({ limit: limit as number, windowMs: 1000 }), "limit", limit, "an integer >= 1");
      for (const windowMs of badPositive)
        rejects(() => new Limiter({ limit: 1, windowMs: windowMs as number }), "windowMs", windowMs, "a finite number > 0");
    }
    rejects(
      () => new SlidingWindow({ limit: 1, windowMs: 1, precision: "fuzzy" as never }),
      "precision",
      "fuzzy",
      'one of "exact", "approximate"',
    );
  });

  it("unknown option keys name the typo and the known options", () => {
    rejects(
      () => new TokenBucket({ rate: 5 } as never),
      "rate",
      5,
      "one of the known options (name, store, clock, maxWaitMs, onListenerError, telemetry, ratePerSec, capacity, limit, windowMs, blockMs, spread, lease)",
    );
    rejects(
      () => new FixedWindow({ limit: 1, windowMs: 1, precision: "exact" } as never),
      "precision",
      "exact",
      "one of the known options",
    );
    rejects(() => new SlidingWindow({ limit: 1, windowMs: 1, window: 5 } as never), "window", 5, "one of the known options");
  });

  it("the common options: name, store, clock, maxWaitMs", () => {
    rejects(() => new TokenBucket({ ratePerSec: 1, name: "" }), "name", "", "a non-empty string");
    rejects(() => new TokenBucket({ ratePerSec: 1, store: {} as never }), "store", {}, "a Store");
    const noSleep = { now: () => 0 };
    rejects(() => new FixedWindow({ limit: 1, windowMs: 1, clock: noSleep as never }), "clock", noSleep, "a Clock with now() and sleep()");
    rejects(() => new SlidingWindow({ limit: 1, windowMs: 1, maxWaitMs: -1 }), "maxWaitMs", -1, "a number >= 0 (Infinity for no limit)");
    expect(new TokenBucket({ ratePerSec: 1, maxWaitMs: Infinity }).name).toBe("tokenBucket");
  });
});

describe("calls", () => {
  const { clock, store } = manual();
  const limiter = new TokenBucket({ name: "api", ratePerSec: 1, capacity: 5, clock, store });

  it("reject empty or non-string keys at once, and take nothing", async () => {
    for (const key of ["", 42, null, {}]) {
      for (const call of [limiter.tryAcquire(key as string), limiter.acquire(key as string)]) {
        const error = await call.catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidOptionError);
        expect((error as Error).message).toMatch(
          /^TokenBucket\("api"\)\.(tryAcquire|acquire): option "key" must be a non-empty string; got /,
        );
      }
    }
    await expect(limiter.reset("")).rejects.toBeInstanceOf(InvalidOptionError);
    expect(await limiter.tryAcquire("k", 0)).toMatchObject({ remaining: 5 });
  });

  it("reject negative, fractional or non-number costs", async () => {
    for (const cost of [-1, 1.5, Number.NaN, Infinity, "2"]) {
      await expect(limiter.tryAcquire("k", cost as number)).rejects.toThrow('option "cost" must be an integer >= 0');
      await expect(limiter.acquire("k", { cost: cost as number })).rejects.toThrow('option "cost" must be an integer >= 0');
    }
    expect(await limiter.tryAcquire("k", 0)).toMatchObject({ remaining: 5 });
  });

  it("reject a negative or NaN maxWaitMs", async () => {
    for (const maxWaitMs of [-1, Number.NaN, "5"]) {
      await expect(limiter.acquire("k", { maxWaitMs: maxWaitMs as number })).rejects.toThrow('option "maxWaitMs" must be a number >= 0');
    }
  });

  it("return a rejected promise rather than throw", () => {
    const result = limiter.tryAcquire("");
    expect(result).toBeInstanceOf(Promise);
    return expect(result).rejects.toBeInstanceOf(InvalidOptionError);
  });
});
