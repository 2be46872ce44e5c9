/**
 * Operations on the breakers a `RedisStore` keeps in Redis, for a whole namespace:
 * list every breaker (SCAN on the key layout, records decoded as the store writes them),
 * read one, isolate, reset or open one for every process. What the `breakwater` command
 * runs; {@link BreakerAdmin.fleet} gives the live view the dashboard shows (fleet-view.ts).
 *
 * Writes go through the store's own breaker script ({@link BREAKER_SCRIPT}) with the
 * record's stored params, so an isolate or a reset is the same atomic transition a
 * process would make, published on the same channel: every mirror sees it at once.
 */
import { randomUUID } from "node:crypto";
import { constant } from "../backoff/constant.js";
import { BreakerDecision, type Transition } from "../breaker/state.js";
import { consecutiveFailures } from "../breaker/trip.js";
import { InvalidOptionError } from "../core/errors.js";
import { checkKeys, integer, nonEmptyString, nonNegative, orDefault } from "../core/validate.js";
import { type RedisAdapter, toAdapter } from "./adapter.js";
import { type BatchEntry, type BreakerReply, decodeBreakerReply, decodeStored, encodeParams } from "./codec.js";
import {
  AmbiguousBreakerError,
  BreakerNotFoundError,
  describeRecord,
  type FleetBreakerStatus,
  type FleetRecord,
  nameOfKey,
} from "./fleet-record.js";
import { FleetBreakers, type FleetBreakersOptions, type FleetSource } from "./fleet-view.js";
import { BREAKER_SCRIPT } from "./scripts/breaker.js";

/** Options of {@link BreakerAdmin}. */
export interface BreakerAdminOptions {
  /** A connected ioredis or node-redis client (standalone or cluster), or a `RedisAdapter`. Never closed by the admin. Required. */
  readonly client: object;
  /** The fleet's `RedisStore` namespace. No braces. Default `"breakwater"` (the store's default). */
  readonly namespace?: string;
  /**
   * The TTL (ms) an isolate or reset gives the record, as the store's `metaTtlMs` does.
   * Default 3,600,000 (the store's default).
   */
  readonly metaTtlMs?: number;
}

/** What {@link BreakerAdmin.isolate} and {@link BreakerAdmin.reset} did. */
export interface BreakerActionResult {
  readonly action: "isolate" | "reset" | "open";
  readonly name: string;
  readonly key: string;
  /** The transition published to the fleet, or null when there was none (already isolated; reset of a closed circuit clears its counts only). */
  readonly transition: Transition | null;
  /** True when no record existed and `create` made one. */
  readonly created: boolean;
  /** The breaker after the action. */
  readonly breaker: FleetBreakerStatus;
}

/** Options of {@link BreakerAdmin.isolate} and {@link BreakerAdmin.reset}. */
export interface BreakerActionOptions {
  /**
   * When no process has written the breaker yet (or its record expired): isolate creates
   * the record under `<namespace>:{<service>}` (the `CircuitBreakers` layout) with the
   * default policy's params; reset succeeds with nothing to do. Default false: such a
   * service is a {@link BreakerNotFoundError}.
   */
  readonly create?: boolean;
}

const WHERE = "BreakerAdmin";
/** Records read at once while listing (each is a GET and a read-only script run). */
const READ_CONCURRENCY = 32;
/** The params a `new CircuitBreaker({ name })` writes with: what `create` uses. */
const DEFAULT_PARAMS = encodeParams(
  new BreakerDecision({
    trip: consecutiveFailures(5),
    recovery: constant(30_000),
    maxCalls: 1,
    successesToClose: 1,
    trialTimeoutMs: 60_000,
  }),
);

/**
 * Reads and controls the breakers a fleet keeps in Redis under one `RedisStore`
 * namespace.
 *
 * @example
 * ```ts
 * const admin = new BreakerAdmin({ client: redis, namespace: "shop" });
 * for (const b of await admin.list()) console.log(b.name, b.state, b.failures);
 * await admin.isolate("payments"); // every process rejects payments calls until reset
 * ```
 */
export class BreakerAdmin implements FleetSource {
  /** The namespace the breakers live under. */
  readonly namespace: string;
  /** The pub/sub channel transitions are published on (the store's). */
  readonly channel: string;
  /** The client, as the admin talks to it. */
  readonly adapter: RedisAdapter;
  private readonly metaTtlMs: number;
  private readonly origin = `breakwater-admin:${randomUUID()}`;

