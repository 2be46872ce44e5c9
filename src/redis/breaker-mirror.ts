import {
  BreakerDecision,
  type BreakerInput,
  type BreakerOutput,
  type BreakerRecord,
  NO_PERMIT,
  type Permit,
  type Transition,
} from "../breaker/state.js";
import { type Clock, systemClock } from "../core/clock.js";
import type { MirrorListener } from "../store/store.js";
import { type BatchEntry, type BreakerReply, decodeBreakerReply, encodeParams, fromEntry, toEntry } from "./codec.js";
import { BREAKER_SCRIPT } from "./scripts/breaker.js";
import { STALE_REPLY } from "./scripts/limit-lib.js";
import type { MirrorHost, RemoteMirror } from "./twin.js";

type Listener = MirrorListener<BreakerOutput>;

type Waiter = { readonly kind: "acquire"; resolve(permit: Permit): void } | { readonly kind: "flush"; resolve(): void };

const SYNC_REASON = "synchronised with the shared state";
const ACQUIRE: BreakerInput = { type: "acquire" };
/** Permits of the own view carry `OWN_EPOCHS - epoch` (-3, -4, ...): never a fleet epoch, -1 or NO_PERMIT. */
const OWN_EPOCHS = -3;

/**
 * A process's own view of a breaker with a quorum above 1: its own outcomes alone, judged
 * by the same rules in process. When they meet the trip rule and the fleet's record has not
 * opened (no quorum yet), this process rejects its own calls and probes through its own
 * trials, while the other processes go on calling.
 */
class OwnView {
  readonly decision: BreakerDecision;
  record: BreakerRecord;
  /** The fleet's epoch when the last own permit was handed out: its outcome counts there with it. */
  fleetEpoch = 0;

  constructor(fleet: BreakerDecision) {
    this.decision = new BreakerDecision({ ...fleet.config, quorum: 1 });
    this.record = this.decision.init();
  }
}

/**
 * One breaker key's local mirror: what `RedisStore.mirror` offers a breaker (through the
 * breaker's twin). Inputs queue in order and go to Redis in batches, one batch in flight at
 * a time: a run of equal outcomes is one entry with a count, so the queue stays small, and
 * it is capped (`maxQueued`). Replies and published messages refresh the record; the
 * revision orders them.
 */
export class RedisBreakerMirror implements RemoteMirror<BreakerRecord, BreakerInput, BreakerOutput> {
  readonly exclusive = false;
  offset = 0;
  private record: BreakerRecord;
  /** In `deny` mode while Redis is down: a record that rejects every call. */
  private overlay: BreakerRecord | undefined;
  private rev = -1;
  /** True after a local fallback changed the record: the next answer from Redis replaces it whatever its revision. */
  private dirty = false;
  private queue: BatchEntry[] = [];
  private waiters: Waiter[] = [];
  private pumping = false;
  private scheduled = false;
  private clock: Clock | undefined;
  private bestRtt = Infinity;
  private offsetAt = 0;
  private readonly listeners: Listener[] = [];
  private readonly paramsJson: string;
  /** With a quorum above 1: this process's own view. */
  private readonly ownView: OwnView | undefined;
  /**
   * What `read` answers, chosen again (`choose`) whenever the record, the overlay or the
   * own view's state changes: `read` runs twice on every call, so it only loads a field.
   */
  private view: BreakerRecord;
  private readonly pumpBound = (): void => this.pump();

  constructor(
    private readonly host: MirrorHost,
    private readonly decision: BreakerDecision,
    /** The full Redis key. */
    readonly key: string,
  ) {
    this.record = decision.init();
    this.paramsJson = encodeParams(decision);
    this.ownView = decision.quorum > 1 ? new OwnView(decision) : undefined;
    this.view = this.record;
  }

  get processId(): string {
    return this.host.processId;
  }

  /** What governs this process's calls: its own view while that is not closed and the fleet's is, else the fleet's. */
  read(): BreakerRecord {
    return this.view;
  }

  /** Chooses what `read` answers: after any change of the record, the overlay or the own view's state. */
  private choose(): void {
    const fleet = this.overlay ?? this.record;
    const own = this.ownView?.record;
    this.view = own !== undefined && own.state !== "closed" && fleet.state === "closed" && !fleet.isolated ? own : fleet;
  }

  fleet(): BreakerRecord {
    return this.overlay ?? this.record;
  }

  own(): BreakerRecord | undefined {
    return this.ownView?.record;
  }

