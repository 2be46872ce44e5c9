import { createHash } from "node:crypto";
import type { LuaScript } from "./script.js";

/**
 * `f` (a number as text that reads back to the same double) and `rnum` (a number for a
 * reply: an integer as such, any other as exact text), for the scripts that answer with
 * numbers. Needs `INF` in scope; defines `floor`.
 */
export const EXACT_NUMBERS = `local floor = math.floor

-- A number as text that reads back to the same double (tostring keeps only 14 digits,
-- and the TypeScript decision computes with all 17).
local function f(x)
  if x == INF then return 'inf' end
  if x == -INF then return '-inf' end
  if x ~= x then return 'nan' end
  return string.format('%.17g', x)
end

-- A number for a reply: an integral one as a Redis integer (no formatting: the hot path
-- answers mostly integers), any other as exact text.
local function rnum(x)
  if x == floor(x) and x > -9007199254740992 and x < 9007199254740992 then return x end
  return f(x)
end
`;

/**
 * The state of the token bucket and the fixed window: a two-letter tag and two doubles
 * (struct.pack '<dd'), read into the locals `a` and `b` (left as they are when the key is
 * missing or holds another decision's state, which is then started afresh, as in
 * MemoryStore). A read (N == nil) answers the two numbers, or nil. Inlined Lua text, not
 * a helper function: a closure costs on every call.
 */
export function loadPair(tag: string, a: string, b: string): string {
  return `-- Another decision's state at this key is started afresh, as in MemoryStore.
local text = redis.pcall('GET', key)
local found = type(text) == 'string' and #text == 18 and string.sub(text, 1, 2) == '${tag}'
if found then ${a}, ${b} = struct.unpack('<dd', text, 3) end
if N == nil then
  if not found then return false end
  return { f(${a}), f(${b}) }
end`;
}

/**
 * Writes the pair back with a TTL of `ttl` ms (a Lua expression); a state whose TTL is not
 * positive is back to initial and is deleted instead (a missing key reads the same).
 */
export function savePair(tag: string, a: string, b: string, ttl: string): string {
  return `local ttl = ${ttl}
  if ttl > 0 then
    redis.call('SET', key, '${tag}' .. struct.pack('<dd', ${a}, ${b}), 'PX', math.max(1, math.ceil(ttl)))
  else
    redis.call('DEL', key)
  end`;
}

/** What a script answers when it ran after its deadline (see {@link STALE_CHECK}). */
export const STALE_REPLY = "stale";

/**
 * The last argument of every limiter script is a deadline on the server's clock (0 for
 * none): the time after which the caller has stopped waiting and answered from its
 * fallback. A command a client queued while Redis was down and sent on reconnect must
 * not take units a second time, so past its deadline the script does nothing.
 */
export const STALE_CHECK = `-- A command that arrives after its caller gave up (e.g. replayed on reconnect) does nothing.
local __deadline = tonumber(ARGV[#ARGV])
if __deadline ~= nil and __deadline > 0 and now_ms > __deadline then return '${STALE_REPLY}' end`;

/**
 * What every limiter script starts with instead of the shared prelude (see prelude.ts):
 * only the clock, the deadline and number text. A limiter script runs on
 * every call, so each closure, temporary string or table and redis.call counts (profiled
 * with INFO commandstats). The two clock lines are the prelude's, word for word (the
 * conformance test swaps them).
 */
const LIMIT_LIB = `
-- ---- limiter prelude -------------------------------------------------------------------
-- The clock is the server's TIME, read once, never the caller's: skewed client clocks do not matter.
local __t = redis.call('TIME')
local now_ms = tonumber(__t[1]) * 1000 + math.floor(tonumber(__t[2]) / 1000)
${STALE_CHECK}
local INF = math.huge
local EPSILON = 1e-9
${EXACT_NUMBERS}`;

/** The batch size, read by the single-key script at the top and by the many-key one per key. */
const BATCH_SIZE = `
-- The batch: ARGV[1] = n (nil for a read), then n (op, cost) pairs after the params.
local N = tonumber(ARGV[1])`;

/**
 * Helpers for the scripts with more state (the sliding windows); the token bucket and the
 * fixed window inline theirs: every closure a script defines is made again on each call,
 * and profiling showed the inlined scripts ~15% cheaper on the server.
 */