  constructor(options: BreakerAdminOptions) {
    if (options === undefined || options === null) throw new InvalidOptionError(WHERE, "client", undefined, "a Redis client");
    checkKeys(WHERE, options, ["client", "namespace", "metaTtlMs"]);
    this.adapter = toAdapter(options.client);
    this.namespace = nonEmptyString(WHERE, "namespace", orDefault(options.namespace, "breakwater"));
    if (/[{}]/.test(this.namespace))
      throw new InvalidOptionError(WHERE, "namespace", this.namespace, "a string without { or } (as RedisStore's)");
    this.metaTtlMs = integer(WHERE, "metaTtlMs", orDefault(options.metaTtlMs, 3_600_000));
    this.channel = `${this.namespace}:transitions`;
  }

  /** Every breaker in the namespace, sorted by name. */
  async list(): Promise<FleetBreakerStatus[]> {
    const records = await this.readAll();
    return records.map((r) => describeRecord(r.key, nameOfKey(r.key, this.namespace), r.params, r.record, r.now)).sort(byName);
  }

  /** The breaker of `service` (a name as {@link list} shows it, or a full key); throws {@link BreakerNotFoundError}. */
  async get(service: string): Promise<FleetBreakerStatus> {
    const found = await this.resolve(service);
    if (found === undefined) throw new BreakerNotFoundError(service, this.namespace, await this.names());
    return describeRecord(found.key, nameOfKey(found.key, this.namespace), found.params, found.record, found.now);
  }

  /**
   * Holds `service`'s circuit open in every process until {@link reset}: one atomic
   * script run that writes the record and publishes the transition.
   */
  isolate(service: string, options: BreakerActionOptions = {}): Promise<BreakerActionResult> {
    return this.act(service, "isolate", options);
  }

  /** Closes `service`'s circuit in every process and clears its counts (and any isolation). */
  reset(service: string, options: BreakerActionOptions = {}): Promise<BreakerActionResult> {
    return this.act(service, "reset", options);
  }

  /**
   * Opens `service`'s circuit in every process for `forMs`, whatever its trip rule says
   * (`CircuitBreaker.open`); then a probe is due. An isolated circuit stays isolated.
   */
  open(service: string, how: { readonly forMs: number }, options: BreakerActionOptions = {}): Promise<BreakerActionResult> {
    checkKeys(`${WHERE}.open`, how, ["forMs"]);
    const forMs = Math.round(nonNegative(`${WHERE}.open`, "forMs", how?.forMs));
    return this.act(service, "open", options, forMs);
  }

  /**
   * A live view of the namespace's breakers for the dashboard: refreshed every
   * `refreshMs` and on every published transition. Call `start()` first, `close()` last.
   */
  fleet(options: FleetBreakersOptions = {}): FleetBreakers {
    return new FleetBreakers(this, options);
  }

  /** @internal Every breaker record in the namespace, read now. */
  async readAll(): Promise<FleetRecord[]> {
    // Keyed limiters live at <ns>:limit:<name>:{<key>}, possibly one per user: skip them unread.
    const limiters = `${this.namespace}:limit:`;
    const keys = (await this.adapter.scan(`${escapeGlob(this.namespace)}:*`)).filter((k) => !k.startsWith(limiters)).sort();
    const out: FleetRecord[] = [];
    for (let i = 0; i < keys.length; i += READ_CONCURRENCY) {
      const page = await Promise.all(keys.slice(i, i + READ_CONCURRENCY).map((key) => this.readKey(key)));
      for (const r of page) if (r !== undefined) out.push(r);
    }
    return out;
  }

  /** @internal One record: its params by GET, then the record and the server's time by a read-only run of the breaker script. */
  async readKey(key: string): Promise<FleetRecord | undefined> {
    let text: string | null;
    try {
      text = await this.adapter.get(key);
    } catch (error) {
      // A limiter's key of another type under the same namespace: not a breaker.
      if (error instanceof Error && error.message.includes("WRONGTYPE")) return undefined;
      throw error;
    }
    const stored = decodeStored(text);
    if (stored === undefined) return undefined;
    const reply = await this.runScript(key, stored.params, []);
    // Expired between the GET and the script: the script answered a fresh record it did not write.
    if (reply.rev === 0) return undefined;
    return { key, params: stored.params, rev: reply.rev, record: reply.record, now: reply.now };
  }

