import type { Telemetry, TelemetryEvent } from "./telemetry.js";

/** A listener of one event type. */
export type Listener<T> = (event: T) => void;

/** Receives the errors thrown by listeners, which never reach the policy or its caller. */
export type ListenerErrorHandler = (error: unknown, event: string) => void;

/** Who reports an emitter's events to telemetry: the kind of policy, its name, and the sink it was handed. */
export interface TelemetryOrigin {
  /** The kind of policy (`"breaker"`, `"retry"`, ...). */
  readonly source: string;
  /** The policy's name. */
  readonly name: string;
  /** The sink handed to the policy (its `telemetry` option), if any. */
  readonly telemetry?: Telemetry | undefined;
}

const defaultListenerErrorHandler: ListenerErrorHandler = (error, event) => {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.emitWarning(`a "${event}" listener threw: ${message}`, { type: "BreakwaterListenerError" });
};

/**
 * Adds `listener` to `list`; returns the function that removes this subscription (once: a
 * second call does nothing, and the same listener added twice keeps its other one).
 */
export function addListener<T>(list: T[], listener: T): () => void {
  list.push(listener);
  let subscribed = true;
  return () => {
    if (!subscribed) return;
    subscribed = false;
    const i = list.lastIndexOf(listener);
    if (i >= 0) list.splice(i, 1);
  };
}

/** A sink attached to an emitter: attached twice, it still gets each event once. */
interface Attached {
  readonly sink: Telemetry;
  readonly name: string;
  refs: number;
}

/** The sinks that want one event: none (`null`), or a list. */
type Route = readonly Attached[] | null;

/**
 * A small typed event emitter. `on` returns the function that removes the listener; a
 * listener that throws is reported to `onListenerError` and never breaks the emitter.
 * Emitting with no listener costs one property read.
 *
 * Given a {@link TelemetryOrigin}, it also reports every event to the policy's telemetry
 * sink and to the sinks attached with `attach`, as a {@link TelemetryEvent}.
 */
export class Emitter<Events extends object> {
  private readonly listeners: { [K in keyof Events]?: Listener<Events[K]>[] } = {};
  private sinks: Attached[] | undefined;
  /** Per event name, the sinks that want it; rebuilt after an attach or a detach. */
  private routes: Partial<Record<keyof Events, Route>> = {};
  /** False until a listener or a sink is added: until then `has` reads this one field (the common, unobserved case). */
  private heard = false;

  /**
   * @param onListenerError where listener (and sink) errors go; by default a process warning.
   * @param origin who reports this emitter's events to telemetry.
   */
  constructor(
    private readonly onListenerError: ListenerErrorHandler = defaultListenerErrorHandler,
    private readonly origin?: TelemetryOrigin,
  ) {
    if (origin?.telemetry !== undefined) {
      this.sinks = [{ sink: origin.telemetry, name: origin.name, refs: 1 }];
      this.heard = true;
    }
  }

  /**
   * Subscribes to `event`; returns the function that ends this subscription (once: a second
   * call does nothing, and the same listener subscribed twice keeps its other one). A listener
   * subscribed during an emit hears the next one, not that one.
   */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    // A new array, as on unsubscribing: an emit in progress keeps iterating the one it has.
    const list = this.listeners[event];
    this.listeners[event] = list === undefined ? [listener] : [...list, listener];
    this.heard = true;
    let subscribed = true;
    return () => {
      const current = this.listeners[event];
      if (!subscribed || !current) return;
      subscribed = false;
      // This subscription only: the same function subscribed twice keeps its other one.
      const i = current.lastIndexOf(listener);
      if (i < 0) return;
      const next = current.slice(0, i).concat(current.slice(i + 1));
      this.listeners[event] = next.length > 0 ? next : undefined;
    };
  }

  /**
   * Reports every event to `sink` too, under `name` (default: the origin's); returns the
   * function that detaches it. A sink attached twice gets each event once, until both are
   * detached.
   */
  attach(sink: Telemetry, name?: string): () => void {
    const sinks = (this.sinks ??= []);
    this.heard = true;
    let entry = sinks.find((a) => a.sink === sink);
    if (entry === undefined) sinks.push((entry = { sink, name: name ?? this.origin?.name ?? "", refs: 1 }));
    else entry.refs++;
    this.routes = {};
    const attached = entry;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--attached.refs > 0) return;
      const rest = (this.sinks ?? []).filter((a) => a !== attached);
      this.sinks = rest.length > 0 ? rest : undefined;
      this.routes = {};
    };
  }

  /** True when `event` has at least one listener or sink: check it before building a payload. */
  has(event: keyof Events): boolean {
    return this.heard === true && (this.listeners[event] !== undefined || (this.sinks !== undefined && this.route(event) !== null));
  }

  /** Calls every listener of `event` with `payload`, in subscription order, then reports it to the sinks. */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const list = this.listeners[event];
    if (list !== undefined) {
      for (const listener of list) {
        try {
          const answer = listener(payload) as unknown;
          // An async listener's rejection is reported as a throw is, never left unhandled.
          if (answer instanceof Promise) answer.then(undefined, (error: unknown) => this.fail(error, event));
        } catch (error) {
          this.fail(error, event);
        }
      }
    }
    if (this.sinks !== undefined) {
      const route = this.route(event);
      if (route !== null) this.report(route, event, payload as object);
    }
  }

  private route(event: keyof Events): Route {
    let route = this.routes[event];
    if (route === undefined) {
      const source = this.origin?.source ?? "";
      const name = String(event);
      const wanting = (this.sinks ?? []).filter((a) => a.sink.wants === undefined || a.sink.wants(source, name));
      this.routes[event] = route = wanting.length > 0 ? wanting : null;
    }
    return route;
  }

  private report(route: readonly Attached[], event: keyof Events, payload: object): void {
    const source = this.origin?.source ?? "";
    let shared: TelemetryEvent | undefined;
    for (const attached of route) {
      // One event object for every sink under the origin's name; a renamed attachment gets its own.
      const e =
        attached.name === this.origin?.name
          ? (shared ??= { source, name: attached.name, event: String(event), payload })
          : { source, name: attached.name, event: String(event), payload };
      try {
        attached.sink.report(e);
      } catch (error) {
        this.fail(error, event);
      }
    }
  }

  private fail(error: unknown, event: keyof Events): void {
    try {
      this.onListenerError(error, String(event));
    } catch {
      // The error handler itself failed: there is nowhere left to report to.
    }
  }
}
