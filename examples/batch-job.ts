/**
 * A CLI batch job: each use case gets its own breaker configuration, items are processed
 * under it, and the job reports the breaker's status (`status()`) at the end.
 *
 *   npx tsx examples/batch-job.ts
 */
import { CircuitBreaker, CircuitOpenError, failureRatio, fixedThenExponential } from "../src/index.js";

// One configuration per use case (an external API, a database, a critical service), in milliseconds and scaled down so the example runs in a second.
const useCases = {
  externalApi: { failures: 3, intervalMs: 300, fixed: 3, exponential: 5 },
  database: { failures: 5, intervalMs: 60, fixed: 5, exponential: 3 },
  criticalService: { failures: 2, intervalMs: 600, fixed: 2, exponential: 4 },
};

const api = new CircuitBreaker({
  name: "external-api",
  // Open when 2 of the last 5 calls failed.
  trip: failureRatio(0.4, { windowCalls: 5 }),
  recovery: fixedThenExponential({
    intervalMs: useCases.externalApi.intervalMs,
    fixedAttempts: useCases.externalApi.fixed,
    exponentialAttempts: useCases.externalApi.exponential,
    jitter: "equal",
  }),
  historySize: 10,
  onStateChange: (e) => console.log(`  [breaker] ${e.from} -> ${e.to}: ${e.reason}`),
});

const items = Array.from({ length: 30 }, (_, i) => ({ id: i + 1, unprocessable: i % 4 === 3 && i < 12 }));
const results: number[] = [];
const errors: [number, string][] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
for (const item of items) {
  await sleep(40); // each item takes a while, so the recovery interval passes mid-batch
  try {
    results.push(
      await api.execute(async () => {
        if (item.unprocessable) throw new Error(`item ${item.id} cannot be processed`);
        return item.id;
      }),
    );
  } catch (error) {
    errors.push([
      item.id,
      error instanceof CircuitOpenError ? `skipped: circuit open, retry in ${error.retryAfterMs} ms` : (error as Error).message,
    ]);
  }
}

console.log(`processed ${results.length}, failed ${errors.length}`);
for (const [id, why] of errors) console.log(`  #${id}: ${why}`);
console.log("status:", api.status());
console.log("history:", api.history.map((h) => h.outcome).join(", "));
