import { limitScript } from "./limit-lib.js";

/**
 * The exact sliding window (`SlidingLogDecision.step` in src/limit/sliding-window.ts) as
 * one Lua script, with the server's TIME as `now`. The log is a hash used as a deque (O(1)
 * per admission, like the in-process log): one key per limiter key, which expires when its
 * newest admission leaves the window.
 */
export const SLIDING_LOG_SCRIPT = limitScript(
  "slidingLog",
  `
-- Breakwater exact sliding window: takes (or peeks at) units of one key, for a batch of inputs.
-- State:   a hash: k = "sl", u = units in the log, h = index of the oldest entry, n = the
--          next index; field "<i>" (h <= i < n) = "<time> <cost>", oldest first (admissions
--          in the same ms share one entry)
-- Params:  ARGV[2] limit, ARGV[3] windowMs
-- Read:    {used, t1, c1, t2, c2, ...}`,
  `
local key = KEYS[1]
local limit = tonumber(ARGV[2])
local w = tonumber(ARGV[3])
local now = now_ms

local used, head, nxt = 0, 0, 0
local ok, meta = pcall(redis.call, 'HMGET', key, 'k', 'u', 'h', 'n')
local existing = ok and meta[1] == 'sl'
if existing then used, head, nxt = tonumber(meta[2]), tonumber(meta[3]), tonumber(meta[4]) end

-- Entries read once per script (a refusal walks them from the oldest).
local memoT, memoC = {}, {}
local function entry(i)
  local t = memoT[i]
  if t == nil then
    local a, b = string.match(redis.call('HGET', key, f(i)), '^(%S+) (%S+)$')
    t = tonumber(a)
    memoT[i], memoC[i] = t, tonumber(b)
  end
  return t, memoC[i]
end

if N == nil then
  if not existing then return false end
  local out = { f(used) }
  for i = head, nxt - 1 do
    local t, c = entry(i)
    out[#out + 1] = f(t)
    out[#out + 1] = f(c)
  end
  return out
end

-- Drop the admissions at or before the horizon (at most limit entries); all inputs of a
-- batch share one now, so once is enough.
local horizon = now - w
local dropped = {}
while head < nxt do
  local t, c = entry(head)
  if t > horizon then break end
  used = used - c
  dropped[#dropped + 1] = f(head)
  head = head + 1
end
local changed = #dropped > 0
local newestDirty = false

local newestT = nil
if nxt > head then newestT = entry(nxt - 1) end

for i = 1, N do
  local op, cost = ARGV[2 + 2 * i], tonumber(ARGV[3 + 2 * i])
  if used + cost > limit then
    -- Wait until enough of the oldest admissions have left the window.
    local freed, j, lastT = 0, head, now
    while used - freed + cost > limit and j < nxt do
      local t, c = entry(j)
      freed = freed + c
      lastT = t
      j = j + 1
    end
    emit(false, limit - used, limit, lastT + w - now, newestT + w - now)
  else
    if op == 't' and cost > 0 then
      if newestT ~= nil and newestT == now then
        memoC[nxt - 1] = memoC[nxt - 1] + cost
      else
        memoT[nxt], memoC[nxt] = now, cost
        nxt = nxt + 1
        newestT = now
      end
      newestDirty = true
      used = used + cost
      changed = true
    end
    local usedOut = used
    if op == 'p' then usedOut = used + cost end
    local newest = now
    if nxt > head then newest = newestT end
    local resetAfter = 0
    if usedOut ~= 0 then resetAfter = math.max(now, newest) + w - now end
    emit(true, limit - usedOut, limit, 0, resetAfter)
  end
end

if changed then
  if head == nxt then
    redis.call('DEL', key)
  else
    -- Another decision's state at this key: started afresh, as in MemoryStore.
    if not existing then redis.call('DEL', key) end
    -- In chunks: unpack has a stack limit, and a log holds up to limit entries.
    for from = 1, #dropped, 1000 do redis.call('HDEL', key, unpack(dropped, from, math.min(#dropped, from + 999))) end
    -- The newest entry and the counters in one HSET (one call fewer on the hot path).
    if newestDirty then
      redis.call('HSET', key, f(nxt - 1), f(newestT) .. ' ' .. f(memoC[nxt - 1]), 'k', 'sl', 'u', f(used), 'h', f(head), 'n', f(nxt))
    else
      redis.call('HSET', key, 'k', 'sl', 'u', f(used), 'h', f(head), 'n', f(nxt))
    end
    redis.call('PEXPIRE', key, math.max(1, math.ceil(newestT + w - now)))
  end
end
return finish()
`,
);
