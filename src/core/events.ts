/** A listener of one event type. */
export type Listener<T> = (event: T) => void;

/** Receives the errors thrown by listeners, which never reach the policy or its caller. */
export type ListenerErrorHandler = (error: unknown, event: string) => void;

const defaultListenerErrorHandler: ListenerErrorHandler = (error, event) => {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.emitWarning(`a "${event}" listener threw: ${message}`, { type: "BreakwaterListenerError" });
};

/**
 * A small typed event emitter. `on` returns the function that removes the listener; a
 * listener that throws is reported to `onListenerError` and never breaks the emitter.
 * Emitting with no listener costs one property read.
 */
export class Emitter<Events extends object> {
  private readonly listeners: { [K in keyof Events]?: Listener<Events[K]>[] } = {};

  /** @param onListenerError where listener errors go; by default a process warning. */
  constructor(private readonly onListenerError: ListenerErrorHandler = defaultListenerErrorHandler) {}

  /** Subscribes to `event`; returns an unsubscribe function. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const list = (this.listeners[event] ??= []);
    list.push(listener);
    return () => {
      const current = this.listeners[event];
      if (!current) return;
      const next = current.filter((l) => l !== listener);
      this.listeners[event] = next.length > 0 ? next : undefined;
    };
  }

  /** True when `event` has at least one listener: check it before building a payload. */
  has(event: keyof Events): boolean {
    return this.listeners[event] !== undefined;
  }

  /** Calls every listener of `event` with `payload`, in subscription order. */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const list = this.listeners[event];
    if (list === undefined) return;
    for (const listener of list) {
      try {
        listener(payload);
      } catch (error) {
        try {
          this.onListenerError(error, String(event));
        } catch {
          // The error handler itself failed: there is nowhere left to report to.
        }
      }
    }
  }
}
