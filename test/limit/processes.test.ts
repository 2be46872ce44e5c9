import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

/** Runs a fixture script in its own node process (with --expose-gc) and returns its last line, parsed. */
async function runFixture<T>(name: string): Promise<T> {
  const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ["--expose-gc", "--import", "tsx", script], { maxBuffer: 1 << 20 }, (error, out, err) =>
      error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
    );
  });
  return JSON.parse(stdout.trim().split("\n").pop() as string) as T;
}

it("a million distinct keys: memory is held while they are busy and returns near its start once they are idle", async () => {
  // Its own process, for --expose-gc and a heap no other test shares.
  const r = await runFixture<{
    keysHeld: number;
    baseBytes: number;
    heldBytes: number;
    afterSweepBytes: number;
    dropped: number;
    keysLeft: number;
    boundedStoreSize: number;
  }>("million-keys.ts");
  expect(r.keysHeld).toBe(1_000_000);
  expect(r.heldBytes - r.baseBytes).toBeGreaterThan(50 * 1_000_000);
  // 173 B a key on Node 20: its prefixed key held as one flat string (221 B when it was not).
  expect(r.heldBytes - r.baseBytes).toBeLessThan(200 * 1_000_000);
  expect(r.dropped).toBe(1_000_000);
  expect(r.keysLeft).toBe(0);
  expect(r.afterSweepBytes - r.baseBytes).toBeLessThan(8 * 1024 * 1024);
  // With the maxKeys cap, the same million keys never hold more than maxKeys.
  expect(r.boundedStoreSize).toBe(100_000);
}, 120_000);

it("a script whose only pending work is an acquire's wait runs to its end (the wait's timer is ref'ed)", async () => {
  const r = await runFixture<{ waitedMs: number }>("await-acquire.ts");
  expect(r.waitedMs).toBeGreaterThanOrEqual(40);
});
