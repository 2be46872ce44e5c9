/**
 * A small server-sent-events reader for tests: connects over HTTP on 127.0.0.1 and
 * resolves `next(predicate)` with the first snapshot after the previous match that matches
 * (or rejects after a bounded wait).
 */
import { get, type IncomingMessage } from "node:http";
import type { DashboardSnapshot } from "../../src/dashboard/index.js";

export interface SnapshotStream {
  readonly status: number;
  next(predicate: (s: DashboardSnapshot) => boolean, timeoutMs?: number): Promise<DashboardSnapshot>;
  readonly received: DashboardSnapshot[];
  close(): void;
  readonly ended: Promise<void>;
}

export function openStream(url: string): Promise<SnapshotStream> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res: IncomingMessage) => {
      const received: DashboardSnapshot[] = [];
      const waiters = new Set<() => void>();
      let buffer = "";
      let cursor = 0; // each next() looks only at frames after the previous match
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = frame.split("\n");
          if (lines.includes("event: snapshot")) {
            const data = lines
              .filter((l) => l.startsWith("data: "))
              .map((l) => l.slice(6))
              .join("\n");
            received.push(JSON.parse(data) as DashboardSnapshot);
            for (const w of [...waiters]) w();
          }
        }
      });
      const ended = new Promise<void>((done) => res.on("close", () => done()));
      resolve({
        status: res.statusCode ?? 0,
        received,
        ended,
        close: () => req.destroy(),
        next(predicate, timeoutMs = 3_000) {
          return new Promise((ok, fail) => {
            const check = (): boolean => {
              const index = received.findIndex((s, i) => i >= cursor && predicate(s));
              if (index < 0) return false;
              const hit = received[index] as DashboardSnapshot;
              cursor = index + 1;
              clearTimeout(timer);
              waiters.delete(onFrame);
              ok(hit);
              return true;
            };
            const onFrame = (): void => {
              check();
            };
            const timer = setTimeout(() => {
              waiters.delete(onFrame);
              fail(new Error(`no matching snapshot within ${timeoutMs} ms; got ${received.length}`));
            }, timeoutMs);
            if (!check()) waiters.add(onFrame);
          });
        },
      });
    });
    req.on("error", reject);
  });
}
