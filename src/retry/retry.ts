import type { Operation } from "../core/policy.js";
import type { RetryOptions } from "./options.js";
import { RetryPolicy } from "./retry-policy.js";

let defaultPolicy: RetryPolicy | undefined;

/**
 * Runs `fn` with retries: `retry(fn, options)` is `new RetryPolicy(options).execute(fn)`,
 * and `retry(fn)` reuses one default policy (3 attempts, `exponential()` backoff). Bad
 * options reject the returned promise with `InvalidOptionError` before `fn` runs.
 */
export function retry<T>(fn: Operation<T>, options?: RetryOptions<T>): Promise<T> {
  if (options === undefined) return (defaultPolicy ??= new RetryPolicy()).execute(fn);
  let policy: RetryPolicy;
  try {
    policy = new RetryPolicy(options);
  } catch (error) {
    return Promise.reject(error);
  }
  return policy.execute(fn);
}
