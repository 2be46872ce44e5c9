import { limitScript, loadPair, savePair } from "./limit-lib.js";

/**
 * The fixed window (`FixedWindowDecision.step` in src/limit/fixed-window.ts) as one Lua
 * script, with the server's TIME as `now`. The key expires when its window closes.
 * Inlined (no helper closures): a limiter script runs on every call.
 */
export const FIXED_WINDOW_SCRIPT = limitScript(
  "fixedWindow",
  `
-- Breakwater fixed window: takes (or peeks at) units of one key's window, for a batch of inputs.
-- State:   "fw" then two little-endian doubles (struct.pack): <start> <count> (the window that opened at start, and what it admitted)
-- Params:  ARGV[2] limit, ARGV[3] windowMs`,
  `
local key = KEYS[1]
local limit = tonumber(ARGV[2])
local w = tonumber(ARGV[3])
local now = now_ms
local sStart, sCount = now, 0
${loadPair("fw", "sStart", "sCount")}

local out, k = {}, 0
local changed = false
for i = 1, N do
  local op, cost = ARGV[2 + 2 * i], tonumber(ARGV[3 + 2 * i])
  local count, start = 0, now
  if sCount > 0 and now < sStart + w then start, count = sStart, sCount end
  if count + cost > limit then
    local closesIn = rnum(start + w - now)
    out[k + 1] = 0
    out[k + 2] = rnum(limit - count)
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
