import { InvalidOptionError } from "../core/errors.js";
import { boolean, byKind, checkKeys, integer, orDefault, positive, ratio as checkRatio } from "../core/validate.js";
import { countPush, countWindow, type CountWindow, timePush, timeTotals, timeWindow, type TimeWindow } from "./windows.js";

/** The trip rule's configuration as plain data. */
export type TripSpec =
  | { readonly kind: "consecutiveFailures"; readonly threshold: number }
  | {
      readonly kind: "failuresInWindow";
      readonly threshold: number;
      readonly windowMs: number;
      readonly buckets: number;
      /** Present (true) only when a success clears the failures counted so far. */
      readonly resetOnSuccess?: true;
    }
  | { readonly kind: "failureRatio"; readonly ratio: number; readonly minimumCalls: number; readonly windowCalls: number }
  | {
      readonly kind: "failureRatioInTime";
      readonly ratio: number;
      readonly minimumCalls: number;
      readonly windowMs: number;
      readonly buckets: number;
    };

/** The rule's counting state: a plain record. */
export type TripState = { consecutive: number } | CountWindow | TimeWindow;

/**
 * When a closed circuit should open. A rule is a tiny object over a plain state record:
 * `record` adds one outcome and answers "open now?". New rules need no change to the
 * breaker.
 */
export interface TripRule {
  /** The configuration, as plain data. */
  readonly spec: TripSpec;
  /** True when `record` reads `now` (time windows); false lets the breaker skip the clock on successes. */
  readonly timeBased: boolean;
  /** True when a success can meet the rule (ratio rules judge every outcome): such a success needs the clock and a random. */
  readonly judgesSuccesses?: boolean;
  /** True when a success clears every failure counted so far: quorum then forgets every failing process too. */
  readonly clearsOnSuccess?: boolean;
  /** Fresh counting state. */
  init(): TripState;
  /** Adds one outcome at `now`; true when the circuit should open. */
  record(state: TripState, failed: boolean, now: number): boolean;
  /** The failures that currently count towards opening (for `status()`). */
  failures(state: TripState, now: number): number;
  /** True when recording a success now would change nothing (lets the hot path skip the store). */
  successIsNoop(state: TripState): boolean;
  /** True when the state holds nothing that counts (so a closed breaker is idle). */
  isEmpty(state: TripState, now: number): boolean;
  /**
   * For quorum: the mark of a failure recorded as outcome number `outcomes` at `now`. A rule
   * without `mark` and `stillCounts` cannot take a quorum above 1.
   */
  mark?(outcomes: number, now: number): number;
  /** For quorum: whether a failure with that mark is still among the outcomes the rule considers. */
  stillCounts?(state: TripState, mark: number, outcomes: number, now: number): boolean;
}

/** A time-window rule's quorum marks: the failure's time, counted while its slot is in the window. */
function timeMarks(slotMs: number, buckets: number): Pick<TripRule, "mark" | "stillCounts"> {
  return {
    mark: (_outcomes, now) => now,
    stillCounts: (_state, mark, _outcomes, now) => slotInWindow(mark, now, slotMs, buckets),
  };
}

/** Whether the slot of time `mark` is still among the window's `buckets` slots at `now`. */
function slotInWindow(mark: number, now: number, slotMs: number, buckets: number): boolean {
  return Math.floor(mark / slotMs) >= Math.floor(now / slotMs) - buckets + 1;
}

/** Opens after `threshold` failures in a row; any success starts the count again. */
export function consecutiveFailures(threshold = 5): TripRule {
  integer("consecutiveFailures()", "threshold", threshold);
  type S = { consecutive: number };
  return {
    spec: { kind: "consecutiveFailures", threshold },
    timeBased: false,
    judgesSuccesses: false,
    init: () => ({ consecutive: 0 }),
    record(state, failed) {
      const s = state as S;
      s.consecutive = failed ? s.consecutive + 1 : 0;
      return s.consecutive >= threshold;
    },
    failures: (state) => (state as S).consecutive,
    successIsNoop: (state) => (state as S).consecutive === 0,
    isEmpty: (state) => (state as S).consecutive === 0,
    // The run of failures is the last `consecutive` outcomes.
    mark: (outcomes) => outcomes,
    stillCounts: (state, mark, outcomes) => mark > outcomes - (state as S).consecutive,
  };
}

