/**
 * Per-API rate presets: `apiRateConfig("notion")` returns a {@link RateConfig} with the
 * figures the vendor documents, plus the `source` page they come from and `notes` on which
 * figure was chosen when the limit depends on plan, tier or endpoint.
 *
 * How the figures were chosen (checked against the vendors' pages, November 2026):
 * - `ratePerSec`: the documented limit with the shortest window, converted to requests per
 *   second (e.g. 100 per 10 s → 10). Where it depends on plan, tier or endpoint, the
 *   conservative figure that applies to most accounts and endpoints (e.g. Stripe's 25/s per
 *   endpoint, not live mode's 100/s global). Longer-window caps (daily quotas) are in `notes`.
 * - `burst`: the vendor's own bucket size where it documents one (Shopify's leaky bucket).
 *   Otherwise about one second's worth of the limit (at least 1), or 1 for limits counted
 *   per second or where the vendor asks for serial requests: a token bucket refilled at
 *   N/T with burst B can send N + B in one window of T, so B is kept small.
 * - `backoffStatuses`: 429, plus only the statuses the vendor documents as "slow down and
 *   retry" (GitHub's and Salesforce's 403, Notion's 503/529, Jira's and OpenAI's 503).
 *   A back-off status makes the client retry the request, and a generic 5xx may have been
 *   processed, so 503 is not added where the vendor does not say so.
 * - `cooldownMultiplier`: only where the vendor documents a fixed wait after a limit is hit
 *   (Airtable 30 s, GitHub at least 60 s, Google Sheets 60 s): the multiplier gives that wait
 *   at the preset's rate (`cooldownMultiplier / ratePerSec` seconds), and `cooldownCapMs` is
 *   `Infinity` so that no cap shortens it.
 * - `maxRatePerSec`: only where the limit is the same on every plan and overshooting it is
 *   penalised (Airtable's 30 s lockout, Discord's invalid-request ban), so the adaptive
 *   limiter never probes above it. Elsewhere the client's defaults apply.
 *
 * Limits change; every preset can be replaced at run time with {@link registerApiRateConfig}.
 *
 * @packageDocumentation
 */
import { InvalidOptionError } from "../core/errors.js";
import { backoffStatuses, checkKeys, integer, nonEmptyString, nonNegative, nonNegativeOrInfinity, positive } from "../core/validate.js";
import { UnknownApiRateConfigError } from "./errors.js";
import { RATE_CONFIG_KEYS, type RateConfig } from "./rate-config.js";

/** A rate config together with where its figures come from: what {@link apiRateConfig} returns. */
export type ApiRateConfig = RateConfig & {
  /** Where the figures come from; for presets, the vendor's rate-limit documentation page. */
  readonly source: string;
  /** Which figure was chosen when the limit depends on plan, tier or endpoint, and why. */
  readonly notes?: string;
};

/**
 * What {@link registerApiRateConfig} accepts: a {@link RateConfig}, optionally with its
 * `source` (default `"registerApiRateConfig"`) and `notes`.
 */
export type ApiRateConfigInput = RateConfig & {
  /** Where the figures come from, e.g. the vendor's rate-limit page. */
  readonly source?: string;
  /** Free-form remarks, e.g. which plan the figures are for. */
  readonly notes?: string;
};

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const DEFAULT_SOURCE = "registerApiRateConfig";
const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/i;

const SLACK_SOURCE = "https://docs.slack.dev/apis/web-api/rate-limits";
const SLACK_COMMON =
  "Slack applies limits per API method, per workspace, per app; a 429 carries Retry-After (seconds). " +
  "Slack's rate-limit page documents only 429 as the back-off signal, so 503 is not listed. " +
  "Burst 1: Slack gives no burst size.";

