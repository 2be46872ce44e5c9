/**
 * One build's hot paths in a process of their own (see ab-isolate.ts): it answers
 * each request to time a path with the nanoseconds per call of one batch.
 */
import { memoryPaths, type PathSet, redisPaths } from "./ab-paths.js";
import { loadSources } from "./before.js";
import { runBatch } from "./measure.js";

/** What the main thread sends: time `n` calls of path `index` (after a full GC if `gc`). */
export interface TimeRequest {
  readonly index: number;
  readonly n: number;
  readonly gc: boolean;
}

/** What a worker is started with. */
export interface IsolateData {
  readonly dir: string;
  readonly group: "memory" | "redis";
  readonly server: { host: string; port: number };
  readonly tag: string;
}

const data = JSON.parse(process.env.BENCH_AB_ISOLATE ?? "null") as IsolateData;
const send = process.send?.bind(process);
if (send === undefined || data === null) throw new Error("ab-isolate-worker runs as a child process started by ab-isolate.ts");
const sources = await loadSources(data.dir);
const set: PathSet = data.group === "memory" ? memoryPaths(sources) : await redisPaths(sources, data.server, data.tag);
const gc = (globalThis as { gc?: () => void }).gc;

process.on("message", (message: TimeRequest | "close") => {
  void (async () => {
    if (message === "close") {
      await set.close();
      send("closed");
      process.disconnect();
      return;
    }
    const path = set.paths[message.index];
    if (path === undefined) throw new Error(`no path ${message.index}`);
    if (message.gc && gc !== undefined) {
      gc();
      await runBatch(path.fn, Math.min(1_000, message.n)); // re-warm what the collection flushed
    }
    const start = process.hrtime.bigint();
    await runBatch(path.fn, message.n);
    send(Number(process.hrtime.bigint() - start) / message.n);
  })();
});
send(set.paths.map((p) => ({ name: p.name, batch: p.batch })));
