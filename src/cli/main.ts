#!/usr/bin/env node
/**
 * The `breakwater` command (the package's `bin`): see and control a fleet's circuit
 * breakers in Redis. `breakwater --help` lists the commands.
 */
import { main } from "./commands.js";

const stopped = new Promise<void>((resolve) => {
  process.once("SIGINT", () => resolve());
  process.once("SIGTERM", () => resolve());
});

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, stopped }).then(
  (code) => exit(code),
  (error: unknown) => {
    process.stderr.write(`breakwater: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    exit(1);
  },
);

/**
 * Exits once stdout and stderr have flushed: a client that failed to connect can hold the
 * event loop for seconds after it is closed, and the command is done.
 */
function exit(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write("", done);
  process.stderr.write("", done);
}