function slackTier(tier: number, perMinute: number, description: string): ApiRateConfig {
  return {
    ratePerSec: perMinute / 60,
    burst: 1,
    backoffStatuses: [429],
    source: SLACK_SOURCE,
    notes: `Web API Tier ${tier}: ${perMinute}+ requests per minute (${description}). ${SLACK_COMMON}`,
  };
}

const PRESETS: Readonly<Record<string, ApiRateConfig>> = {
  notion: {
    ratePerSec: 3,
    burst: 3,
    backoffStatuses: [429, 503, 529],
    source: "https://developers.notion.com/reference/request-limits",
    notes:
      "Notion documents an average of three requests per second per connection, with some bursts above it allowed; " +
      "a 429 (rate_limited) carries Retry-After in whole seconds. A newer revision of the page describes a " +
      "per-connection budget per 60-second window scaled by workspace plan plus a per-workspace limit shared by all " +
      "connections, and asks clients to handle 429 and 529 (service_overload) with Retry-After; the per-plan budgets " +
      "could not be confirmed, so the long-standing 3 req/s average is used. 503 (service_unavailable, " +
      'database_connection_unavailable) is documented on the status-codes page as "try again later". ' +
      "Burst 3 (one second's worth): Notion gives no burst size.",
  },
  github: {
    ratePerSec: 5000 / 3600,
    burst: 1,
    backoffStatuses: [403, 429],
    cooldownMultiplier: 84,
    cooldownCapMs: Number.POSITIVE_INFINITY,
    source: "https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api",
    notes:
      "Primary limit for authenticated REST requests (personal access token, or an app acting for a user): 5,000 per " +
      "hour ≈ 1.39 req/s. Unauthenticated requests get 60 per hour, GITHUB_TOKEN in Actions 1,000 per hour per " +
      "repository, apps owned by a GitHub Enterprise Cloud organization 15,000 per hour: register your own config " +
      "for those. Secondary limits: at most 100 concurrent requests, 900 points per minute for REST endpoints and 80 " +
      "content-creating requests per minute; GitHub recommends serial rather than concurrent requests, hence burst " +
      "1. GitHub answers 403 or 429 for both kinds of limit, so 403 is listed; a 403 for missing permissions is then " +
      "also treated as back-off. Without Retry-After GitHub asks to wait at least one minute: cooldownMultiplier 84 (uncapped) " +
      "gives at least 60 s at 1.39 req/s.",
  },
  "slack-tier1": slackTier(1, 1, '"a small amount of burst behavior is tolerated"'),
  "slack-tier2": slackTier(2, 20, '"most methods allow at least 20 requests per minute"'),
  "slack-tier3": slackTier(3, 50, "typically methods paginating collections of conversations or users"),
  "slack-tier4": slackTier(4, 100, '"generous burst behavior"'),
  slack: {
    ...slackTier(2, 20, '"most methods allow at least 20 requests per minute"'),
    notes:
      "Alias of slack-tier2. Slack assigns every Web API method a tier and says most methods allow at least 20 " +
      "requests per minute (Tier 2), so one limiter shared by all methods of a client is paced at the floor that " +
      "most methods meet; Tier 3 would overrun Tier 2 methods. Use slack-tier3 or slack-tier4 for a client that " +
      "only calls such methods, and slack-tier1 for Tier 1 methods. chat.postMessage has a special tier (about one " +
      "message per second per channel plus a workspace-wide limit), and since 2025 conversations.history and " +
      "conversations.replies have much lower limits for commercially distributed apps outside the Slack " +
      `Marketplace. ${SLACK_COMMON}`,
  },
  stripe: {
    ratePerSec: 25,
    burst: 1,
    backoffStatuses: [429],
    source: "https://docs.stripe.com/rate-limits",
    notes:
      "Global limit per account: 100 requests/s in live mode, 25 in a sandbox; each API endpoint is limited to 25 " +
      "requests/s unless noted (stricter: Files API 20 reads and 20 writes per second, Search API 20 reads per " +
      "second, 1,000 updates per PaymentIntent per hour). 25 req/s holds in both modes and for any one endpoint; a " +
      "live-mode client spread over many endpoints may register up to 100. Stripe also has a concurrency limiter " +
      "and documents no burst size (burst 1, per-second limit). Only 429 is listed: retry 5xx responses yourself, " +
      "with idempotency keys.",
  },
  hubspot: {
    ratePerSec: 10,
    burst: 10,
    backoffStatuses: [429],
    source: "https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines",
    notes:
      "Free and Starter: 100 requests per 10 s per app and 250,000 per day per account (Professional: 190 per 10 s, " +
      "625,000 per day; Enterprise: 190 per 10 s, 1,000,000 per day; API Limit Increase: 250 per 10 s). The " +
      "Free/Starter figure is used. The daily cap is shared by all apps in the account and averages 2.9 req/s over " +
      "24 h, so a job that runs around the clock should register a lower rate. The CRM Search API has its own lower " +
      "per-second limit (4 req/s per HubSpot's changelog). Burst 10 (one second's worth of the 10-second window).",
  },
  shopify: {
    ratePerSec: 2,
    burst: 40,
    backoffStatuses: [429],
    source: "https://shopify.dev/docs/api/admin-rest/usage/rate-limits",
    notes:
      "REST Admin API (legacy since 1 October 2024), a leaky bucket per app per store leaking 2 requests/s on " +
      "standard plans (Advanced 4, Shopify Plus 20, Commerce Components 40). Burst 40: the bucket size long " +
      "documented for standard plans and the figure the current page uses in its example, though that page no " +
      "longer states bucket sizes per plan (partly confirmed); a token bucket of 40 refilled at 2/s behaves like " +
      "that leaky bucket. A 429 carries Retry-After; the bucket's fill level is in " +
      "X-Shopify-Shop-Api-Call-Limit, which is not one of the standard rate-limit headers. The GraphQL Admin API " +
      "is limited by calculated query cost (100 points/s on standard plans), not by requests: register your own " +
      "config for it.",
  },
  zendesk: {
    ratePerSec: 200 / 60,
    burst: 3,
    backoffStatuses: [429],
    source: "https://developer.zendesk.com/api-reference/introduction/rate-limits/",
    notes:
      "Support and Help Center API requests per minute by Zendesk Suite plan: Team 200, Growth 400, Professional " +
      "400, Enterprise 700, Enterprise Plus 2,500 (the High Volume API add-on raises qualifying plans to 2,500). " +
      "Team's 200 per minute ≈ 3.33 req/s is used; endpoint-specific limits apply on top. Third parties report 10 " +
      "per minute for the legacy Support Essential plan; that could not be confirmed on Zendesk's page. A 429 " +
      "carries Retry-After; X-Rate-Limit and ratelimit-* headers report the account's limit. Burst 3 (one second's " +
      "worth).",
  },
  airtable: {
    ratePerSec: 5,
    burst: 1,
    maxRatePerSec: 5,
    backoffStatuses: [429],
    cooldownMultiplier: 150,
    cooldownCapMs: Number.POSITIVE_INFINITY,
    source: "https://airtable.com/developers/web/api/rate-limits",
    notes:
      "5 requests per second per base, on every plan, plus 50 requests per second across all bases for traffic with " +
      "one user's or service account's personal access tokens; use one limiter per base. After a 429 Airtable " +
      "requires a 30-second wait before requests succeed again: cooldownMultiplier 150 (uncapped) gives 30 s at 5 req/s, and " +
      "maxRatePerSec 5 keeps the adaptive limiter from probing above a limit whose penalty is that lockout. Free and " +
      "Team plans also have monthly call limits. Burst 1 (per-second limit).",
  },
  asana: {
    ratePerSec: 150 / 60,
    burst: 2,
    backoffStatuses: [429],
    source: "https://developers.asana.com/docs/rate-limits",
    notes:
      "Per authorization token, per minute: 150 requests on free domains, 1,500 on paid domains; the free figure " +
      "(2.5 req/s) is used. The search API is limited to 60 requests per minute, and Asana also limits concurrent " +
      "requests and the cost of requests. A 429 carries Retry-After. Burst 2 (one second's worth, rounded down).",
  },
  discord: {
    ratePerSec: 50,
    burst: 1,
    maxRatePerSec: 50,
    backoffStatuses: [429],
    source: "https://discord.com/developers/docs/topics/rate-limits",
    notes:
      "Global limit: 50 requests per second per bot token (per IP address without authorization). Per-route limits " +
      "are lower, vary, and are only published in the X-RateLimit-* response headers: Discord asks apps not to " +
      "hard-code them, and the client's proactive pacing reads those headers. 401, 403 and 429 responses count " +
      "towards the invalid-request limit (10,000 per 10 minutes, then a temporary ban; 429s with X-RateLimit-Scope: " +
      "shared do not count), so maxRatePerSec 50 keeps the adaptive limiter from probing past the global limit. A " +
      "429 carries Retry-After and retry_after in its body. Burst 1 (per-second limit).",
  },
  "google-sheets": {
    ratePerSec: 1,
    burst: 1,
    backoffStatuses: [429],
    cooldownMultiplier: 60,
    cooldownCapMs: Number.POSITIVE_INFINITY,
    source: "https://developers.google.com/workspace/sheets/api/limits",
    notes:
      "Per-minute quotas, refilled every minute: 300 read and 300 write requests per minute per project, 60 read and " +
      "60 write requests per minute per user per project. The per-user figure (60 per minute = 1 req/s) is used; " +
      "reads and writes count against separate quotas. On 429 Google asks for exponential backoff and says requests " +
      "succeed again after one minute: cooldownMultiplier 60 (uncapped) gives 60 s at 1 req/s. Burst 1 (one second's worth).",
  },
  jira: {
    ratePerSec: 5,
    burst: 1,
    backoffStatuses: [429, 503],
    source: "https://developer.atlassian.com/cloud/jira/platform/rate-limiting/",
    notes:
      "NOT CONFIRMED: Jira Cloud enforces an hourly points-based quota (apps), per-second request limits per " +
      "endpoint and HTTP method with a burst buffer, and per-issue write limits, but the numeric thresholds could " +
      "not be confirmed from the stored documentation (Atlassian long declined to publish them). 5 req/s is a " +
      "conservative start: half the 10 calls/s that Atlassian's own worked example puts at the edge of an app's " +
      "budget; the adaptive limiter and Jira's Retry-After, X-RateLimit-* and RateLimit-Reason headers find the " +
      "real limit. Atlassian documents 503 with Retry-After when a resource limit is reached and says to handle it " +
      "like a 429. Burst 1 (per-second limits).",
  },
  salesforce: {
    ratePerSec: 100_000 / 86_400,
    burst: 1,
    backoffStatuses: [403, 429],
    source: "https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-api.html",
    notes:
      "Salesforce meters the REST and SOAP APIs by a rolling 24-hour allocation per org, not by a per-second rate: " +
      "Enterprise Edition gets 100,000 plus 1,000 per user licence (Unlimited and Performance 5,000 per licence), " +
      "Developer Edition 15,000. The Enterprise base, 100,000 per 24 h ≈ 1.16 req/s, is used; the allocation figures " +
      "are as quoted from this page by secondary sources (the stored copy confirmed the limit types, not the " +
      "figures). Requests running 20 s or longer are capped at 25 concurrent in production orgs (5 in Developer " +
      "Edition and trials). Exceeding a limit returns REQUEST_LIMIT_EXCEEDED with HTTP 403, so 403 is listed (a 403 " +
      "for missing permissions is then also treated as back-off). Usage is reported in the Sforce-Limit-Info " +
      "header, which proactive pacing does not read. Burst 1.",
  },
  twilio: {
    ratePerSec: 1,
    burst: 1,
    backoffStatuses: [429],
    source: "https://www.twilio.com/docs/api/errors/20429",
    notes:
      "Twilio limits its REST API by concurrent requests per account: beyond it, HTTP 429 with error 20429, which " +
      "Twilio says was never processed and is always safe to retry. The default concurrency is not published on the " +
      "pages read (third parties cite 100). Message throughput is per sender: a US long code sends one message " +
      "segment per second, a short code over 100; faster sends are queued (for hours, then fail with 21611 or " +
      "30001) rather than rejected. 1 req/s, one long-code sender's rate, is used: conservative for other Twilio " +
      "APIs; register your own config for short codes, Messaging Services or non-messaging endpoints. Burst 1.",
  },
  openai: {
    ratePerSec: 500 / 60,
    burst: 8,
    backoffStatuses: [429, 503],
    source: "https://developers.openai.com/api/docs/guides/rate-limits",
    notes:
      "Limits are per organization and project, per model and per usage tier, on requests and tokens per minute and " +
      "per day; whichever is hit first returns 429. 500 requests per minute (≈ 8.33 req/s) is the Tier 1 figure " +
      "for the common chat models in OpenAI's published tier table (e.g. gpt-4o, gpt-4o-mini); the current guide " +
      "points to each model's page instead, so the figure is NOT CONFIRMED for current models, and the free tier is " +
      "far lower. Tokens per minute often bind first with long prompts. 503 (server overloaded) is documented by " +
      "OpenAI's error codes as retryable after a delay. Limits are reported in x-ratelimit-limit-requests, " +
      "x-ratelimit-remaining-requests and x-ratelimit-reset-requests. Burst 8 (one second's worth, rounded down).",
  },
};

