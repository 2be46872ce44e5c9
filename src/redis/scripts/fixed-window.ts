import { limitScript, loadPair, savePair } from "./limit-lib.js";

/**
 * The fixed window (`FixedWindowDecision.step` in src/limit/fixed-window.ts) as one Lua
 * script, with the server's TIME as `now`, including `blockMs` and the operations besides
 * take and peek (penalty, reward, set, lease, return). The key expires when its window
 * closes. Inlined (no helper closures): a limiter script runs on every call.
 */
export const FIXED_WINDOW_SCRIPT = limitScript(
  "fixedWindow",
  `
-- Breakwater fixed window: takes (or peeks at) units of one key's window, for a batch of inputs.
-- State:   "fw" then two little-endian doubles (struct.pack): <start> <count> (the window that opened at start, and what it admitted)
-- Params:  ARGV[2] limit, ARGV[3] windowMs, ARGV[4] blockMs (a refused take closes the key this long; 0: never)
-- Ops besides 't' and 'p' (each answers a peek at cost 1 afterwards, but 'l'):
--          'f' penalty: take cost past the limit; 'g' reward: give cost back; 's' set: cost used from now;
--          'r<ticket>' return cost leased units if the window that ends at ticket is still open;
--          'l<min>:<holdMs>' lease: take up to cost (at least min), answered with three more
--          numbers: granted, validMs, ticket (the window's end)`,
  `
local key = KEYS[1]
local limit = tonumber(ARGV[2])
local w = tonumber(ARGV[3])
local blockMs = tonumber(ARGV[4])
local now = now_ms
local sStart, sCount = now, 0
${loadPair("fw", "sStart", "sCount")}

local out, k = {}, 0
local changed = false
for i = 1, N do
  local op, cost = ARGV[3 + 2 * i], tonumber(ARGV[4 + 2 * i])
  local count, start = 0, now
  if sCount > 0 and now < sStart + w then start, count = sStart, sCount end
  -- The op's letter: most ops are one letter (no new string on the hot path).
  local c = op
  if #op > 1 then c = string.sub(op, 1, 1) end
  -- A lease that finds fewer than its least is refused as a take of that least would be (a block included).
  local leaseRefused = false
  if c == 'l' then
    local lo, hi = string.match(op, '^l([^:]+):(.+)$')
    local least, hold = tonumber(lo), tonumber(hi)
    local avail = math.max(0, limit - count)
    local g = 0
    if avail >= least then g = math.min(cost, avail, math.max(least, math.ceil(avail / 2))) end
    if g == 0 then
      leaseRefused = true
      op, cost, c = 't', least, 't'
    else
      sStart, sCount = start, count + g
      changed = true
      local e = start + w
      out[k + 1] = 1
      out[k + 2] = rnum(limit - sCount)
      out[k + 3] = rnum(limit)
      out[k + 4] = 0
      out[k + 5] = rnum(e - now)
      out[k + 6] = g
      out[k + 7] = rnum(math.min(hold, e - now))
      out[k + 8] = rnum(e)
      k = k + 8
    end
  end
  if c ~= 'l' then
    if c ~= 't' and c ~= 'p' then
      if c == 'f' then
        if cost > 0 then sStart, sCount = start, count + cost end
      elseif c == 'g' then
        if count > 0 then sCount = math.max(0, count - cost) end
      elseif c == 's' then
        sStart, sCount = now, cost
      elseif c == 'r' then
        if count > 0 and start + w == tonumber(string.sub(op, 2)) then sCount = math.max(0, count - cost) end
      end
      changed = true
      -- The answer: a peek at cost 1 (one more unit) on the state as it is now.
      op, cost = 'p', 1
      count, start = 0, now
      if sCount > 0 and now < sStart + w then start, count = sStart, sCount end
    end
    if count + cost > limit then
      local e = start + w
      if op == 't' and blockMs > 0 then
        -- Blocked: the window is made to end blockMs from now (or later), full.
        e = math.max(start + w, now + blockMs)
        sStart, sCount = e - w, math.max(count, limit)
        changed = true
      end
      local closesIn = rnum(e - now)
      out[k + 1] = 0
      out[k + 2] = rnum(math.max(0, limit - count))
      out[k + 4] = closesIn
      out[k + 5] = closesIn
    else
      if op == 't' and cost > 0 then
        sStart, sCount = start, count + cost
        changed = true
      end
      local used = count + cost
      local resetAfter = 0
      if used ~= 0 then resetAfter = start + w - now end
      out[k + 1] = 1
      out[k + 2] = rnum(limit - used)
      out[k + 4] = 0
      out[k + 5] = rnum(resetAfter)
    end
    out[k + 3] = rnum(limit)
    k = k + 5
    if leaseRefused then
      out[k + 1], out[k + 2], out[k + 3] = 0, 0, 0
      k = k + 3
    end
  end
end
if changed then
  -- Expires when the window closes; a closed one is deleted (a missing key reads the same).
  ${savePair("fw", "sStart", "sCount", "sStart + w - now")}
end
out[k + 1] = now
return out
`,
  false,
);