/** Options of {@link failuresInWindow}. */
export interface FailuresInWindowOptions {
  /** Slots the window is split into: memory per breaker, and the edge's precision. Default 10. */
  readonly buckets?: number;
  /**
   * A success clears the failures counted so far, so the circuit opens after `threshold`
   * failures within `windowMs` with no success between them (as a failure log that a
   * success deletes). Default false: successes change nothing.
   */
  readonly resetOnSuccess?: boolean;
}

/**
 * Opens after `threshold` failures within the last `windowMs`, counted in time slots; with
 * `resetOnSuccess`, only failures since the last success count.
 */
export function failuresInWindow(threshold: number, windowMs: number, options: FailuresInWindowOptions = {}): TripRule {
  const where = "failuresInWindow()";
  integer(where, "threshold", threshold);
  positive(where, "windowMs", windowMs);
  checkKeys(where, options, ["buckets", "resetOnSuccess"]);
  const buckets = integer(where, "buckets", options.buckets ?? 10);
  const resetOnSuccess = boolean(where, "resetOnSuccess", orDefault(options.resetOnSuccess, false));
  const slotMs = windowMs / buckets;
  const failures = (state: TripState, now: number): number => timeTotals(state as TimeWindow, now, slotMs).failures;
  const rule: TripRule = {
    spec: { kind: "failuresInWindow", threshold, windowMs, buckets },
    timeBased: true,
    judgesSuccesses: false,
    init: () => timeWindow(buckets),
    record(state, failed, now) {
      if (!failed) return false;
      timePush(state as TimeWindow, true, now, slotMs);
      return failures(state, now) >= threshold;
    },
    failures,
    successIsNoop: () => true,
    isEmpty: (state, now) => timeTotals(state as TimeWindow, now, slotMs).calls === 0,
    ...timeMarks(slotMs, buckets),
  };
  if (!resetOnSuccess) return rule;
  return {
    ...rule,
    spec: { kind: "failuresInWindow", threshold, windowMs, buckets, resetOnSuccess: true },
    clearsOnSuccess: true,
    record(state, failed, now) {
      if (failed) return rule.record(state, true, now);
      if (failures(state, now) > 0) clearTimeWindow(state as TimeWindow);
      return false;
    },
    // A success clears what counts, so it is no news only when nothing does.
    successIsNoop: (state) => (state as TimeWindow).failures.every((f) => f === 0),
  };
}

/** Empties a time window (a success cleared it). */
function clearTimeWindow(w: TimeWindow): void {
  w.stamps.fill(-1);
  w.calls.fill(0);
  w.failures.fill(0);
}

/** Options of {@link failureRatio}: give `windowCalls` (count-based) or `windowMs` (time-based). */
export interface FailureRatioOptions {
  /** Judge the last N calls (e.g. 5 to open on 2 failures of the last 5 with ratio 0.4). */
  readonly windowCalls?: number;
  /** Or judge the calls of the last `windowMs`. */
  readonly windowMs?: number;
  /** Calls the window must hold before the ratio is judged. Default: `windowCalls`, or 10 with `windowMs`. */
  readonly minimumCalls?: number;
  /** With `windowMs`: slots the window is split into. Default 10. */
  readonly buckets?: number;
}

/**
 * Opens when failures make up at least `ratio` of the calls in the window, once the
 * window holds `minimumCalls`. `failureRatio(0.4, { windowCalls: 5 })` is "2 of the last 5".
 * Every outcome judges the ratio, a success too (as resilience4j): F F F S S with
 * `failureRatio(0.5, { windowCalls: 5 })` opens on the last success, at 60%.
 */
