/**
 * What a path on RedisStore costs the Redis server (`BENCH_AB=server`): the scripts' own time
 * per call (INFO commandstats after CONFIG RESETSTAT; a script's time includes its inner
 * TIME, GET and SET), and every command per call by name, which shows an extra round trip.
 */
import { Redis } from "ioredis";
import { runBatch } from "./measure.js";

/** One batch's figures. */
export interface ServerCost {
  /** Nanoseconds per call spent in EVALSHA / EVAL. */
  readonly scriptNs: number;
  /** Commands per call, by name (inner calls of scripts counted too). */
  readonly commands: ReadonlyMap<string, number>;
}

const SCRIPTS = new Set(["evalsha", "eval"]);
const OWN = new Set(["config|resetstat", "info", "ping"]);

/** Runs `n` calls of `fn` and reads what the server spent on them. */
export async function serverCost(admin: Redis, fn: () => unknown, n: number): Promise<ServerCost> {
  await admin.call("CONFIG", "RESETSTAT");
  await runBatch(fn, n);
  // A path may send its last command without waiting for it (the adaptive limiter's feedback).
  await new Promise((resolve) => setTimeout(resolve, 50));
  const info = await admin.info("commandstats");
  let usec = 0;
  const commands = new Map<string, number>();
  for (const [, name = "", calls, spent] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    if (OWN.has(name)) continue;
    commands.set(name, Number(calls) / n);
    if (SCRIPTS.has(name)) usec += Number(spent);
  }
  return { scriptNs: (usec * 1_000) / n, commands };
}

/** "evalsha 2, get 2, ..." for a note. */
export function commandList(commands: ReadonlyMap<string, number>): string {
  return [...commands]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, perCall]) => `${name} ${Number(perCall.toFixed(2))}`)
    .join(", ");
}