/** The registry: normalized (lower-case) name → validated, frozen config. */
const registry = new Map<string, ApiRateConfig>();
for (const [name, config] of Object.entries(PRESETS)) registry.set(name, normalize("apiRateConfig presets", config));

/**
 * The rate config for a named API: a frozen copy, so callers can pass it on without the
 * registry ever changing under them.
 *
 * Names are case-insensitive and surrounding whitespace is ignored (`"Notion"`, `" github "`).
 * Presets: notion, github, slack (alias of slack-tier2), slack-tier1 … slack-tier4, stripe,
 * hubspot, shopify, zendesk, airtable, asana, discord, google-sheets, jira, salesforce,
 * twilio, openai; plus anything added with {@link registerApiRateConfig}.
 *
 * @throws {UnknownApiRateConfigError} for a name that is neither a preset nor registered; its
 *   message lists every known name.
 * @throws {InvalidOptionError} when `name` is not a string.
 */
export function apiRateConfig(name: string): ApiRateConfig {
  const where = "apiRateConfig";
  if (typeof name !== "string") throw new InvalidOptionError(where, "name", name, "a string naming a known API");
  const config = registry.get(normalizeName(name));
  if (config === undefined) throw new UnknownApiRateConfigError(where, name, knownApiRateConfigs());
  return copy(config);
}

