/**
 * What metrics, logs and the dashboard can watch, recognised by shape (duck typing), so
 * that a policy from another copy of the package (ESM next to CJS) is recognised too and
 * no policy needs to know about its observers.
 */
import type { CircuitBreaker } from "../breaker/circuit-breaker.js";
import { InvalidOptionError } from "../core/errors.js";
import type { AttachOptions, Telemetry } from "../core/telemetry.js";
import type { HttpClientEvents } from "../http/events.js";
import type { AdaptiveRateLimiter } from "../limit/adaptive.js";
import type { BaseRateLimiter } from "../limit/base.js";
import type { RetryPolicy } from "../retry/retry-policy.js";

/** What an observer needs of a circuit breaker. */
export type BreakerTarget = Pick<CircuitBreaker, "name" | "state" | "status" | "on" | "isolate" | "reset" | "attach">;

/**
 * What an observer needs of a `CircuitBreakers` registry: structural, so that a fleet view
 * whose breakers are read from Redis (`FleetBreakers`) is one too.
 */
export interface BreakersTarget {
  /** The breaker of `service`, created on first use. */
  get(service: string): BreakerTarget;
  /** The services that have a breaker now. */
  names(): readonly string[];
  /** Calls `listener` for each breaker created from now on; returns a function that stops it. */
  onCreate(listener: (service: string, breaker: BreakerTarget) => void): () => void;
  /** Reports every breaker's events (those created later included) to `telemetry`; returns the detach function. */
  attach(telemetry: Telemetry): () => void;
}

/** What an observer needs of a retry policy (its `name`, when it has one, labels it). */
export type RetryTarget = Pick<RetryPolicy, "on" | "maxAttempts" | "attach"> & { readonly name?: string };

/** What an observer needs of a keyed rate limiter (`TokenBucket`, `SlidingWindow`, `FixedWindow`). */
export type LimiterTarget = Pick<
  BaseRateLimiter<unknown>,
  "name" | "limit" | "policy" | "params" | "on" | "tryAcquire" | "acquire" | "waiting" | "peek" | "store" | "attach"
>;

/** What an observer needs of an `AdaptiveRateLimiter`. */
export type AdaptiveTarget = Pick<AdaptiveRateLimiter, "name" | "on" | "snapshot" | "onBackoff" | "store" | "attach">;

/**
 * What an observer needs of an HTTP client (`ApiClient` or `EnterpriseClient`): its
 * `request` events, its adaptive limiter and, for an `EnterpriseClient`, its breaker and
 * integration.
 */
export interface HttpClientTarget {
  /** Subscribes to the client's events; returns a function that unsubscribes. */
  on<K extends keyof HttpClientEvents>(event: K, listener: (payload: HttpClientEvents[K]) => void): () => void;
  /** Sends a request (what tells an HTTP client from the other targets). */
  request(method: string, path: string): Promise<Response>;
  /** Reports the client's events (its limiter's and breaker's included) to `telemetry`; returns the detach function. */
  attach(telemetry: Telemetry, options?: AttachOptions): () => void;
  readonly limiter?: AdaptiveTarget;
  readonly client?: { readonly limiter: AdaptiveTarget };
  readonly breaker?: BreakerTarget;
  readonly integration?: string;
}

/** What an observer needs of any other policy (a timeout, a bulkhead, a fallback): its events. */
export interface PolicyTarget {
  /** Its name, the `name` label of its metrics. */
  readonly name: string;
  /** Reports the policy's events to `telemetry`; returns the detach function. */
  attach(telemetry: Telemetry, options?: AttachOptions): () => void;
}

/** Anything Breakwater's metrics, `logEvents` and the dashboard can watch. */
export type ObservableTarget =
  BreakerTarget | BreakersTarget | RetryTarget | LimiterTarget | AdaptiveTarget | HttpClientTarget | PolicyTarget;

/** A target with its kind. */
export type Classified =
  | { readonly kind: "breaker"; readonly target: BreakerTarget }
  | { readonly kind: "breakers"; readonly target: BreakersTarget }
  | { readonly kind: "retry"; readonly target: RetryTarget }
  | { readonly kind: "limiter"; readonly target: LimiterTarget }
  | { readonly kind: "adaptive"; readonly target: AdaptiveTarget }
  | { readonly kind: "http"; readonly target: HttpClientTarget }
  | { readonly kind: "policy"; readonly target: PolicyTarget };