  /** @internal Applies isolate or reset to a full key with the given params. */
  async actOnKey(
    key: string,
    params: string,
    action: "isolate" | "reset" | "open",
    forMs = 0,
  ): Promise<{ reply: BreakerReply; params: string }> {
    const entry: BatchEntry = action === "isolate" ? ["i"] : action === "reset" ? ["x"] : ["o", forMs];
    const reply = await this.runScript(key, params, [entry]);
    return { reply, params };
  }

  private async act(
    service: string,
    action: "isolate" | "reset" | "open",
    options: BreakerActionOptions,
    forMs = 0,
  ): Promise<BreakerActionResult> {
    checkKeys(`${WHERE}.${action}`, options, ["create"]);
    const create = orDefault(options.create, false);
    if (typeof create !== "boolean") throw new InvalidOptionError(`${WHERE}.${action}`, "create", create, "a boolean");
    let target: { key: string; params: string } | undefined = await this.resolve(service);
    let created = false;
    if (target === undefined) {
      if (!create) throw new BreakerNotFoundError(service, this.namespace, await this.names());
      const key = this.keyOf(service);
      if (action === "reset") {
        // Nothing stored is a closed circuit with no counts already: nothing to write.
        const reply = await this.runScript(key, DEFAULT_PARAMS, []);
        const breaker = describeRecord(key, nameOfKey(key, this.namespace), DEFAULT_PARAMS, reply.record, reply.now);
        return { action, name: breaker.name, key, transition: null, created: false, breaker };
      }
      target = { key, params: DEFAULT_PARAMS };
      created = true;
    }
    const { reply, params } = await this.actOnKey(target.key, target.params, action, forMs);
    const breaker = describeRecord(target.key, nameOfKey(target.key, this.namespace), params, reply.record, reply.now);
    return { action, name: breaker.name, key: target.key, transition: reply.transitions[0] ?? null, created, breaker };
  }

  /** The key a service name gets when created here: the `CircuitBreakers` layout. */
  private keyOf(service: string): string {
    if (service.startsWith(`${this.namespace}:`)) {
      if (!/\{[^}]+\}/.test(service))
        throw new InvalidOptionError(
          WHERE,
          "service",
          service,
          "a full key with a hash tag, as RedisStore writes them (<namespace>:{<service>})",
        );
      return service;
    }
    if (/[{}]/.test(service))
      throw new InvalidOptionError(WHERE, "service", service, `a service name without { or }, or a full key under "${this.namespace}:"`);
    return `${this.namespace}:{${service}}`;
  }

  /**
   * The record `service` names: a full key under the namespace; else `<ns>:{service}`
   * (a `CircuitBreakers` service) or `<ns>:{breaker:service}` (a lone `CircuitBreaker`);
   * else any listed breaker with that name or hash tag.
   */
  private async resolve(service: string): Promise<FleetRecord | undefined> {
    nonEmptyString(WHERE, "service", service);
    const prefix = `${this.namespace}:`;
    const candidates = service.startsWith(prefix) ? [service] : [`${prefix}{${service}}`, `${prefix}{breaker:${service}}`];
    const found = (await Promise.all(candidates.map((key) => this.readKey(key)))).filter((r): r is FleetRecord => r !== undefined);
    if (found.length > 1)
      throw new AmbiguousBreakerError(
        service,
        found.map((r) => r.key),
      );
    if (found.length === 1) return found[0];
    // By listed name, or by hash tag: a registry with a namespace of its own (`shop:breakwater:{payments}`) is still "payments".
    const byName = (await this.readAll()).filter(
      (r) => nameOfKey(r.key, this.namespace) === service || /\{([^}]+)\}$/.exec(r.key)?.[1] === service,
    );
    if (byName.length > 1)
      throw new AmbiguousBreakerError(
        service,
        byName.map((r) => r.key),
      );
    return byName[0];
  }

  private async names(): Promise<string[]> {
    return (await this.list()).map((b) => b.name);
  }

  private async runScript(key: string, params: string, batch: readonly unknown[]): Promise<BreakerReply> {
    const raw = await this.adapter.evalScript(
      BREAKER_SCRIPT,
      [key],
      [params, JSON.stringify(batch), String(this.metaTtlMs), this.channel, this.origin],
    );
    return decodeBreakerReply(raw);
  }
}

function byName(a: FleetBreakerStatus, b: FleetBreakerStatus): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** SCAN's MATCH is a glob: a namespace's own `*?[]\` must match literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
