import { type LuaScript, luaScript } from "./script.js";

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
 * Lua helpers the limiter scripts share (after the prelude): exact number text, the
 * one-string state records, and the reply of a rate-limit decision.
 */
const LIMIT_LIB = `
-- ---- limiter helpers ----------------------------------------------------------------
${STALE_CHECK}
local EPSILON = 1e-9

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
  if x == math.floor(x) and x > -9007199254740992 and x < 9007199254740992 then return x end
  return f(x)
end

-- A state record is "<tag>" and its numbers as raw little-endian doubles (struct.pack):
-- exact, and no formatting or parsing of text on the hot path.
-- The numbers stored at key, or nil when the key is missing or holds another decision's
-- state (which, as in MemoryStore, is then started afresh).
local function load_state(key, tag, n)
  local text = redis.pcall('GET', key)
  if type(text) ~= 'string' or #text ~= #tag + 8 * n or string.sub(text, 1, #tag) ~= tag then return nil end
  local m = { struct.unpack('<' .. string.rep('d', n), text, #tag + 1) }
  m[n + 1] = nil -- unpack also answers the next position
  return m
end

-- Stores the numbers with a TTL of ttl ms; an idle state (ttl <= 0) is deleted instead:
-- a missing key reads as the initial state, so nothing is lost.
local function save_state(key, tag, values, ttl)
  if not (ttl > 0) then
    redis.call('DEL', key)
    return
  end
  redis.call('SET', key, tag .. struct.pack('<' .. string.rep('d', #values), unpack(values)), 'PX', math.max(1, math.ceil(ttl)))
end

-- The batch: ARGV[1] = n (nil for a read), then n (op, cost) pairs from ARGV[4].
local N = tonumber(ARGV[1])
local function input_at(i)
  return ARGV[2 + 2 * i], tonumber(ARGV[3 + 2 * i])
end

-- The reply: five numbers per input (allowed 1|0, remaining, limit, retryAfterMs,
-- resetAfterMs), then the server's now_ms.
local OUT = {}
local function emit(allowed, remaining, limit, retryAfterMs, resetAfterMs)
  local k = #OUT
  if allowed then OUT[k + 1] = 1 else OUT[k + 1] = 0 end
  OUT[k + 2] = rnum(remaining)
  OUT[k + 3] = rnum(limit)
  OUT[k + 4] = rnum(retryAfterMs)
  OUT[k + 5] = rnum(resetAfterMs)
end
local function finish()
  OUT[#OUT + 1] = now_ms
  return OUT
end

-- The reply of a read: the stored numbers as text, or nil.
local function read_reply(values)
  if values == nil then return false end
  local out = {}
  for i = 1, #values do out[i] = f(values[i]) end
  return out
end
-- ---- end of limiter helpers ---------------------------------------------------------
`;

/**
 * The argument layout every limiter script shares: a batch of inputs for one key, applied
 * in order at one server time, so that concurrent calls on a hot key share a round trip,
 * a TIME, a read and a write.
 */
const LIMIT_ARGS = `
-- KEYS[1]  the state of one limiter key
-- ARGV[1]  n, the number of inputs in the batch ('r': read the state instead)
-- ARGV[2], ARGV[3]  the decision's params
-- ARGV[4..3+2n]  n inputs, applied in order: op ('t' take cost units, 'p' peek: answer as
--          if taking, change nothing), cost (an integer <= the limit; the limiter checks)
-- ARGV[#ARGV] the deadline: server ms after which the script does nothing (0: none)
-- Reply:   five numbers per input: allowed 1|0, remaining, limit, retryAfterMs, resetAfterMs;
--          then the server's now_ms (integral numbers as integers, others as exact text);
--          a read: the stored numbers, or nil; past the deadline: "stale"`;

/** Builds a limiter script: its header (with the shared argument layout), the prelude, the helpers, the body. */
export function limitScript(name: string, header: string, body: string): LuaScript {
  return luaScript(name, `${header.trim()}${LIMIT_ARGS}`, `${LIMIT_LIB.trim()}\n\n${body.trim()}`);
}
