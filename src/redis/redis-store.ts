import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { background, systemClock } from "../core/clock.js";
import { InvalidOptionError, ResilienceError } from "../core/errors.js";
import { Emitter } from "../core/events.js";
import { boolean, checkKeys, integer, nonEmptyString, oneOf, orDefault, positive } from "../core/validate.js";
import { MemoryStore } from "../store/memory.js";
import type { BoundState, Decision, MirroredState, Store } from "../store/store.js";
import { type RedisAdapter, toAdapter } from "./adapter.js";
import type { LuaScript } from "./scripts/script.js";
import type { MirrorHost, RedisErrorMode, RemoteMirror, Twin, TwinStore } from "./twin.js";
import { twinOf } from "./twin-registry.js";
import { TwinRunner } from "./twin-runner.js";
import { CommandWatchdog } from "./watchdog.js";

export type { RedisErrorMode } from "./twin.js";

type AnyMirror = RemoteMirror<unknown, unknown, unknown>;

/** Where RedisStore reports what went wrong with Redis: pino, `console` and the core `Logger` fit. */
export interface RedisStoreLogger {
  /** Redis became unreachable or came back, a script failed, a message could not be read. */
  warn(fields: object, message?: string): void;
}

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * A connected client: ioredis `Redis` or `Cluster`, node-redis v4+ `createClient()` or
   * `createCluster()` (after `connect()`), or a {@link RedisAdapter}. The store never
   * closes it. Required.
   */
  readonly client: object;
  /**
   * The connection SUBSCRIBE uses. Default: a duplicate of `client`, which the store
   * opens and closes itself.
   */
  readonly subscriber?: object;
  /** The prefix of every key and of the pub/sub channel. No braces. Default `"breakwater"`. */
  readonly namespace?: string;
  /**
   * How long a breaker's record outlives its last write (ms); an open circuit's lasts its
   * open interval longer. Default 3,600,000 (one hour).
   */
  readonly metaTtlMs?: number;
  /**
   * What a policy does while Redis cannot be reached: `"local"` (default) decides in
   * process (a breaker from the last state it saw, a limiter from an in-process store that
   * starts full); `"allow"` lets every call through and records nothing; `"deny"` rejects
   * the calls that ask the store (a breaker looks open, a limiter refuses with
   * `retryAfterMs` = `retryIntervalMs`).
   */
  readonly onRedisError?: RedisErrorMode;
  /** How long a command may take before the store falls back (ms). Default 1,000. */
  readonly commandTimeoutMs?: number;
  /** How often an unreachable Redis is probed with PING (ms). Default 1,000. */
  readonly retryIntervalMs?: number;
  /** The most outcomes one breaker queues while a batch is in flight; past it the oldest are dropped. Default 10,000. */
  readonly maxQueued?: number;
  /** Where outages are logged (once when Redis goes away, once when it is back). Default: process warnings. */
  readonly logger?: RedisStoreLogger;
  /**
   * This process's id in the fleet: breakers with a `quorum` count processes by it, and
   * `status()` lists own views by it. Unique per process. Default `host:pid:random`.
   */
  readonly processId?: string;
  /**
   * Whether concurrent limiter calls on different keys may share one script. Default: true
   * for an ioredis or node-redis client of a standalone server, false for a Cluster (keys
   * live in different slots) and for a custom {@link RedisAdapter}. Set it to false behind
   * a proxy that shards keys itself and routes a script by its first key (twemproxy,
   * Envoy): there a shared script would keep the other keys' state on the wrong shard, and
   * limits would silently stop being exact. A server that answers CROSSSLOT (a Cluster
   * node, a clustered managed endpoint) turns it off on its own, once, with a warning.
   */
  readonly batchAcrossKeys?: boolean;
}

/** The events of a {@link RedisStore}. */
export interface RedisStoreEvents {
  /** A command failed or timed out (the caller got the fallback's answer instead). */
  error: { readonly error: unknown; readonly operation: string };
  /** Redis became unreachable; policies use `fallback` until it is back. */
  unavailable: { readonly error: unknown; readonly fallback: RedisErrorMode };
  /** Redis answered again after `downMs`; mirrors are resynchronised. */
  available: { readonly downMs: number };
}

