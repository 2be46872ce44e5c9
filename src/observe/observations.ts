/**
 * The wiring shared by the Prometheus and OpenTelemetry integrations: which events and
 * which readings of each policy feed which metric. A backend only says how to bind a
 * counter's or a histogram's series to a cheap recorder and how to read a metric at
 * collection time (a {@link Sink}).
 */
import { checkKeys, nonEmptyString } from "../core/validate.js";
import type { AttachOptions, Telemetry, TelemetryEvent } from "../core/telemetry.js";
import { CIRCUIT_STATES, type Labels, type MetricId, METRICS } from "./catalog.js";
import { EVENT_FEEDS, type Feed } from "./feeds.js";
import {
  type AdaptiveTarget,
  all,
  breakerOf,
  type BreakerTarget,
  type Classified,
  classify,
  eachBreaker,
  integrationOf,
  labelOf,
  limiterOf,
  type ObservableTarget,
} from "./targets.js";

/** Receives one sample of a pulled metric. */
export type Emit = (labels: Labels, value: number) => void;

/** Adds to one series of a counter, or records into one series of a histogram. */
export type Recorder = (value: number) => void;

/**
 * What a metrics backend provides to the wiring. Event metrics are bound to their labels
 * once, when a target is observed: the recorders run on the policies' hot paths, so they
 * should cost a few additions, not a label lookup.
 */
export interface Sink {
  /** The recorder of an event counter's series (`value` is added). */
  counter(id: MetricId, labels: Labels): Recorder;
  /** The recorder of a histogram's series (`value` is one observation). */
  histogram(id: MetricId, labels: Labels): Recorder;
  /** Registers a reader of a pulled metric, called at every collection; returns its remover. */
  pull(id: MetricId, read: (emit: Emit) => void): () => void;
}

/** Options of `observe(target, options)`. */
export interface ObserveOptions {
  /**
   * The `name` (or `limiter`, `integration`) label for a target that has no name of its
   * own, such as a `RetryPolicy`. Default: the target's `name`, else the kind (`"retry"`).
   */
  readonly name?: string;
}

interface Entry {
  refs: number;
  readonly off: () => void;
}

/** A target that reports its events through the telemetry port: every policy and client. */
interface Attachable {
  attach(telemetry: Telemetry, options?: AttachOptions): () => void;
}

/**
 * Connects targets to a sink. Events come through the telemetry stream: `observe(target)`
 * attaches {@link Observations.telemetry} to the target (which the policies also accept as
 * their `telemetry` option), and {@link EVENT_FEEDS} says which metric each event feeds.
 * Readings (gauges, a breaker's totals) are pulled from the target at collection, once per
 * target: observing a breaker directly and through its registry counts it once, and the
 * last unsubscribe disconnects it.
 */
export class Observations {
  /** The sink of the event metrics: attach it to a policy, or hand it as a policy's `telemetry`. */
  readonly telemetry: Telemetry;
  private readonly live = new Map<object, Entry>();
  private readonly handed = new Set<() => void>();

  constructor(
    private readonly sink: Sink,
    private readonly where: string,
  ) {
    this.telemetry = new MetricFeed(sink);
  }

  /** Starts observing `target`; returns the function that stops (idempotent). */
  observe(target: ObservableTarget, options: ObserveOptions = {}): () => void {
    checkKeys(this.where, options, ["name"]);
    if (options.name !== undefined) nonEmptyString(this.where, "name", options.name);
    const classified = classify(this.where, target);
    (this.telemetry as MetricFeed).prebind(classified.kind, ownLabel(classified, target, options.name));
    const events = (target as unknown as Attachable).attach(
      this.telemetry,
      options.name === undefined ? undefined : { name: options.name },
    );
    const off = all([events, this.connect(classified, target, options)]);
    const stop = (): void => {
      this.handed.delete(stop);
      off();
    };
    this.handed.add(stop);
    return stop;
  }

  /** Stops observing every target. */
  close(): void {
    for (const stop of [...this.handed]) stop();
  }

