import { InvalidOptionError } from "./errors.js";
import { checkKeys } from "./validate.js";

/** A class of errors, matched with `instanceof`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- constructors of any shape
export type ErrorClass = abstract new (...args: any[]) => unknown;

/**
 * Which errors an option selects: a list of error classes (an error matches when
 * it is an instance of one) or a predicate.
 */
export type ErrorFilter = readonly ErrorClass[] | ((error: unknown) => boolean);

/**
 * A return-value policy: which returned values count as failures. Every field is
 * optional; a value matches when any given test matches. `path` (dotted, e.g.
 * `"status"` or `"data.code"`) is applied first, and when it ends in a method, that
 * method is called with `pathArgs`.
 */
export interface ReturnValuePolicy {
  /** The value (after `path`) is `null` or `undefined`. */
  readonly isNull?: boolean;
  /** The value equals this (`Object.is`). */
  readonly equals?: unknown;
  /** The value is one of these. */
  readonly in?: readonly unknown[];
  /** A dotted accessor applied first, e.g. `"status"`, `"data.code"`, `"headers.get"`. */
  readonly path?: string;
  /** Arguments for a method at the end of `path`, e.g. `["retry-after"]`. */
  readonly pathArgs?: readonly unknown[];
}

/** A result test: a predicate, or a {@link ReturnValuePolicy}. */
export type ResultFilter<T = unknown> = ((value: T) => boolean) | ReturnValuePolicy;

/** Decides whether a thrown error counts against the circuit. */
export type ErrorClassifier = (error: unknown) => boolean;

/** Decides whether a returned value counts; returns the failure reason, or undefined. */
export type ResultClassifier = (value: unknown) => string | undefined;

/** Tests an error against a filter. */
export function matchesError(filter: ErrorFilter, error: unknown): boolean {
  if (typeof filter === "function") return filter(error);
  for (const cls of filter) if (error instanceof cls) return true;
  return false;
}

/**
 * Builds the error classifier: `ignore` wins (ignored errors still propagate but do not
 * count); otherwise, with `failOn`, only the errors it selects count; else every error.
 */
export function errorClassifier(failOn: ErrorFilter | undefined, ignore: ErrorFilter | undefined): ErrorClassifier {
  if (failOn === undefined && ignore === undefined) return countsAlways;
  return (error) => {
    if (ignore !== undefined && matchesError(ignore, error)) return false;
    return failOn === undefined || matchesError(failOn, error);
  };
}

function countsAlways(): boolean {
  return true;
}

/** Builds the result classifier; undefined when no filter is set (nothing to check). */
export function resultClassifier(filter: ResultFilter | undefined, failureReason?: string): ResultClassifier | undefined {
  if (filter === undefined) return undefined;
  if (typeof filter === "function") {
    return (value) => (filter(value) ? (failureReason ?? "return value matched failOnResult") : undefined);
  }
  const policy = filter;
  const segments = policy.path === undefined ? [] : policy.path.split(".");
  return (value) => {
    const subject = segments.length === 0 ? value : resolvePath(value, segments, policy.pathArgs);
    if (policy.isNull === true && (subject === null || subject === undefined)) {
      return failureReason ?? `${policy.path ?? "return value"} is ${String(subject)}`;
    }
    if ("equals" in policy && Object.is(subject, policy.equals)) {
      return failureReason ?? `${policy.path ?? "return value"} equals ${String(subject)}`;
    }
    if (policy.in !== undefined && policy.in.some((v) => Object.is(v, subject))) {
      return failureReason ?? `${policy.path ?? "return value"} is ${String(subject)}`;
    }
    return undefined;
  };
}

/** Follows a dotted path; a function at the end is called (with `args`) on its owner. */
export function resolvePath(value: unknown, segments: readonly string[], args: readonly unknown[] = []): unknown {
  let owner: unknown;
  let current = value;
  for (const segment of segments) {
    if (current === null || current === undefined) return undefined;
    owner = current;
    current = (current as Record<string, unknown>)[segment];
  }
  return typeof current === "function" ? (current as (...a: unknown[]) => unknown).apply(owner, [...args]) : current;
}

/** Validates an ErrorFilter option. */
export function checkErrorFilter(where: string, option: string, value: unknown): ErrorFilter | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "function") return value as ErrorFilter;
  if (Array.isArray(value) && value.every((v) => typeof v === "function")) return value as ErrorFilter;
  throw new InvalidOptionError(where, option, value, "an array of error classes or a predicate function");
}

/** Validates a ResultFilter option. */
export function checkResultFilter(where: string, option: string, value: unknown): ResultFilter | undefined {
  if (value === undefined || typeof value === "function") return value as ResultFilter | undefined;
  checkKeys(where, value as object, ["isNull", "equals", "in", "path", "pathArgs"], `${option}.`);
  const policy = value as ReturnValuePolicy;
  if (policy.in !== undefined && !Array.isArray(policy.in)) throw new InvalidOptionError(where, `${option}.in`, policy.in, "an array");
  if (policy.path !== undefined && (typeof policy.path !== "string" || policy.path === "" || policy.path.split(".").includes(""))) {
    throw new InvalidOptionError(where, `${option}.path`, policy.path, 'a dotted path such as "status" or "data.code"');
  }
  if (policy.pathArgs !== undefined && !Array.isArray(policy.pathArgs)) {
    throw new InvalidOptionError(where, `${option}.pathArgs`, policy.pathArgs, "an array");
  }
  if (policy.isNull === undefined && !("equals" in policy) && policy.in === undefined) {
    throw new InvalidOptionError(where, option, value, "a policy with at least one of isNull, equals, in");
  }
  return policy;
}
