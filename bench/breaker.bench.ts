/**
 * The closed-state hot path: what wrapping a call in a breaker costs, against a bare
 * `await fn()`, cockatiel's `circuitBreaker(...).execute` and opossum's `fire()`.
 * Run: `npm run bench -- breaker`; with `BENCH_BEFORE=<checkout of an earlier commit>` the
 * earlier breaker runs in the same process too (see bench/lib/before.ts).
 */
import { circuitBreaker, ConsecutiveBreaker, handleAll } from "cockatiel";
import Opossum from "opossum";
import { CircuitBreaker, CircuitBreakers } from "../src/index.js";
import { loadBefore } from "./lib/before.js";
import { measure, report, versionOf } from "./lib/measure.js";

const asyncFn = async (): Promise<number> => 1;

const ours = new CircuitBreaker({ name: "bench" });
const registry = new CircuitBreakers();
const cockatiel = circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) });
const opossum = new Opossum(asyncFn); // its defaults: a 10 s timeout per call, rolling stats
const opossumNoTimeout = new Opossum(asyncFn, { timeout: false });

const before = await loadBefore();
const oursBefore = before === undefined ? undefined : new before.core.CircuitBreaker({ name: "bench" });
const registryBefore = before === undefined ? undefined : new before.core.CircuitBreakers();
const timings = await measure([
  { name: "bare await fn()", fn: () => asyncFn() },
  { name: "breakwater breaker.execute", fn: () => ours.execute(asyncFn) },
  ...(oursBefore === undefined ? [] : [{ name: "breakwater breaker.execute (before)", fn: () => oursBefore.execute(asyncFn) }]),
  { name: 'breakwater CircuitBreakers.execute("svc")', fn: () => registry.execute("svc", asyncFn) },
  ...(registryBefore === undefined
    ? []
    : [{ name: 'breakwater CircuitBreakers.execute("svc") (before)', fn: () => registryBefore.execute("svc", asyncFn) }]),
  { name: "cockatiel circuitBreaker.execute", fn: () => cockatiel.execute(asyncFn) },
  { name: "opossum fire() (defaults)", fn: () => opossum.fire() },
  { name: "opossum fire() (timeout: false)", fn: () => opossumNoTimeout.fire() },
]);
opossum.shutdown();
opossumNoTimeout.shutdown();

const md = report(
  `Circuit breaker, closed state (node ${process.version}, cockatiel ${await versionOf("cockatiel")}, opossum ${await versionOf("opossum")})`,
  timings,
  "bare await fn()",
);
const over = (name: string) => (timings.get(name) ?? 0) - (timings.get("bare await fn()") ?? 0);
const ratio = (a: string, b: string) => (over(a) / over(b)).toFixed(2);
console.log(
  `breakwater overhead / cockatiel overhead: ${ratio("breakwater breaker.execute", "cockatiel circuitBreaker.execute")} (goal <= 0.5)`,
);
console.log(`breakwater overhead / opossum overhead:   ${ratio("breakwater breaker.execute", "opossum fire() (defaults)")} (goal <= 0.2)`);
console.log(`breakwater overhead / opossum (no timeout): ${ratio("breakwater breaker.execute", "opossum fire() (timeout: false)")}`);
void md;