export function failureRatio(ratio: number, options: FailureRatioOptions): TripRule {
  const where = "failureRatio()";
  checkRatio(where, "ratio", ratio);
  checkKeys(where, options, ["windowCalls", "windowMs", "minimumCalls", "buckets"]);
  if (options === undefined || (options.windowCalls === undefined) === (options.windowMs === undefined)) {
    throw new InvalidOptionError(where, "windowCalls | windowMs", options, "exactly one of windowCalls or windowMs");
  }
  if (options.windowCalls !== undefined) {
    const windowCalls = integer(where, "windowCalls", options.windowCalls);
    const minimumCalls = integer(where, "minimumCalls", options.minimumCalls ?? windowCalls);
    if (minimumCalls > windowCalls) throw new InvalidOptionError(where, "minimumCalls", minimumCalls, `<= windowCalls (${windowCalls})`);
    return {
      spec: { kind: "failureRatio", ratio, minimumCalls, windowCalls },
      timeBased: false,
      judgesSuccesses: true,
      init: () => countWindow(windowCalls),
      record(state, failed) {
        const w = state as CountWindow;
        countPush(w, failed);
        return ratioMet(ratio, minimumCalls, w.filled, w.failures);
      },
      failures: (state) => (state as CountWindow).failures,
      successIsNoop: () => false,
      isEmpty: (state) => (state as CountWindow).filled === 0,
      // The window is the last `filled` outcomes.
      mark: (outcomes) => outcomes,
      stillCounts: (state, mark, outcomes) => mark > outcomes - (state as CountWindow).filled,
    };
  }
  const windowMs = positive(where, "windowMs", options.windowMs);
  const minimumCalls = integer(where, "minimumCalls", options.minimumCalls ?? 10);
  const buckets = integer(where, "buckets", options.buckets ?? 10);
  const slotMs = windowMs / buckets;
  return {
    spec: { kind: "failureRatioInTime", ratio, minimumCalls, windowMs, buckets },
    timeBased: true,
    judgesSuccesses: true,
    init: () => timeWindow(buckets),
    record(state, failed, now) {
      timePush(state as TimeWindow, failed, now, slotMs);
      const { calls, failures } = timeTotals(state as TimeWindow, now, slotMs);
      return ratioMet(ratio, minimumCalls, calls, failures);
    },
    failures: (state, now) => timeTotals(state as TimeWindow, now, slotMs).failures,
    successIsNoop: () => false,
    isEmpty: (state, now) => timeTotals(state as TimeWindow, now, slotMs).calls === 0,
    ...timeMarks(slotMs, buckets),
  };
}

/** How each kind of spec rebuilds its rule: one entry per {@link TripSpec} kind, beside the factories that write them. */
const TRIP_FROM_SPEC: { readonly [K in TripSpec["kind"]]: (spec: Extract<TripSpec, { kind: K }>) => TripRule } = {
  consecutiveFailures: (s) => consecutiveFailures(s.threshold),
  failuresInWindow: (s) =>
    failuresInWindow(s.threshold, s.windowMs, {
      buckets: s.buckets,
      ...(s.resetOnSuccess === undefined ? {} : { resetOnSuccess: s.resetOnSuccess }),
    }),
  failureRatio: (s) => failureRatio(s.ratio, { windowCalls: s.windowCalls, minimumCalls: s.minimumCalls }),
  failureRatioInTime: (s) => failureRatio(s.ratio, { windowMs: s.windowMs, minimumCalls: s.minimumCalls, buckets: s.buckets }),
};

/**
 * Rebuilds a trip rule from its spec: the inverse of {@link TripRule.spec} (also of a spec
 * read back from JSON, as a `RedisStore` stores it). Validates as the factory does; throws
 * an {@link InvalidOptionError} for a kind it does not know.
 */
export function tripRuleFromSpec(spec: TripSpec): TripRule {
  return (byKind("tripRuleFromSpec()", TRIP_FROM_SPEC, spec) as (s: TripSpec) => TripRule)(spec);
}

/** The ratio rules' test (the Lua twin's `ratio_met`): enough calls, at least one failure, and failures at or above the ratio. */
function ratioMet(ratio: number, minimumCalls: number, calls: number, failures: number): boolean {
  return calls >= minimumCalls && failures > 0 && failures >= ratio * calls - 1e-9;
}
