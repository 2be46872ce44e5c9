import { describe, expect, it } from "vitest";
import { InvalidOptionError, TimeoutError } from "../../src/core/errors.js";
import { fallback } from "../../src/policy/index.js";
import { rejection } from "./settle.js";

const fail = (error: unknown) => (): never => {
  throw error;
};

describe("fallback", () => {
  it("passes a success through untouched", async () => {
    await expect(fallback("spare").execute(() => "real")).resolves.toBe("real");
  });

  it("a value replaces any error by default", async () => {
    const policy = fallback<string[]>([]);
    await expect(policy.execute(fail(new Error("down")))).resolves.toEqual([]);
    await expect(policy.execute(fail("a string"))).resolves.toEqual([]);
  });

  it("a function is called with the error (sync or async)", async () => {
    const seen: unknown[] = [];
    const sync = fallback((error) => {
      seen.push(error);
      return `recovered from ${(error as Error).message}`;
    });
    await expect(sync.execute(fail(new Error("x")))).resolves.toBe("recovered from x");
    const async = fallback(async () => 42);
    await expect(async.execute(fail(new Error("y")))).resolves.toBe(42);
    expect(seen).toHaveLength(1);
  });

  it("a throwing fallback function rejects with its own error", async () => {
    const policy = fallback(() => {
      throw new Error("no cache either");
    });
    expect(((await rejection(policy.execute(fail(new Error("x"))))) as Error).message).toBe("no cache either");
  });

  it("on: classes select which errors are replaced; others are rethrown", async () => {
    const policy = fallback(null, { on: [TimeoutError] });
    await expect(policy.execute(fail(new TimeoutError(10)))).resolves.toBeNull();
    const other = new Error("bad request");
    expect(await rejection(policy.execute(fail(other)))).toBe(other);
  });

  it("on: a predicate", async () => {
    const policy = fallback("cached", { on: (e) => (e as { status?: number }).status === 503 });
    await expect(policy.execute(fail({ status: 503 }))).resolves.toBe("cached");
    expect(await rejection(policy.execute(fail({ status: 400 })))).toEqual({ status: 400 });
  });

  it("never replaces the caller's own abort", async () => {
    const controller = new AbortController();
    const reason = new Error("caller gone");
    const error = await rejection(
      fallback("x").execute(
        () => {
          controller.abort(reason);
          throw reason;
        },
        { signal: controller.signal },
      ),
    );
    expect(error).toBe(reason);
  });

  it("never replaces an abort that surfaces as the callee's own AbortError (the reason as its cause)", async () => {
    const controller = new AbortController();
    const nodeAbort = Object.assign(new Error("The operation was aborted"), { name: "AbortError" });
    const error = await rejection(
      fallback("x").execute(
        () => {
          controller.abort(new Error("caller gone"));
          throw nodeAbort;
        },
        { signal: controller.signal },
      ),
    );
    expect(error).toBe(nodeAbort);
  });

  it("emits `fallback` with the replaced error", async () => {
    const policy = fallback(0);
    const events: unknown[] = [];
    const off = policy.on("fallback", (e) => events.push(e));
    const error = new Error("e");
    await policy.execute(fail(error));
    off();
    await policy.execute(fail(error));
    expect(events).toEqual([{ error }]);
  });

  it("passes { signal, attempt } to the callee", async () => {
    const signal = new AbortController().signal;
    await expect(fallback(null).execute((ctx) => ctx, { signal, attempt: 2 })).resolves.toEqual({ signal, attempt: 2 });
  });

  it("bad input: `on` that is neither classes nor a predicate; unknown keys", () => {
    expect(() => fallback(1, { on: "TimeoutError" as never })).toThrow(InvalidOptionError);
    expect(() => fallback(1, { on: "TimeoutError" as never })).toThrow(
      /fallback\(\): option "on" must be an array of error classes or a predicate/,
    );
    expect(() => fallback(1, { when: [] } as never)).toThrow(/option "when"/);
  });
});
