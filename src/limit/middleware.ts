import type { IncomingMessage, ServerResponse } from "node:http";
import { InvalidOptionError, RateLimitExceededError } from "../core/errors.js";
import { checkKeys, func, nonEmptyString } from "../core/validate.js";
import { isPromiseLike } from "../store/store.js";
import { rateLimitHeaders } from "./headers.js";
import type { RateLimitDecision, RateLimiter } from "./limiter.js";

/** The part of a response the middleware uses: `node:http`'s `ServerResponse` and Express's `res` both fit. */
export interface ResponseLike {
  /** The status to answer with (set to 429 on a refusal). */
  statusCode: number;
  /** Sets one response header. */
  setHeader(name: string, value: string): unknown;
  /** Ends the response, with an optional body. */
  end(body?: string): unknown;
  /** True once the headers went out (another handler answered first): the rate-limit headers are then left out. */
  readonly headersSent?: boolean;
}

/** Express-style `next`: called with nothing to go on, or with an error. */
export type NextFunction = (error?: unknown) => void;

/** Options of {@link rateLimitMiddleware}. */
export interface RateLimitMiddlewareOptions<Req, Res> {
  /** Which key a request counts against (user, tenant, API key, route…). Required. */
  readonly key: (req: Req) => string;
  /** Units a request spends: a number or a function of the request. Default 1. */
  readonly cost?: number | ((req: Req) => number);
  /**
   * Answers a refused request instead of the default (status 429, the headers, and a short
   * text body). The rate-limit headers are already set when it is called. What it throws, or
   * the promise it returns rejects with, goes to `next(error)`.
   */
  readonly onLimited?: (req: Req, res: Res, decision: RateLimitDecision) => void | Promise<void>;
  /** The `RateLimit-Policy` header. Default: the limiter's `policy`. */
  readonly policy?: string;
}

/** A `(req, res, next)` handler, as Express and `node:http` servers use. */
export type RateLimitMiddleware<Req, Res> = (req: Req, res: Res, next: NextFunction) => void;

const WHERE = "rateLimitMiddleware";

/**
 * Limits incoming requests with `limiter` by a key function. Admitted requests get the
 * `RateLimit-*` headers and go on to `next()`; refused ones are answered `429 Too Many
 * Requests` with `Retry-After` and the same headers; a cost over the limit, which can never
 * be admitted, is answered 429 without `Retry-After`. Never waits: it uses `tryAcquire`.
 * Errors (a key function that throws or returns no key, a bad cost, a store failure, an
 * `onLimited` that throws) go to `next(error)`. Headers are left out when the response's
 * headers were already sent.
 *
 * @example
 * const limit = rateLimitMiddleware(new SlidingWindow({ limit: 100, windowMs: 60_000 }), {
 *   key: (req) => String(req.headers["x-api-key"] ?? req.socket.remoteAddress),
 * });
 * http.createServer((req, res) => limit(req, res, (error) => handle(req, res, error)));
 * // Express: app.use(limit)
 */
export function rateLimitMiddleware<Req = IncomingMessage, Res extends ResponseLike = ServerResponse>(
  limiter: RateLimiter,
  options: RateLimitMiddlewareOptions<Req, Res>,
): RateLimitMiddleware<Req, Res> {
  if (typeof limiter !== "object" || limiter === null || typeof limiter.tryAcquire !== "function") {
    throw new InvalidOptionError(WHERE, "limiter", limiter, "a rate limiter such as new TokenBucket({...})");
  }
  checkKeys(WHERE, options, ["key", "cost", "onLimited", "policy"]);
  const keyOf = func<(req: Req) => string>(WHERE, "key", options?.key);
  const cost = options.cost ?? 1;
  if (typeof cost !== "function" && (typeof cost !== "number" || !Number.isInteger(cost) || cost < 0)) {
    throw new InvalidOptionError(WHERE, "cost", cost, "an integer >= 0 or a function of the request");
  }
  const onLimited =
    options.onLimited === undefined ? tooManyRequests : func<NonNullable<typeof options.onLimited>>(WHERE, "onLimited", options.onLimited);
  const policy = options.policy === undefined ? limiter.policy : nonEmptyString(WHERE, "policy", options.policy);
  const headerOptions = policy === undefined ? {} : { policy };

  const answer = (req: Req, res: Res, next: NextFunction, decision: RateLimitDecision): void => {
    if (res.headersSent !== true) {
      const headers = rateLimitHeaders(decision, headerOptions);
      for (const name in headers) res.setHeader(name, headers[name] as string);
    }
    if (decision.allowed) {
      next();
      return;
    }
    try {
      const answered: unknown = onLimited(req, res, decision);
      if (isPromiseLike(answered)) answered.then(undefined, next);
    } catch (error) {
      next(error);
    }
  };

  return (req, res, next) => {
    let decided: Promise<RateLimitDecision>;
    try {
      // tryAcquire() would read a missing key as its default key, one limit for every such request.
      const key = keyOf(req);
      if (typeof key !== "string" || key.length === 0) throw new InvalidOptionError(WHERE, "key", key, "a non-empty string");
      decided = limiter.tryAcquire(key, typeof cost === "number" ? cost : cost(req));
    } catch (error) {
      next(error);
      return;
    }
    decided.then(
      (decision) => answer(req, res, next, decision),
      (error: unknown) => {
        if (error instanceof RateLimitExceededError && error.retryAfterMs === Infinity && error.limit !== undefined) {
          answer(req, res, next, neverAdmitted(error.limit));
        } else next(error);
      },
    );
  };
}

/** The decision for a cost over the limit: refused, and no `Retry-After` (it can never be admitted). */
function neverAdmitted(limit: number): RateLimitDecision {
  return { allowed: false, remaining: 0, limit, retryAfterMs: Infinity, resetAfterMs: 0 };
}

function tooManyRequests(_req: unknown, res: ResponseLike): void {
  res.statusCode = 429;
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.end("Too Many Requests\n");
}
