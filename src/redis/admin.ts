/**
 * Fleet administration of the breakers a {@link RedisStore} keeps in Redis: list every
 * breaker of a namespace (SCAN on the key layout, records decoded as the store writes
 * them), isolate or reset one for every process, and a live, Redis-read source of those
 * breakers for the dashboard. What the `breakwater` command runs.
 *
 * Writes go through the store's own breaker script ({@link BREAKER_SCRIPT}) with the
 * record's stored params, so an isolate or a reset is the same atomic transition a
 * process would make, published on the same channel: every mirror sees it at once.
 */
import { randomUUID } from "node:crypto";
import type { BackoffSpec, RetryPhase } from "../backoff/backoff.js";
import { constant } from "../backoff/constant.js";
import { backoffFromSpec } from "../backoff/spec.js";
import type { BreakerEvents, BreakerStatus, StateChangeEvent } from "../breaker/circuit-breaker.js";
import { BreakerDecision, type BreakerRecord, type CircuitState, type Transition } from "../breaker/state.js";
import { consecutiveFailures, tripRuleFromSpec, type TripSpec } from "../breaker/trip.js";
import { background, systemClock } from "../core/clock.js";
import { type FailureRecord, InvalidOptionError, ResilienceError } from "../core/errors.js";
import { attachEach, checkAttach, type Telemetry } from "../core/telemetry.js";
import { Emitter } from "../core/events.js";
import { checkKeys, func, integer, nonEmptyString, nonNegative, orDefault } from "../core/validate.js";
import { type RedisAdapter, toAdapter } from "./adapter.js";
import { type BatchEntry, type BreakerReply, decodeBreakerReply, decodeStored, encodeParams } from "./codec.js";
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

/** One breaker of the fleet, as Redis holds it now. Times are the Redis server's (epoch ms). */
export interface FleetBreakerStatus {
  /** The service: the key's hash tag (`payments` for a `CircuitBreakers` service, `breaker:<name>` for a lone `CircuitBreaker`). */
  readonly name: string;
  /** The full Redis key. */
  readonly key: string;
  readonly state: CircuitState;
  /** Held open by `isolate` until `reset`. */
  readonly isolated: boolean;
  /** Failures the trip rule counts now (its run or window). */
  readonly failures: number;
  /** The trip rule the fleet last wrote with, or null when it cannot be read. */
  readonly trip: TripSpec | null;
  readonly lastFailure: FailureRecord | null;
  /** When the circuit last opened, or null. */
  readonly openedAt: number | null;
  /** While open and not isolated: when a probe may run; else null. */
  readonly nextProbeAt: number | null;
  /** While open and not isolated: ms until then (0 when a probe may run now); else null. */
  readonly nextProbeInMs: number | null;
  /** The recovery schedule's phase while open or half-open (`fixed`, `exponential`, `capped`). */
  readonly retryPhase: RetryPhase | null;
  /** The recovery schedule's attempt: 1 for the first opening, +1 per failed probe; 0 when closed. */
  readonly attempt: number;
  readonly halfOpen: { readonly trials: number; readonly successes: number; readonly maxCalls: number };
  /** Processes whose failures it takes to open the circuit for the fleet (1 when not written). */
  readonly quorum: number;
  /** With a quorum above 1: the processes holding their own view open (their calls are rejected, the fleet's are not). */
  readonly ownViewsOpen: readonly string[];
  /** The server's time when this was read. */
  readonly serverTime: number;
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

/** No breaker record matches the service in the namespace. */
export class BreakerNotFoundError extends ResilienceError {
  /** The service asked for. */
  readonly service: string;
  readonly namespace: string;
  /** The services the namespace does have. */
  readonly known: readonly string[];

  constructor(service: string, namespace: string, known: readonly string[]) {
    const list = known.length === 0 ? "it has no breakers" : `it has: ${known.slice(0, 20).join(", ")}${known.length > 20 ? ", ..." : ""}`;
    super(`no breaker ${JSON.stringify(service)} in namespace ${JSON.stringify(namespace)} (${list})`);
    this.service = service;
    this.namespace = namespace;
    this.known = known;
  }
}

/** More than one record matches the service: name it by its full key. */
export class AmbiguousBreakerError extends ResilienceError {
  readonly service: string;
  /** The keys that match. */
  readonly keys: readonly string[];

