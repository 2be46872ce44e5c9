import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import {
  AdaptiveRateLimiter,
  CircuitBreakers,
  consecutiveFailures,
  fixedThenExponential,
  ManualClock,
  TokenBucket,
} from "../../src/index.js";
import { runDashboard, type RunningDashboard } from "../../src/dashboard/index.js";
import { launchChromium } from "./browser.js";

const OUT = join(process.cwd(), "test-results", "dashboard");
const boom = (): never => {
  throw new Error("HTTP 503 from payments-api");
};

let browser: Browser;
let dashboard: RunningDashboard;
const clock = new ManualClock(Date.UTC(2026, 10, 23, 9, 30));
const breakers = new CircuitBreakers({
  clock,
  defaults: {
    trip: consecutiveFailures(3),
    recovery: fixedThenExponential({ intervalMs: 30_000, fixedAttempts: 2, exponentialAttempts: 4 }),
  },
});
const perUser = new TokenBucket({ name: "api-per-user", ratePerSec: 20, capacity: 40, clock });
const notion = new AdaptiveRateLimiter({ name: "notion", clock, initialRatePerSec: 3 });

beforeAll(async () => {
  breakers.get("payments");
  breakers.get("inventory");
  dashboard = await runDashboard({
    sources: [breakers, perUser, notion],
    port: 0,
    allowControl: true,
    intervalMs: 250,
    historyIntervalMs: 100,
    title: "Breakwater — e2e",
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

describe("dashboard in headless Chromium", () => {
  it("shows a breaker go open and closed live, and isolates one with its button", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(dashboard.url);
    const payments = page.locator('tr[data-breaker="payments"]');
    await expect.poll(() => page.locator("#conn").textContent(), { timeout: 10_000 }).toBe("live");
    await expect.poll(() => payments.getAttribute("data-state"), { timeout: 10_000 }).toBe("closed");

    for (let i = 0; i < 3; i++) await breakers.execute("payments", boom).catch(() => undefined);
    await expect.poll(() => payments.getAttribute("data-state"), { timeout: 10_000 }).toBe("open");
    expect(await payments.locator("td").nth(4).textContent()).toContain("HTTP 503 from payments-api");
    expect(await payments.locator("td").nth(5).textContent()).toBe("in 30.0 s");
    expect(await payments.locator("td").nth(6).textContent()).toBe("fixed #1");
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, "open.png") });

    const bucketRow = page.locator('tr[data-limiter="api-per-user"]');
    await perUser.tryAcquire("default", 30);
    await expect.poll(() => bucketRow.locator("td").nth(3).textContent(), { timeout: 10_000 }).toBe("10 / 40");
    const notionRow = page.locator('tr[data-limiter="notion"]');
    notion.onBackoff({ status: 429, retryAfterMs: 20_000 });
    await expect.poll(() => notionRow.getAttribute("data-state"), { timeout: 10_000 }).toBe("cooldown");
    expect(await notionRow.locator("td").nth(4).textContent()).toBe("20.0 s left");
    // Its recent rate is drawn: a line through the samples, and the cooldown as a red band.
    const spark = notionRow.locator("svg.spark");
    await expect.poll(async () => Number(await spark.getAttribute("data-samples")), { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    await expect.poll(() => spark.locator("rect.cooldown").count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    expect(await spark.locator("path.rate").getAttribute("d")).toMatch(/^M[\d.]+,[\d.]+.*(L[\d.]+,[\d.]+){2,}/);
    const box = await spark.boundingBox();
    expect(box?.width).toBe(160);
    expect(box?.height).toBe(36);
    expect(await notionRow.locator(".spark-caption").textContent()).toMatch(/^max 3\.00 \/s · /);
    // A keyed limiter has no history to draw.
    expect(await bucketRow.locator("svg.spark").isVisible()).toBe(false);
    expect(await bucketRow.locator(".spark-caption").isVisible()).toBe(false);
    await page.screenshot({ path: join(OUT, "limiters.png"), fullPage: true });

    clock.advance(30_000);
    await breakers.execute("payments", () => "probe ok");
    await expect.poll(() => payments.getAttribute("data-state"), { timeout: 10_000 }).toBe("closed");

    const inventory = page.locator('tr[data-breaker="inventory"]');
    await inventory.locator('button[data-action="isolate"]').click();
    await expect.poll(() => inventory.getAttribute("data-state"), { timeout: 10_000 }).toBe("isolated");
    expect(breakers.get("inventory").status().isolated).toBe(true);
    await expect.poll(() => page.locator("#notice").textContent(), { timeout: 10_000 }).toBe("isolate: inventory done");
    expect(await inventory.locator('button[data-action="isolate"]').isDisabled()).toBe(true);
    await page.screenshot({ path: join(OUT, "isolated.png") });

    await inventory.locator('button[data-action="reset"]').click();
    await expect.poll(() => inventory.getAttribute("data-state"), { timeout: 10_000 }).toBe("closed");
    await page.close();
  });
});
