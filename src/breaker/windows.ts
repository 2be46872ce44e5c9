/**
 * The two windows behind the trip rules, as plain records and pure functions, so the
 * same counting runs in process and (as Lua) in Redis.
 *
 * - A count window holds the last `size` outcomes in a ring (1 = failure).
 * - A time window splits `windowMs` into `buckets` slots of calls and failures; memory is
 *   O(buckets) whatever the call rate. A slot covers `windowMs / buckets` ms, so the
 *   window's far edge is exact to one slot.
 */

/** The last N outcomes. */
export interface CountWindow {
  ring: number[];
  next: number;
  filled: number;
  failures: number;
}

/** A new, empty count window of `size` outcomes. */
export function countWindow(size: number): CountWindow {
  return { ring: new Array<number>(size).fill(0), next: 0, filled: 0, failures: 0 };
}

/** Records one outcome, evicting the oldest when full. */
export function countPush(w: CountWindow, failed: boolean): void {
  const value = failed ? 1 : 0;
  if (w.filled === w.ring.length) w.failures -= w.ring[w.next] as number;
  else w.filled++;
  w.ring[w.next] = value;
  w.failures += value;
  w.next = (w.next + 1) % w.ring.length;
}

/** Calls and failures over the last `windowMs`, in fixed slots. */
export interface TimeWindow {
  /** The slot number (floor(now / slotMs)) each slot currently holds. */
  stamps: number[];
  calls: number[];
  failures: number[];
}

/** A new, empty time window of `buckets` slots. */
export function timeWindow(buckets: number): TimeWindow {
  return {
    stamps: new Array<number>(buckets).fill(-1),
    calls: new Array<number>(buckets).fill(0),
    failures: new Array<number>(buckets).fill(0),
  };
}

/** Records one outcome at `now`. */
export function timePush(w: TimeWindow, failed: boolean, now: number, slotMs: number): void {
  const slot = Math.floor(now / slotMs);
  const i = slot % w.stamps.length;
  if (w.stamps[i] !== slot) {
    w.stamps[i] = slot;
    w.calls[i] = 0;
    w.failures[i] = 0;
  }
  (w.calls[i] as number)++;
  if (failed) (w.failures[i] as number)++;
}

/** Totals over the slots still inside the window at `now`. */
export function timeTotals(w: TimeWindow, now: number, slotMs: number): { calls: number; failures: number } {
  const oldest = Math.floor(now / slotMs) - w.stamps.length + 1;
  let calls = 0;
  let failures = 0;
  for (let i = 0; i < w.stamps.length; i++) {
    if ((w.stamps[i] as number) >= oldest) {
      calls += w.calls[i] as number;
      failures += w.failures[i] as number;
    }
  }
  return { calls, failures };
}