  constructor(service: string, keys: readonly string[]) {
    super(`${JSON.stringify(service)} matches several breakers (${keys.join(", ")}); name one by its full key`);
    this.service = service;
    this.keys = keys;
  }
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

/** One breaker record as read from Redis, with what a later write needs. */
export interface FleetRecord {
  /** The full Redis key. */
  readonly key: string;
  /** The params JSON of the process that wrote it last. */
  readonly params: string;
  /** The record's revision. */
  readonly rev: number;
  readonly record: BreakerRecord;
  /** The server's time (ms) when it was read. */
  readonly now: number;
}

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
export class BreakerAdmin {
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

/**
 * The name a key is shown under: its hash tag for `<ns>:{tag}` (the store's layout), else
 * the rest of the key without braces (a registry with a namespace of its own).
 */
export function nameOfKey(key: string, namespace: string): string {
  const rest = key.startsWith(`${namespace}:`) ? key.slice(namespace.length + 1) : key;
  const tag = /^\{([^}]+)\}$/.exec(rest);
  return tag !== null ? (tag[1] as string) : rest.replace(/[{}]/g, "");
}

interface StoredParams {
  readonly trip: string;
  readonly recovery: string;
  readonly maxCalls: number | "inf";
  readonly quorum?: number;
}

/** Reads a JSON value, or undefined when it does not parse or a rebuild throws (a record from another version). */
function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** A record and its params as a {@link FleetBreakerStatus}, at the server's time `now`. */
export function describeRecord(key: string, name: string, paramsJson: string, r: BreakerRecord, now: number): FleetBreakerStatus {
  const params = attempt(() => JSON.parse(paramsJson) as StoredParams);
  const trip = params === undefined ? undefined : attempt(() => JSON.parse(params.trip) as TripSpec);
  const rule = trip === undefined ? undefined : attempt(() => tripRuleFromSpec(trip));
  const recovery = params === undefined ? undefined : attempt(() => backoffFromSpec(JSON.parse(params.recovery) as BackoffSpec));
  const open = r.state === "open" && !r.isolated && Number.isFinite(r.nextProbeAt);
  const maxCalls = params?.maxCalls === "inf" || params?.maxCalls === undefined ? Infinity : Number(params.maxCalls);
  return {
    name,
    key,
    state: r.state,
    isolated: r.isolated,
    failures: rule === undefined ? 0 : (attempt(() => rule.failures(r.trip, now)) ?? 0),
    trip: trip ?? null,
    lastFailure: r.lastFailure ?? null,
    openedAt: r.openedAt < 0 ? null : r.openedAt,
    nextProbeAt: open ? r.nextProbeAt : null,
    nextProbeInMs: open ? Math.max(0, r.nextProbeAt - now) : null,
    retryPhase: r.attempt === 0 || recovery === undefined ? null : (attempt(() => recovery.phase(r.attempt)) ?? null),
    attempt: r.attempt,
    halfOpen: { trials: r.trials, successes: r.trialSuccesses, maxCalls },
    quorum: typeof params?.quorum === "number" ? params.quorum : 1,
    ownViewsOpen: ownViewsOpen(r, now),
    serverTime: now,
  };
}

/** The processes whose own view is open at `now`, by id. */
export function ownViewsOpen(r: BreakerRecord, now: number): string[] {
  const views = r.views ?? {};
  return Object.keys(views)
    .filter((p) => (views[p] as number) > now)
    .sort();
}

/** Options of {@link BreakerAdmin.fleet}. */
export interface FleetBreakersOptions {
  /** How often every record is re-read (ms); transitions also arrive at once by pub/sub. Default 1,000. */
  readonly refreshMs?: number;
  /** Where Redis errors go (the view keeps its last state and retries). Default: ignored. */
  readonly onError?: (error: unknown, operation: string) => void;
}

/**
 * The fleet's breakers read from Redis, shaped like a `CircuitBreakers` registry
 * (`names`, `get`, `onCreate`), so the dashboard shows and controls them; each is a
 * {@link FleetBreaker}.
 */
export class FleetBreakers {
  private readonly breakers = new Map<string, FleetBreaker>();
  private readonly byKey = new Map<string, FleetBreaker>();
  private readonly created: ((service: string, breaker: FleetBreaker) => void)[] = [];
  private readonly refreshMs: number;
  private readonly onError: (error: unknown, operation: string) => void;
  private timer: ReturnType<typeof setInterval> | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;
  private refreshing: Promise<void> | undefined;
  private closed = false;

