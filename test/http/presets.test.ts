import { describe, expect, it, vi } from "vitest";
import { InvalidOptionError, ResilienceError } from "../../src/core/errors.js";
import { UnknownApiRateConfigError } from "../../src/http/errors.js";
import {
  apiRateConfig,
  type ApiRateConfig,
  type ApiRateConfigInput,
  knownApiRateConfigs,
  registerApiRateConfig,
} from "../../src/http/presets.js";

const REQUIRED = [
  "notion",
  "github",
  "slack",
  "slack-tier1",
  "slack-tier2",
  "slack-tier3",
  "slack-tier4",
  "stripe",
  "hubspot",
  "shopify",
  "zendesk",
  "airtable",
  "asana",
  "discord",
  "google-sheets",
  "jira",
  "salesforce",
  "twilio",
  "openai",
];

/** Calls `fn`, expects an InvalidOptionError, and returns it. */
function invalid(fn: () => unknown): InvalidOptionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error("expected an InvalidOptionError, but nothing was thrown");
}

let unique = 0;
/** A fresh, valid registration name, so tests do not depend on each other's registrations. */
const freshName = (): string => `test-api-${++unique}`;

describe("apiRateConfig: presets", () => {
  it.each(REQUIRED)("%s resolves", (name) => {
    const config = apiRateConfig(name);
    expect(config.ratePerSec).toBeGreaterThan(0);
    expect(knownApiRateConfigs()).toContain(name);
  });

  it.each(REQUIRED)("%s is a valid RateConfig with its source and notes", (name) => {
    const c = apiRateConfig(name);
    expect(Number.isFinite(c.ratePerSec) && c.ratePerSec > 0).toBe(true);
    expect(Number.isInteger(c.burst) && (c.burst ?? 0) >= 1).toBe(true);
    expect(c.backoffStatuses).toContain(429);
    for (const status of c.backoffStatuses ?? []) {
      expect(Number.isInteger(status) && status >= 100 && status <= 599).toBe(true);
    }
    if (c.maxRatePerSec !== undefined) expect(c.maxRatePerSec).toBeGreaterThanOrEqual(c.ratePerSec);
    if (c.minRatePerSec !== undefined) expect(c.minRatePerSec).toBeLessThanOrEqual(c.ratePerSec);
    if (c.cooldownMultiplier !== undefined) expect(c.cooldownMultiplier).toBeGreaterThan(0);
    expect(new URL(c.source).protocol).toBe("https:");
    expect(typeof c.notes).toBe("string");
    expect((c.notes ?? "").length).toBeGreaterThan(40);
  });

  it("every preset passes registerApiRateConfig's own validation", () => {
    for (const name of knownApiRateConfigs()) {
      expect(registerApiRateConfig(freshName(), apiRateConfig(name))).toEqual(apiRateConfig(name));
    }
  });

  it("converts the documented limits to requests per second", () => {
    expect(apiRateConfig("notion").ratePerSec).toBe(3);
    expect(apiRateConfig("github").ratePerSec).toBeCloseTo(5000 / 3600, 10);
    expect(apiRateConfig("slack-tier1").ratePerSec).toBeCloseTo(1 / 60, 10);
    expect(apiRateConfig("slack-tier2").ratePerSec).toBeCloseTo(20 / 60, 10);
    expect(apiRateConfig("slack-tier3").ratePerSec).toBeCloseTo(50 / 60, 10);
    expect(apiRateConfig("slack-tier4").ratePerSec).toBeCloseTo(100 / 60, 10);
    expect(apiRateConfig("hubspot").ratePerSec).toBe(10);
    expect(apiRateConfig("zendesk").ratePerSec).toBeCloseTo(200 / 60, 10);
    expect(apiRateConfig("salesforce").ratePerSec).toBeCloseTo(100_000 / 86_400, 10);
    expect(apiRateConfig("openai").ratePerSec).toBeCloseTo(500 / 60, 10);
  });

  it("uses the vendors' back-off statuses and documented buckets", () => {
    expect(apiRateConfig("github").backoffStatuses).toEqual([403, 429]);
    expect(apiRateConfig("notion").backoffStatuses).toEqual([429, 503, 529]);
    expect(apiRateConfig("jira").backoffStatuses).toEqual([429, 503]);
    expect(apiRateConfig("stripe").backoffStatuses).toEqual([429]);
    expect(apiRateConfig("shopify")).toMatchObject({ ratePerSec: 2, burst: 40 });
    expect(apiRateConfig("airtable")).toMatchObject({ ratePerSec: 5, maxRatePerSec: 5, cooldownMultiplier: 150 });
  });

  it("a documented fixed wait becomes the cooldown at the preset's rate", () => {
    const seconds = (name: string) => {
      const c = apiRateConfig(name);
      return (c.cooldownMultiplier ?? 0) / c.ratePerSec;
    };
    expect(seconds("airtable")).toBe(30);
    expect(seconds("google-sheets")).toBe(60);
    expect(seconds("github")).toBeGreaterThanOrEqual(60);
    expect(seconds("github")).toBeLessThan(61);
    // No cap shortens a documented wait; elsewhere the limiter's own cap applies.
    for (const name of ["airtable", "google-sheets", "github"]) expect(apiRateConfig(name).cooldownCapMs).toBe(Number.POSITIVE_INFINITY);
    expect(apiRateConfig("stripe").cooldownCapMs).toBeUndefined();
  });

  it("slack is an alias of slack-tier2 (same figures, its own notes)", () => {
    const { notes: aliasNotes, ...alias } = apiRateConfig("slack");
    const { notes: tierNotes, ...tier2 } = apiRateConfig("slack-tier2");
    expect(alias).toEqual(tier2);
    expect(aliasNotes).toMatch(/alias of slack-tier2/i);
    expect(tierNotes).toMatch(/Tier 2/);
  });

  it("marks the figures that could not be confirmed", () => {
    expect(apiRateConfig("jira").notes).toMatch(/NOT CONFIRMED/);
    expect(apiRateConfig("openai").notes).toMatch(/NOT CONFIRMED/);
  });
});

