import { describe, expect, it } from "vitest";
import {
  CircuitBreakers,
  CircuitOpenError,
  consecutiveFailures,
  failuresInWindow,
  InvalidOptionError,
  ManualClock,
  MemoryStore,
  ReturnValuePolicyError,
} from "../../src/index.js";

class BadRequest extends Error {}
class ConnectError extends Error {}

function registry() {
  const clock = new ManualClock();
  const changes: string[] = [];
  const breakers = new CircuitBreakers({
    clock,
    namespace: "myapp:circuit",
    defaults: { trip: failuresInWindow(3, 60_000), recovery: 10_000 },
    services: {
      elasticsearch: { trip: consecutiveFailures(2), ignore: [BadRequest] },
      http: { trip: consecutiveFailures(1), failOn: [ConnectError] },
    },
    onStateChange: (e) => changes.push(`${e.name}:${e.from}->${e.to}`),
  });
  return { breakers, clock, changes };
}

const reject = (e: Error) => () => Promise.reject(e);

describe("CircuitBreakers", () => {
  it("gives unknown services the defaults and creates breakers lazily", async () => {
    const { breakers } = registry();
    expect(breakers.names().sort()).toEqual(["elasticsearch", "http"]);
    for (let i = 0; i < 2; i++) await breakers.execute("kafka", reject(new Error("down"))).catch(() => undefined);
    expect(breakers.isAvailable("kafka")).toBe(true);
    await breakers.execute("kafka", reject(new Error("down"))).catch(() => undefined);
    expect(breakers.isAvailable("kafka")).toBe(false);
    expect(breakers.names()).toContain("kafka");
  });

  it("applies each service's policy over the defaults", async () => {
    const { breakers, changes } = registry();
    await breakers.execute("elasticsearch", reject(new BadRequest("400"))).catch(() => undefined);
    await breakers.execute("elasticsearch", reject(new BadRequest("400"))).catch(() => undefined);
    expect(breakers.isAvailable("elasticsearch")).toBe(true);
    await breakers.execute("elasticsearch", reject(new Error("503"))).catch(() => undefined);
    await breakers.execute("elasticsearch", reject(new Error("503"))).catch(() => undefined);
    expect(breakers.isAvailable("elasticsearch")).toBe(false);
    expect(changes).toEqual(["elasticsearch:closed->open"]);
  });

  it("per-call overrides win over the service policy (resolved at call time)", async () => {
    const { breakers } = registry();
    // The service counts only ConnectError; this call counts every error.
    await breakers.execute("http", reject(new Error("500")), { failOn: () => true }).catch(() => undefined);
    expect(breakers.isAvailable("http")).toBe(false);
  });

  it("per-call ignore and failOnResult with failureReason", async () => {
    const { breakers } = registry();
    await expect(breakers.execute("http", reject(new ConnectError("c")), { ignore: [ConnectError] })).rejects.toThrow("c");
    expect(breakers.isAvailable("http")).toBe(true);
    const error = await breakers
      .execute("http", () => ({ status: 502 }), { failOnResult: { path: "status", in: [500, 502] }, failureReason: "bad gateway" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReturnValuePolicyError);
    expect(breakers.lastFailure("http")).toEqual({ reason: "bad gateway", at: 0 });
    expect(breakers.isAvailable("http")).toBe(false);
  });

  it("protect() resolves overrides at wrap time and wraps functions", async () => {
    const { breakers } = registry();
    const search = breakers.protect("search", { failOn: [ConnectError] })((q: string) => {
      if (q === "fail") throw new ConnectError("refused");
      return `results for ${q}`;
    });
    expect(await search("cats")).toBe("results for cats");
    for (let i = 0; i < 3; i++) await search("fail").catch(() => undefined);
    await expect(search("cats")).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it("protect() works as a TypeScript 5 method decorator and keeps `this`", async () => {
    const { breakers } = registry();
    class Repo {
      constructor(private readonly prefix: string) {}
      @breakers.protect("postgres")
      async find(id: number): Promise<string> {
        if (id < 0) throw new Error("no such row");
        return `${this.prefix}${id}`;
      }
    }
    const repo = new Repo("row-");
    expect(await repo.find(7)).toBe("row-7");
    for (let i = 0; i < 3; i++) await repo.find(-1).catch(() => undefined);
    await expect(repo.find(7)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it("records by hand, reports lastFailure and status for every service", () => {
    const { breakers, clock } = registry();
    clock.advance(1_234);
    breakers.recordFailure("rabbitmq", "connection reset");
    expect(breakers.lastFailure("rabbitmq")).toEqual({ reason: "connection reset", at: 1_234 });
    breakers.recordSuccess("rabbitmq");
    const status = breakers.status();
    expect(Object.keys(status).sort()).toEqual(["elasticsearch", "http", "rabbitmq"]);
    expect(status.rabbitmq).toMatchObject({ state: "closed", lastFailure: { reason: "connection reset" } });
    expect(breakers.lastFailure("never-used")).toBeUndefined();
  });

  it("keys state under the namespace with one hash tag per service", () => {
    const store = new MemoryStore();
    const breakers = new CircuitBreakers({ store, namespace: "myapp:circuit" });
    expect(breakers.get("kafka").key).toBe("myapp:circuit:{kafka}");
    expect(breakers.get("kafka")).toBe(breakers.get("kafka"));
  });

  it("tells listeners about breakers created later", () => {
    const { breakers } = registry();
    const created: string[] = [];
    const off = breakers.onCreate((name) => created.push(name));
    breakers.get("new-one");
    off();
    breakers.get("another");
    expect(created).toEqual(["new-one"]);
  });

  it("a listener that unsubscribes itself while called does not make the next one miss the breaker", () => {
    const { breakers } = registry();
    const created: string[] = [];
    const off = breakers.onCreate((name) => {
      created.push(`once:${name}`);
      off();
    });
    breakers.onCreate((name) => created.push(name));
    breakers.get("a");
    breakers.get("b");
    expect(created).toEqual(["once:a", "a", "b"]);
  });

  it("rejects bad options at construction, naming the service", () => {
    expect(() => new CircuitBreakers({ services: { es: { maxFailures: 3 } as never } })).toThrow(/"services.es.maxFailures"/);
    expect(() => new CircuitBreakers({ defaults: { halfOpen: { maxCalls: 0 } } })).toThrow(InvalidOptionError);
    expect(() => new CircuitBreakers({ namespace: "" })).toThrow(/"namespace" must be a non-empty string/);
    expect(() => new CircuitBreakers({ bogus: 1 } as never)).toThrow(/"bogus"/);
    const { breakers } = registry();
    expect(() => breakers.protect("x", { failOn: "ConnectError" } as never)).toThrow(/"failOn"/);
    expect(() => breakers.get("")).toThrow(/"service"/);
  });
});