const LIMIT_HELPERS = `
-- A state record is a two-letter tag and its numbers as raw little-endian doubles
-- (struct.pack with a constant format): exact, and no text on the hot path. The numbers
-- stored at key, or nil when the key is missing or holds another decision's state (which,
-- as in MemoryStore, is then started afresh). The table's last element is unpack's next
-- position (unused).
local function load_state(key, tag, fmt, len)
  local text = redis.pcall('GET', key)
  if type(text) ~= 'string' or #text ~= len or string.sub(text, 1, 2) ~= tag then return nil end
  return { struct.unpack(fmt, text, 3) }
end

-- Stores the record (tag .. struct.pack(...)) with a TTL of ttl ms; an idle state (ttl <= 0)
-- is deleted instead: a missing key reads as the initial state, so nothing is lost.
local function save_state(key, record, ttl)
  if not (ttl > 0) then
    redis.call('DEL', key)
    return
  end
  local px = math.ceil(ttl)
  if px < 1 then px = 1 end
  redis.call('SET', key, record, 'PX', px)
end

-- The reply: five numbers per input (allowed 1|0, remaining, limit, retryAfterMs,
-- resetAfterMs), then the server's now_ms.
local OUT, K = {}, 0
local function emit(allowed, remaining, limit, retryAfterMs, resetAfterMs)
  if allowed then OUT[K + 1] = 1 else OUT[K + 1] = 0 end
  OUT[K + 2] = rnum(remaining)
  OUT[K + 3] = rnum(limit)
  OUT[K + 4] = rnum(retryAfterMs)
  OUT[K + 5] = rnum(resetAfterMs)
  K = K + 5
end
local function finish()
  OUT[K + 1] = now_ms
  return OUT
end

-- The reply of a read: the first n stored numbers as text, or nil.
local function read_reply(values, n)
  if values == nil then return false end
  local out = {}
  for i = 1, n do out[i] = f(values[i]) end
  return out
end
-- ---- end of limiter helpers ------------------------------------------------------------
`;

/**
 * The argument layout every limiter script shares: a batch of inputs for one key, applied
 * in order at one server time, so that concurrent calls on a hot key share a round trip,
 * a TIME, a read and a write.
 */
const LIMIT_ARGS = `
-- KEYS[1]  the state of one limiter key
-- ARGV[1]  n, the number of inputs in the batch ('r': read the state instead)
-- ARGV[2..1+p]  the decision's p params (named in the header: two, or three with blockMs)
-- ARGV[2+p..1+p+2n]  n inputs, applied in order: op ('t' take cost units, 'p' peek: answer as
--          if taking, change nothing; other ops where the header lists them), cost (an
--          integer <= the limit for 't' and 'p'; the limiter checks)
-- ARGV[#ARGV] the deadline: server ms after which the script does nothing (0: none)
-- Reply:   five numbers per input: allowed 1|0, remaining, limit, retryAfterMs, resetAfterMs
--          (eight for a lease: granted, validMs, ticket follow); then the server's now_ms (integral numbers as integers, others as exact text);
--          a read: the stored numbers, or nil; past the deadline: "stale"`;

/** A limiter's two scripts: one key's batch, and the same body run over several keys at once. */
export interface LimitScript extends LuaScript {
  /**
   * The many-key form: KEYS[1..m], and for each key in turn its argument count then the
   * single-key script's arguments (without the deadline); the deadline last. It reads TIME
   * once and runs the body for each key in order; the reply is each key's reply, then
   * now_ms. For calls on different keys of one standalone server (not a cluster: the
   * keys may live in different slots).
   */
  readonly multi: LuaScript;
}

const MULTI_ARGS = `
-- Many keys at once: KEYS[1..m]; ARGV holds, for each key in turn, its argument count c and
-- then c arguments laid out as for one key (above, without the deadline); the deadline last.
-- The body runs for each key in order, at one server time, with KEYS and ARGV being that
-- key's. Reply: each key's reply, then the server's now_ms; past the deadline: "stale".`;

/**
 * Builds a limiter script: its header (with the shared argument layout), the limiter
 * prelude, the state and reply helpers (`load_state`, `save_state`, `emit`, `finish`,
 * `read_reply`) unless `helpers` is false, and the body; and its many-key form, which
 * wraps the same body in a function of (KEYS, ARGV) called once per key.
 */
export function limitScript(name: string, header: string, body: string, helpers = true): LimitScript {
  const source = `${header.trim()}${LIMIT_ARGS}\n${LIMIT_LIB}${BATCH_SIZE}\n${helpers ? LIMIT_HELPERS : ""}\n${body.trim()}\n`;
  const multiSource = `${header.trim()}${LIMIT_ARGS}${MULTI_ARGS}\n${LIMIT_LIB}${helpers ? LIMIT_HELPERS : ""}
local __KEYS, __ARGV = KEYS, ARGV
local function __run(KEYS, ARGV)
${BATCH_SIZE.trim()}
${helpers ? "-- emit and finish write to OUT: a fresh reply for each key\nOUT, K = {}, 0\n" : ""}${body.trim()}
end
local __out, __p, __m = {}, 1, #__KEYS
for __j = 1, __m do
  local __c = tonumber(__ARGV[__p])
  __out[__j] = __run({ __KEYS[__j] }, { unpack(__ARGV, __p + 1, __p + __c) })
  __p = __p + 1 + __c
end
__out[__m + 1] = now_ms
return __out
`;
  return { name, source, sha: sha1(source), multi: { name: `${name}:multi`, source: multiSource, sha: sha1(multiSource) } };
}

function sha1(source: string): string {
  return createHash("sha1").update(source).digest("hex");
}
