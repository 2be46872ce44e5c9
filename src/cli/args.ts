/**
 * The `breakwater` command line: parsing and validation, with no I/O, so every message
 * a user can get for bad arguments is testable in process. Bad arguments are a
 * {@link UsageError} (exit code 2).
 */
import { ResilienceError } from "../core/errors.js";

/** Where the fleet's breakers are: the Redis URL and the `RedisStore` namespace. */
export interface RedisTarget {
  readonly redis: string;
  readonly namespace: string;
  /** `redis` is one node of a Redis Cluster. */
  readonly cluster: boolean;
}

/** A parsed command line. */
export type Command =
  | { readonly kind: "help"; readonly topic: CommandName | undefined }
  | ({ readonly kind: "status"; readonly json: boolean } & RedisTarget)
  | ({
      readonly kind: "isolate" | "reset";
      readonly service: string;
      readonly json: boolean;
      readonly force: boolean;
      readonly metaTtlMs: number;
    } & RedisTarget)
  | ({
      readonly kind: "open";
      readonly service: string;
      readonly json: boolean;
      readonly force: boolean;
      readonly metaTtlMs: number;
      /** How long (ms), or until when (epoch ms): exactly one is set. */
      readonly forMs: number | undefined;
      readonly until: number | undefined;
    } & RedisTarget)
  | ({
      readonly kind: "dashboard";
      readonly port: number;
      readonly host: string;
      readonly allowControl: boolean;
      readonly refreshMs: number;
    } & RedisTarget);

/** The commands, in the order `--help` lists them. */
export const COMMANDS = ["status", "isolate", "reset", "dashboard", "open"] as const;

/** A command's name. */
export type CommandName = (typeof COMMANDS)[number];

/** Bad command-line arguments: the message says which and what is allowed. Exit code 2. */
export class UsageError extends ResilienceError {
  /** The process exit code for usage errors. */
  readonly exitCode = 2;
}

/** The default Redis URL when neither `--redis` nor `REDIS_URL` is given. */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

interface OptionSpec {
  /** True for an option that takes a value. */
  readonly value: boolean;
}

const TARGET: Record<string, OptionSpec> = { redis: { value: true }, namespace: { value: true }, cluster: { value: false } };
const OPTIONS: Record<CommandName, Record<string, OptionSpec>> = {
  status: { ...TARGET, json: { value: false } },
  isolate: { ...TARGET, json: { value: false }, force: { value: false }, "meta-ttl": { value: true } },
  reset: { ...TARGET, json: { value: false }, force: { value: false }, "meta-ttl": { value: true } },
  open: {
    ...TARGET,
    json: { value: false },
    force: { value: false },
    "meta-ttl": { value: true },
    for: { value: true },
    until: { value: true },
  },
  dashboard: { ...TARGET, port: { value: true }, host: { value: true }, "allow-control": { value: false }, "refresh-ms": { value: true } },
};

/**
 * Parses `argv` (without `node` and the script). `env` supplies `REDIS_URL` when
 * `--redis` is not given.
 */
export function parseArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): Command {
  const first = argv[0];
  if (first === undefined) throw new UsageError(`missing command; expected one of ${COMMANDS.join(", ")}`);
  if (first === "--help" || first === "-h" || first === "help") {
    const topic = argv[1];
    if (topic === undefined) return { kind: "help", topic: undefined };
    return { kind: "help", topic: commandName(topic) };
  }
  const name = commandName(first);
  const { options, positionals, help } = scan(name, argv.slice(1));
  if (help) return { kind: "help", topic: name };
  const target = redisTarget(options, env);
  const flag = (key: string): boolean => options.has(key);
  switch (name) {
    case "status":
      noPositionals(name, positionals);
      return { kind: "status", json: flag("json"), ...target };
    case "isolate":
    case "open":
    case "reset": {
      if (positionals.length === 0)
        throw new UsageError(`${name}: missing SERVICE (the breaker's service name, as \`breakwater status\` lists it)`);
      if (positionals.length > 1)
        throw new UsageError(`${name}: one SERVICE at a time; got ${positionals.map((p) => JSON.stringify(p)).join(" ")}`);
      const service = positionals[0] as string;
      if (service.trim() === "") throw new UsageError(`${name}: SERVICE must not be empty`);
      const metaTtlMs = intOption(
        name,
        "meta-ttl",
        options.get("meta-ttl"),
        3_600_000,
        1,
        Number.MAX_SAFE_INTEGER,
        "an integer number of ms >= 1",
      );
      const common = { service, json: flag("json"), force: flag("force"), metaTtlMs, ...target };
      if (name !== "open") return { kind: name, ...common };
      const forText = options.get("for");
      const untilText = options.get("until");
      if ((forText === undefined) === (untilText === undefined)) {
        throw new UsageError(`open: give exactly one of --for DURATION (e.g. 90s, 10m, 2h) or --until TIME (ISO 8601)`);
      }
      return {
        kind: "open",
        ...common,
        forMs: forText === undefined ? undefined : durationMs(forText),
        until: untilText === undefined ? undefined : instant(untilText),
      };
    }
    case "dashboard": {
      noPositionals(name, positionals);
      const port = intOption(name, "port", options.get("port"), 9400, 0, 65_535, "an integer from 0 to 65535 (0 picks a free port)");
      const refreshMs = intOption(
        name,
        "refresh-ms",
        options.get("refresh-ms"),
        1_000,
        10,
        3_600_000,
        "an integer number of ms from 10 to 3600000",
      );
      const host = options.get("host") ?? "127.0.0.1";
      if (host === "") throw new UsageError(`${name}: option --host must be an address to listen on, e.g. 127.0.0.1; got ""`);
      return { kind: "dashboard", port, host, allowControl: flag("allow-control"), refreshMs, ...target };
    }
  }
}

