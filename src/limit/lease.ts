import { background, type Clock, onRealTimers } from "../core/clock.js";
import { isPromiseLike } from "../store/store.js";
import type { LeaseGrant, LimitInput } from "./decision.js";
import type { RateLimitDecision } from "./limiter.js";

/** The `lease` option of a shared limiter: how many units a process may hold, and for how long. */
export interface LeaseOptions {
  /** The most units one lease takes from the shared key (an integer >= 1). */
  readonly units: number;
  /** How long a process may hold leased units before they go back (ms, finite, > 0). */
  readonly maxHoldMs: number;
}

/**
 * Where this process's leased units went, since the limiter was made. Every unit granted
 * is, exactly once, spent (handed to a call), returned (sent back while valid), expired
 * (lost: its lease ran out unspent, or ended with its window) or still held:
 * `granted = spent + returned + expired + held`.
 */
export interface LeaseStats {
  /** Units taken from the shared key for leases. */
  readonly granted: number;
  /** Units handed to calls from leases. */
  readonly spent: number;
  /** Units sent back to the key while still valid. */
  readonly returned: number;
  /** Units lost unspent (their lease expired, or its window closed). */
  readonly expired: number;
  /** Units held now, valid or not yet accounted. */
  readonly held: number;
}

/** What a {@link LeaseBook} needs from its limiter. */
export interface LeaseHost {
  readonly clock: Clock;
  /** Applies an input to `key`'s shared state (the store's answer, or a promise of it). */
  apply(key: string, input: LimitInput): RateLimitDecision | Promise<RateLimitDecision>;
  /** A return failed for a reason other than the store (which answers every failure itself). */
  report(error: unknown): void;
}

/** Units this process holds for one key. */
interface Lease {
  /** Units left to hand out. */
  units: number;
  /** Units taken from the key for this lease. */
  readonly granted: number;
  /** This clock's reading when the lease was asked for. */
  readonly takenAt: number;
  /** Past this reading the units are no longer valid (conservative: measured from the request). */
  readonly expiresAt: number;
  /** What a return quotes. */
  readonly ticket: number;
  /** Whether the units are worth returning when the lease ends by its hold (a bucket; a window that outlives it). */
  readonly returnable: boolean;
  /** The key's units left when the lease was taken (what `remaining` is reported from). */
  readonly keyRemaining: number;
  /** The key's limit. */
  readonly limit: number;
  readonly resetAt: number;
  /** Cancels the timer that returns the units shortly before they expire. */
  readonly expiry: AbortController;
}

/** One key's leasing: its lease, the request in flight, the size the next lease asks for, the last refusal. */
interface Slot {
  lease: Lease | undefined;
  pending: Promise<RateLimitDecision> | undefined;
  size: number;
  /** The key refused `refusedCost` units: until `refusedUntil` (this clock) so are costs as large. */
  refused: RateLimitDecision | undefined;
  refusedCost: number;
  refusedUntil: number;
}

/**
 * Leased units for a limiter on a shared store: instead of one round trip per call, a
 * process takes up to `units` from the key in one script call and answers calls locally
 * until they are spent or `maxHoldMs` passes. Exactness is the decision's (the units are
 * counted in the key the moment they are leased; see `TokenBucketDecision` for why a
 * bucket pauses its refill); this class only hands units out, never more than it was
 * granted and never after they expire, and gives back what is left while it is still
 * valid: before the hold ends, when a new lease replaces a partly spent one, on `close()`.
 *
 * The size adapts per key: it doubles when a lease is spent within half its hold (demand
 * outgrows it) and halves when units go back unspent, between 1 and `units`; and the
 * decision never grants more than half of what the key has left, so near its limit the
 * leases shrink and the last units are not stranded in idle processes.
 */
export class LeaseBook {
  private readonly slots = new Map<string, Slot>();
  private readonly returning = new Set<Promise<unknown>>();
  private closed = false;
  private grantedUnits = 0;
  private spentUnits = 0;
  private returnedUnits = 0;
  private expiredUnits = 0;
  /** The last key taken from, and its slot: a hot key skips the map lookup. */
  private lastKey = "";
  private lastSlot: Slot | undefined;

  constructor(
    private readonly host: LeaseHost,
    readonly units: number,
    readonly maxHoldMs: number,
  ) {}

  /** The units this process holds for `key` right now (0 when none or expired). */
  held(key: string): number {
    const lease = this.slots.get(key)?.lease;
    return lease !== undefined && this.host.clock.now() < lease.expiresAt ? lease.units : 0;
  }

