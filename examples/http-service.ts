/**
 * A web service on node:http: a /search endpoint protected by a named
 * service breaker answers 503 with Retry-After when the dependency's circuit is open.
 *
 *   npx tsx examples/http-service.ts
 *
 * It starts the service on 127.0.0.1, makes its dependency fail, calls itself a few
 * times to show the circuit opening, waiting and closing, then exits.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CircuitBreakers, CircuitOpenError, consecutiveFailures } from "../src/index.js";

class ConnectionError extends Error {}
class BadRequest extends Error {}

const breakers = new CircuitBreakers({
  namespace: "example:circuit",
  defaults: { trip: consecutiveFailures(5), recovery: 30_000 },
  services: {
    // Only connection problems count; a bad query is the caller's fault, not the index's.
    elasticsearch: { trip: consecutiveFailures(3), recovery: 500, failOn: [ConnectionError], ignore: [BadRequest] },
  },
  onStateChange: (e) => console.log(`  [breaker] ${e.name}: ${e.from} -> ${e.to} (${e.reason})`),
});

let searchIsDown = true;
async function searchIndex(q: string): Promise<string[]> {
  if (q === "") throw new BadRequest("empty query");
  if (searchIsDown) throw new ConnectionError("ECONNREFUSED 127.0.0.1:9200");
  return [`${q} #1`, `${q} #2`];
}

const server = createServer((req, res) => {
  const q = new URL(req.url ?? "/", "http://localhost").searchParams.get("q") ?? "";
  breakers
    .execute("elasticsearch", () => searchIndex(q))
    .then((hits) => {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ hits }));
    })
    .catch((error: unknown) => {
      if (error instanceof CircuitOpenError) {
        const seconds = Math.max(1, Math.ceil(error.retryAfterMs / 1000));
        res.writeHead(503, { "retry-after": String(seconds), "content-type": "application/json" });
        res.end(JSON.stringify({ error: "search temporarily unavailable", lastFailure: error.lastFailure?.reason }));
      } else if (error instanceof BadRequest) {
        res.writeHead(400).end(error.message);
      } else {
        res.writeHead(502).end("search failed");
      }
    });
});

await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function call(q: string): Promise<void> {
  const res = await fetch(`${base}/search?q=${encodeURIComponent(q)}`);
  const retry = res.headers.get("retry-after");
  console.log(`GET /search?q=${q} -> ${res.status}${retry ? ` (Retry-After: ${retry})` : ""} ${await res.text()}`);
}

console.log("A bad query is the caller's fault and does not count against the index:");
for (let i = 0; i < 4; i++) await call("");
console.log("The index is down; after 3 connection failures the circuit opens:");
for (let i = 0; i < 4; i++) await call("cats");
console.log("The index comes back; after the recovery interval a probe closes the circuit:");
searchIsDown = false;
await new Promise((r) => setTimeout(r, 600));
await call("cats");
await call("dogs");
server.close();