function commandName(word: string): CommandName {
  if ((COMMANDS as readonly string[]).includes(word)) return word as CommandName;
  const close = COMMANDS.find((c) => word.length >= 2 && (c.startsWith(word) || word.startsWith(c)));
  const hint = word.startsWith("-")
    ? ` (options come after the command, e.g. \`breakwater status ${word}\`)`
    : close !== undefined
      ? ` (did you mean ${close}?)`
      : "";
  throw new UsageError(`unknown command ${JSON.stringify(word)}; expected one of ${COMMANDS.join(", ")}${hint}`);
}

/** Splits options (`--name value`, `--name=value`, flags) from positionals, checking each name. */
function scan(command: CommandName, args: readonly string[]): { options: Map<string, string>; positionals: string[]; help: boolean } {
  const specs = OPTIONS[command];
  const options = new Map<string, string>();
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith("--")) throw new UsageError(`${command}: unknown option ${arg}; options are ${known(specs)}`);
    const eq = arg.indexOf("=");
    const key = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = specs[key];
    if (spec === undefined) throw new UsageError(`${command}: unknown option --${key}; options are ${known(specs)}`);
    if (options.has(key)) throw new UsageError(`${command}: option --${key} given twice`);
    if (!spec.value) {
      if (eq >= 0)
        throw new UsageError(`${command}: option --${key} is a flag and takes no value; got ${JSON.stringify(arg.slice(eq + 1))}`);
      options.set(key, "");
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = args[i + 1];
      if (value === undefined || value.startsWith("--")) throw new UsageError(`${command}: option --${key} needs a value`);
      i++;
    }
    options.set(key, value);
  }
  return { options, positionals, help };
}

function known(specs: Record<string, OptionSpec>): string {
  return [...Object.entries(specs).map(([k, s]) => (s.value ? `--${k} <value>` : `--${k}`)), "--help"].join(", ");
}

function noPositionals(command: CommandName, positionals: readonly string[]): void {
  if (positionals.length > 0)
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(positionals[0])}; ${command} takes options only`);
}

function intOption(
  command: CommandName,
  key: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
  allowed: string,
): number {
  if (raw === undefined) return fallback;
  const value = /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new UsageError(`${command}: option --${key} must be ${allowed}; got ${JSON.stringify(raw)}`);
  return value;
}

/** `--redis` (else `REDIS_URL`, else the local default) and `--namespace`, validated. */
function redisTarget(options: ReadonlyMap<string, string>, env: Readonly<Record<string, string | undefined>>): RedisTarget {
  const fromEnv = env.REDIS_URL !== undefined && env.REDIS_URL !== "" ? env.REDIS_URL : undefined;
  const given = options.get("redis");
  const redis = given ?? fromEnv ?? DEFAULT_REDIS_URL;
  const source = given !== undefined ? "option --redis" : "REDIS_URL";
  let url: URL;
  try {
    url = new URL(redis);
  } catch {
    throw new UsageError(
      `${source} must be a Redis URL such as redis://127.0.0.1:6379 or rediss://user:pass@host:6380/0; got ${JSON.stringify(redis)}`,
    );
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new UsageError(`${source} must use redis:// or rediss://; got ${JSON.stringify(redis)}`);
  }
  if (url.hostname === "") throw new UsageError(`${source} must name a host, e.g. redis://127.0.0.1:6379; got ${JSON.stringify(redis)}`);
  const namespace = options.get("namespace") ?? "breakwater";
  if (namespace === "" || /[{}]/.test(namespace)) {
    throw new UsageError(
      `option --namespace must be the fleet's RedisStore namespace: a non-empty string without { or }; got ${JSON.stringify(namespace)}`,
    );
  }
  return { redis, namespace, cluster: options.has("cluster") };
}

