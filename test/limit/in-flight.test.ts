import { describe, expect, it } from "vitest";
import { AdaptiveDecision } from "../../src/limit/adaptive-decision.js";
import { ADAPTIVE_DEFAULTS } from "./helpers.js";
import {
  depart,
  FLIGHT_NONE,
  FLIGHT_SPAN_MS,
  FLIGHT_UNKNOWN,
  inFlight,
  type InFlightRecord,
  land,
  noteRefused,
  othersHeld,
  REFUSALS_KEPT,
  rollFlights,
} from "../../src/limit/in-flight.js";

/** A fresh adaptive record: the count in flight is part of it. */
function record(now = 0): InFlightRecord {
  return new AdaptiveDecision(ADAPTIVE_DEFAULTS).init(now);
}

/** Grants one permit at `now`: its number, span and others in flight. */
function grant(r: InFlightRecord, now: number): { seq: number; span: number; others: number } {
  rollFlights(r, now);
  const others = inFlight(r);
  return { seq: depart(r), span: r.flightSpan, others };
}

/** The permit `p` is refused: its answer leaves the count, and the refusal is noted. */
function refused(r: InFlightRecord, p: { seq: number; span: number }): void {
  land(r, p.span);
  noteRefused(r, p.seq);
}

describe("in flight: the count a fleet shares", () => {
  it("counts each permit until its answer, by the span it was granted in, across a span's end", () => {
    const r = record();
    const a = grant(r, 0);
    const b = grant(r, FLIGHT_SPAN_MS - 1);
    const c = grant(r, FLIGHT_SPAN_MS + 5);
    expect([a.others, b.others, c.others, inFlight(r)]).toEqual([0, 1, 2, 3]);
    expect([a.seq, b.seq, c.seq]).toEqual([0, 1, 2]);
    land(r, a.span);
    land(r, c.span);
    expect(inFlight(r)).toBe(1);
    land(r, b.span);
    expect(inFlight(r)).toBe(0);
    // An answer that comes twice (or for a permit never counted) takes nothing below zero.
    land(r, b.span);
    expect(inFlight(r)).toBe(0);
  });

  it("forgets a permit whose answer never comes (its process died) within two spans", () => {
    const r = record();
    for (let i = 0; i < 3; i++) grant(r, 1_000);
    rollFlights(r, FLIGHT_SPAN_MS + 1_000);
    expect(inFlight(r)).toBe(3);
    rollFlights(r, 2 * FLIGHT_SPAN_MS);
    expect(inFlight(r)).toBe(0);
    // A late answer to one of them takes nothing from the permits counted since.
    const fresh = grant(r, 2 * FLIGHT_SPAN_MS + 1);
    land(r, 0);
    expect(inFlight(r)).toBe(1);
    land(r, fresh.span);
    expect(inFlight(r)).toBe(0);
  });

  it("an answer of unknown span takes the oldest counted; feedback with no permit in flight takes none", () => {
    const r = record();
    grant(r, 0);
    grant(r, FLIGHT_SPAN_MS);
    land(r, FLIGHT_NONE);
    expect([r.flightPrev, r.flightCur]).toEqual([1, 1]);
    land(r, FLIGHT_UNKNOWN);
    expect([r.flightPrev, r.flightCur]).toEqual([0, 1]);
    land(r, FLIGHT_UNKNOWN);
    expect([r.flightPrev, r.flightCur]).toEqual([0, 0]);
  });

  it("leaves out of an answer's others the requests granted before it and refused after its grant", () => {
    const r = record();
    const [a, b, c] = [grant(r, 0), grant(r, 0), grant(r, 0)];
    refused(r, a); // answered before d was granted: among c's others, not d's
    const d = grant(r, 1);
    refused(r, b); // in flight when d was granted
    const e = grant(r, 2);
    refused(r, e); // granted after d
    expect([c.others, d.others, e.others]).toEqual([2, 2, 2]);
    expect([othersHeld(r, c.others, c.seq), othersHeld(r, d.others, d.seq), othersHeld(r, e.others, e.seq)]).toEqual([0, 1, 2]);
    // Unknown counts stay unknown; an unknown number is counted as granted.
    expect([othersHeld(r, -1, d.seq), othersHeld(r, d.others, -1)]).toEqual([-1, d.others]);
  });

  it(`keeps the last ${REFUSALS_KEPT} refusals: more refused during one request's flight are not all counted out`, () => {
    const r = record();
    const out = Array.from({ length: 6 }, () => grant(r, 0));
    const late = grant(r, 0);
    for (const p of out) refused(r, p);
    expect(othersHeld(r, late.others, late.seq)).toBe(late.others - REFUSALS_KEPT);
  });
});