/** What `classify` accepts, listed in its error message. */
export const OBSERVABLE_KINDS =
  "a CircuitBreaker, a CircuitBreakers registry, a RetryPolicy, a rate limiter (TokenBucket, SlidingWindow, FixedWindow), an AdaptiveRateLimiter, an HTTP client (ApiClient, EnterpriseClient), a timeout, a bulkhead or a fallback";

function has(target: object, method: string): boolean {
  return typeof (target as Record<string, unknown>)[method] === "function";
}

/** Tells what `target` is, or throws `InvalidOptionError` naming `where`. */
export function classify(where: string, target: unknown): Classified {
  // Every target reports its events through the telemetry port: one without attach() is none.
  if (typeof target === "object" && target !== null && has(target, "attach")) {
    if (has(target, "onCreate") && has(target, "names") && has(target, "get"))
      return { kind: "breakers", target: target as BreakersTarget };
    if (has(target, "on") && has(target, "status") && has(target, "isolate") && typeof (target as { name?: unknown }).name === "string") {
      return { kind: "breaker", target: target as BreakerTarget };
    }
    if (has(target, "on") && has(target, "execute") && typeof (target as { maxAttempts?: unknown }).maxAttempts === "number") {
      return { kind: "retry", target: target as RetryTarget };
    }
    if (has(target, "on") && has(target, "snapshot") && has(target, "onBackoff"))
      return { kind: "adaptive", target: target as AdaptiveTarget };
    if (
      has(target, "on") &&
      has(target, "tryAcquire") &&
      has(target, "acquire") &&
      typeof (target as { name?: unknown }).name === "string"
    ) {
      return { kind: "limiter", target: target as LimiterTarget };
    }
    if (has(target, "on") && has(target, "request") && limiterOf(target as HttpClientTarget) !== undefined)
      return { kind: "http", target: target as HttpClientTarget };
    if (has(target, "attach") && has(target, "execute") && typeof (target as { name?: unknown }).name === "string")
      return { kind: "policy", target: target as PolicyTarget };
  }
  throw new InvalidOptionError(where, "target", target, OBSERVABLE_KINDS);
}

/** The adaptive limiter of an HTTP client: an `ApiClient`'s own, or an `EnterpriseClient`'s client's. */
export function limiterOf(client: HttpClientTarget): AdaptiveTarget | undefined {
  const limiter = client.limiter ?? client.client?.limiter;
  return typeof limiter === "object" && limiter !== null && typeof limiter.snapshot === "function" ? limiter : undefined;
}

/** The breaker of an HTTP client (an `EnterpriseClient`'s), if it has one. */
export function breakerOf(client: HttpClientTarget): BreakerTarget | undefined {
  const breaker = client.breaker;
  return typeof breaker === "object" && breaker !== null && typeof breaker.status === "function" ? breaker : undefined;
}

/** The `integration` label of an HTTP client: the option, else its integration, else its limiter's name. */
export function integrationOf(client: HttpClientTarget, name: string | undefined): string {
  return name ?? client.integration ?? (limiterOf(client) as AdaptiveTarget).name;
}

/**
 * Calls `watch` for every breaker of `registry`, now and as services are created; returns
 * the function that undoes every `watch` and stops watching for new services.
 */
export function eachBreaker(registry: BreakersTarget, watch: (breaker: BreakerTarget) => () => void): () => void {
  const undo: (() => void)[] = [];
  undo.push(registry.onCreate((_service, breaker) => undo.push(watch(breaker))));
  for (const service of registry.names()) undo.push(watch(registry.get(service)));
  return () => {
    for (const off of undo.splice(0)) off();
  };
}

/** The label of a target: the observer's `name` option, else the target's own `name`, else `fallback`. */
export function labelOf(target: object, name: string | undefined, fallback: string): string {
  if (name !== undefined) return name;
  const own = (target as { name?: unknown }).name;
  return typeof own === "string" && own !== "" ? own : fallback;
}

/** One function that calls every function in `offs` once, however often it is called. */
export function all(offs: readonly (() => void)[]): () => void {
  let pending: readonly (() => void)[] | undefined = offs;
  return () => {
    const list = pending;
    pending = undefined;
    if (list !== undefined) for (const off of list) off();
  };
}
