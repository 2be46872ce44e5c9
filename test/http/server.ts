import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach } from "vitest";

/** One request as the server saw it. */
export interface SeenRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

/** Answers one request; may leave `res` open (a hung upstream) and end it later. */
export type Handler = (req: SeenRequest, res: ServerResponse, raw: IncomingMessage) => void;

/** A real `node:http` upstream on 127.0.0.1 whose behaviour each test sets. */
export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Every request received since the last `reset()`. */
  readonly requests: SeenRequest[];
  /** Responses left open by the handler (hung requests), to end later. */
  readonly open: ServerResponse[];
  /** Sets the handler; the default answers 200 "ok". */
  handle(handler: Handler): void;
  /** Forgets requests, ends open responses, restores the default handler. */
  reset(): void;
  close(): Promise<void>;
}

const ok: Handler = (_req, res) => {
  res.end("ok");
};

/** Starts a server on 127.0.0.1, port 0. */
export async function startServer(): Promise<TestServer> {
  let handler: Handler = ok;
  const requests: SeenRequest[] = [];
  const open: ServerResponse[] = [];
  const server: Server = createServer((raw, res) => {
    const chunks: Buffer[] = [];
    raw.on("data", (chunk: Buffer) => chunks.push(chunk));
    raw.on("end", () => {
      const seen: SeenRequest = {
        method: raw.method ?? "",
        url: raw.url ?? "",
        headers: raw.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(seen);
      handler(seen, res, raw);
      if (!res.writableEnded) open.push(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  // Warm fetch up (its first call is slow), so short timeouts in tests measure the upstream only.
  await (await fetch(`http://127.0.0.1:${port}/`)).text();
  requests.length = 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    open,
    handle(next) {
      handler = next;
    },
    reset() {
      requests.length = 0;
      for (const res of open.splice(0)) if (!res.writableEnded) res.destroy();
      handler = ok;
    },
    close() {
      for (const res of open.splice(0)) if (!res.writableEnded) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/** Answers with `status`, the given headers and a short body. */
export function reply(status: number, headers: Record<string, string> = {}, body = ""): Handler {
  return (_req, res) => {
    res.writeHead(status, headers);
    res.end(body);
  };
}

/** Answers the n-th request (from 0) with the n-th handler, and later ones with the last. */
export function sequence(...handlers: Handler[]): Handler {
  let n = 0;
  return (req, res, raw) => {
    const h = handlers[Math.min(n++, handlers.length - 1)]!;
    h(req, res, raw);
  };
}

/** Drops the connection without answering: the client sees a network error. */
export const hangUp: Handler = (_req, res) => {
  res.socket?.destroy();
};

/** Leaves the request unanswered (the test ends it through `server.open`). */
export const hang: Handler = () => undefined;

/** Answers after `ms` of real time. */
export function delayed(ms: number, then: Handler = ok): Handler {
  return (req, res, raw) => {
    const timer = setTimeout(() => {
      if (!res.destroyed) then(req, res, raw);
    }, ms);
    res.on("close", () => clearTimeout(timer));
  };
}

/** Polls (every few ms, at most `maxMs`) until `check` holds. */
export async function until(check: () => boolean, maxMs = 2000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * One server for the calling test file: started before its tests, reset before each one,
 * closed after them. Its members read the started server, so use them inside tests.
 */
export function serverForFile(): TestServer {
  let running: TestServer | undefined;
  beforeAll(async () => {
    running = await startServer();
  });
  afterAll(async () => {
    await running?.close();
  });
  beforeEach(() => running?.reset());
  const started = (): TestServer => {
    if (running === undefined) throw new Error("the test server has not started (use it inside tests or hooks)");
    return running;
  };
  return {
    get url() {
      return started().url;
    },
    get requests() {
      return started().requests;
    },
    get open() {
      return started().open;
    },
    handle: (handler) => started().handle(handler),
    reset: () => started().reset(),
    close: () => started().close(),
  };
}

/** Settles a promise into its error (or fails when it resolves). */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}
