/**
 * Which metric each telemetry event feeds, by source and event name. The one place that
 * knows event payloads on the metrics side: a new policy's events get metrics by a row here
 * and an entry in the catalogue; no observer changes.
 */
import type { MetricId } from "./catalog.js";

/** How one event feeds one metric. */
export interface Feed {
  readonly metric: MetricId;
  /** The label that carries the event's `name`. */
  readonly nameLabel: "name" | "limiter" | "integration";
  /** A second label read from the payload, with the values it is known to take (bound up front), if any. */
  readonly second?: { readonly label: string; of(payload: object): string; readonly known?: readonly string[] };
  /** What to record: an addition for a counter, an observation for a histogram; `undefined` records nothing. */
  value(payload: object): number | undefined;
}

const one = (): number => 1;

const rejected: Feed = { metric: "rateLimitRejected", nameLabel: "limiter", value: one };
const waited: Feed = { metric: "rateLimitWait", nameLabel: "limiter", value: (p) => (p as { waitedMs: number }).waitedMs / 1000 };

/** The metrics each event feeds: `EVENT_FEEDS[source][event]`. */
export const EVENT_FEEDS: Readonly<Record<string, Readonly<Record<string, readonly Feed[]>> | undefined>> = {
  breaker: {
    stateChange: [
      {
        metric: "breakerStateChanges",
        nameLabel: "name",
        second: { label: "state", of: (p) => (p as { to: string }).to, known: ["closed", "open", "half-open"] },
        value: one,
      },
    ],
  },
  retry: {
    success: [{ metric: "retryAttempts", nameLabel: "name", value: (p) => (p as { attempts: number }).attempts }],
    // A call aborted before its first attempt made no attempt: nothing to record.
    giveUp: [
      {
        metric: "retryAttempts",
        nameLabel: "name",
        value: (p) => {
          const attempts = (p as { attempts: number }).attempts;
          return attempts > 0 ? attempts : undefined;
        },
      },
    ],
    retry: [{ metric: "retryAttemptsTotal", nameLabel: "name", value: one }],
  },
  // The key is never a label: a keyed limiter's keys are summed.
  limiter: { rejected: [rejected], acquired: [waited] },
  adaptive: { rejected: [rejected], acquired: [waited] },
  http: {
    request: [
      {
        metric: "httpRequests",
        nameLabel: "integration",
        second: {
          label: "status",
          of: (p) => {
            const e = p as { status: number | null; outcome: string };
            return e.status === null ? e.outcome : String(e.status);
          },
        },
        value: one,
      },
      { metric: "httpDuration", nameLabel: "integration", value: (p) => (p as { durationMs: number }).durationMs / 1000 },
    ],
  },
  timeout: { timeout: [{ metric: "timeouts", nameLabel: "name", value: one }] },
  bulkhead: { rejected: [{ metric: "bulkheadRejected", nameLabel: "name", value: one }] },
  fallback: { fallback: [{ metric: "fallbacks", nameLabel: "name", value: one }] },
};
