/**
 * Each build in a process of its own, for `BENCH_AB=processes`. Two builds loaded into one
 * process share Node's per-process state: above all its timer lists, one per duration, which
 * are made when a timer joins an empty one and dropped when the last leaves. A build that
 * holds a long-lived timer of some length makes the other's set-and-clear per call of that
 * length cheap: 2fbabd2's pipeline(retry, breaker, timeout) took 749 ns per call beside a
 * build that also set and cleared a timer per call, and 446 ns beside one that keeps one
 * timer per timeout policy. Alone in its process each build runs as it would in a user's.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { IsolateData, TimeRequest } from "./ab-isolate-worker.js";

/** A build's paths, timed in a process of their own. */
export interface Isolate {
  readonly paths: readonly { name: string; batch?: number }[];
  /** ns per call of a batch of `n` calls of path `index`. */
  time(index: number, n: number, gc: boolean): Promise<number>;
  close(): Promise<void>;
}

/** Starts a process with the paths of the build in `dir` (`group`: in memory, or on the Redis at `server`). */
export async function startIsolate(dir: string, group: IsolateData["group"], server: IsolateData["server"], tag: string): Promise<Isolate> {
  const data: IsolateData = { dir, group, server, tag };
  const worker = fork(fileURLToPath(new URL("./ab-isolate-worker.ts", import.meta.url)), [], {
    execArgv: ["--expose-gc", "--import", "tsx"],
    env: { ...process.env, BENCH_AB_ISOLATE: JSON.stringify(data) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const next = <T>(): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const fail = (error: unknown): void => reject(error instanceof Error ? error : new Error(String(error)));
      worker.once("error", fail);
      worker.once("message", (value: T) => {
        worker.off("error", fail);
        resolve(value);
      });
    });
  const paths = await next<{ name: string; batch?: number }[]>();
  return {
    paths,
    time(index, n, gc) {
      const answer = next<number>();
      worker.send({ index, n, gc } satisfies TimeRequest);
      return answer;
    },
    async close() {
      const closed = next<string>();
      worker.send("close");
      await closed;
    },
  };
}
