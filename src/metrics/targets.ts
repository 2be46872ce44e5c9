/**
 * What metrics, logs and the dashboard can watch, recognised by shape (duck typing), so
 * that a policy from another copy of the package (ESM next to CJS) is recognised too and
 * no policy needs to know about its observers.
 */
import type { CircuitBreaker } from "../breaker/circuit-breaker.js";
import type { CircuitBreakers } from "../breaker/circuit-breakers.js";
import { InvalidOptionError } from "../core/errors.js";
import type { RetryPolicy } from "../retry/retry-policy.js";

/** What an observer needs of a circuit breaker. */
export type BreakerTarget = Pick<CircuitBreaker, "name" | "state" | "status" | "on" | "isolate" | "reset">;

/** What an observer needs of a `CircuitBreakers` registry. */
export type BreakersTarget = Pick<CircuitBreakers, "get" | "names" | "onCreate">;

/** What an observer needs of a retry policy (its `name`, when it has one, labels it). */
export type RetryTarget = Pick<RetryPolicy, "on" | "maxAttempts"> & { readonly name?: string };

/** Anything Breakwater's metrics, `logEvents` and the dashboard can watch. */
export type ObservableTarget = BreakerTarget | BreakersTarget | RetryTarget;

/** A target with its kind. */
export type Classified =
  | { readonly kind: "breaker"; readonly target: BreakerTarget }
  | { readonly kind: "breakers"; readonly target: BreakersTarget }
  | { readonly kind: "retry"; readonly target: RetryTarget };

/** What `classify` accepts, listed in its error message. */
export const OBSERVABLE_KINDS = "a CircuitBreaker, a CircuitBreakers registry or a RetryPolicy";

function has(target: object, method: string): boolean {
  return typeof (target as Record<string, unknown>)[method] === "function";
}

/** Tells what `target` is, or throws `InvalidOptionError` naming `where`. */
export function classify(where: string, target: unknown): Classified {
  if (typeof target === "object" && target !== null) {
    if (has(target, "onCreate") && has(target, "names") && has(target, "get")) return { kind: "breakers", target: target as BreakersTarget };
    if (has(target, "on") && has(target, "status") && has(target, "isolate") && typeof (target as { name?: unknown }).name === "string") {
      return { kind: "breaker", target: target as BreakerTarget };
    }
    if (has(target, "on") && has(target, "execute") && typeof (target as { maxAttempts?: unknown }).maxAttempts === "number") {
      return { kind: "retry", target: target as RetryTarget };
    }
  }
  throw new InvalidOptionError(where, "target", target, OBSERVABLE_KINDS);
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