const WHERE = "RedisStore";
const OPTION_KEYS = [
  "client",
  "subscriber",
  "namespace",
  "metaTtlMs",
  "onRedisError",
  "commandTimeoutMs",
  "retryIntervalMs",
  "maxQueued",
  "logger",
  "processId",
  "batchAcrossKeys",
] as const;
const MODES: readonly RedisErrorMode[] = ["local", "allow", "deny"];
/** The most store keys whose Redis key is remembered. */
const KEY_CACHE_SIZE = 4_096;
/**
 * Adapters known to talk to one standalone server, where a script may touch keys of any
 * slot: concurrent limiter calls on different keys then share a script by default
 * (`batchAcrossKeys`). On a cluster (or an adapter of unknown kind) only one key's calls do.
 */
const STANDALONE: ReadonlySet<string> = new Set(["ioredis", "node-redis"]);

/** A command took longer than `commandTimeoutMs`. */
export class RedisTimeoutError extends ResilienceError {
  constructor(operation: string, timeoutMs: number) {
    super(`Redis ${operation} did not answer within ${timeoutMs} ms`);
  }
}

const defaultLogger: RedisStoreLogger = {
  warn: (fields, message) =>
    process.emitWarning(`${message ?? "RedisStore"} ${JSON.stringify(fields)}`, { type: "BreakwaterRedisWarning" }),
};

/**
 * A store in Redis (or Valkey), shared by every process that uses the same namespace.
 * Each decision runs atomically in one Lua script with the server's TIME as its clock:
 * its Lua twin, found by the decision's kind in one registry (the breaker's, the token
 * bucket's, both sliding windows', the fixed window's, the adaptive limiter's, a user's
 * own). A twin that offers a mirror (the breaker's) gives `mirror()`: a local copy of the
 * key's record, refreshed from every script reply and from the pub/sub message each
 * transition publishes, so `isAvailable()` stays synchronous and a closed breaker never
 * waits for Redis. A limiter asks Redis on every call (that is what makes it exact across
 * processes); concurrent calls on one key share a script call. Redis errors never reach
 * the caller: they are emitted (`on("error")`), logged, and answered by `onRedisError`.
 */
export class RedisStore implements Store, TwinStore {
  readonly name = "redis";
  readonly synchronous = false;
  /** The prefix of every key. */
  readonly namespace: string;
  /** The pub/sub channel transitions are published on. */
  readonly channel: string;
  /** The client, as the store talks to it. */
  readonly adapter: RedisAdapter;
  /** How long a breaker's record outlives its last write (ms): `metaTtlMs`. */
  readonly metaTtlMs: number;
  private readonly mode: RedisErrorMode;
  private readonly commandTimeoutMs: number;
  private readonly retryIntervalMs: number;
  private readonly logger: RedisStoreLogger;
  private readonly events = new Emitter<RedisStoreEvents>();
  /** This process's id in the fleet: in published messages, quorum counts and own views. */
  readonly processId: string;
  private readonly host: MirrorHost;
  /** The mirror of each key that has one (`mirror()`), by Redis key. */
  private readonly mirrors = new Map<string, AnyMirror>();
  private readonly local = new MemoryStore({ sweepIntervalMs: 0 });
  private readonly detachErrors: () => void;
  private healthy = true;
  private downSince = 0;
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  private probing = false;
  private unsubscribe: Promise<(() => Promise<void>) | undefined> | undefined;
  private closed = false;
  /** The server's clock minus this process's (ms), from the last limiter reply; undefined before one. */
  private serverOffset: number | undefined;
  private readonly watchdog: CommandWatchdog;
  private readonly twins: TwinRunner;
  /** The last key `redisKey` mapped, and its Redis key: a limiter's hot key is mapped once. */
  private lastKey = "";
  private lastRedisKey = "";
  /** Keys mapped before (bounded): calls spread over many keys skip the regex and concatenations. */
  private readonly keyCache = new Map<string, string>();