describe("apiRateConfig: names", () => {
  it("is case-insensitive and ignores surrounding whitespace", () => {
    expect(apiRateConfig("NOTION")).toEqual(apiRateConfig("notion"));
    expect(apiRateConfig("GitHub")).toEqual(apiRateConfig("github"));
    expect(apiRateConfig("Google-Sheets")).toEqual(apiRateConfig("google-sheets"));
    expect(apiRateConfig("  Slack-Tier3 ")).toEqual(apiRateConfig("slack-tier3"));
  });

  it("an unknown name throws UnknownApiRateConfigError listing every known name", () => {
    const error = invalid(() => apiRateConfig("notoin"));
    expect(error).toBeInstanceOf(UnknownApiRateConfigError);
    expect(error).toBeInstanceOf(ResilienceError);
    expect(error.name).toBe("UnknownApiRateConfigError");
    const unknown = error as UnknownApiRateConfigError;
    expect(unknown.api).toBe("notoin");
    expect(unknown.option).toBe("name");
    expect(unknown.value).toBe("notoin");
    expect(unknown.known).toEqual(knownApiRateConfigs());
    for (const name of REQUIRED) expect(error.message).toContain(name);
    expect(error.message).toContain('"notoin"');
    expect(error.message).toContain("registerApiRateConfig");
  });

  it("the error's list includes registered names", () => {
    const name = freshName();
    registerApiRateConfig(name, { ratePerSec: 1 });
    expect((invalid(() => apiRateConfig("nope")) as UnknownApiRateConfigError).known).toContain(name);
  });

  it("a name that is not a string is an InvalidOptionError", () => {
    const error = invalid(() => apiRateConfig(42 as unknown as string));
    expect(error).not.toBeInstanceOf(UnknownApiRateConfigError);
    expect(error.option).toBe("name");
    expect(error.message).toContain("got 42");
  });

  it("knownApiRateConfigs is sorted, lower-case and a copy", () => {
    const known = knownApiRateConfigs();
    expect(known).toEqual([...known].sort());
    for (const name of known) expect(name).toBe(name.toLowerCase());
    for (const name of REQUIRED) expect(known).toContain(name);
    known.push("injected");
    expect(knownApiRateConfigs()).not.toContain("injected");
  });
});

