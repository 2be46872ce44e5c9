/**
 * The three clients the adaptive bench compares, each as a `Send` (one caller request,
 * retries included) with the same retry budget: 5 retries after a 429.
 */
import { AdaptiveRetryStrategy, DefaultRateLimiter } from "@smithy/util-retry";
import { ApiClient } from "../../src/http/index.js";
import type { Store } from "../../src/store/store.js";
import { type Send, sleep } from "../../examples/lib/workload.js";

/** Retries after a 429 that every client gets. */
export const RETRIES = 5;

/** The clients by name. */
export type ClientName = "breakwater" | "aws-adaptive" | "naive";

/** Thrown when a client gives up on a request after its retries. */
class GaveUp extends Error {
  override name = "GaveUp";
}

/** A client under test: one caller request (retries included), and the pace it keeps now (requests/s). */
export interface BenchClient {
  readonly send: Send;
  pace(): number;
  close(): void;
}

/** Breakwater's `ApiClient` with no rate config: it starts slowly and finds the limit. `store` shares it across processes. */
export function breakwaterClient(baseUrl: string, store?: Store): BenchClient {
  const client = new ApiClient({ baseUrl, maxRetriesOnBackoff: RETRIES, ...(store === undefined ? {} : { store, key: "adaptive:bench" }) });
  return {
    async send(signal) {
      const response = await client.request("GET", "/item", { signal });
      await response.arrayBuffer();
    },
    pace: () => client.limiter.snapshot().ratePerSec,
    close: () => void client.limiter.close(),
  };
}

/**
 * AWS's adaptive mode exactly as the SDK's retry middleware drives `AdaptiveRetryStrategy`:
 * `acquireInitialRetryToken` (which waits on `DefaultRateLimiter.getSendToken`) before the
 * first attempt, `refreshRetryTokenForRetry` after a throttling error (which calls
 * `updateClientSendingRate` with it, waits the standard back-off or the Retry-After hint,
 * then `getSendToken` again), and `recordSuccess` (`updateClientSendingRate({})`) after a success.
 */
export function awsAdaptiveClient(baseUrl: string): BenchClient {
  const rateLimiter = new DefaultRateLimiter();
  const strategy = new AdaptiveRetryStrategy(RETRIES + 1, { rateLimiter });
  // Its pace: the token bucket's fill rate once throttling switched it on (unbounded before).
  const state = rateLimiter as unknown as { enabled: boolean; fillRate: number };
  const send: Send = async (signal) => {
    // The SDK's middleware hands the initial token back as the standard token it is.
    let token = (await race(strategy.acquireInitialRetryToken(""), signal)) as Token;
    for (;;) {
      const response = await fetch(`${baseUrl}/item`, { signal });
      await response.arrayBuffer();
      if (response.status !== 429) {
        strategy.recordSuccess(token);
        return;
      }
      const retryAfter = response.headers.get("retry-after");
      const error = Object.assign(new Error("Too Many Requests"), { name: "ThrottlingException", $metadata: { httpStatusCode: 429 } });
      const info: Parameters<AdaptiveRetryStrategy["refreshRetryTokenForRetry"]>[1] = {
        errorType: "THROTTLING" as const,
        error: error as NonNullable<Parameters<AdaptiveRetryStrategy["refreshRetryTokenForRetry"]>[1]["error"]>,
        ...(retryAfter === null ? {} : { retryAfterHint: new Date(Date.now() + Number(retryAfter) * 1000) }),
      };
      try {
        token = (await race(strategy.refreshRetryTokenForRetry(token, info), signal)) as Token;
      } catch (refused) {
        if (signal.aborted) throw refused;
        throw new GaveUp("AWS strategy refused a retry token");
      }
    }
  };
  return { send, pace: () => (state.enabled ? state.fillRate : Number.NaN), close: () => undefined };
}

type Token = Parameters<AdaptiveRetryStrategy["recordSuccess"]>[0];

/** Retries a 429 after its `Retry-After` (or at once when there is none), up to the budget. */
export function naiveClient(baseUrl: string): BenchClient {
  const send: Send = async (signal) => {
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(`${baseUrl}/item`, { signal });
      await response.arrayBuffer();
      if (response.status !== 429) return;
      if (attempt >= RETRIES) throw new GaveUp("still 429");
      const retryAfter = Number(response.headers.get("retry-after") ?? 0);
      if (retryAfter > 0) await sleep(retryAfter * 1000, signal);
    }
  };
  return { send, pace: () => Number.NaN, close: () => undefined };
}

/** Makes the client named `name`. */
export function makeClient(name: ClientName, baseUrl: string): BenchClient {
  switch (name) {
    case "breakwater":
      return breakwaterClient(baseUrl);
    case "aws-adaptive":
      return awsAdaptiveClient(baseUrl);
    case "naive":
      return naiveClient(baseUrl);
  }
}

/** Stops waiting for `promise` when `signal` aborts (the SDK's waits cannot be aborted). */
function race<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