  /** Starts reading `target`'s pulled metrics, once per target. */
  private connect(classified: Classified, target: object, options: ObserveOptions): () => void {
    const existing = this.live.get(target);
    if (existing !== undefined) {
      existing.refs++;
      return this.release(target, existing);
    }
    let off: () => void;
    switch (classified.kind) {
      case "breaker":
        off = this.breaker(classified.target);
        break;
      case "breakers":
        off = eachBreaker(classified.target, (breaker) => {
          (this.telemetry as MetricFeed).prebind("breaker", breaker.name);
          return this.connect({ kind: "breaker", target: breaker }, breaker, options);
        });
        break;
      case "adaptive":
        off = this.adaptive(classified.target, labelOf(target, options.name, "adaptive"));
        break;
      case "http": {
        const offs: (() => void)[] = [];
        const limiter = limiterOf(classified.target);
        const feed = this.telemetry as MetricFeed;
        if (limiter !== undefined) {
          feed.prebind("adaptive", limiter.name);
          offs.push(this.connect({ kind: "adaptive", target: limiter }, limiter, {}));
        }
        const breaker = breakerOf(classified.target);
        if (breaker !== undefined) {
          feed.prebind("breaker", breaker.name);
          offs.push(this.connect({ kind: "breaker", target: breaker }, breaker, {}));
        }
        off = all(offs);
        break;
      }
      default:
        // Retry policies, keyed limiters, timeouts, bulkheads and fallbacks have no readings: events only.
        off = () => undefined;
    }
    const entry: Entry = { refs: 1, off };
    this.live.set(target, entry);
    return this.release(target, entry);
  }

  /** How many targets are connected now (the registry's breakers counted one by one). */
  get size(): number {
    return this.live.size;
  }

  private release(target: object, entry: Entry): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--entry.refs > 0) return;
      this.live.delete(target);
      entry.off();
    };
  }

  private breaker(breaker: BreakerTarget): () => void {
    const sink = this.sink;
    const name = breaker.name;
    const byName: Labels = { name };
    const stateLabels = CIRCUIT_STATES.map((state) => ({ name, state }));
    return all([
      sink.pull("breakerState", (emit) => {
        const current = breaker.state;
        for (const labels of stateLabels) emit(labels, labels.state === current ? 1 : 0);
      }),
      // Totals are read from status() at collection time: subscribing to every success
      // would take the breaker off its allocation-free closed-state path.
      sink.pull("breakerFailures", (emit) => emit(byName, breaker.status().totals.failures)),
      sink.pull("breakerSuccesses", (emit) => emit(byName, breaker.status().totals.successes)),
      sink.pull("breakerRejections", (emit) => emit(byName, breaker.status().totals.rejections)),
    ]);
  }

  /** An adaptive limiter's rate and cooldown, read at collection. */
  private adaptive(limiter: AdaptiveTarget, name: string): () => void {
    const labels: Labels = { limiter: name };
    return all([
      this.sink.pull("adaptiveRate", (emit) => emit(labels, limiter.snapshot().ratePerSec)),
      this.sink.pull("adaptiveCooldown", (emit) => emit(labels, limiter.snapshot().cooldownMs / 1000)),
    ]);
  }
}

/**
 * The event metrics as a telemetry sink: each event feeds the metrics {@link EVENT_FEEDS}
 * lists for it. A series' recorder is bound once per name (and second label), so an event
 * costs two table reads and a map lookup.
 */
class MetricFeed implements Telemetry {
  private readonly bound = new Map<Feed, Map<string, Recorder | Map<string, Recorder>>>();

  constructor(private readonly sink: Sink) {}

  wants(source: string, event: string): boolean {
    return EVENT_FEEDS[source]?.[event] !== undefined;
  }

  report(t: TelemetryEvent): void {
    const feeds = EVENT_FEEDS[t.source]?.[t.event];
    if (feeds === undefined) return;
    for (const feed of feeds) {
      const value = feed.value(t.payload);
      if (value !== undefined) this.recorder(feed, t.name, feed.second?.of(t.payload))(value);
    }
  }

  /**
   * Binds the series `source`'s events feed under `name` now, so that they are exported
   * (at zero) from the moment a target is observed, not from its first event.
   */
  prebind(source: string, name: string): void {
    for (const feeds of Object.values(EVENT_FEEDS[source] ?? {})) {
      for (const feed of feeds) {
        const second = feed.second;
        if (second === undefined) this.recorder(feed, name, undefined);
        else for (const value of second.known ?? []) this.recorder(feed, name, value);
      }
    }
  }