describe("registerApiRateConfig", () => {
  it("registers a config that apiRateConfig then returns", () => {
    const name = freshName();
    const returned = registerApiRateConfig(name, {
      ratePerSec: 4,
      burst: 8,
      minRatePerSec: 0.5,
      maxRatePerSec: 16,
      backoffStatuses: [503, 429],
      cooldownMultiplier: 2,
      cooldownCapMs: 250,
      maxRetriesOnBackoff: 3,
      source: "https://example.com/limits",
      notes: "internal API",
    });
    const expected: ApiRateConfig = {
      ratePerSec: 4,
      burst: 8,
      minRatePerSec: 0.5,
      maxRatePerSec: 16,
      backoffStatuses: [429, 503],
      cooldownMultiplier: 2,
      cooldownCapMs: 250,
      maxRetriesOnBackoff: 3,
      source: "https://example.com/limits",
      notes: "internal API",
    };
    expect(returned).toEqual(expected);
    expect(apiRateConfig(name)).toEqual(expected);
    expect(knownApiRateConfigs()).toContain(name);
  });

  it("needs only ratePerSec; source defaults and absent fields stay absent", () => {
    const name = freshName();
    registerApiRateConfig(name, { ratePerSec: 0.25 });
    const config = apiRateConfig(name);
    expect(config).toEqual({ ratePerSec: 0.25, source: "registerApiRateConfig" });
    expect(Object.keys(config).sort()).toEqual(["ratePerSec", "source"]);
  });

  it("accepts the boundary values", () => {
    const config = registerApiRateConfig(freshName(), {
      ratePerSec: 2,
      burst: 1,
      minRatePerSec: 2,
      maxRatePerSec: 2,
      backoffStatuses: [400, 429, 599],
      cooldownMultiplier: 0,
      cooldownCapMs: 0,
      maxRetriesOnBackoff: 0,
    });
    expect(config).toMatchObject({
      burst: 1,
      minRatePerSec: 2,
      maxRatePerSec: 2,
      cooldownMultiplier: 0,
      cooldownCapMs: 0,
      maxRetriesOnBackoff: 0,
    });
    expect(registerApiRateConfig(freshName(), { ratePerSec: 2, cooldownCapMs: Number.POSITIVE_INFINITY }).cooldownCapMs).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it("adds 429 when the list leaves it out (429 is always a back-off status)", () => {
    expect(registerApiRateConfig(freshName(), { ratePerSec: 1, backoffStatuses: [] }).backoffStatuses).toEqual([429]);
    expect(registerApiRateConfig(freshName(), { ratePerSec: 1, backoffStatuses: [503] }).backoffStatuses).toEqual([429, 503]);
  });

  it("drops duplicate statuses and sorts them", () => {
    expect(registerApiRateConfig(freshName(), { ratePerSec: 1, backoffStatuses: [503, 429, 503, 429] }).backoffStatuses).toEqual([
      429, 503,
    ]);
  });

  it("stores names lower-case, so lookups in any case find them", () => {
    const name = `${freshName()}-MixedCase`;
    registerApiRateConfig(name, { ratePerSec: 7 });
    expect(knownApiRateConfigs()).toContain(name.toLowerCase());
    expect(apiRateConfig(name.toUpperCase()).ratePerSec).toBe(7);
  });

  it("registering an existing name replaces it", () => {
    const name = freshName();
    registerApiRateConfig(name, { ratePerSec: 1, burst: 5, notes: "first" });
    registerApiRateConfig(name.toUpperCase(), { ratePerSec: 2 });
    expect(apiRateConfig(name)).toEqual({ ratePerSec: 2, source: "registerApiRateConfig" });
    expect(knownApiRateConfigs().filter((n) => n === name)).toHaveLength(1);
  });

  it("can replace a preset (in a fresh registry, so the other tests keep the real one)", async () => {
    vi.resetModules();
    const fresh = await import("../../src/http/presets.js");
    const before = fresh.knownApiRateConfigs();
    fresh.registerApiRateConfig("Stripe", { ratePerSec: 100, backoffStatuses: [429], source: "https://docs.stripe.com/rate-limits" });
    expect(fresh.apiRateConfig("stripe")).toEqual({
      ratePerSec: 100,
      backoffStatuses: [429],
      source: "https://docs.stripe.com/rate-limits",
    });
    expect(fresh.knownApiRateConfigs()).toEqual(before);
    expect(apiRateConfig("stripe").ratePerSec).toBe(25);
  });

  it("a rejected registration changes nothing", () => {
    const name = freshName();
    registerApiRateConfig(name, { ratePerSec: 3 });
    invalid(() => registerApiRateConfig(name, { ratePerSec: 5, burst: 0 }));
    invalid(() => registerApiRateConfig(freshName(), { ratePerSec: -1 }));
    expect(apiRateConfig(name).ratePerSec).toBe(3);
    expect(knownApiRateConfigs()).not.toContain(`test-api-${unique}`);
  });

  describe("validates every field", () => {
    const ok: ApiRateConfigInput = { ratePerSec: 3 };
    const cases: ReadonlyArray<[string, unknown, string, string]> = [
      // [description, config, option named in the error, allowed text in the message]
      ["ratePerSec missing", {}, "ratePerSec", "a finite number > 0"],
      ["ratePerSec 0", { ratePerSec: 0 }, "ratePerSec", "a finite number > 0"],
      ["ratePerSec negative", { ratePerSec: -2 }, "ratePerSec", "a finite number > 0"],
      ["ratePerSec NaN", { ratePerSec: Number.NaN }, "ratePerSec", "a finite number > 0"],
      ["ratePerSec Infinity", { ratePerSec: Number.POSITIVE_INFINITY }, "ratePerSec", "a finite number > 0"],
      ["ratePerSec a string", { ratePerSec: "3" }, "ratePerSec", "a finite number > 0"],
      ["burst 0", { ...ok, burst: 0 }, "burst", "an integer >= 1"],
      ["burst fractional", { ...ok, burst: 1.5 }, "burst", "an integer >= 1"],
      ["burst a string", { ...ok, burst: "2" }, "burst", "an integer >= 1"],
      ["minRatePerSec 0", { ...ok, minRatePerSec: 0 }, "minRatePerSec", "a finite number > 0"],
      ["minRatePerSec NaN", { ...ok, minRatePerSec: Number.NaN }, "minRatePerSec", "a finite number > 0"],
      ["minRatePerSec above ratePerSec", { ...ok, minRatePerSec: 4 }, "minRatePerSec", "<= ratePerSec (3)"],
      ["maxRatePerSec negative", { ...ok, maxRatePerSec: -1 }, "maxRatePerSec", "a finite number > 0"],
      ["maxRatePerSec Infinity", { ...ok, maxRatePerSec: Number.POSITIVE_INFINITY }, "maxRatePerSec", "a finite number > 0"],
      ["maxRatePerSec below ratePerSec", { ...ok, maxRatePerSec: 2 }, "maxRatePerSec", ">= ratePerSec (3)"],
      [
        "backoffStatuses not an array",
        { ...ok, backoffStatuses: "429" },
        "backoffStatuses",
        "an array of integer HTTP statuses from 400 to 599",
      ],
      ["a status below 100", { ...ok, backoffStatuses: [429, 99] }, "backoffStatuses[1]", "from 400 to 599"],
      ["a status below 400", { ...ok, backoffStatuses: [429, 399] }, "backoffStatuses[1]", "from 400 to 599"],
      ["a success status", { ...ok, backoffStatuses: [200, 429] }, "backoffStatuses[0]", "from 400 to 599"],
      ["a status above 599", { ...ok, backoffStatuses: [600, 429] }, "backoffStatuses[0]", "from 400 to 599"],
      ["a fractional status", { ...ok, backoffStatuses: [429, 503.5] }, "backoffStatuses[1]", "from 400 to 599"],
      ["a status as a string", { ...ok, backoffStatuses: [429, "503"] }, "backoffStatuses[1]", "from 400 to 599"],
      ["cooldownMultiplier negative", { ...ok, cooldownMultiplier: -1 }, "cooldownMultiplier", "a finite number >= 0"],
      ["cooldownMultiplier NaN", { ...ok, cooldownMultiplier: Number.NaN }, "cooldownMultiplier", "a finite number >= 0"],
      [
        "cooldownMultiplier Infinity",
        { ...ok, cooldownMultiplier: Number.POSITIVE_INFINITY },
        "cooldownMultiplier",
        "a finite number >= 0",
      ],
      ["cooldownCapMs negative", { ...ok, cooldownCapMs: -1 }, "cooldownCapMs", "a number >= 0 (Infinity for no limit)"],
      ["cooldownCapMs NaN", { ...ok, cooldownCapMs: Number.NaN }, "cooldownCapMs", "a number >= 0 (Infinity for no limit)"],
      ["cooldownCapMs a string", { ...ok, cooldownCapMs: "100" }, "cooldownCapMs", "a number >= 0 (Infinity for no limit)"],
      ["maxRetriesOnBackoff negative", { ...ok, maxRetriesOnBackoff: -1 }, "maxRetriesOnBackoff", "an integer >= 0"],
      ["maxRetriesOnBackoff fractional", { ...ok, maxRetriesOnBackoff: 1.5 }, "maxRetriesOnBackoff", "an integer >= 0"],
      ["maxRetriesOnBackoff Infinity", { ...ok, maxRetriesOnBackoff: Number.POSITIVE_INFINITY }, "maxRetriesOnBackoff", "an integer >= 0"],
      ["source empty", { ...ok, source: "" }, "source", "a non-empty string"],
      ["source not a string", { ...ok, source: 5 }, "source", "a non-empty string"],
      ["notes empty", { ...ok, notes: "" }, "notes", "a non-empty string"],
      ["notes not a string", { ...ok, notes: ["a"] }, "notes", "a non-empty string"],
      ["an unknown key (typo)", { ...ok, burts: 2 }, "burts", "one of the known options"],
      ["config null", null, "config", "a RateConfig object"],
      ["config a number", 3, "config", "a RateConfig object"],
      ["config an array", [3], "config", "a RateConfig object"],
      ["config missing", undefined, "config", "a RateConfig object"],
    ];

    it.each(cases)("rejects %s", (_description, config, option, allowed) => {
      const name = freshName();
      const error = invalid(() => registerApiRateConfig(name, config as ApiRateConfigInput));
      expect(error.option).toBe(option);
      expect(error.message).toContain(`registerApiRateConfig("${name}")`);
      expect(error.message).toContain(`option "${option}"`);
      expect(error.message).toContain(allowed);
      expect(error.message).toMatch(/; got /);
      expect(knownApiRateConfigs()).not.toContain(name);
    });

    it("names the offending value", () => {
      const error = invalid(() => registerApiRateConfig(freshName(), { ratePerSec: 3, backoffStatuses: [429, 1000] }));
      expect(error.value).toBe(1000);
      expect(error.message).toContain("got 1000");
      expect(invalid(() => registerApiRateConfig(freshName(), { ratePerSec: -0.5 })).message).toContain("got -0.5");
      expect(invalid(() => registerApiRateConfig(freshName(), { ratePerSec: 1, source: 7 } as unknown as ApiRateConfigInput)).value).toBe(
        7,
      );
    });

    it.each([
      ["empty", ""],
      ["whitespace only", "   "],
      ["with a space", "my api"],
      ["starting with a dash", "-api"],
      ["with a slash", "api/v2"],
      ["a number", 42],
      ["undefined", undefined],
    ])("rejects a name that is %s", (_description, name) => {
      const error = invalid(() => registerApiRateConfig(name as string, { ratePerSec: 1 }));
      expect(error.option).toBe("name");
      expect(error.message).toContain("letters, digits");
    });
  });
});

describe("returned configs cannot change the registry", () => {
  it("apiRateConfig returns a frozen copy, including its statuses", () => {
    const config = apiRateConfig("github");
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.backoffStatuses)).toBe(true);
    expect(() => {
      (config as { ratePerSec: number }).ratePerSec = 1000;
    }).toThrow(TypeError);
    expect(() => (config.backoffStatuses as number[]).push(500)).toThrow(TypeError);
    expect(apiRateConfig("github").ratePerSec).toBeCloseTo(5000 / 3600, 10);
    expect(apiRateConfig("github").backoffStatuses).toEqual([403, 429]);
  });

  it("every call returns a new object", () => {
    const a = apiRateConfig("notion");
    const b = apiRateConfig("notion");
    expect(a).toEqual(b);
    expect(a).not.toBe(b);
    expect(a.backoffStatuses).not.toBe(b.backoffStatuses);
  });

  it("a copy with changes does not touch the preset", () => {
    const tweaked = { ...apiRateConfig("stripe"), ratePerSec: 100 };
    expect(tweaked.ratePerSec).toBe(100);
    expect(apiRateConfig("stripe").ratePerSec).toBe(25);
  });

  it("changing the registered object or its array afterwards has no effect", () => {
    const name = freshName();
    const input = { ratePerSec: 2, backoffStatuses: [429, 503] };
    registerApiRateConfig(name, input);
    input.ratePerSec = 50;
    input.backoffStatuses.push(500);
    expect(apiRateConfig(name)).toEqual({ ratePerSec: 2, backoffStatuses: [429, 503], source: "registerApiRateConfig" });
  });

  it("the config registerApiRateConfig returns is frozen and detached too", () => {
    const name = freshName();
    const returned = registerApiRateConfig(name, { ratePerSec: 2, backoffStatuses: [429] });
    expect(Object.isFrozen(returned)).toBe(true);
    expect(Object.isFrozen(returned.backoffStatuses)).toBe(true);
    expect(returned).not.toBe(apiRateConfig(name));
  });
});
