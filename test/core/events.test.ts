import { describe, expect, it } from "vitest";
import { addListener, Emitter } from "../../src/core/events.js";

interface Events {
  ping: { n: number };
}

describe("Emitter", () => {
  it("delivers to listeners in order and unsubscribes", () => {
    const e = new Emitter<Events>();
    const got: string[] = [];
    const offA = e.on("ping", ({ n }) => got.push(`a${n}`));
    e.on("ping", ({ n }) => got.push(`b${n}`));
    e.emit("ping", { n: 1 });
    offA();
    offA();
    e.emit("ping", { n: 2 });
    expect(got).toEqual(["a1", "b1", "b2"]);
  });

  it("unsubscribes one subscription: the same function subscribed twice keeps the other, and a second call does nothing", () => {
    const e = new Emitter<Events>();
    const got: number[] = [];
    const listener = ({ n }: { n: number }): void => void got.push(n);
    const offFirst = e.on("ping", listener);
    e.on("ping", listener);
    offFirst();
    offFirst();
    e.emit("ping", { n: 1 });
    expect(got).toEqual([1]);
    expect(e.has("ping")).toBe(true);
  });

  it("addListener (the registries' `created` lists) removes one subscription, once", () => {
    const list: string[] = [];
    const offFirst = addListener(list, "f");
    addListener(list, "f");
    offFirst();
    offFirst();
    expect(list).toEqual(["f"]);
  });

  it("a listener that unsubscribes itself during an emit does not make the others miss it", () => {
    const e = new Emitter<Events>();
    const got: string[] = [];
    const off = e.on("ping", () => {
      got.push("a");
      off();
    });
    e.on("ping", () => got.push("b"));
    e.emit("ping", { n: 1 });
    e.emit("ping", { n: 2 });
    expect(got).toEqual(["a", "b", "b"]);
  });

  it("a listener subscribed during an emit hears the next one, not that one (no emit runs without end)", () => {
    const e = new Emitter<Events>();
    let heard = 0;
    e.on("ping", () => {
      e.on("ping", () => heard++);
    });
    e.emit("ping", { n: 1 });
    expect(heard).toBe(0);
    e.emit("ping", { n: 2 });
    expect(heard).toBe(1);
  });

  it("reports a throwing listener and still calls the others", () => {
    const errors: unknown[] = [];
    const e = new Emitter<Events>((error, event) => errors.push([event, (error as Error).message]));
    const got: number[] = [];
    e.on("ping", () => {
      throw new Error("boom");
    });
    e.on("ping", ({ n }) => got.push(n));
    expect(() => e.emit("ping", { n: 7 })).not.toThrow();
    expect(got).toEqual([7]);
    expect(errors).toEqual([["ping", "boom"]]);
  });

  it("reports an async listener's rejection as a throw, never leaving it unhandled", async () => {
    const errors: unknown[] = [];
    const e = new Emitter<Events>((error, event) => errors.push([event, (error as Error).message]));
    const got: number[] = [];
    e.on("ping", async () => {
      await Promise.resolve();
      throw new Error("async boom");
    });
    e.on("ping", ({ n }) => got.push(n));
    e.emit("ping", { n: 3 });
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([3]);
    expect(errors).toEqual([["ping", "async boom"]]);
  });

  it("survives an error handler that throws too", () => {
    const e = new Emitter<Events>(() => {
      throw new Error("handler");
    });
    e.on("ping", () => {
      throw new Error("listener");
    });
    expect(() => e.emit("ping", { n: 1 })).not.toThrow();
  });

  it("has() is false with no listeners", () => {
    const e = new Emitter<Events>();
    expect(e.has("ping")).toBe(false);
    const off = e.on("ping", () => {});
    expect(e.has("ping")).toBe(true);
    off();
    expect(e.has("ping")).toBe(false);
  });
});
