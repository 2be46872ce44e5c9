/**
 * The live view of a namespace's breakers, read from Redis: every record re-read each
 * `refreshMs` and every published transition heard at once on the store's channel. Shaped
 * like a `CircuitBreakers` registry, so the dashboard (and `breakwater dashboard`) shows and
 * controls the fleet's breakers as it does a process's own. Each breaker's status is built
 * by the same `statusOf` as `CircuitBreaker.status()` (see fleet-record.ts).
 */
import type { BreakerEvents, StateChangeEvent } from "../breaker/circuit-breaker.js";
import type { BreakerRecord, CircuitState, Transition } from "../breaker/state.js";
import type { BreakerStatus } from "../breaker/status.js";
import { background, systemClock } from "../core/clock.js";
import { attachEach, checkAttach, type Telemetry } from "../core/telemetry.js";
import { addListener, Emitter } from "../core/events.js";
import { checkKeys, func, integer, orDefault } from "../core/validate.js";
import type { RedisAdapter } from "./adapter.js";
import { type BreakerReply, decodeBreakerReply } from "./codec.js";
import {
  BreakerNotFoundError,
  configOf,
  describeRecord,
  type FleetBreakerStatus,
  type FleetRecord,
  nameOfKey,
  storedStatus,
} from "./fleet-record.js";

/** What the fleet view reads and acts through: a `BreakerAdmin`. */
export interface FleetSource {
  /** The namespace the breakers live under. */
  readonly namespace: string;
  /** The pub/sub channel transitions are published on. */
  readonly channel: string;
  /** The client, as the view subscribes through it. */
  readonly adapter: RedisAdapter;
  /** @internal Every breaker record in the namespace, read now. */
  readAll(): Promise<FleetRecord[]>;
  /** @internal Applies isolate or reset to a full key with the given params. */
  actOnKey(key: string, params: string, action: "isolate" | "reset"): Promise<{ reply: BreakerReply; params: string }>;
}

/** Options of `BreakerAdmin.fleet`. */
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
    readonly admin: FleetSource,
    options: FleetBreakersOptions = {},
  ) {
    const where = "BreakerAdmin.fleet";
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
    return addListener(this.created, listener);
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
    // A copy: a listener may unsubscribe itself (or another) while they are called.
    for (const listener of [...this.created]) listener(name, breaker);
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

  /** A status in `CircuitBreaker.status()`'s shape, in this process's clock (per-process totals are not in Redis: zeros). */
  status(): BreakerStatus {
    return storedStatus(this.name, configOf(this.params), this.record, systemClock.now() + this.offset, this.offset);
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
