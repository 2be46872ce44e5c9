/**
 * The telemetry port: every policy reports its events through one `Telemetry` it is
 * handed (the `telemetry` option) and through the sinks attached to it later (`attach`).
 * Logging, metrics and the dashboard are sinks; none of them knows the list of policies.
 */
import { InvalidOptionError } from "./errors.js";

/** One event a policy reported. */
export interface TelemetryEvent<P extends object = object> {
  /** The kind of policy: `"breaker"`, `"retry"`, `"limiter"`, `"adaptive"`, `"timeout"`, `"bulkhead"`, `"fallback"`, `"http"`. */
  readonly source: string;
  /** The policy's name: a breaker's or limiter's `name`, an HTTP client's integration; the kind when it has none. */
  readonly name: string;
  /** The event, as the policy's `on(event, listener)` names it: `"stateChange"`, `"rejected"`, `"retry"`, ... */
  readonly event: string;
  /** The event's structured payload: the object the policy's `on(event)` listeners receive. */
  readonly payload: P;
}

/**
 * Where a policy reports its events: a sink. `wants` (optional) tells which events it takes;
 * a policy builds no payload for an event no listener and no sink wants, so an unused event
 * costs its hot path nothing.
 */
export interface Telemetry {
  /** Receives one event. It must not throw; if it does, the error goes to the policy's `onListenerError`. */
  report(event: TelemetryEvent): void;
  /** Whether `report` wants `source`'s `event`; asked once per event name. Default: every event. */
  wants?(source: string, event: string): boolean;
}

/**
 * A stream many sinks read: hand one `TelemetryStream` to every policy as `telemetry`,
 * then `subscribe` logging, metrics or your own sink to it.
 *
 * @example
 * ```ts
 * const telemetry = new TelemetryStream();
 * telemetry.subscribe({ report: (e) => console.log(e.source, e.name, e.event, e.payload) });
 * const breaker = new CircuitBreaker({ name: "payments", telemetry });
 * ```
 */
export class TelemetryStream implements Telemetry {
  private sinks: readonly Telemetry[] = [];

  /** Adds `sink`; returns the function that removes it. */
  subscribe(sink: Telemetry): () => void {
    checkSink("TelemetryStream.subscribe", "sink", sink);
    this.sinks = [...this.sinks, sink];
    return () => {
      this.sinks = this.sinks.filter((s) => s !== sink);
    };
  }

  /** Hands `event` to every sink that wants it. */
  report(event: TelemetryEvent): void {
    for (const sink of this.sinks) {
      if (sink.wants === undefined || sink.wants(event.source, event.event)) sink.report(event);
    }
  }
}

/** A sink that takes nothing: the default `telemetry` of every policy. */
export const noTelemetry: Telemetry = Object.freeze({
  report(): void {},
  wants(): boolean {
    return false;
  },
});

/** Validates a `telemetry` option; `undefined` and {@link noTelemetry} mean none. */
export function telemetryOption(where: string, value: unknown): Telemetry | undefined {
  if (value === undefined || value === noTelemetry) return undefined;
  return checkSink(where, "telemetry", value);
}

/** Options of a policy's `attach(telemetry, options)`. */
export interface AttachOptions {
  /** The name the policy's own events carry in this sink instead of the policy's name. */
  readonly name?: string;
}

/** Validates the arguments of a policy's `attach`; returns the name to report under, if renamed. */
export function checkAttach(where: string, telemetry: unknown, options: AttachOptions | undefined): string | undefined {
  checkSink(where, "telemetry", telemetry);
  if (options === undefined) return undefined;
  if (typeof options !== "object" || options === null) throw new InvalidOptionError(where, "options", options, "{ name }");
  const name = options.name;
  if (name !== undefined && (typeof name !== "string" || name === ""))
    throw new InvalidOptionError(where, "name", name, "a non-empty string");
  return name;
}

/**
 * Attaches `telemetry` to every member of a group (a registry's breakers), now and as
 * members are created; returns the function that detaches it from all of them.
 */
export function attachEach<M extends { attach(telemetry: Telemetry): () => void }>(
  members: Iterable<M>,
  onCreate: (listener: (member: M) => void) => () => void,
  telemetry: Telemetry,
): () => void {
  const undo: (() => void)[] = [];
  undo.push(onCreate((member) => undo.push(member.attach(telemetry))));
  for (const member of members) undo.push(member.attach(telemetry));
  return () => {
    for (const off of undo.splice(0)) off();
  };
}

function checkSink(where: string, option: string, value: unknown): Telemetry {
  const ok =
    typeof value === "object" &&
    value !== null &&
    typeof (value as Telemetry).report === "function" &&
    ((value as Telemetry).wants === undefined || typeof (value as Telemetry).wants === "function");
  if (!ok)
    throw new InvalidOptionError(where, option, value, "a Telemetry: an object with report(event) and optionally wants(source, event)");
  return value as Telemetry;
}