  attach(clock: Clock, listener: Listener): () => void {
    this.clock ??= clock;
    this.listeners.push(listener);
    void this.flush();
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  apply(input: BreakerInput, now: number): Promise<BreakerOutput> {
    if (input.type !== "acquire") {
      this.send(input);
      return this.flush().then(() => undefined);
    }
    void now;
    const own = this.ownView;
    if (own !== undefined && this.read() === own.record) return Promise.resolve(this.ownPermit(own));
    return new Promise<Permit>((resolve) => {
      const last = this.queue[this.queue.length - 1];
      if (last !== undefined && last[0] === "a") last[1]++;
      else this.queue.push(["a", 1]);
      this.waiters.push({ kind: "acquire", resolve });
      this.schedule();
    });
  }

  /** Queues `input` (its answer comes later, to the listeners); the clock is the mirror's own. */
  send(input: BreakerInput): undefined {
    if (this.ownView !== undefined) input = this.ownStep(this.ownView, input);
    const last = this.queue[this.queue.length - 1];
    if (last !== undefined && mergeable(last, input)) (last as [string, number, number])[2]++;
    else {
      if (this.queue.length >= this.host.maxQueued) this.dropOldest();
      this.queue.push(toEntry(input));
    }
    this.schedule();
    return undefined;
  }

  flush(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiters.push({ kind: "flush", resolve });
      this.schedule();
    });
  }

  /** The store's time now: the local clock plus the estimated offset. */
  private storeNow(): number {
    return (this.clock ?? systemClock).now() + this.offset;
  }

  /** A permit from the own view (decided in process: it is this process's alone). */
  private ownPermit(own: OwnView): Permit {
    const permit = own.decision.step(own.record, ACQUIRE, this.storeNow()) as Permit;
    this.choose();
    if (!permit.allowed) return permit;
    own.fleetEpoch = this.fleet().epoch;
    if (permit.transition !== undefined) this.ownTransition(own, permit.transition);
    return { allowed: true, epoch: OWN_EPOCHS - permit.epoch, transition: undefined };
  }

  /**
   * Applies an input to the own view, and returns what the fleet's record gets: an own
   * permit's outcome counts there with the fleet's epoch of its time; a fleet permit's
   * outcome counts in the own view only while it is closed (or by hand).
   */
  private ownStep(own: OwnView, input: BreakerInput): BreakerInput {
    const now = this.storeNow();
    switch (input.type) {
      case "success":
      case "failure":
      case "release": {
        if (input.epoch <= OWN_EPOCHS) {
          this.ownApply(own, { ...input, epoch: OWN_EPOCHS - input.epoch }, now);
          return { ...input, epoch: own.fleetEpoch };
        }
        if (input.epoch !== NO_PERMIT && (input.epoch === -1 || own.record.state === "closed") && input.type !== "release") {
          this.ownApply(own, { ...input, epoch: -1 }, now);
        }
        return input;
      }
      case "reset":
        this.ownApply(own, input, now);
        return input;
      default:
        return input;
    }
  }

  private ownApply(own: OwnView, input: BreakerInput, now: number): void {
    const t = own.decision.step(own.record, input, now) as Transition | undefined;
    this.choose();
    if (t !== undefined) this.ownTransition(own, t);
  }

  /** Reports an own transition, and tells the fleet's record whether this process holds its own view open. */
  private ownTransition(own: OwnView, t: Transition): void {
    for (const listener of this.listeners) listener(t, "local", "own");
    if (t.to === "half-open") return;
    const until = t.to === "open" ? own.record.nextProbeAt : 0;
    this.queue.push(["v", this.host.processId, Number.isFinite(until) ? until : 0]);
    this.schedule();
  }

  /** Called by the store when Redis is back, or the subscriber reconnected: refetch the record. */
  resync(): void {
    void this.flush();
  }

  /** Called by the store for every message published on the channel about this key. */
  receive(message: object): void {
    const reply = decodeBreakerReply(message);
    this.adopt(reply, reply.origin === this.host.processId ? "local" : "remote");
  }

  /** Called by the store when its own `apply` at this key got `reply` from the script. */
  replied(reply: unknown): void {
    this.adopt(decodeBreakerReply(reply), "local");
  }

  private dropOldest(): void {
    const i = this.queue.findIndex((e) => e[0] !== "a");
    if (i < 0) return;
    this.queue.splice(i, 1);
    this.host.warn(new Error(`breaker ${this.key}: more than ${this.host.maxQueued} outcomes queued; the oldest was dropped`), "queue");
  }

  private schedule(): void {
    // Comparisons, not truthiness, on the hot path (see CircuitBreaker.run).
    if (this.scheduled === true || this.pumping === true) return;
    this.scheduled = true;
    queueMicrotask(this.pumpBound);
  }

  private pump(): void {
    this.scheduled = false;
    if (this.pumping || (this.queue.length === 0 && this.waiters.length === 0)) return;
    this.pumping = true;
    const batch = this.queue;
    const waiters = this.waiters;
    this.queue = [];
    this.waiters = [];
    const done = (): void => {
      this.pumping = false;
      if (this.queue.length > 0 || this.waiters.length > 0) this.schedule();
    };
    void this.exchange(batch, waiters).then(done, done);
  }

  /** Sends one batch and settles its waiters; never rejects. */
  private async exchange(batch: BatchEntry[], waiters: Waiter[]): Promise<void> {
    if (!this.host.healthy()) {
      this.fallback(batch, waiters);
      return;
    }
    const sentAt = this.clock?.now();
    let reply: BreakerReply;
    try {
      const args = [
        this.paramsJson,
        JSON.stringify(batch),
        String(this.host.metaTtlMs),
        this.host.channel,
        this.host.processId,
        this.host.deadline(),
      ];
      const raw = await this.host.run(BREAKER_SCRIPT, [this.key], args, "breaker");
      if (raw === STALE_REPLY) {
        // Past its deadline the script did nothing: the fallback decides the batch, once.
        this.host.warn(new Error(`breaker ${this.key}: the batch reached Redis after its deadline and was not applied`), "breaker");
        this.fallback(batch, waiters);
        return;
      }
      reply = decodeBreakerReply(raw);
      this.host.serverNow(reply.now);
    } catch {
      this.fallback(batch, waiters);
      return;
    }
    if (sentAt !== undefined && this.clock !== undefined) this.estimateOffset(reply.now, sentAt, this.clock.now());
    this.overlay = undefined;
    this.choose();
    this.adopt(reply, "local");
    let p = 0;
    for (const w of waiters) {
      if (w.kind === "flush") w.resolve();
      else w.resolve(reply.permits[p++] ?? { allowed: false, retryAfterMs: 0 });
    }
  }

  /**
   * Store time minus local time, from the exchange with the shortest round trip seen (the
   * tightest bound), renewed after a minute so that drift is followed.
   */
  private estimateOffset(serverNow: number, sentAt: number, receivedAt: number): void {
    const rtt = receivedAt - sentAt;
    if (rtt > this.bestRtt && receivedAt - this.offsetAt < 60_000) return;
    this.bestRtt = rtt;
    this.offsetAt = receivedAt;
    this.offset = Math.round(serverNow - (sentAt + receivedAt) / 2);
  }

  /** Redis could not be reached: decide by `onRedisError`. */
  private fallback(batch: BatchEntry[], waiters: Waiter[]): void {
    const permits: Permit[] = [];
    const mode = this.host.mode;
    const now = (this.clock?.now() ?? systemClock.now()) + this.offset;
    if (mode === "local") {
      const transitions: Transition[] = [];
      for (const entry of batch) {
        const { input, count } = fromEntry(entry);
        for (let i = 0; i < count; i++) {
          const out = this.decision.step(this.record, input, now);
          if (input.type === "acquire") {
            const permit = out as Permit;
            permits.push(permit);
            if (permit.allowed && permit.transition !== undefined) transitions.push(permit.transition);
          } else if (out !== undefined) transitions.push(out as Transition);
        }
      }
      this.dirty = true;
      this.choose();
      for (const t of transitions) this.emit(t, "local");
    } else {
      const allow = mode === "allow";
      if (!allow) {
        this.overlay = { ...this.record, state: "open", isolated: false, nextProbeAt: now + this.host.retryIntervalMs };
        this.choose();
      }
      for (const entry of batch) {
        if (entry[0] !== "a") continue;
        for (let i = 0; i < entry[1]; i++) {
          permits.push(
            allow
              ? { allowed: true, epoch: this.record.epoch, transition: undefined }
              : { allowed: false, retryAfterMs: this.host.retryIntervalMs },
          );
        }
      }
      this.dirty = true;
    }
    let p = 0;
    for (const w of waiters) {
      if (w.kind === "flush") w.resolve();
      else w.resolve(permits[p++] ?? { allowed: false, retryAfterMs: this.host.retryIntervalMs });
    }
  }

  /** Takes a newer record (by revision), and reports the transitions that led to it. */
  private adopt(reply: BreakerReply, origin: "local" | "remote"): void {
    if (!(reply.rev > this.rev) && !(this.dirty && reply.rev >= this.rev)) return;
    let state = this.record.state;
    this.record = reply.record;
    this.rev = reply.rev;
    this.dirty = false;
    this.choose();
    for (const t of reply.transitions) {
      if (t.from !== state) this.emit({ from: state, to: t.from, reason: SYNC_REASON, at: t.at }, "remote");
      this.emit(t, origin);
      state = t.to;
    }
    if (state !== reply.record.state) this.emit({ from: state, to: reply.record.state, reason: SYNC_REASON, at: reply.now }, "remote");
  }

  private emit(t: Transition, origin: "local" | "remote"): void {
    for (const listener of this.listeners) listener(t, origin, "fleet");
  }
}

/** True when `input` extends the run `last` (same kind, epoch and, for failures, reason). */
function mergeable(last: BatchEntry, input: BreakerInput): boolean {
  switch (input.type) {
    case "success":
      return last[0] === "s" && last[1] === input.epoch;
    case "release":
      return last[0] === "r" && last[1] === input.epoch;
    case "failure":
      return last[0] === "f" && last[1] === input.epoch && last[3] === input.reason && last[5] === input.origin;
    default:
      return false;
  }
}