  constructor(options: RedisStoreOptions) {
    if (options === undefined || options === null) throw new InvalidOptionError(WHERE, "client", undefined, "a Redis client");
    checkKeys(WHERE, options, OPTION_KEYS);
    this.adapter = toAdapter(options.client, options.subscriber);
    if (options.subscriber !== undefined && (typeof options.subscriber !== "object" || options.subscriber === null)) {
      throw new InvalidOptionError(WHERE, "subscriber", options.subscriber, "a Redis client of the same kind as client");
    }
    this.processId = nonEmptyString(
      WHERE,
      "processId",
      orDefault(options.processId, `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`),
    );
    this.namespace = nonEmptyString(WHERE, "namespace", orDefault(options.namespace, "breakwater"));
    if (/[{}]/.test(this.namespace))
      throw new InvalidOptionError(WHERE, "namespace", this.namespace, "a string without { or } (the store adds the hash tags)");
    this.channel = `${this.namespace}:transitions`;
    this.metaTtlMs = integer(WHERE, "metaTtlMs", orDefault(options.metaTtlMs, 3_600_000));
    this.mode = oneOf(WHERE, "onRedisError", orDefault(options.onRedisError, "local"), MODES);
    this.commandTimeoutMs = positive(WHERE, "commandTimeoutMs", orDefault(options.commandTimeoutMs, 1_000));
    this.retryIntervalMs = positive(WHERE, "retryIntervalMs", orDefault(options.retryIntervalMs, 1_000));
    const acrossKeys = boolean(WHERE, "batchAcrossKeys", orDefault(options.batchAcrossKeys, STANDALONE.has(this.adapter.kind)));
    this.watchdog = new CommandWatchdog(this.commandTimeoutMs, (operation, ms) => new RedisTimeoutError(operation, ms));
    this.twins = new TwinRunner(
      {
        store: this,
        usable: () => this.healthy && !this.closed,
        send: (script, keys, args, operation) => {
          args.push(this.deadline());
          return this.watchdog.guard(this.adapter.evalScript(script, keys, args), operation);
        },
        replied: (twin, reply, redisKey) => this.replied(twin, reply, redisKey),
        warn: (fields, message) => this.warn({ namespace: this.namespace, ...fields }, message),
        failed: (error, operation) => this.failed(error, operation),
        report: (error, operation) => this.report(error, operation),
        stale: (operation) => new RedisTimeoutError(operation, this.commandTimeoutMs),
        fallback: (twin, decision, key, input, now) => this.twinFallback(twin, decision, key, input, now),
      },
      acrossKeys,
    );
    const maxQueued = integer(WHERE, "maxQueued", orDefault(options.maxQueued, 10_000));
    this.logger = options.logger ?? defaultLogger;
    if (typeof this.logger.warn !== "function")
      throw new InvalidOptionError(WHERE, "logger", options.logger, "an object with warn(fields, message)");
    this.detachErrors = this.adapter.onError((error) => this.failed(error, "connection"));
    this.host = {
      processId: this.processId,
      channel: this.channel,
      metaTtlMs: this.metaTtlMs,
      mode: this.mode,
      retryIntervalMs: this.retryIntervalMs,
      maxQueued,
      healthy: () => this.healthy && !this.closed,
      run: (script, keys, args, operation) => this.run(keys, args, operation, script),
      warn: (error, operation) => this.report(error, operation),
      deadline: () => this.deadline(),
      serverNow: (now) => {
        if (Number.isFinite(now)) this.serverOffset = now - systemClock.now();
      },
    };
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof RedisStoreEvents>(event: K, listener: (payload: RedisStoreEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** False while Redis is known to be unreachable (policies are on their fallback). */
  get available(): boolean {
    return this.healthy;
  }

  /** The Redis key of a store key: under the namespace, with a hash tag (the key itself unless it has one). */
  redisKey(key: string): string {
    if (key === this.lastKey && key !== "") return this.lastRedisKey;
    let mapped = this.keyCache.get(key);
    if (mapped === undefined) {
      mapped = this.mapKey(key);
      // Cleared rather than evicted one by one: simple, and refilled at once by the keys in use.
      if (this.keyCache.size >= KEY_CACHE_SIZE) this.keyCache.clear();
      this.keyCache.set(key, mapped);
    }
    this.lastRedisKey = mapped;
    this.lastKey = key;
    return mapped;
  }

  private mapKey(key: string): string {
    const prefix = `${this.namespace}:`;
    const prefixed = key.startsWith(prefix) ? key : prefix + key;
    return /\{[^}]+\}/.test(prefixed) ? prefixed : `${prefix}{${key.startsWith(prefix) ? key.slice(prefix.length) : key}}`;
  }

  /**
   * Applies `decision` atomically in its Lua twin, with the server's TIME as the clock
   * (`now`, the caller's clock, only moves absolute times in the output onto it). Never
   * rejects for a Redis error: the answer then comes from `onRedisError`.
   */
  apply<S, I, O>(decision: Decision<S, I, O>, key: string, input: I, now: number): Promise<O> {
    const twin = twinOf(decision);
    if (twin === undefined) return Promise.reject(this.noTwin(decision.kind));
    return this.twins.apply(twin, decision, key, this.redisKey(key), input, now);
  }

  bind<S, I, O>(decision: Decision<S, I, O>, key: string): BoundState<S, I, O> {
    return {
      apply: (input, now) => this.apply(decision, key, input, now),
      read: (now) => this.read(decision as Decision<S, unknown, unknown>, key, now),
    };
  }

  /**
   * A local mirror of the record at `key`, from the mirror `decision`'s twin offers (the
   * breaker's): one per key, shared by every policy of this store on that key, refreshed by
   * its own answers and by what the other processes publish on `channel`.
   */
  mirror<S, I, O>(decision: Decision<S, I, O>, key: string): MirroredState<S, I, O> {
    const twin = twinOf(decision);
    if (twin?.mirror === undefined) {
      throw new ResilienceError(`RedisStore has no mirror for decision kind "${decision.kind}": its Lua twin offers none`);
    }
    const redisKey = this.redisKey(key);
    let mirror = this.mirrors.get(redisKey);
    if (mirror === undefined) {
      mirror = twin.mirror(this.host, decision, redisKey) as unknown as AnyMirror;
      this.mirrors.set(redisKey, mirror);
      this.subscribe();
    }
    return mirror as unknown as MirroredState<S, I, O>;
  }

  /** The state at `key`, read by the decision's twin (its script, changing nothing). */
  async read<S>(decision: Decision<S, unknown, unknown>, key: string, _now?: number): Promise<S | undefined> {
    const twin = twinOf(decision);
    if (twin === undefined) throw this.noTwin(decision.kind);
    if (!this.healthy || this.closed) return this.local.read(decision, key);
    try {
      const reply = await this.run([this.redisKey(key)], [...twin.readArgs(decision, this), "0"], `${decision.kind}:read`, twin.script);
      return twin.decodeState(reply);
    } catch {
      return this.local.read(decision, key);
    }
  }

  async delete(key: string): Promise<void> {
    const redisKey = this.redisKey(key);
    this.local.delete(key);
    try {
      await this.timed(this.adapter.del(redisKey), "del");
    } catch (error) {
      this.failed(error, "del");
    }
    this.mirrors.get(redisKey)?.resync();
  }

  /**
   * Sends what every breaker has queued, stops probing, unsubscribes (closing the
   * subscriber it opened) and detaches its listeners. The client stays open: it is yours.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    const flushes = [...this.mirrors.values()].map((m) => m.flush());
    await this.timed(Promise.all(flushes), "close").catch(() => undefined);
    this.closed = true;
    if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    const pending = this.unsubscribe;
    this.unsubscribe = undefined;
    if (pending !== undefined) {
      // A subscription still connecting (Redis down) is closed whenever it completes.
      void pending.then((unsubscribe) => unsubscribe?.().catch(() => undefined));
      const unsubscribe = await this.timed(pending, "close").catch(() => undefined);
      if (unsubscribe !== undefined) await this.timed(unsubscribe(), "close").catch(() => undefined);
    }
    this.detachErrors();
    // Nothing waits on a command past close(): its caller gets the fallback's answer.
    this.watchdog.close(new ResilienceError("RedisStore is closed"));
    await this.local.close();
  }

  private noTwin(kind: string): Error {
    return new ResilienceError(
      `RedisStore has no Lua twin for decision kind "${kind}": register one with registerTwin() (see docs/custom-decisions.md)`,
    );
  }

  /** The answer without Redis: `onRedisError` decides. */
  private twinFallback<S, I, O>(twin: Twin<S, I, O>, decision: Decision<S, I, O>, key: string, input: I, now: number): O {
    const local = twin.localInput === undefined ? input : twin.localInput(input);
    if (this.mode === "local") return this.local.apply(decision, key, local, now);
    return twin.fallback(this.mode, decision, input, this.retryIntervalMs, () => this.local.apply(decision, key, local, now));
  }

  /**
   * The server-clock time after which a command sent now must not run (its caller will have
   * answered from the fallback): see `STALE_CHECK`. "0" (none) until a reply has told the
   * server's clock; the estimate errs early by at most a round trip.
   */
  private deadline(): string {
    return this.serverOffset === undefined ? "0" : String(Math.ceil(systemClock.now() + this.serverOffset + this.commandTimeoutMs));
  }

  /**
   * A twin's script answered at `redisKey` (a one-key script): learn the server's clock
   * from the reply (the twin's `serverNow`, else an array reply's last element), and
   * refresh the mirror held at that key, if the twin has mirrors.
   */
  private replied(twin: Twin<unknown, unknown, unknown>, reply: unknown, redisKey: string | undefined): void {
    const serverNow = twin.serverNow !== undefined ? twin.serverNow(reply) : Array.isArray(reply) ? Number(reply[reply.length - 1]) : NaN;
    if (Number.isFinite(serverNow)) this.serverOffset = serverNow - systemClock.now();
    if (twin.mirror !== undefined && redisKey !== undefined) this.mirrors.get(redisKey)?.replied(reply);
  }

  private async run(keys: readonly string[], args: readonly string[], operation: string, script: LuaScript): Promise<unknown> {
    if (this.closed) throw new ResilienceError("RedisStore is closed");
    try {
      return await this.watchdog.guard(this.adapter.evalScript(script, keys, args), operation);
    } catch (error) {
      this.failed(error, operation);
      throw error;
    }
  }

  /**
   * `promise`, or a `RedisTimeoutError` after `commandTimeoutMs`. The timer keeps the
   * process alive while a caller awaits the answer (`awaited`); the health probe's ping,
   * which nobody awaits, passes false.
   */
  private timed<T>(promise: Promise<T>, operation: string, awaited = true): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RedisTimeoutError(operation, this.commandTimeoutMs)), this.commandTimeoutMs);
      if (!awaited) background(timer);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  private subscribe(): void {
    if (this.unsubscribe !== undefined || this.closed) return;
    this.unsubscribe = this.adapter
      .subscribe(
        this.channel,
        (message) => this.onMessage(message),
        () => this.resyncAll(),
      )
      .catch((error: unknown) => {
        this.failed(error, "subscribe");
        this.unsubscribe = undefined;
        return undefined;
      });
  }

