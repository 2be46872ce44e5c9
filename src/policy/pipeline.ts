import { InvalidOptionError } from "../core/errors.js";
import { type ExecuteOptions, type Operation, toContext } from "../core/policy.js";
import { FallbackPolicy } from "./fallback.js";

/**
 * Anything with the policy's `execute`: every `Policy`, and policies that may resolve with
 * a value of their own besides the operation's (a {@link FallbackPolicy}, a pipeline that
 * holds one).
 */
export interface Composable {
  /** Runs `fn` under the policy. */
  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<unknown>;
}

/** The type a policy may resolve with besides the operation's own: a fallback's value. */
export type AlternativeOf<P> = P extends FallbackPolicy<infer R> ? R : P extends Pipeline<infer R> ? R : never;

/**
 * Policies composed outermost first: `execute(fn)` runs `fn` under the last policy, that
 * under the one before, and so on. Each policy hands the next the `{ signal, attempt }`
 * it would give `fn`, so a retry's attempt number and a timeout's signal reach `fn`.
 * `R` is the type of any fallback value inside (`never` without one), so a pipeline
 * without a fallback is a plain `Policy`.
 */
export class Pipeline<R = never> {
  /** The policies, outermost first. */
  readonly policies: readonly Composable[];
  private readonly last: number;

  constructor(policies: readonly Composable[]) {
    policies.forEach((policy, i) => {
      if (typeof policy !== "object" || policy === null || typeof policy.execute !== "function") {
        throw new InvalidOptionError("pipeline()", `policies[${i}]`, policy, "a policy with execute(fn, context)");
      }
    });
    this.policies = [...policies];
    this.last = policies.length - 1;
  }

  /** Runs `fn` through every policy, outermost first. */
  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T | R> {
    if (this.last < 0) return Promise.resolve(toContext(options)).then(fn);
    return this.step(0, fn, options) as Promise<T | R>;
  }

  private step<T>(i: number, fn: Operation<T>, options: ExecuteOptions | undefined): Promise<unknown> {
    const policy = this.policies[i] as Composable;
    if (i === this.last) return policy.execute(fn, options);
    return policy.execute((context) => this.step(i + 1, fn, context), options);
  }
}

/**
 * Composes policies, outermost first: `pipeline(retryPolicy, breaker, timeout(1_000))`
 * retries around the breaker, which guards each attempt, each limited to one second.
 * With no policy, `fn` simply runs.
 */
export function pipeline<P extends readonly Composable[]>(...policies: P): Pipeline<AlternativeOf<P[number]>> {
  return new Pipeline(policies);
}
