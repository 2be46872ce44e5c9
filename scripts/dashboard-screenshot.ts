/**
 * Renders docs/dashboard.png: the live dashboard with breakers in every state (closed,
 * open, half-open, isolated) and every kind of rate limiter, in headless Chromium
 * (Debian's, driven by playwright-core, as in test/dashboard/e2e.test.ts). The two
 * adaptive limiters first run five simulated minutes against upstreams with hidden limits
 * (one changes twice), so their charts show what they found.
 * Run: `npx tsx scripts/dashboard-screenshot.ts [out.png]`.
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { chromium } from "playwright-core";
import {
  type AdaptivePermit,
  AdaptiveRateLimiter,
  CircuitBreakers,
  consecutiveFailures,
  FixedWindow,
  fixedThenExponential,
  ManualClock,
  SlidingWindow,
  TokenBucket,
} from "../src/index.js";
import { runDashboard } from "../src/dashboard/index.js";

const CHROMIUM = "/usr/bin/chromium";
const out = resolve(process.argv[2] ?? "docs/dashboard.png");
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);

// Starts five and a half minutes ago: the scripted events below end at about the real time now.
const clock = new ManualClock(Date.now() - 330_000);
const fail = (message: string) => (): never => {
  throw new Error(message);
};

const perUser = new TokenBucket({ name: "api-per-user", ratePerSec: 50, capacity: 100, clock });
const searchApi = new SlidingWindow({ name: "search-api", limit: 600, windowMs: 60_000, clock });
const exports = new FixedWindow({ name: "csv-exports", limit: 5, windowMs: 3_600_000, clock });
const notion = new AdaptiveRateLimiter({ name: "notion", clock, initialRatePerSec: 3 });
const stripe = new AdaptiveRateLimiter({ name: "stripe", clock, initialRatePerSec: 25, maxRatePerSec: 100 });

const breakers = new CircuitBreakers({
  clock,
  defaults: {
    trip: consecutiveFailures(3),
    recovery: fixedThenExponential({ intervalMs: 30_000, fixedAttempts: 2, exponentialAttempts: 4 }),
  },
});
for (const name of ["payments", "inventory", "search", "ledger", "email"]) breakers.get(name);

const dashboard = await runDashboard({
  sources: [breakers, perUser, searchApi, exports, notion, stripe],
  port: 0,
  allowControl: true,
  intervalMs: 200,
  title: "Breakwater — checkout-service",
  clock,
});

/**
 * An upstream with a hidden limit (requests in any one second, changing over time) and
 * callers sending through `limiter`, one request after another, answered on the spot.
 */
function simulatedTraffic(limiter: AdaptiveRateLimiter, callers: number, limitAt: (ms: number) => number): { stop(): void } {
  const t0 = clock.now();
  const admitted: number[] = [];
  let stopped = false;
  const caller = async (): Promise<void> => {
    while (!stopped) {
      const permit: AdaptivePermit = await limiter.acquire();
      if (stopped) return limiter.release(permit);
      const now = clock.now();
      while (admitted.length > 0 && admitted[0]! <= now - 1_000) admitted.shift();
      if (admitted.length < limitAt(now - t0)) {
        admitted.push(now);
        limiter.onSuccess(null, permit);
      } else limiter.onBackoff({ status: 429, permit });
    }
  };
  for (let i = 0; i < callers; i++) void caller();
  return { stop: () => void (stopped = true) };
}

/** Moves the clock `ms` forward in small steps, letting the traffic run, and the dashboard sample once a second. */
async function simulate(ms: number): Promise<void> {
  const end = clock.now() + ms;
  let nextSample = clock.now();
  while (clock.now() < end) {
    await clock.advanceAsync(Math.min(20, end - clock.now()));
    if (clock.now() >= nextSample) {
      await fetch(`${dashboard.url}status`).then((r) => r.arrayBuffer());
      nextSample += 1_000;
    }
  }
}

// Stripe: 25/s, then 12/s for a minute and a half, then 40/s. Notion: 3/s throughout.
const stripeTraffic = simulatedTraffic(stripe, 8, (ms) => (ms < 120_000 ? 25 : ms < 210_000 ? 12 : 40));
const notionTraffic = simulatedTraffic(notion, 4, () => 3);
await simulate(270_000);
await breakers.execute("inventory", () => "ok");
await breakers.execute("email", () => "ok");
await breakers.execute("email", fail("SMTP 421 try again later")).catch(() => undefined);
// search: opened a while ago; its probe is in flight now (half-open).
for (let i = 0; i < 3; i++) await breakers.execute("search", fail("ETIMEDOUT after 2000 ms")).catch(() => undefined);
await simulate(25_000);
// payments: just opened (5 s of its 30 s left).
for (let i = 0; i < 3; i++) await breakers.execute("payments", fail("HTTP 503 from payments-api")).catch(() => undefined);
await simulate(5_000);
stripeTraffic.stop();
notionTraffic.stop();
await clock.advanceAsync(1_000);
let releaseProbe = (): void => undefined;
const probe = breakers.execute("search", () => new Promise<string>((r) => (releaseProbe = () => r("ok"))));
breakers.get("ledger").isolate();

await perUser.tryAcquire("default", 63);
for (let i = 0; i < 212; i++) await searchApi.tryAcquire();
for (let i = 0; i < 5; i++) await exports.tryAcquire();
notion.onBackoff({ status: 429, retryAfterMs: 12_000 });
stripe.onSuccess(null, await stripe.acquire());
// A second request is in flight (its permit not handed back yet); the clock moves on for its turn.
const inFlight = stripe.acquire();
await clock.advanceAsync(100);
await inFlight;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 700 }, deviceScaleFactor: 1 });
  await page.goto(dashboard.url);
  await page.locator('tr[data-limiter="stripe"]').waitFor();
  await page.locator('tr[data-breaker="search"][data-state="half-open"]').waitFor();
  mkdirSync(dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  releaseProbe();
  await probe;
  await dashboard.close();
}