  constructor(
    /** The admin it reads and acts through. */
    readonly admin: BreakerAdmin,
    options: FleetBreakersOptions = {},
  ) {
    const where = `${WHERE}.fleet`;
    checkKeys(where, options, ["refreshMs", "onError"]);
    this.refreshMs = integer(where, "refreshMs", orDefault(options.refreshMs, 1_000), 10);
    this.onError = options.onError === undefined ? () => undefined : func(where, "onError", options.onError);
  }

  /** Reads every record, subscribes to transitions and starts refreshing. Resolves after the first read (a failed one is reported, not thrown). */
  async start(): Promise<void> {
    if (this.timer !== undefined || this.closed) return;
    this.timer = background(setInterval(() => void this.refresh(), this.refreshMs));
    await this.refresh();
    try {
      this.unsubscribe = await this.admin.adapter.subscribe(
        this.admin.channel,
        (message) => this.onMessage(message),
        () => void this.refresh(),
      );
    } catch (error) {
      this.onError(error, "subscribe");
    }
  }

  /** Re-reads every record now (one read at a time: a call during a read waits for it). */
  refresh(): Promise<void> {
    this.refreshing ??= this.admin
      .readAll()
      .then(
        (records) => this.update(records),
        (error: unknown) => this.onError(error, "refresh"),
      )
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  /** The services known now, sorted. */
  names(): string[] {
    return [...this.breakers.keys()].sort();
  }

  /** The breaker of `service`; throws {@link BreakerNotFoundError} for a service not in Redis. */
  get(service: string): FleetBreaker {
    const breaker = this.breakers.get(service);
    if (breaker === undefined) throw new BreakerNotFoundError(service, this.admin.namespace, this.names());
    return breaker;
  }

  /** Calls `listener` for each breaker found from now on; returns the unsubscribe. */
  onCreate(listener: (service: string, breaker: FleetBreaker) => void): () => void {
    this.created.push(listener);
    return () => {
      const i = this.created.indexOf(listener);
      if (i >= 0) this.created.splice(i, 1);
    };
  }

  /** Reports the events of every breaker of the fleet, found now or later, to `telemetry` too; returns the detach function. */
  attach(telemetry: Telemetry): () => void {
    checkAttach("FleetBreakers.attach", telemetry, undefined);
    return attachEach(this.breakers.values(), (listener) => this.onCreate((_service, breaker) => listener(breaker)), telemetry);
  }

  /** Stops refreshing and unsubscribes (the client stays open). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    await unsubscribe?.().catch(() => undefined);
  }

  /** @internal Reports an error from a breaker's action. */
  report(error: unknown, operation: string): void {
    this.onError(error, operation);
  }

  private update(records: readonly FleetRecord[]): void {
    if (this.closed) return;
    const seen = new Set<string>();
    for (const r of records) {
      seen.add(r.key);
      this.upsert(r);
    }
    // A record that expired (idle past its TTL) is a closed circuit with no counts: drop it from view.
    for (const [key, breaker] of this.byKey) {
      if (seen.has(key)) continue;
      this.byKey.delete(key);
      this.breakers.delete(breaker.name);
    }
  }

  /** @internal Takes a record read or written by this admin. */
  upsert(r: FleetRecord): void {
    const known = this.byKey.get(r.key);
    if (known !== undefined) {
      known.receive(r, undefined);
      return;
    }
    const name = nameOfKey(r.key, this.admin.namespace);
    const breaker = new FleetBreaker(this, name, r);
    this.byKey.set(r.key, breaker);
    this.breakers.set(name, breaker);
    for (const listener of this.created) listener(name, breaker);
  }

  private onMessage(message: string): void {
    try {
      const reply = decodeBreakerReply(message);
      if (reply.key === undefined) return;
      const known = this.byKey.get(reply.key);
      // A breaker first seen in a message: its params come with the next read.
      if (known === undefined) void this.refresh();
      else known.receive({ key: reply.key, params: known.params, rev: reply.rev, record: reply.record, now: reply.now }, reply.transitions);
    } catch (error) {
      this.onError(error, "message");
    }
  }
}

/**
 * One breaker of the fleet, read from Redis: what the dashboard needs of a
 * `CircuitBreaker` (`name`, `state`, `status()`, `on("stateChange")`, `isolate()`,
 * `reset()`), with `isolate` and `reset` acting for every process.
 */
export class FleetBreaker {
  /** Read from Redis: the per-process call totals of `status()` are unknown here (zeros), so views show none. */
  readonly fleet = true;
  /** The full Redis key. */
  readonly key: string;
  /** @internal The params JSON the fleet last wrote with. */
  params: string;
  private record: BreakerRecord;
  private rev: number;
  /** The server's clock minus this process's (ms), as of the last read. */
  private offset: number;
  private readonly events: Emitter<BreakerEvents>;