  private recorder(feed: Feed, name: string, label: string | undefined): Recorder {
    let byName = this.bound.get(feed);
    if (byName === undefined) this.bound.set(feed, (byName = new Map()));
    const second = feed.second;
    if (second === undefined || label === undefined) {
      let recorder = byName.get(name) as Recorder | undefined;
      if (recorder === undefined) byName.set(name, (recorder = this.bind(feed, { [feed.nameLabel]: name })));
      return recorder;
    }
    let byValue = byName.get(name) as Map<string, Recorder> | undefined;
    if (byValue === undefined) byName.set(name, (byValue = new Map()));
    let recorder = byValue.get(label);
    // Second-label values are few (states, statuses and outcomes), so this stays small.
    if (recorder === undefined) byValue.set(label, (recorder = this.bind(feed, { [feed.nameLabel]: name, [second.label]: label })));
    return recorder;
  }

  private bind(feed: Feed, labels: Labels): Recorder {
    return METRICS[feed.metric].kind === "histogram" ? this.sink.histogram(feed.metric, labels) : this.sink.counter(feed.metric, labels);
  }
}

/**
 * The readers of pulled metrics, by metric: a backend keeps one and hands `add` to the
 * wiring as its `pull`, and calls `read` from its collection callback.
 */
export class Pulls {
  private readonly readers = new Map<MetricId, Set<(emit: Emit) => void>>();

  /** Registers `read` for `id`; returns its remover. */
  add(id: MetricId, read: (emit: Emit) => void): () => void {
    let set = this.readers.get(id);
    if (set === undefined) this.readers.set(id, (set = new Set()));
    set.add(read);
    return () => {
      set.delete(read);
    };
  }

  /**
   * Calls every reader of `id` and emits one sample per label set, merged by the metric's
   * `combine` when several targets report the same labels; a reader that throws is
   * skipped, the others still report.
   */
  read(id: MetricId, emit: Emit): void {
    const set = this.readers.get(id);
    if (set === undefined) return;
    const def: { readonly labels: readonly string[]; readonly combine?: "sum" | "max" } = METRICS[id];
    const max = def.combine === "max";
    const merged = new Map<string, { labels: Labels; value: number }>();
    const collect: Emit = (labels, value) => {
      const key = labelKey(id, labels);
      const seen = merged.get(key);
      if (seen === undefined) merged.set(key, { labels, value });
      else seen.value = max ? Math.max(seen.value, value) : seen.value + value;
    };
    for (const read of set) {
      try {
        read(collect);
      } catch {
        // A target that cannot report now (e.g. closed) leaves its series out of this collection.
      }
    }
    for (const { labels, value } of merged.values()) emit(labels, value);
  }
}

/** The key of a label set, in the metric's label order. */
export function labelKey(id: MetricId, labels: Labels): string {
  return METRICS[id].labels.map((l) => labels[l] ?? "").join("\u0000");
}

/** One counter series kept in process: `value` grows on the hot path, the backend reads it at collection. */
export interface CounterCell {
  readonly labels: Labels;
  value: number;
}

/**
 * Counter series kept in process, one cell per label set: a recorder is one addition, and
 * the backend reports the totals (or the increase since the last collection) when it
 * collects. Cells outlive their targets, so a counter keeps its total after unsubscribe.
 */
export class CounterCells {
  private readonly cells = new Map<MetricId, Map<string, CounterCell>>();

  /** The recorder of `id`'s series for `labels`, sharing the cell of any earlier one. */
  bind(id: MetricId, labels: Labels): Recorder {
    let byKey = this.cells.get(id);
    if (byKey === undefined) this.cells.set(id, (byKey = new Map()));
    const key = labelKey(id, labels);
    let cell = byKey.get(key);
    if (cell === undefined) byKey.set(key, (cell = { labels, value: 0 }));
    const c = cell;
    return (value) => {
      c.value += value;
    };
  }

  /** Every cell of `id`. */
  of(id: MetricId): Iterable<CounterCell> {
    return this.cells.get(id)?.values() ?? [];
  }

  /** Forgets every cell. */
  clear(): void {
    this.cells.clear();
  }
}

/** The name a target's own events carry: the `name` option, else its own (an HTTP client's integration). */
function ownLabel(classified: Classified, target: object, name: string | undefined): string {
  if (classified.kind === "http") return integrationOf(classified.target, name);
  return labelOf(target, name, classified.kind);
}
