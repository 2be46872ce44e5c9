import { createHash } from "node:crypto";
import { PRELUDE } from "./prelude.js";

/** A Lua script ready for EVALSHA: its source (header, prelude, body) and SHA-1. */
export interface LuaScript {
  /** A short name for errors and logs. */
  readonly name: string;
  /** The full source sent with EVAL when the server answers NOSCRIPT. */
  readonly source: string;
  /** The SHA-1 of `source`, for EVALSHA. */
  readonly sha: string;
}

/** Builds a script from its header comment and body, with the shared prelude between them. */
export function luaScript(name: string, header: string, body: string): LuaScript {
  const source = `${header.trim()}\n${PRELUDE}\n${body.trim()}\n`;
  return { name, source, sha: createHash("sha1").update(source).digest("hex") };
}