/**
 * Adds a rate config under `name`, or replaces the one already there, presets included
 * (registering `"stripe"` with `ratePerSec: 100` makes every later `apiRateConfig("stripe")`
 * return that). Registration is process-wide and lasts until replaced.
 *
 * Every field is validated before anything is stored, with {@link InvalidOptionError}
 * naming the option, the value and what is allowed: `ratePerSec` a finite number > 0;
 * `burst` an integer ≥ 1; `minRatePerSec` finite > 0 and ≤ `ratePerSec`; `maxRatePerSec`
 * finite and ≥ `ratePerSec`; `backoffStatuses` integers from 400 to 599, 429 always
 * included (added when missing; duplicates dropped, sorted); `cooldownMultiplier` finite ≥ 0; `cooldownCapMs` ≥ 0 or
 * `Infinity`; `maxRetriesOnBackoff` an
 * integer ≥ 0; `source` and `notes` non-empty strings; unknown keys are rejected. `name`:
 * letters, digits, `.`, `_`, `-`, starting with a letter or digit; stored lower-case.
 *
 * The config is copied, so changing the object afterwards has no effect.
 *
 * @returns the stored config (a frozen copy), with `source` defaulting to `"registerApiRateConfig"`.
 */
export function registerApiRateConfig(name: string, config: ApiRateConfigInput): ApiRateConfig {
  const where = typeof name === "string" ? `registerApiRateConfig(${JSON.stringify(name)})` : "registerApiRateConfig";
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw new InvalidOptionError(
      where,
      "name",
      name,
      "a non-empty string of letters, digits, '.', '_' or '-' starting with a letter or digit",
    );
  }
  const normalized = normalize(where, config);
  registry.set(normalizeName(name), normalized);
  return copy(normalized);
}

