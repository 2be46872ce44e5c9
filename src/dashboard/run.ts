/**
 * `runDashboard`: the dashboard on its own HTTP server, for a process that has none (and
 * for the `breakwater dashboard` command).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { checkKeys, integer, nonEmptyString, orDefault } from "../core/validate.js";
import { DASHBOARD_OPTIONS, type DashboardOptions, dashboardHandler } from "./handler.js";

/** Options of {@link runDashboard}: the handler's, and where to listen. */
export interface RunDashboardOptions extends DashboardOptions {
  /** The TCP port; 0 picks a free one. Default 9400. */
  readonly port?: number;
  /** The address to listen on. Default `"127.0.0.1"` (this machine only). */
  readonly host?: string;
}

/** A running dashboard server. */
export interface RunningDashboard {
  /** The page's address, e.g. `http://127.0.0.1:9400/`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** Ends the event streams and closes the server. */
  close(): Promise<void>;
}

const WHERE = "runDashboard";

/**
 * Serves the dashboard on `host:port` until `close()`.
 *
 * @example
 * ```ts
 * const dashboard = await runDashboard({ sources: [breakers], port: 9400 });
 * console.log(`dashboard at ${dashboard.url}`);
 * ```
 */
export async function runDashboard(options: RunDashboardOptions): Promise<RunningDashboard> {
  checkKeys(WHERE, options, [...DASHBOARD_OPTIONS, "port", "host"]);
  const { port: wanted, host: wantedHost, ...handlerOptions } = options;
  const port = integer(WHERE, "port", orDefault(wanted, 9400), 0);
  const host = nonEmptyString(WHERE, "host", orDefault(wantedHost, "127.0.0.1"));
  const handler = dashboardHandler(handlerOptions);
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}/`,
    port: bound,
    close: () =>
      new Promise<void>((resolve, reject) => {
        handler.close();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
