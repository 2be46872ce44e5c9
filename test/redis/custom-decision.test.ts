/**
 * A user's own decision on Redis: the recipe of docs/custom-decisions.md (a throttle and its
 * Lua twin, registered with registerTwin) run as the page shows it, on a real redis-server,
 * across two stores as two processes would; the registry's refusals; the twin's fallback
 * while Redis is away.
 */
import { describe, expect, it } from "vitest";
import { InvalidOptionError, MemoryStore } from "../../src/index.js";
import { RedisStore, type RedisStoreOptions, registerTwin, type Twin, twinKinds } from "../../src/redis/index.js";
import { loadRecipe } from "../docs/recipe.js";
import { connect } from "../setup/clients.js";
import { type RedisServer, startRedis } from "../setup/redis.js";
import { quiet, redisSuite, sleep } from "../setup/redis-suite.js";

const suite = redisSuite("cus");

async function store(options: Omit<RedisStoreOptions, "client"> = {}, target: RedisServer = suite.server): Promise<RedisStore> {
  const c = suite.track(await connect("ioredis", { server: target }));
  return suite.track(new RedisStore({ client: c.client, logger: quiet, ...options }));
}

describe("a custom decision with its Lua twin (docs/custom-decisions.md)", () => {
  it("runs on Redis once registered: two stores share the key as two processes would", async () => {
    const { ThrottleDecision } = await loadRecipe();
    expect(twinKinds()).toContain("throttle");
    const namespace = suite.ns();
    const [a, b] = [await store({ namespace }), await store({ namespace })];
    const throttle = new ThrottleDecision(300);
    const first = await a.apply(throttle, "job", "call", 0);
    expect(first).toEqual({ allowed: true, retryAfterMs: 0 });
    const second = await b.apply(throttle, "job", "call", 0);
    expect(second.allowed).toBe(false);
    expect(second.retryAfterMs).toBeGreaterThan(200);
    expect(second.retryAfterMs).toBeLessThanOrEqual(300);
    // The state is in Redis, on the server's clock, and expires once idle.
    const state = await b.read(throttle, "job", 0);
    expect(state?.nextAt).toBeGreaterThan(Date.now() - 60_000);
    const ttl = await suite.admin.pttl(a.redisKey("job"));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
    await sleep(second.retryAfterMs + 20);
    expect((await b.apply(throttle, "job", "call", 0)).allowed).toBe(true);
    expect(await suite.admin.get(`${namespace}:{other}`)).toBeNull();
  });

  it("the page's usage function sends at most once per interval, fleet-wide", async () => {
    const { sendReport } = await loadRecipe();
    const namespace = suite.ns();
    const stores = [await store({ namespace }), await store({ namespace }), new MemoryStore()];
    let sent = 0;
    const send = async (): Promise<void> => void sent++;
    const waits = await Promise.all([sendReport(stores[0]!, send, 0), sendReport(stores[1]!, send, 0), sendReport(stores[0]!, send, 0)]);
    expect(sent).toBe(1);
    expect(waits.filter((w) => w === 0)).toHaveLength(1);
    for (const w of waits.filter((w) => w !== 0)) expect(w).toBeGreaterThan(59_000);
    // On MemoryStore the same decision needs no twin.
    expect(await sendReport(stores[2]!, send, 1_000)).toBe(0);
    expect(await sendReport(stores[2]!, send, 2_000)).toBe(59_000);
    expect(sent).toBe(2);
    await stores[2]!.close();
  });

  it("while Redis is away the twin's fallback answers: allow, deny, or the step in process (local)", async () => {
    const { ThrottleDecision } = await loadRecipe();
    const own = await startRedis({ ignoreEnv: true });
    const throttle = new ThrottleDecision(10_000);
    const modes = ["allow", "deny", "local"] as const;
    const stores = await Promise.all(
      modes.map((onRedisError) => store({ namespace: suite.ns(), onRedisError, commandTimeoutMs: 200, retryIntervalMs: 700 }, own)),
    );
    for (const s of stores) expect((await s.apply(throttle, "k", "call", 0)).allowed).toBe(true);
    await own.kill();
    const answers = [];
    for (const s of stores) answers.push([await s.apply(throttle, "k", "call", 5_000), await s.apply(throttle, "k", "call", 5_000)]);
    expect(answers[0]).toEqual([
      { allowed: true, retryAfterMs: 0 },
      { allowed: true, retryAfterMs: 0 },
    ]);
    expect(answers[1]).toEqual([
      { allowed: false, retryAfterMs: 700 },
      { allowed: false, retryAfterMs: 700 },
    ]);
    // Local: the in-process store starts afresh and runs the decision's own step.
    expect(answers[2]).toEqual([
      { allowed: true, retryAfterMs: 0 },
      { allowed: false, retryAfterMs: 10_000 },
    ]);
  });

  it("a kind nobody registered still fails on Redis, saying how to register one", async () => {
    const s = await store({ namespace: suite.ns() });
    const fake = { kind: "unregistered", params: {}, evictable: true, init: () => 0, step: () => 0, isIdle: () => true };
    await expect(s.apply(fake, "k", 1, 0)).rejects.toThrow(
      /no Lua twin for decision kind "unregistered": register one with registerTwin\(\)/,
    );
  });
});

