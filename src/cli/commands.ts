/**
 * What each `breakwater` command does, over injected I/O (streams, environment, the
 * stop signal), so the entry point stays a few lines.
 */
import { runDashboard } from "../dashboard/index.js";
import { systemClock } from "../core/clock.js";
import { describe, InvalidOptionError } from "../core/errors.js";
import { BreakerAdmin } from "../redis/breaker-admin.js";
import { BreakerNotFoundError } from "../redis/fleet-record.js";
import type { FleetBreakers } from "../redis/fleet-view.js";
import { type Command, parseArgs, type RedisTarget, UsageError, usage } from "./args.js";
import { CliError, type CliConnection, connectRedis } from "./connect.js";
import { actionText, redactUrl, statusText, toJson } from "./format.js";

/** Where a command writes, what it reads, and when a long-running one stops. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Resolves when a long-running command (the dashboard) should stop: SIGINT or SIGTERM. */
  readonly stopped: Promise<void>;
  /** The ioredis module to load (tests). Default `"ioredis"`. */
  readonly ioredisModule?: string;
}

/** Runs the command line `argv` (without `node` and the script); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let command: Command;
  try {
    command = parseArgs(argv, io.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`breakwater: ${error.message}\nRun \`breakwater --help\` for usage.\n`);
    return error.exitCode;
  }
  try {
    return await run(command, io);
  } catch (error) {
    if (error instanceof InvalidOptionError) {
      // A SERVICE the admin refuses (braces where a name belongs): a bad argument too.
      io.stderr.write(`breakwater: ${error.message}\nRun \`breakwater --help\` for usage.\n`);
      return 2;
    }
    if (error instanceof BreakerNotFoundError && (command.kind === "isolate" || command.kind === "reset" || command.kind === "open")) {
      io.stderr.write(
        `breakwater: ${error.message}\n` +
          `A breaker has a record once a process has run a call through it, until the record expires (metaTtlMs after its last write).\n` +
          `To ${command.kind} it anyway, add --force (a lone CircuitBreaker's service is breaker:<name>).\n`,
      );
      return 1;
    }
    // CliError, BreakerNotFoundError, AmbiguousBreakerError, a Redis error: the message says it.
    io.stderr.write(`breakwater: ${describe(error)}\n`);
    return 1;
  }
}

async function run(command: Command, io: CliIo): Promise<number> {
  switch (command.kind) {
    case "help":
      io.stdout.write(usage(command.topic));
      return 0;
    case "status":
      return withAdmin(command, io, async (admin) => {
        const breakers = await admin.list();
        const serverTime = breakers[0]?.serverTime ?? systemClock.now();
        if (command.json) io.stdout.write(toJson({ namespace: command.namespace, serverTime, breakers }));
        else io.stdout.write(statusText(breakers, command, serverTime));
        return 0;
      });
    case "isolate":
    case "reset":
      return withAdmin(
        command,
        io,
        async (admin) => {
          const options = { create: command.force };
          const result =
            command.kind === "isolate" ? await admin.isolate(command.service, options) : await admin.reset(command.service, options);
          io.stdout.write(command.json ? toJson(result) : actionText(result, command.namespace));
          return 0;
        },
        command.metaTtlMs,
      );
    case "open":
      return withAdmin(
        command,
        io,
        async (admin) => {
          const forMs = command.forMs ?? Math.max(0, (command.until ?? 0) - systemClock.now());
          const result = await admin.open(service(command), { forMs }, { create: command.force });
          io.stdout.write(command.json ? toJson(result) : actionText(result, command.namespace));
          return 0;
        },
        command.metaTtlMs,
      );
    case "dashboard":
      return dashboard(command, io);
  }
}

function service(command: { readonly service: string }): string {
  return command.service;
}

async function withAdmin(
  target: RedisTarget,
  io: CliIo,
  body: (admin: BreakerAdmin) => Promise<number>,
  metaTtlMs?: number,
): Promise<number> {
  const connection = await connectRedis(target.redis, { persistent: false, cluster: target.cluster, module: io.ioredisModule });
  try {
    return await body(new BreakerAdmin({ client: connection.client, namespace: target.namespace, metaTtlMs }));
  } finally {
    await connection.close();
  }
}

async function dashboard(command: Extract<Command, { kind: "dashboard" }>, io: CliIo): Promise<number> {
  const where = `${command.cluster ? "cluster " : ""}${redactUrl(command.redis)} namespace ${JSON.stringify(command.namespace)}`;
  // At most one line every 10 s, not one per reconnect attempt or refresh.
  let lastReported = -Infinity;
  const problem = (error: unknown, operation: string): void => {
    if (systemClock.now() - lastReported < 10_000) return;
    lastReported = systemClock.now();
    io.stderr.write(`breakwater dashboard: Redis ${operation} failed (${describe(error)}); showing the last state read, retrying\n`);
  };
  const connection: CliConnection = await connectRedis(command.redis, {
    persistent: true,
    cluster: command.cluster,
    module: io.ioredisModule,
    onError: (e) => problem(e, "connection"),
  });
  let fleet: FleetBreakers | undefined;
  try {
    const admin = new BreakerAdmin({ client: connection.client, namespace: command.namespace });
    fleet = admin.fleet({ refreshMs: command.refreshMs, onError: problem });
    await fleet.start();
    const running = await runDashboard({
      sources: [fleet],
      port: command.port,
      host: command.host,
      allowControl: command.allowControl,
      title: `Breakwater: ${command.namespace}`,
    }).catch((error: unknown) => {
      throw new CliError(`cannot listen on ${command.host}:${command.port}: ${describe(error)}`, { cause: error });
    });
    io.stdout.write(
      `breakwater dashboard at ${running.url} (fleet in ${where}${command.allowControl ? "; isolate and reset enabled" : "; read-only, --allow-control enables isolate and reset"})\n`,
    );
    await io.stopped;
    await running.close();
    return 0;
  } finally {
    await fleet?.close();
    await connection.close();
  }
}
