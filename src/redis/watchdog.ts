/** Timeout checks per `commandTimeoutMs`: a command times out after 4 to 5 ticks. */
const TICKS = 4;

interface Guarded {
  readonly tick: number;
  readonly operation: string;
  readonly reject: (error: unknown) => void;
}

/**
 * Times commands out without a timer of their own: one unref'ed interval ticks while
 * commands are in flight (and a little after), and rejects those older than the timeout.
 * A timer per command (create, then clear) would cost more than the rest of a limiter's
 * hot path. Commands on a connection settle in the order they were sent, so the oldest
 * are checked first and a tick stops at the first young one.
 */
export class CommandWatchdog {
  private readonly inFlight = new Set<Guarded>();
  private readonly tickMs: number;
  private tick = 0;
  private idleTicks = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

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
      const entry: Guarded = { tick: this.tick, operation, reject };
      this.inFlight.add(entry);
      if (this.timer === undefined) this.start();
      promise.then(
        (value) => {
          if (this.inFlight.delete(entry)) resolve(value);
        },
        (error: unknown) => {
          if (this.inFlight.delete(entry)) reject(error);
        },
      );
    });
  }

  /** Rejects every command still in flight with `error` and stops ticking. */
  close(error: Error): void {
    for (const entry of this.inFlight) entry.reject(error);
    this.inFlight.clear();
    this.stop();
  }

  private start(): void {
    this.idleTicks = 0;
    this.timer = setInterval(() => this.onTick(), this.tickMs);
    this.timer.unref?.();
  }

  private stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private onTick(): void {
    this.tick++;
    for (const entry of this.inFlight) {
      if (this.tick - entry.tick <= TICKS) break;
      this.inFlight.delete(entry);
      entry.reject(this.timedOut(entry.operation, this.timeoutMs));
    }
    // Idle for a while: stop, so that an idle store costs nothing; the next command restarts it.
    if (this.inFlight.size > 0) this.idleTicks = 0;
    else if (++this.idleTicks > 2 * TICKS) this.stop();
  }
}