describe("registerTwin: what it refuses", () => {
  it("refuses the breaker's kind, an empty kind, and another twin for a kind that has one (built in or not)", async () => {
    const { THROTTLE_TWIN } = await loadRecipe();
    const refusal = (kind: unknown, twin: unknown): InvalidOptionError => {
      try {
        registerTwin(kind as string, twin as Twin<unknown, unknown, unknown>);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidOptionError);
        return error as InvalidOptionError;
      }
      throw new Error(`registerTwin(${String(kind)}) did not throw`);
    };
    expect(refusal("breaker", THROTTLE_TWIN)).toMatchObject({ option: "kind", value: "breaker" });
    expect(refusal("", THROTTLE_TWIN)).toMatchObject({ option: "kind", value: "" });
    expect(refusal(7, THROTTLE_TWIN)).toMatchObject({ option: "kind", value: 7 });
    expect(refusal("tokenBucket", THROTTLE_TWIN).message).toContain('registerTwin(): option "kind" must be a kind without a twin yet');
    expect(refusal("throttle", { ...THROTTLE_TWIN })).toMatchObject({ option: "kind", value: "throttle" });
    // The same twin again changes nothing.
    expect(() => registerTwin("throttle", THROTTLE_TWIN)).not.toThrow();
  });

  it("refuses a twin that is not one, naming the part", async () => {
    const { THROTTLE_TWIN } = await loadRecipe();
    const cases: [unknown, string][] = [
      [null, "twin"],
      ["twin", "twin"],
      [{ ...THROTTLE_TWIN, script: undefined }, "twin.script"],
      [{ ...THROTTLE_TWIN, script: { ...THROTTLE_TWIN.script, sha: "abc" } }, "twin.script"],
      [{ ...THROTTLE_TWIN, multi: "EVAL" }, "twin.multi"],
      [{ ...THROTTLE_TWIN, maxBatch: 0 }, "twin.maxBatch"],
      [{ ...THROTTLE_TWIN, maxBatch: 1.5 }, "twin.maxBatch"],
      [{ ...THROTTLE_TWIN, args: undefined }, "twin.args"],
      [{ ...THROTTLE_TWIN, decode: "decode" }, "twin.decode"],
      [{ ...THROTTLE_TWIN, readArgs: null }, "twin.readArgs"],
      [{ ...THROTTLE_TWIN, decodeState: 1 }, "twin.decodeState"],
      [{ ...THROTTLE_TWIN, fallback: {} }, "twin.fallback"],
    ];
    for (const [twin, option] of cases) {
      expect(() => registerTwin("never-registered", twin as Twin<unknown, unknown, unknown>)).toThrow(
        expect.objectContaining({ name: "InvalidOptionError", option }),
      );
    }
    expect(twinKinds()).not.toContain("never-registered");
  });
});
