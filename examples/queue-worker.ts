/**
 * The queue-worker pattern: check `isAvailable()` before taking work, record the
 * outcome by hand, and put work back while the downstream is unhealthy.
 *
 *   npx tsx examples/queue-worker.ts
 */
import { CircuitBreakers, failuresInWindow, fixedThenExponential } from "../src/index.js";

const breakers = new CircuitBreakers({
  services: {
    rabbitmq: {
      trip: failuresInWindow(3, 10_000),
      recovery: fixedThenExponential({ intervalMs: 200, fixedAttempts: 2, exponentialAttempts: 3 }),
    },
  },
  onStateChange: (e) => console.log(`  [breaker] ${e.from} -> ${e.to}: ${e.reason}`),
});

const queue = Array.from({ length: 12 }, (_, i) => `job-${i + 1}`);
let brokerHealthyAt = Date.now() + 700;

function publish(job: string): void {
  if (Date.now() < brokerHealthyAt) throw new Error(`broker refused ${job}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let rounds = 0;
while (queue.length > 0 && rounds++ < 200) {
  if (!breakers.isAvailable("rabbitmq")) {
    const status = breakers.get("rabbitmq").status();
    console.log(
      `rabbitmq unavailable (${status.retryPhase} phase, probe ${status.attempt}); last failure: ${breakers.lastFailure("rabbitmq")?.reason}`,
    );
    await sleep(Math.min(status.retryAfterMs, 250));
    continue;
  }
  const job = queue.shift() as string;
  try {
    publish(job);
    breakers.recordSuccess("rabbitmq");
    console.log(`published ${job}`);
  } catch (error) {
    breakers.recordFailure("rabbitmq", error);
    queue.unshift(job); // requeue: nothing is lost
    console.log(`failed ${job}: ${(error as Error).message}`);
  }
  await sleep(20);
}
brokerHealthyAt = 0;
console.log(`done; ${queue.length} jobs left`);
