import { setMaxListeners } from "node:events";

/**
 * A closed-loop workload: `workers` callers, each sending one request after another for
 * `durationMs`, and what they saw. Shared by the demo and the adaptive bench.
 */

/** How one caller's request ended. */
export type CallOutcome = "ok" | "failed";

/** One caller request: when it started and ended (ms since the workload began) and how it ended. */
export interface CallRecord {
  readonly startMs: number;
  readonly endMs: number;
  readonly outcome: CallOutcome;
  /** A short label of the failure, e.g. `"BackoffExhaustedError"`. */
  readonly error?: string;
}

/** A client under test: sends one request and resolves when it has an answer (or rejects). */
export type Send = (signal: AbortSignal) => Promise<unknown>;

/** Options of {@link runWorkload}. */
export interface WorkloadOptions {
  readonly workers: number;
  readonly durationMs: number;
  readonly send: Send;
  /** Called every `tickMs` with the records so far (for a progress line). */
  readonly onTick?: (elapsedMs: number, records: readonly CallRecord[]) => void;
  readonly tickMs?: number;
}

/**
 * Runs the workload and resolves with every call's record. When the time is up, calls
 * still waiting are aborted (and not recorded), so the run ends on time.
 */
export async function runWorkload(options: WorkloadOptions): Promise<CallRecord[]> {
  const records: CallRecord[] = [];
  const t0 = performance.now();
  const stop = new AbortController();
  // Every worker's request listens to this one signal.
  setMaxListeners(0, stop.signal);
  const deadline = setTimeout(() => stop.abort(), options.durationMs);
  const ticker =
    options.onTick === undefined ? undefined : setInterval(() => options.onTick?.(performance.now() - t0, records), options.tickMs ?? 250);
  const worker = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      const startMs = performance.now() - t0;
      try {
        await options.send(stop.signal);
        if (!stop.signal.aborted) records.push({ startMs, endMs: performance.now() - t0, outcome: "ok" });
      } catch (error) {
        if (stop.signal.aborted) break;
        records.push({
          startMs,
          endMs: performance.now() - t0,
          outcome: "failed",
          error: error instanceof Error ? error.name : String(error),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
  clearTimeout(deadline);
  if (ticker !== undefined) clearInterval(ticker);
  return records;
}

/** The `q` quantile (0..1) of `values` (nearest rank); 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Sleeps `ms` (a real timer), or rejects when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