  /** A message on the channel: a JSON object whose `k` is the Redis key it is about, for that key's mirror. */
  private onMessage(message: string): void {
    try {
      const parsed = JSON.parse(message) as { k?: unknown };
      if (typeof parsed.k === "string") this.mirrors.get(parsed.k)?.receive(parsed);
    } catch (error) {
      this.report(error, "message");
    }
  }

  private resyncAll(): void {
    for (const mirror of this.mirrors.values()) mirror.resync();
  }

  private report(error: unknown, operation: string): void {
    if (this.events.has("error")) this.events.emit("error", { error, operation });
  }

  /** A command failed: report it and, unless the server itself answered, fall back until a PING succeeds. */
  /** Logs through the user's logger; a logger that throws is ignored (it must not break a call). */
  private warn(fields: object, message: string): void {
    try {
      this.logger.warn(fields, message);
    } catch {
      // Nothing to do: the events carry the same news.
    }
  }

  private failed(error: unknown, operation: string): void {
    this.report(error, operation);
    if (isServerReply(error) || !this.healthy || this.closed) return;
    this.healthy = false;
    this.downSince = systemClock.now();
    this.warn({ namespace: this.namespace, operation, error: String(error), fallback: this.mode }, "Redis unreachable; policies fall back");
    this.events.emit("unavailable", { error, fallback: this.mode });
    this.probeTimer = background(setInterval(() => this.probe(), this.retryIntervalMs));
  }

  private probe(): void {
    if (this.probing || this.closed) return;
    this.probing = true;
    this.timed(this.adapter.ping(), "ping", false).then(
      () => {
        this.probing = false;
        if (this.healthy || this.closed) return;
        this.healthy = true;
        if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
        this.probeTimer = undefined;
        const downMs = systemClock.now() - this.downSince;
        this.warn({ namespace: this.namespace, downMs }, "Redis reachable again; resynchronising");
        this.events.emit("available", { downMs });
        this.subscribe();
        this.resyncAll();
      },
      () => {
        this.probing = false;
      },
    );
  }
}

/** True for an error the server answered with (a script error, WRONGTYPE): Redis is reachable. */
function isServerReply(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === "ReplyError" || error.name === "ErrorReply" || error.constructor.name === "ErrorReply";
}
