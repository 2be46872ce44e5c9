/**
 * Per-user rate limiting, as a server does it: a `node:http` server whose
 * requests go through `rateLimitMiddleware`, keyed by the caller's `x-api-key` (or
 * `x-user-id`) header, so each user has a limit of their own. A refused request is
 * answered `429 Too Many Requests` with `Retry-After` and the IETF `RateLimit-*` headers.
 *
 *   npx tsx examples/server-rate-limit.ts            # burst demo, then exit
 *   npx tsx examples/server-rate-limit.ts --serve    # keep serving (PORT=8080 to choose the port)
 *
 * Run directly, it listens on 127.0.0.1 (port from PORT, else a free one, printed), sends
 * a short burst of requests to itself as two users, prints each status with its rate-limit
 * headers, and exits.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { rateLimitMiddleware, SlidingWindow } from "../src/index.js";

/** 3 requests per user in any 10 s: the exact sliding window has no burst at window edges. */
const limiter = new SlidingWindow({ name: "api", limit: 3, windowMs: 10_000 });

/** The caller's identity: an API key, else a user id, else (anonymous) the client address. */
function userOf(req: IncomingMessage): string {
  const id = req.headers["x-api-key"] ?? req.headers["x-user-id"];
  const first = Array.isArray(id) ? id[0] : id;
  return first !== undefined && first !== "" ? first : `ip:${req.socket.remoteAddress ?? "unknown"}`;
}

const limit = rateLimitMiddleware(limiter, { key: userOf });

/** Builds the server: every request is limited first, then answered. */
export function createRateLimitedServer(): Server {
  return createServer((req, res) => {
    limit(req, res, (error) => {
      if (error !== undefined) {
        res.statusCode = 500;
        res.end("internal error\n");
        return;
      }
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ hello: userOf(req), path: req.url }));
    });
  });
}

const SHOWN = ["retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy"];

/** Sends `plan` (user per request, in order) to `baseUrl` and prints what came back. */
async function burst(baseUrl: string, plan: readonly string[]): Promise<Map<string, { ok: number; limited: number }>> {
  const tally = new Map<string, { ok: number; limited: number }>();
  const seen = new Map<string, number>();
  for (const user of plan) {
    const n = (seen.get(user) ?? 0) + 1;
    seen.set(user, n);
    const response = await fetch(`${baseUrl}/orders`, { headers: { "x-user-id": user } });
    await response.arrayBuffer(); // drain the body so the connection is reused
    const headers = SHOWN.filter((name) => response.headers.has(name))
      .map((name) => `${name}: ${response.headers.get(name)}`)
      .join(", ");
    console.log(`  ${user} #${n} -> ${response.status}  ${headers}`);
    const counts = tally.get(user) ?? { ok: 0, limited: 0 };
    if (response.status === 429) counts.limited++;
    else counts.ok++;
    tally.set(user, counts);
  }
  return tally;
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 0);
  const server = createRateLimitedServer();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const { port: actual } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${actual}`;
  console.log(`listening on ${baseUrl} (limit ${limiter.policy} per user: 3 requests per 10 s)`);
  if (process.argv.includes("--serve")) {
    console.log(`try: curl -i -H "x-user-id: alice" ${baseUrl}/`);
    return;
  }

  console.log("a burst from alice (5 requests) interleaved with bob (2):");
  const tally = await burst(baseUrl, ["alice", "bob", "alice", "bob", "alice", "alice", "alice"]);
  for (const [user, { ok, limited }] of tally) console.log(`${user}: ${ok} admitted, ${limited} limited (429)`);

  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  await limiter.close();
}

// Only when run as a script, so that tests may import createRateLimitedServer.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
