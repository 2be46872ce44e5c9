/**
 * Retries around a ratio breaker (highway-circuitbreaker's `Failsafe(policies=(RetryPolicy(...),
 * CircuitBreakerPolicy(...)))`) as one `pipeline(...)` call: the retry is outermost, so each attempt goes through the breaker,
 * and an open circuit is not retried.
 *
 *   npx tsx examples/failsafe.ts
 *
 * The numbers of docs/migrating-from-python.md are scaled down (seconds become tens of milliseconds) so that the
 * script finishes in about a second. It prints every retry, state change and outcome.
 */
import {
  CircuitBreaker,
  CircuitOpenError,
  exponential,
  failureRatio,
  pipeline,
  RetryError,
  RetryPolicy,
  TimeoutError,
} from "../src/index.js";

/** What `requests` would raise. */
class ConnectionError extends Error {}
class HttpError extends Error {}

// RetryPolicy(max_retries=2, backoff=Backoff(min_delay=1 s, max_delay=5 s, factor=2),
//             handle=lambda e: isinstance(e, requests.ConnectionError))
const retryPolicy = new RetryPolicy({
  maxAttempts: 3, // the first attempt and 2 retries
  backoff: exponential({ initialMs: 10, maxMs: 50, factor: 2, jitter: "none" }),
  retryOn: [ConnectionError],
  onRetry: ({ attempt, delayMs, error }) =>
    console.log(`    retry: attempt ${attempt} failed (${(error as Error).message}), next in ${delayMs} ms`),
});

// CircuitBreakerPolicy(cooldown=1 min, failure_threshold=Fraction(3, 10),
//                      handle=lambda e: isinstance(e, (requests.ConnectionError, requests.Timeout)))
const circuitBreakerPolicy = new CircuitBreaker({
  name: "api.external.com",
  trip: failureRatio(0.3, { windowCalls: 10 }),
  recovery: 300,
  failOn: [ConnectionError, TimeoutError],
  onStateChange: ({ from, to, reason }) => console.log(`    breaker: ${from} -> ${to} (${reason})`),
});

// api_failsafe = Failsafe(policies=(RetryPolicy(...), CircuitBreakerPolicy(...)))
const apiFailsafe = pipeline(retryPolicy, circuitBreakerPolicy);

// The upstream, scripted: each entry is what one request does.
const script: ("ok" | "refused" | "404")[] = [];
let served = 0;
async function get(query: string): Promise<{ q: string; n: number }> {
  const next = script.shift() ?? "ok";
  served++;
  if (next === "refused") throw new ConnectionError("Connection refused");
  if (next === "404") throw new HttpError("404 Not Found");
  return { q: query, n: served };
}

/** @api_failsafe def fetch_external_data(query) */
const fetchExternalData = (query: string): Promise<{ q: string; n: number }> => apiFailsafe.execute(() => get(query));

async function show(query: string): Promise<void> {
  try {
    console.log(`  ${query} -> ${JSON.stringify(await fetchExternalData(query))}`);
  } catch (error) {
    const what = error instanceof CircuitOpenError ? "circuit open" : error instanceof RetryError ? "retries exhausted" : "failed";
    console.log(`  ${query} -> ${what}: ${(error as Error).message}`);
  }
}

console.log("a transient refusal is retried and absorbed:");
script.push("refused");
await show("alpha");
console.log("a 404 is not handled: neither retried nor counted by the breaker:");
script.push("404");
await show("beta");
console.log("enough traffic for the breaker's window of 10 calls:");
for (const q of ["g1", "g2", "g3", "g4", "g5", "g6"]) await show(q);
console.log("an outage: 3 failures among the last 10 calls open the circuit; the open circuit is not retried:");
script.push("refused", "refused");
await show("gamma");
await show("delta");
console.log("after the cooldown, a trial call closes it again:");
await new Promise((resolve) => setTimeout(resolve, 350));
await show("epsilon");
const { state, totals } = circuitBreakerPolicy.status();
console.log(
  `done: ${served} requests served; circuit ${state}; the breaker counted ${totals.failures} failures and ${totals.ignored} ignored error`,
);