/** Usage text: the overview, or one command's. */
export function usage(topic?: CommandName): string {
  const target = [
    "  --redis URL         Redis URL (default: $REDIS_URL, else redis://127.0.0.1:6379)",
    "  --namespace NS      the fleet's RedisStore namespace (default: breakwater)",
    "  --cluster           --redis names one node of a Redis Cluster (the others are discovered)",
  ];
  const texts: Record<CommandName, string[]> = {
    status: [
      "breakwater status [--redis URL] [--namespace NS] [--json]",
      "",
      "Prints every breaker in the namespace: state, failures counted by its trip rule,",
      "last failure, next probe (time and how long until then) and retry phase.",
      "",
      ...target,
      "  --json              print JSON instead of a table",
    ],
    isolate: [
      "breakwater isolate SERVICE [--redis URL] [--namespace NS] [--force] [--json]",
      "",
      "Holds SERVICE's circuit open in every process of the fleet until `breakwater reset`.",
      "SERVICE is a name as `breakwater status` lists it, or a full Redis key.",
      "",
      ...target,
      "  --force             isolate even when no process has written the breaker yet",
      "  --meta-ttl MS       TTL of the record written (default: 3600000, RedisStore's metaTtlMs)",
      "  --json              print JSON",
    ],
    open: [
      "breakwater open SERVICE (--for DURATION | --until TIME) [--redis URL] [--namespace NS] [--force] [--json]",
      "",
      "Opens SERVICE's circuit in every process of the fleet for a while, whatever its trip rule says;",
      "then a probe is due, as after any open interval. DURATION: 90s, 10m, 2h or ms; TIME: ISO 8601.",
      "",
      ...target,
      "  --for DURATION      how long: 90s, 10m, 2h, or a number of ms",
      "  --until TIME        or until when: an ISO 8601 time such as 2026-12-06T08:00:00Z",
      "  --force             open it even when no process has written the breaker yet",
      "  --meta-ttl MS       TTL of the record written (default: 3600000, RedisStore's metaTtlMs)",
      "  --json              print JSON",
    ],
    reset: [
      "breakwater reset SERVICE [--redis URL] [--namespace NS] [--force] [--json]",
      "",
      "Closes SERVICE's circuit in every process and clears its counts (and any isolation).",
      "",
      ...target,
      "  --force             succeed (with nothing to do) when the breaker has no record",
      "  --meta-ttl MS       TTL of the record written (default: 3600000)",
      "  --json              print JSON",
    ],
    dashboard: [
      "breakwater dashboard [--redis URL] [--namespace NS] [--port 9400] [--host 127.0.0.1] [--allow-control]",
      "",
      "Serves the live dashboard of the fleet's breakers, read from Redis, until Ctrl-C.",
      "",
      ...target,
      "  --port N            TCP port (default 9400; 0 picks a free one)",
      "  --host ADDR         address to listen on (default 127.0.0.1, this machine only)",
      "  --allow-control     enable the isolate and reset buttons (they change production state)",
      "  --refresh-ms MS     how often every record is re-read (default 1000); transitions arrive at once",
    ],
  };
  if (topic !== undefined) return `${texts[topic].join("\n")}\n`;
  return [
    "breakwater: see and control a fleet's circuit breakers in Redis (RedisStore)",
    "",
    "Usage:",
    "  breakwater status    [--redis URL] [--namespace NS] [--json]",
    "  breakwater isolate   SERVICE [--redis URL] [--namespace NS] [--force] [--json]",
    "  breakwater open      SERVICE (--for DURATION | --until TIME) [--redis URL] [--namespace NS] [--force] [--json]",
    "  breakwater reset     SERVICE [--redis URL] [--namespace NS] [--force] [--json]",
    "  breakwater dashboard [--redis URL] [--namespace NS] [--port 9400] [--host H] [--refresh-ms MS] [--allow-control]",
    "  breakwater help COMMAND | COMMAND --help",
    "",
    ...target,
    "",
    "Exit codes: 0 done, 1 failed (Redis unreachable, no such breaker), 2 bad arguments.",
    "Needs the ioredis package (npm install ioredis).",
    "",
  ].join("\n");
}

/** `90s`, `10m`, `2h`, `500ms` or a bare number of ms, as ms. */
function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
  const ms = m === null ? NaN : Number(m[1]) * unit[(m[2] ?? "ms") as keyof typeof unit];
  if (!Number.isFinite(ms) || ms > Number.MAX_SAFE_INTEGER) {
    throw new UsageError(`open: option --for must be a duration such as 90s, 10m or 2h (or ms); got ${JSON.stringify(text)}`);
  }
  return Math.round(ms);
}

/** An ISO 8601 time, as epoch ms. */
function instant(text: string): number {
  const ms = /^\d{4}-\d\d-\d\dT/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms))
    throw new UsageError(`open: option --until must be an ISO 8601 time such as 2026-12-06T08:00:00Z; got ${JSON.stringify(text)}`);
  return ms;
}
