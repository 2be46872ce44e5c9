/**
 * The wiring shared by the Prometheus and OpenTelemetry integrations: which events and
 * which readings of each policy feed which metric. A backend only says how to add to a
 * counter, record into a histogram and read a metric at collection time (a {@link Sink}).
 */
import { checkKeys, nonEmptyString } from "../core/validate.js";
import { CIRCUIT_STATES, type Labels, type MetricId } from "./catalog.js";
import { all, type BreakerTarget, classify, eachBreaker, labelOf, type ObservableTarget, type RetryTarget } from "./targets.js";

/** Receives one sample of a pulled metric. */
export type Emit = (labels: Labels, value: number) => void;

/** What a metrics backend provides to the wiring. */
export interface Sink {
  /** Adds `value` to an event counter. */
  add(id: MetricId, labels: Labels, value: number): void;
  /** Records `value` into a histogram. */
  record(id: MetricId, labels: Labels, value: number): void;
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
    const entered = Object.fromEntries(CIRCUIT_STATES.map((state) => [state, { name, state }])) as Record<string, Labels>;
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
      breaker.on("stateChange", (e) => sink.add("breakerStateChanges", entered[e.to] ?? { name, state: e.to }, 1)),
    ]);
  }

  private retry(policy: RetryTarget, name: string): () => void {
    const sink = this.sink;
    const labels: Labels = { name };
    return all([
      policy.on("success", (e) => sink.record("retryAttempts", labels, e.attempts)),
      // A call aborted before its first attempt made no attempt: nothing to record.
      policy.on("giveUp", (e) => e.attempts > 0 && sink.record("retryAttempts", labels, e.attempts)),
      policy.on("retry", () => sink.add("retryAttemptsTotal", labels, 1)),
    ]);
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

  /** Calls every reader of `id`; a reader that throws is skipped, the others still report. */
  read(id: MetricId, emit: Emit): void {
    const set = this.readers.get(id);
    if (set === undefined) return;
    for (const read of set) {
      try {
        read(emit);
      } catch {
        // A target that cannot report now (e.g. closed) leaves its series out of this collection.
      }
    }
  }
}
