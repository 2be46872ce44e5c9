/**
 * How the `breakwater` command prints breakers: a plain-text table for people and JSON
 * (Infinity as null) for scripts. Pure functions of the data, so tests read them back.
 */
import type { BreakerActionResult } from "../redis/breaker-admin.js";
import type { FleetBreakerStatus } from "../redis/fleet-record.js";
import type { TripSpec } from "../breaker/trip.js";

/** A duration for people: `350ms`, `29.9s`, `4m 10s`, `2h 5m`, `3d 4h`. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return "forever";
  const abs = Math.max(0, ms);
  if (abs < 1_000) return `${Math.round(abs)}ms`;
  if (abs < 60_000) return `${(abs / 1_000).toFixed(abs < 10_000 ? 2 : 1)}s`;
  const s = Math.floor(abs / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3_600)}h ${Math.floor((s % 3_600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3_600)}h`;
}

/** The URL without its password, for printing. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString().replace(/\/$/, "");
  } catch {
    return url;
  }
}

/** The failures the trip rule counts, with its threshold: `2/5 in a row`, `3/10 in 1m 0s`, `2 in the last 5 calls (opens at 40%)`. */
export function failuresText(failures: number, trip: TripSpec | null): string {
  if (trip === null) return String(failures);
  switch (trip.kind) {
    case "consecutiveFailures":
      return `${failures}/${trip.threshold} in a row`;
    case "failuresInWindow":
      return `${failures}/${trip.threshold} in ${duration(trip.windowMs)}`;
    case "failureRatio":
      return `${failures} in last ${trip.windowCalls} calls (opens at ${Math.round(trip.ratio * 100)}%)`;
    case "failureRatioInTime":
      return `${failures} in ${duration(trip.windowMs)} (opens at ${Math.round(trip.ratio * 100)}%)`;
    default:
      return String(failures);
  }
}

/** The state column: `open (isolated)`, `half-open (1/2 trials)`. */
export function stateText(b: FleetBreakerStatus): string {
  if (b.isolated) return "open (isolated)";
  if (b.state === "half-open") {
    const max = Number.isFinite(b.halfOpen.maxCalls) ? String(b.halfOpen.maxCalls) : "∞";
    return `half-open (${b.halfOpen.trials}/${max} trials)`;
  }
  return b.state;
}

/** The next-probe column: when, and in how long. */
export function nextProbeText(b: FleetBreakerStatus): string {
  if (b.isolated) return "until reset (isolated)";
  if (b.state === "half-open") return "now (trial calls)";
  if (b.nextProbeAt === null || b.nextProbeInMs === null) return "-";
  if (b.nextProbeInMs === 0) return `${iso(b.nextProbeAt)} (due now)`;
  return `${iso(b.nextProbeAt)} (in ${duration(b.nextProbeInMs)})`;
}

/** The last-failure column: how long ago, and why (shortened). */
export function lastFailureText(b: FleetBreakerStatus): string {
  if (b.lastFailure === null) return "-";
  const reason = b.lastFailure.reason.replace(/\s+/g, " ");
  const short = reason.length > 48 ? `${reason.slice(0, 47)}…` : reason;
  return `${duration(b.serverTime - b.lastFailure.at)} ago: ${short}`;
}

/** The retry-phase column: `fixed #1`, `exponential #4`. */
export function phaseText(b: FleetBreakerStatus): string {
  return b.retryPhase === null || b.isolated ? "-" : `${b.retryPhase} #${b.attempt}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Pads columns to their widest cell. */
function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - [...cell].length))).join("  "))
    .join("\n");
}

/** `breakwater status` as text. */
export function statusText(
  breakers: readonly FleetBreakerStatus[],
  target: { redis: string; namespace: string },
  serverTime: number,
): string {
  const where = `namespace ${JSON.stringify(target.namespace)} on ${redactUrl(target.redis)}`;
  if (breakers.length === 0) {
    return `No breakers in ${where}.\n(A breaker appears once a process using RedisStore with this namespace has run a call through it, until its record expires.)\n`;
  }
  const head = `${breakers.length} breaker${breakers.length === 1 ? "" : "s"} in ${where}, server time ${iso(serverTime)}\n\n`;
  const rows = [
    ["SERVICE", "STATE", "FAILURES", "LAST FAILURE", "NEXT PROBE", "RETRY PHASE"],
    ...breakers.map((b) => [b.name, stateText(b), failuresText(b.failures, b.trip), lastFailureText(b), nextProbeText(b), phaseText(b)]),
  ];
  // With a quorum: which processes hold their own view open (their calls rejected, the fleet's circuit not).
  const views = breakers
    .filter((b) => b.quorum > 1)
    .map(
      (b) => `${b.name}: quorum ${b.quorum}; own view open in ${b.ownViewsOpen.length === 0 ? "no process" : b.ownViewsOpen.join(", ")}`,
    );
  return `${head}${table(rows)}\n${views.length === 0 ? "" : `\n${views.join("\n")}\n`}`;
}

/** `breakwater isolate|reset` as text. */
export function actionText(result: BreakerActionResult, namespace: string): string {
  const b = result.breaker;
  const did = result.action === "isolate" ? "isolated" : result.action === "open" ? "opened" : "reset";
  const t = result.transition;
  const lines: string[] = [];
  if (t !== null) {
    lines.push(`${did} ${b.name} in namespace ${JSON.stringify(namespace)}: ${t.from} -> ${t.to}, published to every process`);
  } else if (result.action === "isolate" || (result.action === "open" && b.isolated)) {
    lines.push(`${b.name} was already isolated in namespace ${JSON.stringify(namespace)}; nothing changed`);
  } else if (result.action === "open") {
    lines.push(`${b.name} was already open in namespace ${JSON.stringify(namespace)}; its next probe moved`);
  } else {
    lines.push(`reset ${b.name} in namespace ${JSON.stringify(namespace)}: it was closed; counts cleared`);
  }
  if (result.created) lines.push(`(no process had written ${b.name} yet: created ${result.key} with the default policy's params)`);
  lines.push(`  state ${stateText(b)}, failures ${failuresText(b.failures, b.trip)}, next probe ${nextProbeText(b)}`);
  return `${lines.join("\n")}\n`;
}

/** JSON with Infinity as null (JSON has no Infinity), two-space indented. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2)}\n`;
}
