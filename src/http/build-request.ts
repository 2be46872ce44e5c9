import { InvalidOptionError } from "../core/errors.js";

/** A query string value: repeated keys from arrays; `undefined` and `null` are left out. */
export type QueryValue = string | number | boolean | null | undefined | readonly (string | number | boolean)[];

/** The query of a request: a record, or a ready `URLSearchParams`. */
export type Query = Readonly<Record<string, QueryValue>> | URLSearchParams;

/** Request headers: a `Headers`, a record, or a list of pairs (what `fetch` accepts). */
export type HeadersInit = ConstructorParameters<typeof Headers>[0];

/** A request body `fetch` can send. Strings, buffers, `URLSearchParams`, `FormData` and `Blob` can be re-sent on retry; a stream is sent once. */
export type RequestBody = NonNullable<RequestInit["body"]>;

/** The parts of one request, as the caller gives them. */
export interface RequestParts {
  readonly headers?: HeadersInit;
  readonly query?: Query;
  /** A value to send as JSON (sets `content-type: application/json` unless given). */
  readonly json?: unknown;
  /** A raw body. Not together with `json`. */
  readonly body?: RequestBody;
}

/** What `fetch` is called with (but the signal). */
export interface BuiltRequest {
  readonly url: string;
  readonly init: { method: string; headers: Headers; body?: RequestBody; duplex?: "half" };
  /** False for a body that can be sent only once (a stream). */
  readonly replayable: boolean;
}

const WHERE = "ApiClient.request";
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Validates a base URL: absolute http(s), returned without trailing slashes. */
export function checkBaseUrl(where: string, value: unknown): string {
  if (typeof value !== "string") throw new InvalidOptionError(where, "baseUrl", value, "an absolute http(s) URL");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidOptionError(where, "baseUrl", value, "an absolute http(s) URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new InvalidOptionError(where, "baseUrl", value, "an absolute http(s) URL");
  if (url.search !== "" || url.hash !== "") throw new InvalidOptionError(where, "baseUrl", value, "a URL without query or fragment");
  return value.replace(/\/+$/, "");
}

/** Joins base URL, path and query, and builds headers and body. Throws `InvalidOptionError` on bad input. */
export function buildRequest(baseUrl: string, defaultHeaders: Headers, method: string, path: string, parts: RequestParts): BuiltRequest {
  if (typeof method !== "string" || !TOKEN.test(method))
    throw new InvalidOptionError(WHERE, "method", method, 'an HTTP method such as "GET"');
  if (typeof path !== "string" || SCHEME.test(path) || path.startsWith("//")) {
    throw new InvalidOptionError(WHERE, "path", path, 'a path relative to baseUrl, such as "/v1/users"');
  }
  if (parts.json !== undefined && parts.body !== undefined)
    throw new InvalidOptionError(WHERE, "body", parts.body, "left out when json is given");
  let url = path === "" ? baseUrl : `${baseUrl}/${path.replace(/^\/+/, "")}`;
  const search = queryString(parts.query);
  if (search !== "") url += (url.includes("?") ? "&" : "?") + search;

  const headers = new Headers(defaultHeaders);
  if (parts.headers !== undefined) {
    try {
      new Headers(parts.headers).forEach((value, name) => headers.set(name, value));
    } catch {
      throw new InvalidOptionError(WHERE, "headers", parts.headers, "a Headers, a record of strings or a list of pairs");
    }
  }
  const upper = method.toUpperCase();
  const init: BuiltRequest["init"] = { method: upper, headers };
  let replayable = true;
  if (parts.json !== undefined) {
    let text: string | undefined;
    try {
      text = JSON.stringify(parts.json);
    } catch {
      text = undefined;
    }
    if (text === undefined) throw new InvalidOptionError(WHERE, "json", parts.json, "a value JSON.stringify can encode");
    init.body = text;
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  } else if (parts.body !== undefined) {
    // fetch would send a plain iterator (a generator) as the text "[object Generator]".
    init.body = isIterator(parts.body) ? (chunksOf(parts.body) as unknown as RequestBody) : parts.body;
    replayable = !isStream(init.body);
    // Node's fetch refuses a stream body without it.
    if (!replayable) init.duplex = "half";
  }
  return { url, init, replayable };
}

function queryString(query: Query | undefined): string {
  if (query === undefined) return "";
  if (query instanceof URLSearchParams) return query.toString();
  if (typeof query !== "object" || query === null) throw new InvalidOptionError(WHERE, "query", query, "a record or URLSearchParams");
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    const list: readonly unknown[] = Array.isArray(value) ? value : [value];
    for (const item of list) {
      if (typeof item !== "string" && typeof item !== "number" && typeof item !== "boolean") {
        throw new InvalidOptionError(WHERE, `query.${key}`, item, "a string, number or boolean (or an array of them)");
      }
      params.append(key, String(item));
    }
  }
  return params.toString();
}

/** A plain (not async) iterator, such as a generator's: read once, like a stream. */
function isIterator(body: unknown): body is Iterator<unknown> {
  return (
    typeof body === "object" &&
    body !== null &&
    typeof (body as { next?: unknown }).next === "function" &&
    typeof (body as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function"
  );
}

/** A plain iterator's chunks as an async iterable that fetch streams (strings as UTF-8). */
async function* chunksOf(iterator: Iterator<unknown>): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  for (let r = iterator.next(); r.done !== true; r = iterator.next()) {
    const chunk = r.value;
    yield typeof chunk === "string" ? encoder.encode(chunk) : (chunk as Uint8Array);
  }
}

/** A body read once as it is sent (a web or Node stream, an async iterable): it needs `duplex` and cannot be replayed. */
function isStream(body: unknown): boolean {
  return (
    typeof body === "object" &&
    body !== null &&
    (typeof (body as { getReader?: unknown }).getReader === "function" ||
      typeof (body as { pipe?: unknown }).pipe === "function" ||
      typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function")
  );
}
