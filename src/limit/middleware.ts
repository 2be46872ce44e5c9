import type { IncomingMessage, ServerResponse } from "node:http";
import { InvalidOptionError } from "../core/errors.js";
import { checkKeys, func, nonEmptyString } from "../core/validate.js";
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
   * text body). The rate-limit headers are already set when it is called.
   */
  readonly onLimited?: (req: Req, res: Res, decision: RateLimitDecision) => void;
  /** The `RateLimit-Policy` header. Default: the limiter's `policy`. */
  readonly policy?: string;
}

/** A `(req, res, next)` handler, as Express and `node:http` servers use. */
export type RateLimitMiddleware<Req, Res> = (req: Req, res: Res, next: NextFunction) => void;

const WHERE = "rateLimitMiddleware";

/**
 * Limits incoming requests with `limiter` by a key function. Admitted requests get the
 * `RateLimit-*` headers and go on to `next()`; refused ones are answered `429 Too Many
 * Requests` with `Retry-After` and the same headers. Never waits: it uses `tryAcquire`.
 * Errors (a key function that throws, a bad key or cost, a store failure) go to
 * `next(error)`.
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

  return (req, res, next) => {
    let decided: Promise<RateLimitDecision>;
    try {
      decided = limiter.tryAcquire(keyOf(req), typeof cost === "number" ? cost : cost(req));
    } catch (error) {
      next(error);
      return;
    }
    decided.then(
      (decision) => {
        const headers = rateLimitHeaders(decision, headerOptions);
        for (const name in headers) res.setHeader(name, headers[name] as string);
        if (decision.allowed) next();
        else onLimited(req, res, decision);
      },
      (error: unknown) => next(error),
    );
  };
}

function tooManyRequests(_req: unknown, res: ResponseLike): void {
  res.statusCode = 429;
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.end("Too Many Requests\n");
}
