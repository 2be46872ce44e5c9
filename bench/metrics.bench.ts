/**
 * What instrumentation costs the hot path: `breaker.execute` and a limiter's `tryAcquire`
 * with no observer, observed by `instrumentPrometheus`, observed by
 * `instrumentOpenTelemetry` (an SDK MeterProvider with a pull reader, so records really
 * aggregate), and observed then unsubscribed (back to no observer).
 * Run: `npm run bench -- metrics`.
 */
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { Histogram, Registry } from "prom-client";
import { AdaptiveRateLimiter, CircuitBreaker, TokenBucket } from "../src/index.js";
import { instrumentOpenTelemetry } from "../src/otel/index.js";
import { instrumentPrometheus } from "../src/prometheus/index.js";
import { measure, report, versionOf } from "./lib/measure.js";

/** A reader that exports nowhere; the bench collects once at the end, like a scrape. */
class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const asyncFn = async (): Promise<number> => 1;

const registry = new Registry();
const prometheus = instrumentPrometheus({ registry });
const reader = new PullReader();
const provider = new MeterProvider({ readers: [reader] });
const otel = instrumentOpenTelemetry({ meter: provider.getMeter("bench") });

// A bucket that never runs dry: every tryAcquire is admitted (the common, hot case).
const bucket = (name: string) => new TokenBucket({ name, ratePerSec: 1e12, capacity: 1_000_000_000 });

const breakers = {
  plain: new CircuitBreaker({ name: "plain" }),
  prom: new CircuitBreaker({ name: "prom" }),
  otel: new CircuitBreaker({ name: "otel" }),
  unsubscribed: new CircuitBreaker({ name: "unsubscribed" }),
};
const limiters = {
  plain: bucket("plain"),
  prom: bucket("prom"),
  otel: bucket("otel"),
  unsubscribed: bucket("unsubscribed"),
};
const adaptive = {
  plain: new AdaptiveRateLimiter({ name: "plain", initialRatePerSec: 1e9, maxRatePerSec: 1e9, burst: 1_000_000 }),
  prom: new AdaptiveRateLimiter({ name: "prom", initialRatePerSec: 1e9, maxRatePerSec: 1e9, burst: 1_000_000 }),
  otel: new AdaptiveRateLimiter({ name: "otel", initialRatePerSec: 1e9, maxRatePerSec: 1e9, burst: 1_000_000 }),
};
prometheus.observe(breakers.prom);
otel.observe(breakers.otel);
prometheus.observe(limiters.prom);
otel.observe(limiters.otel);
prometheus.observe(adaptive.prom);
otel.observe(adaptive.otel);
prometheus.observe(breakers.unsubscribed)();
prometheus.observe(limiters.unsubscribed)();

// References: one observation straight into each library, with a fixed label set.
const promHistogram = new Histogram({
  name: "reference_seconds",
  help: "reference",
  labelNames: ["limiter"],
  buckets: [0, 0.001, 0.01, 0.1, 1],
  registers: [new Registry()],
});
const otelHistogram = provider.getMeter("reference").createHistogram("reference_seconds");
const referenceLabels = { limiter: "reference" };

// Each adaptive permit is handed back, as the HTTP client does, so the in-flight set stays flat.
const acquireAndRelease = (limiter: AdaptiveRateLimiter) => limiter.acquire().then((permit) => limiter.release(permit));

const header = `node ${process.version}, prom-client ${await versionOf("prom-client")}, @opentelemetry/sdk-metrics ${await versionOf("@opentelemetry/sdk-metrics")}`;

const ROUNDS = { rounds: 31 }; // more samples than the other benches: the overheads are small next to the noise
const breakerTimings = await measure(
  [
    { name: "breaker.execute, no observer", fn: () => breakers.plain.execute(asyncFn) },
    { name: "breaker.execute, Prometheus observing", fn: () => breakers.prom.execute(asyncFn) },
    { name: "breaker.execute, OpenTelemetry observing", fn: () => breakers.otel.execute(asyncFn) },
    { name: "breaker.execute, observed then unsubscribed", fn: () => breakers.unsubscribed.execute(asyncFn) },
  ],
  ROUNDS,
);
report(`breaker.execute (${header})`, breakerTimings, "breaker.execute, no observer");

const limiterTimings = await measure(
  [
    { name: "tryAcquire, no observer", fn: () => limiters.plain.tryAcquire() },
    { name: "tryAcquire, Prometheus observing", fn: () => limiters.prom.tryAcquire() },
    { name: "tryAcquire, OpenTelemetry observing", fn: () => limiters.otel.tryAcquire() },
    { name: "tryAcquire, observed then unsubscribed", fn: () => limiters.unsubscribed.tryAcquire() },
    { name: "(reference) prom-client histogram.observe alone", fn: () => promHistogram.observe(referenceLabels, 0) },
    { name: "(reference) OpenTelemetry SDK histogram.record alone", fn: () => otelHistogram.record(0, referenceLabels) },
  ],
  ROUNDS,
);
report(`TokenBucket.tryAcquire, admitted (${header})`, limiterTimings, "tryAcquire, no observer");

const adaptiveTimings = await measure(
  [
    { name: "adaptive acquire + release, no observer", fn: () => acquireAndRelease(adaptive.plain) },
    { name: "adaptive acquire + release, Prometheus observing", fn: () => acquireAndRelease(adaptive.prom) },
    { name: "adaptive acquire + release, OpenTelemetry observing", fn: () => acquireAndRelease(adaptive.otel) },
  ],
  ROUNDS,
);
report(`AdaptiveRateLimiter.acquire, admitted at once (${header})`, adaptiveTimings, "adaptive acquire + release, no observer");

// A scrape, timed once: the pulled series (breaker state and totals, adaptive rate) cost here, not per call.
const scrapeStart = process.hrtime.bigint();
const text = await registry.metrics();
const scrapeUs = Number(process.hrtime.bigint() - scrapeStart) / 1000;
const collectStart = process.hrtime.bigint();
await reader.collect();
const collectUs = Number(process.hrtime.bigint() - collectStart) / 1000;
console.log(
  `one Prometheus scrape: ${scrapeUs.toFixed(0)} µs (${text.split("\n").length} lines); one OpenTelemetry collect: ${collectUs.toFixed(0)} µs`,
);
await provider.shutdown();