/** Every name {@link apiRateConfig} accepts (presets and registered configs), lower-case and sorted. */
export function knownApiRateConfigs(): string[] {
  return [...registry.keys()].sort();
}

function normalizeName(name: string): string {
  return name.trim().toLowerCase();
}

/** Validates `config` and returns a frozen copy with only the known, defined fields. */
function normalize(where: string, config: unknown): ApiRateConfig {
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new InvalidOptionError(where, "config", config, "a RateConfig object such as { ratePerSec: 3 }");
  }
  checkKeys(where, config, RATE_CONFIG_KEYS);
  const input = config as { readonly [K in (typeof RATE_CONFIG_KEYS)[number]]?: unknown };

  const ratePerSec = positive(where, "ratePerSec", input.ratePerSec);
  const out: Mutable<RateConfig> & { notes?: string } = { ratePerSec };
  if (input.burst !== undefined) out.burst = integer(where, "burst", input.burst, 1);
  if (input.minRatePerSec !== undefined) {
    const min = positive(where, "minRatePerSec", input.minRatePerSec);
    if (min > ratePerSec) {
      throw new InvalidOptionError(where, "minRatePerSec", min, `a finite number > 0 and <= ratePerSec (${ratePerSec})`);
    }
    out.minRatePerSec = min;
  }
  if (input.maxRatePerSec !== undefined) {
    const max = positive(where, "maxRatePerSec", input.maxRatePerSec);
    if (max < ratePerSec) throw new InvalidOptionError(where, "maxRatePerSec", max, `a finite number >= ratePerSec (${ratePerSec})`);
    out.maxRatePerSec = max;
  }
  if (input.backoffStatuses !== undefined) out.backoffStatuses = backoffStatuses(where, input.backoffStatuses);
  if (input.cooldownMultiplier !== undefined) {
    out.cooldownMultiplier = nonNegative(where, "cooldownMultiplier", input.cooldownMultiplier);
  }
  if (input.cooldownCapMs !== undefined) out.cooldownCapMs = nonNegativeOrInfinity(where, "cooldownCapMs", input.cooldownCapMs);
  if (input.maxRetriesOnBackoff !== undefined) {
    out.maxRetriesOnBackoff = integer(where, "maxRetriesOnBackoff", input.maxRetriesOnBackoff, 0);
  }
  const source = input.source === undefined ? DEFAULT_SOURCE : nonEmptyString(where, "source", input.source);
  if (input.notes !== undefined) out.notes = nonEmptyString(where, "notes", input.notes);
  return Object.freeze({ ...out, source });
}

/** A frozen copy of a stored config, so no caller shares an object with the registry. */
function copy(config: ApiRateConfig): ApiRateConfig {
  const { backoffStatuses } = config;
  return Object.freeze(backoffStatuses === undefined ? { ...config } : { ...config, backoffStatuses: Object.freeze([...backoffStatuses]) });
}
