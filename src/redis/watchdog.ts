import { background } from "../core/clock.js";
import { type Linked, LinkedList } from "../core/linked-list.js";

/** Timeout checks per `commandTimeoutMs`: a command times out after 4 to 5 ticks. */
const TICKS = 4;

/** A command in flight: a node of the watchdog's list, oldest first (unlinked once settled, timed out or closed). */
interface Guarded extends Linked<Guarded> {
  readonly tick: number;
  readonly operation: string;
  readonly reject: (error: unknown) => void;
}

/**
 * Times commands out without a timer of their own: one interval ticks while commands are in
 * flight (and a little after), and rejects those older than the timeout. While a command may
 * be in flight the interval is ref'd: a caller is waiting on it, and the connection cannot be
 * relied on to hold the process (a client may be unref'd, or closed with a command queued).
 * A tick that finds nothing in flight unrefs it, and it stops after a few idle ticks, so an
 * idle store holds nothing. A timer per command (create, then clear) would cost more than
 * the rest of a limiter's hot path. Commands on a connection settle in the order they were
 * sent, so the oldest are checked first and a tick stops at the first young one. They are
 * kept in a linked list (add and remove without hashing: this runs on every limiter call).
 */
export class CommandWatchdog {
  private readonly inFlight = new LinkedList<Guarded>();
  private readonly tickMs: number;
  private tick = 0;
  private idleTicks = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Whether {@link timer} holds the process (ref'd): set by a command, cleared by an idle tick. */
  private held = false;

  /**
   * @param timeoutMs how long a command may take.
   * @param timedOut the error a command that took longer rejects with.
   */
  constructor(
    private readonly timeoutMs: number,
    private readonly timedOut: (operation: string, timeoutMs: number) => Error,
  ) {
    this.tickMs = Math.max(1, timeoutMs / TICKS);
  }

  /** `promise`, or a rejection with `timedOut` once it has taken `timeoutMs` (to 1.25 × that). */
  guard<T>(promise: Promise<T>, operation: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Guarded = { tick: this.tick, operation, reject, prev: undefined, next: undefined, linked: false };
      this.inFlight.push(entry);
      if (this.timer === undefined) this.start();
      else if (!this.held) this.hold();
      promise.then(
        (value) => {
          if (this.inFlight.remove(entry)) resolve(value);
        },
        (error: unknown) => {
          if (this.inFlight.remove(entry)) reject(error);
        },
      );
    });
  }

  /** Rejects every command still in flight with `error` and stops ticking. */
  close(error: Error): void {
    // Taken out first: a command a rejection handler sends is not one of these.
    const entries: Guarded[] = [];
    for (let entry = this.inFlight.head; entry !== undefined; entry = entry.next) entries.push(entry);
    for (const entry of entries) this.inFlight.remove(entry);
    for (const entry of entries) entry.reject(error);
    this.stop();
  }

  private start(): void {
    this.idleTicks = 0;
    this.timer = setInterval(() => this.onTick(), this.tickMs);
    this.held = true;
  }

  private hold(): void {
    this.timer?.ref?.();
    this.held = true;
  }

  private stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private onTick(): void {
    this.tick++;
    for (let entry = this.inFlight.head; entry !== undefined; entry = this.inFlight.head) {
      if (this.tick - entry.tick <= TICKS) break;
      this.inFlight.remove(entry);
      entry.reject(this.timedOut(entry.operation, this.timeoutMs));
    }
    // Idle for a while: stop, so that an idle store costs nothing; the next command restarts it.
    if (this.inFlight.size > 0) this.idleTicks = 0;
    else {
      // Nobody waits on it now.
      if (this.held && this.timer !== undefined) background(this.timer);
      this.held = false;
      if (++this.idleTicks > 2 * TICKS) this.stop();
    }
  }
}