  /** @internal */
  constructor(
    private readonly owner: FleetBreakers,
    /** The service name (see {@link FleetBreakerStatus.name}). */
    readonly name: string,
    r: FleetRecord,
  ) {
    this.events = new Emitter<BreakerEvents>(undefined, { source: "breaker", name });
    this.key = r.key;
    this.params = r.params;
    this.record = r.record;
    this.rev = r.rev;
    this.offset = r.now - systemClock.now();
  }

  /** The state as last read. */
  get state(): CircuitState {
    return this.record.state;
  }

  /** A status in `CircuitBreaker.status()`'s shape (per-process totals are not in Redis: zeros). */
  status(): BreakerStatus {
    const s = this.fleetStatus();
    return {
      name: this.name,
      state: s.state,
      isolated: s.isolated,
      store: "redis",
      failures: s.failures,
      totals: { successes: 0, failures: 0, ignored: 0, rejections: 0 },
      openedAt: s.openedAt === null ? null : s.openedAt - this.offset,
      nextProbeAt: s.state === "open" ? (s.nextProbeAt === null ? Infinity : s.nextProbeAt - this.offset) : null,
      retryAfterMs: s.state !== "open" ? 0 : (s.nextProbeInMs ?? Infinity),
      retryPhase: s.retryPhase,
      attempt: s.attempt,
      halfOpen: s.halfOpen,
      lastFailure: s.lastFailure === null ? null : { reason: s.lastFailure.reason, at: s.lastFailure.at - this.offset },
      fleet: s.quorum > 1 ? { state: s.state, quorum: s.quorum, processId: null, ownView: null, ownViewsOpen: s.ownViewsOpen } : null,
    };
  }

  /** The status in the server's clock, as `BreakerAdmin.list()` gives it. */
  fleetStatus(): FleetBreakerStatus {
    return describeRecord(this.key, this.name, this.params, this.record, systemClock.now() + this.offset);
  }

  /** Subscribes to an event (only `stateChange` fires here); returns the unsubscribe. */
  on<K extends keyof BreakerEvents>(event: K, listener: (payload: BreakerEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** Reports this breaker's events (its state changes) to `telemetry` too; returns the function that detaches it. */
  attach(telemetry: Telemetry): () => void {
    checkAttach("FleetBreaker.attach", telemetry, undefined);
    return this.events.attach(telemetry);
  }

  /** Isolates the breaker for the whole fleet (asynchronously; errors go to the view's `onError`). */
  isolate(): {
    /** Ends the isolation: the same as `reset()`. */
    dispose(): void;
  } {
    this.act("isolate");
    return { dispose: () => this.reset() };
  }

  /** Resets the breaker for the whole fleet (asynchronously; errors go to the view's `onError`). */
  reset(): void {
    this.act("reset");
  }

  /** @internal A newer read, or a published message with its transitions. */
  receive(r: FleetRecord, transitions: readonly Transition[] | undefined): void {
    // Older than what we hold; or a message about a write we already read.
    if (r.rev < this.rev || (transitions !== undefined && r.rev === this.rev)) return;
    const from = this.record.state;
    this.record = r.record;
    this.rev = r.rev;
    this.params = r.params;
    this.offset = r.now - systemClock.now();
    if (!this.events.has("stateChange")) return;
    const list = transitions ?? (from === r.record.state ? [] : [{ from, to: r.record.state, reason: "read from Redis", at: r.now }]);
    for (const t of list) {
      const event: StateChangeEvent = {
        name: this.name,
        from: t.from,
        to: t.to,
        reason: t.reason,
        at: t.at - this.offset,
        scope: "fleet",
        origin: "remote",
      };
      this.events.emit("stateChange", event);
    }
  }

  private act(action: "isolate" | "reset"): void {
    this.owner.admin.actOnKey(this.key, this.params, action).then(
      ({ reply, params }) =>
        this.receive({ key: this.key, params, rev: reply.rev, record: reply.record, now: reply.now }, reply.transitions),
      (error: unknown) => this.owner.report(error, action),
    );
  }
}
