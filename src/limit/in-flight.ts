/**
 * The requests in flight of every limiter sharing an adaptive record (every process, through
 * a shared store): the count a learned cap on requests in flight is held to, and the count
 * each permit was granted with (its "others"), from which the concurrency gate learns that
 * cap. Pure functions over the record's numbers; the Lua twin does the same.
 *
 * - **Leak-safe count.** A request is counted in the span of {@link FLIGHT_SPAN_MS} its
 *   permit was granted in; the count is this span's and the one before's. A permit whose
 *   answer never comes (its process died) stops counting within two spans; a request longer
 *   than one span may leave the count early, as if answered.
 * - **Refused requests counted out.** A refused request holds no place under an upstream's
 *   cap, yet it counts among the others of every request granted while it is out: behind a
 *   cap that has just fallen, successes would seem to come at the cap, and the gate, which
 *   closes only when (almost) no success comes at the refusals' count, would wait seconds
 *   for its evidence. Permits are numbered across the fleet, and the record keeps the last
 *   {@link REFUSALS_KEPT} refusals (the refused permit's number, and the grants made by the
 *   time its answer came): an answer's others leave out those granted before it and refused
 *   after its grant. More refused during one request's flight are not all counted out.
 */

/** The part of the adaptive record this module keeps. */
export interface InFlightRecord {
  /** The span (`floor(now / FLIGHT_SPAN_MS)`) `flightCur` counts; `flightPrev` counts the one before. */
  flightSpan: number;
  flightCur: number;
  flightPrev: number;
  /** Permits granted so far: the next one's number. */
  grants: number;
  /** The last refusals, newest first: the refused permit's number and `grants` when it came (-1 none). */
  refusedSeq0: number;
  refusedAt0: number;
  refusedSeq1: number;
  refusedAt1: number;
  refusedSeq2: number;
  refusedAt2: number;
  refusedSeq3: number;
  refusedAt3: number;
}

/** How long a span of the count in flight lasts (ms): a permit never answered is forgotten within two. */
export const FLIGHT_SPAN_MS = 15_000;
/** Refusals the record keeps for counting refused requests out of others' counts. */
export const REFUSALS_KEPT = 4;
/** An answer's span when its permit's is unknown (a permit rebuilt by hand): the oldest one counted leaves. */
export const FLIGHT_UNKNOWN = -1;
/** An answer's span when no permit was in flight (feedback without a request): the count stays. */
export const FLIGHT_NONE = -2;

/** Moves the count to the span of `now`: the current one becomes the previous, an older one is forgotten. */
export function rollFlights(r: InFlightRecord, now: number): void {
  const span = Math.floor(now / FLIGHT_SPAN_MS);
  if (span <= r.flightSpan) return;
  r.flightPrev = span === r.flightSpan + 1 ? r.flightCur : 0;
  r.flightCur = 0;
  r.flightSpan = span;
}

/** Requests in flight now. */
export function inFlight(r: InFlightRecord): number {
  return r.flightCur + r.flightPrev;
}

/** A permit is granted: counts it; returns its number. */
export function depart(r: InFlightRecord): number {
  r.flightCur++;
  return r.grants++;
}

/** An answer to a permit counted in span `flight` (or {@link FLIGHT_UNKNOWN}, {@link FLIGHT_NONE}): it leaves the count. */
export function land(r: InFlightRecord, flight: number): void {
  if (flight === FLIGHT_NONE) return;
  if (flight === r.flightSpan || (flight === FLIGHT_UNKNOWN && r.flightPrev <= 0)) {
    if (r.flightCur > 0) r.flightCur--;
  } else if ((flight === r.flightSpan - 1 || flight === FLIGHT_UNKNOWN) && r.flightPrev > 0) r.flightPrev--;
}

/**
 * The others in flight of the permit numbered `seq` granted with `others` in flight, less
 * those refused since (-1 when either is unknown).
 */
export function othersHeld(r: InFlightRecord, others: number, seq: number): number {
  if (others < 0) return -1;
  if (seq < 0) return others;
  const refused =
    (r.refusedSeq0 >= 0 && r.refusedSeq0 < seq && r.refusedAt0 > seq ? 1 : 0) +
    (r.refusedSeq1 >= 0 && r.refusedSeq1 < seq && r.refusedAt1 > seq ? 1 : 0) +
    (r.refusedSeq2 >= 0 && r.refusedSeq2 < seq && r.refusedAt2 > seq ? 1 : 0) +
    (r.refusedSeq3 >= 0 && r.refusedSeq3 < seq && r.refusedAt3 > seq ? 1 : 0);
  return Math.max(0, others - refused);
}

/** The fields of {@link InFlightRecord}, in the order the adaptive record keeps them (together: the Lua twin copies them as one run). */
export const IN_FLIGHT_FIELDS = [
  "flightSpan",
  "flightCur",
  "flightPrev",
  "grants",
  "refusedSeq0",
  "refusedAt0",
  "refusedSeq1",
  "refusedAt1",
  "refusedSeq2",
  "refusedAt2",
  "refusedSeq3",
  "refusedAt3",
] as const satisfies readonly (keyof InFlightRecord)[];

/** Copies the count in flight and the refusals kept from `from` to `to` (a reset keeps them: the answers will come). */
export function carryFlights(from: InFlightRecord, to: InFlightRecord): void {
  for (const name of IN_FLIGHT_FIELDS) to[name] = from[name];
}

/** The permit numbered `seq` was refused (its answer came now). */
export function noteRefused(r: InFlightRecord, seq: number): void {
  if (seq < 0) return;
  r.refusedSeq3 = r.refusedSeq2;
  r.refusedAt3 = r.refusedAt2;
  r.refusedSeq2 = r.refusedSeq1;
  r.refusedAt2 = r.refusedAt1;
  r.refusedSeq1 = r.refusedSeq0;
  r.refusedAt1 = r.refusedAt0;
  r.refusedSeq0 = seq;
  r.refusedAt0 = r.grants;
}
