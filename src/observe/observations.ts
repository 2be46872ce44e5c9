/**
 * The wiring shared by the Prometheus and OpenTelemetry integrations: which events and
 * which readings of each policy feed which metric. A backend only says how to bind a
 * counter's or a histogram's series to a cheap recorder and how to read a metric at
 * collection time (a {@link Sink}).
 */
import { checkKeys, nonEmptyString } from "../core/validate.js";
import type { RateLimiterEvents } from "../limit/limiter.js";
import { CIRCUIT_STATES, type Labels, type MetricId, METRICS } from "./catalog.js";
import {
  type AdaptiveTarget,
  all,
  breakerOf,
  type BreakerTarget,
  classify,
  eachBreaker,
  type HttpClientTarget,
  integrationOf,
  labelOf,
  limiterOf,
  type ObservableTarget,
  type RetryTarget,
} from "./targets.js";

/** What the limiter metrics need: the events every limiter (the adaptive one included) emits. */
interface LimiterEventSource {
  on<K extends keyof RateLimiterEvents>(event: K, listener: (payload: RateLimiterEvents[K]) => void): () => void;
}

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

/**
 * Connects targets to a sink, once per target: observing a breaker directly and through
 * its registry counts its events once, and the last unsubscribe disconnects it.
 */
export class Observations {
  private readonly live = new Map<object, Entry>();
  private readonly handed = new Set<() => void>();

  constructor(
    private readonly sink: Sink,
    private readonly where: string,
  ) {}

  /** Starts observing `target`; returns the function that stops (idempotent). */
  observe(target: ObservableTarget, options: ObserveOptions = {}): () => void {
    checkKeys(this.where, options, ["name"]);
    if (options.name !== undefined) nonEmptyString(this.where, "name", options.name);
    const off = this.connect(target, options);
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

  private connect(target: ObservableTarget, options: ObserveOptions): () => void {
    const classified = classify(this.where, target);
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
        off = eachBreaker(classified.target, (breaker) => this.connect(breaker, options));
        break;
      case "retry":
        off = this.retry(classified.target, labelOf(target, options.name, "retry"));
        break;
      case "limiter":
        off = this.limiter(classified.target, labelOf(target, options.name, "limiter"));
        break;
      case "adaptive":
        off = this.adaptive(classified.target, labelOf(target, options.name, "adaptive"));
        break;
      case "http":
        off = this.http(classified.target, options.name);
        break;
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
    const entered = new Map<string, Recorder>(CIRCUIT_STATES.map((state) => [state, sink.counter("breakerStateChanges", { name, state })]));
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
      breaker.on("stateChange", (e) => (entered.get(e.to) ?? sink.counter("breakerStateChanges", { name, state: e.to }))(1)),
    ]);
  }

  private retry(policy: RetryTarget, name: string): () => void {
    const sink = this.sink;
    const labels: Labels = { name };
    const attempts = sink.histogram("retryAttempts", labels);
    const retries = sink.counter("retryAttemptsTotal", labels);
    return all([
      policy.on("success", (e) => attempts(e.attempts)),
      // A call aborted before its first attempt made no attempt: nothing to record.
      policy.on("giveUp", (e) => e.attempts > 0 && attempts(e.attempts)),
      policy.on("retry", () => retries(1)),
    ]);
  }

  /**
   * A limiter's events: refusals counted, and every admission's wait recorded (0 for
   * `tryAcquire`). The key is never a label: a keyed limiter's keys are summed.
   */
  private limiter(limiter: LimiterEventSource, name: string): () => void {
    const labels: Labels = { limiter: name };
    const rejected = this.sink.counter("rateLimitRejected", labels);
    const wait = this.sink.histogram("rateLimitWait", labels);
    return all([limiter.on("rejected", () => rejected(1)), limiter.on("acquired", (e) => wait(e.waitedMs / 1000))]);
  }

  /** An adaptive limiter: the limiter metrics, and its rate and cooldown read at collection. */
  private adaptive(limiter: AdaptiveTarget, name: string): () => void {
    const labels: Labels = { limiter: name };
    return all([
      this.limiter(limiter, name),
      this.sink.pull("adaptiveRate", (emit) => emit(labels, limiter.snapshot().ratePerSec)),
      this.sink.pull("adaptiveCooldown", (emit) => emit(labels, limiter.snapshot().cooldownMs / 1000)),
    ]);
  }

  /**
   * An HTTP client: one count and one duration per request, and its adaptive limiter and
   * (an `EnterpriseClient`'s) breaker, each under its own name.
   */
  private http(client: HttpClientTarget, name: string | undefined): () => void {
    const sink = this.sink;
    const integration = integrationOf(client, name);
    const duration = sink.histogram("httpDuration", { integration });
    // One recorder per status seen: statuses and outcomes are few, so this stays small.
    const byStatus = new Map<string, Recorder>();
    const offs = [
      client.on("request", (e) => {
        const status = e.status === null ? e.outcome : String(e.status);
        let count = byStatus.get(status);
        if (count === undefined) byStatus.set(status, (count = sink.counter("httpRequests", { integration, status })));
        count(1);
        duration(e.durationMs / 1000);
      }),
    ];
    const limiter = limiterOf(client);
    if (limiter !== undefined) offs.push(this.connect(limiter, {}));
    const breaker = breakerOf(client);
    if (breaker !== undefined) offs.push(this.connect(breaker, {}));
    return all(offs);
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