  /** Where this process's leased units went (see {@link LeaseStats}). */
  stats(): LeaseStats {
    let held = 0;
    for (const slot of this.slots.values()) held += slot.lease?.units ?? 0;
    return { granted: this.grantedUnits, spent: this.spentUnits, returned: this.returnedUnits, expired: this.expiredUnits, held };
  }

  /** Takes `cost` units for `key` from the lease held, if it has them and is valid; otherwise undefined (nothing taken). */
  takeHeld(key: string, cost: number): RateLimitDecision | undefined {
    const slot = key === this.lastKey ? this.lastSlot : this.slots.get(key);
    const lease = slot?.lease;
    if (lease === undefined || lease.units < cost) return undefined;
    const now = this.host.clock.now();
    if (now >= lease.expiresAt) return undefined;
    lease.units -= cost;
    this.spentUnits += cost;
    if (slot !== this.lastSlot) {
      this.lastKey = key;
      this.lastSlot = slot;
    }
    return admitted(lease, now);
  }

  /** Takes `cost` units for `key`: from the lease when it has them, else from a new lease. */
  take(key: string, cost: number): RateLimitDecision | Promise<RateLimitDecision> {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = { lease: undefined, pending: undefined, size: Math.min(this.units, 8), refused: undefined, refusedCost: 0, refusedUntil: 0 };
      this.slots.set(key, slot);
    }
    const now = this.host.clock.now();
    const lease = slot.lease;
    if (lease !== undefined && lease.units >= cost && now < lease.expiresAt) {
      lease.units -= cost;
      this.spentUnits += cost;
      return admitted(lease, now);
    }
    if (slot.refused !== undefined && cost >= slot.refusedCost && now < slot.refusedUntil) {
      // The key had nothing for this cost a moment ago: no round trip to hear it again.
      const d = slot.refused;
      return refused({ ...d, retryAfterMs: Math.max(0, slot.refusedUntil - now), resetAfterMs: d.resetAfterMs });
    }
    if (slot.pending !== undefined) {
      // Calls that arrive while a lease is asked for share its outcome: a refusal is theirs
      // too (the key had nothing at that moment); a grant is tried again.
      return slot.pending.then((d) => (d.allowed ? this.take(key, cost) : d));
    }
    return this.renew(key, slot, cost, now);
  }

  /** Gives back every valid lease's units and stops the expiry timers. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [key, slot] of this.slots) {
      const lease = slot.lease;
      slot.lease = undefined;
      if (lease !== undefined) this.giveBack(key, lease);
    }
    this.slots.clear();
    this.lastSlot = undefined;
    this.lastKey = "";
    while (this.returning.size > 0) await Promise.all([...this.returning]);
  }

  /** Forgets `key`'s lease without giving it back (the key was deleted or reset). */
  drop(key: string): void {
    const slot = this.slots.get(key);
    if (slot?.lease === undefined) return;
    slot.lease.expiry.abort();
    this.expiredUnits += slot.lease.units;
    slot.lease.units = 0;
    slot.lease = undefined;
  }

  private renew(key: string, slot: Slot, cost: number, now: number): RateLimitDecision | Promise<RateLimitDecision> {
    const old = slot.lease;
    slot.lease = undefined;
    // Spent within half its hold: demand outgrows the size.
    if (old !== undefined && now - old.takenAt < (old.expiresAt - old.takenAt) / 2) slot.size = Math.min(this.units, slot.size * 2);
    const input: LimitInput = { cost: Math.max(cost, slot.size), peek: false, op: "lease", arg: cost, holdMs: this.maxHoldMs };
    let answer: RateLimitDecision | Promise<RateLimitDecision>;
    try {
      answer = this.host.apply(key, input);
    } catch (error) {
      return Promise.reject(error);
    } finally {
      // After the lease is asked for, so that the caller waits for one script, not two.
      if (old !== undefined) this.giveBack(key, old);
    }
    if (!isPromiseLike(answer)) return this.granted(key, slot, cost, now, answer as LeaseGrant);
    const pending = answer.then(
      (d) => {
        slot.pending = undefined;
        return this.granted(key, slot, cost, now, d as LeaseGrant);
      },
      (error: unknown) => {
        slot.pending = undefined;
        throw error;
      },
    );
    slot.pending = pending;
    return pending;
  }

  /** A lease's answer: the caller's units come out of it, the rest is kept (or, from a fallback, nothing is). */
  private granted(key: string, slot: Slot, cost: number, takenAt: number, d: LeaseGrant): RateLimitDecision {
    if (!d.allowed) {
      // Remembered until a unit could come (a refill, the next window), a quarter of the hold
      // at most: units another process gives back meanwhile wait that long at worst.
      slot.refused = d;
      slot.refusedCost = cost;
      slot.refusedUntil = takenAt + Math.min(d.retryAfterMs, this.maxHoldMs / 4);
      return refused(d);
    }
    slot.refused = undefined;
    const granted = d.granted ?? cost;
    const validMs = d.validMs ?? 0;
    if (validMs <= 0 || granted <= cost || this.closed) {
      // A fallback's answer (the least only), or nothing left over: nothing to hold.
      if (validMs > 0) {
        this.grantedUnits += granted;
        this.spentUnits += cost;
      }
      if (granted > cost && validMs > 0) {
        this.returnedUnits += granted - cost;
        this.send(key, { cost: granted - cost, peek: false, op: "return", arg: d.ticket });
      }
      return { allowed: true, remaining: d.remaining, limit: d.limit, retryAfterMs: 0, resetAfterMs: d.resetAfterMs };
    }
    const lease: Lease = {
      units: granted - cost,
      granted,
      takenAt,
      expiresAt: takenAt + validMs,
      ticket: d.ticket,
      returnable: validMs >= this.maxHoldMs,
      keyRemaining: d.remaining,
      limit: d.limit,
      resetAt: takenAt + d.resetAfterMs,
      expiry: new AbortController(),
    };
    slot.lease = lease;
    this.grantedUnits += granted;
    this.spentUnits += cost;
    this.scheduleReturn(key, slot, lease, validMs);
    return admitted(lease, takenAt);
  }

  /**
   * Shortly before the lease expires (a tenth of its hold, at most 50 ms, early), its units
   * go back while they are still valid. The timer is unref'ed: nobody awaits it.
   */
  private scheduleReturn(key: string, slot: Slot, lease: Lease, validMs: number): void {
    const early = Math.min(50, validMs / 10);
    inBackground(this.host.clock, Math.max(0, validMs - early), lease.expiry.signal, () => {
      if (slot.lease !== lease) return;
      slot.lease = undefined;
      if (lease.units > 0) slot.size = Math.max(1, Math.floor(slot.size / 2));
      if (lease.returnable) this.giveBack(key, lease);
      else this.expire(lease);
    });
  }

  /** Sends back what `lease` has left, if it is still valid; the units are gone from this process either way. */
  private giveBack(key: string, lease: Lease): void {
    lease.expiry.abort();
    if (lease.units <= 0) return;
    if (this.host.clock.now() >= lease.expiresAt) return this.expire(lease);
    const units = lease.units;
    lease.units = 0;
    this.returnedUnits += units;
    this.send(key, { cost: units, peek: false, op: "return", arg: lease.ticket });
  }

  /** The lease's units are lost to the key (no longer valid, or not worth a return). */
  private expire(lease: Lease): void {
    lease.expiry.abort();
    this.expiredUnits += lease.units;
    lease.units = 0;
  }

  private send(key: string, input: LimitInput): void {
    let answer: unknown;
    try {
      answer = this.host.apply(key, input);
    } catch (error) {
      this.host.report(error);
      return;
    }
    if (!isPromiseLike(answer)) return;
    const done: Promise<unknown> = Promise.resolve(answer).then(
      () => this.returning.delete(done),
      (error: unknown) => {
        this.returning.delete(done);
        this.host.report(error);
      },
    );
    this.returning.add(done);
  }
}

/**
 * Runs `fn` after `ms` unless `signal` aborts first. On a real clock the timer is
 * background work (nobody awaits it: it must not keep the process alive); on any other
 * clock (a ManualClock in tests) it is that clock's sleep.
 */
function inBackground(clock: Clock, ms: number, signal: AbortSignal, fn: () => void): void {
  if (!onRealTimers(clock)) {
    clock.sleep(ms, signal).then(fn, () => undefined);
    return;
  }
  const timer = background(setTimeout(fn, ms));
  signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
}

/** A call answered from the lease: what this process can still admit, and the key's reset as of the lease. */
function admitted(lease: Lease, now: number): RateLimitDecision {
  return {
    allowed: true,
    remaining: Math.min(lease.limit, lease.units + lease.keyRemaining),
    limit: lease.limit,
    retryAfterMs: 0,
    resetAfterMs: Math.max(0, lease.resetAt - now),
  };
}

function refused(d: RateLimitDecision): RateLimitDecision {
  return { allowed: false, remaining: d.remaining, limit: d.limit, retryAfterMs: d.retryAfterMs, resetAfterMs: d.resetAfterMs };
}
