/**
 * One process of bench/redis.bench.ts's hot-key run: its own ioredis connection, 64 calls in
 * flight on one key for `durationMs`, then the calls made and admitted. Driven over IPC by
 * the parent, which starts four and adds them up.
 *
 * Started with `fork(file, [host, port], { execArgv: ["--import", "tsx"] })`.
 */
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { FixedWindow, type RateLimiter, TokenBucket } from "../../src/index.js";
import { RedisStore } from "../../src/redis/index.js";

/** What to run: a raw PING, rate-limiter-flexible's consume, or a Breakwater limiter (leased or not). */
export type HotKeyCandidate = "ping" | "rlf" | "tokenBucket" | "fixedWindow" | "leasedTokenBucket" | "leasedFixedWindow";

/** A request from the parent. */
export interface HotKeyRequest {
  readonly candidate: HotKeyCandidate;
  /** The key's limit (a window of an hour; a bucket that refills nothing worth a token meanwhile). */
  readonly limit: number;
  readonly namespace: string;
  /** When to start (epoch ms), so that every process starts together. */
  readonly startAt: number;
  readonly durationMs: number;
  readonly inFlight: number;
}

/** The reply: calls made, calls admitted, and the span they took (s). */
export interface HotKeyReply {
  readonly calls: number;
  readonly admitted: number;
  readonly seconds: number;
}

const [host = "127.0.0.1", port = "6379"] = process.argv.slice(2);
const client = new Redis({ host, port: Number(port) });
client.on("error", () => undefined);
await client.ping();

const LEASE = { units: 1_000, maxHoldMs: 1_000 };

function limiterOf(r: HotKeyRequest, store: RedisStore): RateLimiter & { close(): Promise<void> } {
  const lease = r.candidate.startsWith("leased") ? { lease: LEASE } : {};
  return r.candidate.endsWith("TokenBucket") || r.candidate === "tokenBucket"
    ? new TokenBucket({ name: "hot", capacity: r.limit, ratePerSec: r.limit / 3_600_000, store, ...lease })
    : new FixedWindow({ name: "hot", limit: r.limit, windowMs: 3_600_000, store, ...lease });
}

async function run(r: HotKeyRequest): Promise<HotKeyReply> {
  const store = new RedisStore({ client, namespace: r.namespace, logger: { warn: () => undefined } });
  let call: () => Promise<boolean>;
  let close = async (): Promise<void> => undefined;
  if (r.candidate === "ping") {
    call = () => client.ping().then(() => true);
  } else if (r.candidate === "rlf") {
    const rlf = new RateLimiterRedis({ storeClient: client, keyPrefix: r.namespace, points: r.limit, duration: 3_600 });
    call = () =>
      rlf.consume("hot").then(
        () => true,
        () => false,
      );
  } else {
    const limiter = limiterOf(r, store);
    call = () => limiter.tryAcquire("hot").then((d) => d.allowed);
    close = () => limiter.close();
  }
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, r.startAt - Date.now())));
  const until = r.startAt + r.durationMs;
  let calls = 0;
  let admitted = 0;
  const lane = async (): Promise<void> => {
    // Checks the clock every 64 calls: Date.now() is not free at millions of calls a second.
    for (let i = 0; (i & 63) !== 0 || Date.now() < until; i++) {
      calls++;
      if (await call()) admitted++;
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: r.inFlight }, lane));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await close();
  await store.close();
  return { calls, admitted, seconds };
}

process.on("message", (r: HotKeyRequest | "exit") => {
  if (r === "exit") {
    client.disconnect();
    setImmediate(() => process.exit(0));
    return;
  }
  run(r).then(
    (reply) => process.send?.(reply),
    (error: unknown) => process.send?.({ error: String(error) }),
  );
});
process.send?.("ready");
