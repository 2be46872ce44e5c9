import { limitScript } from "./limit-lib.js";

/**
 * The fixed window (`FixedWindowDecision.step` in src/limit/fixed-window.ts) as one Lua
 * script, with the server's TIME as `now`. The key expires when its window closes.
 */
export const FIXED_WINDOW_SCRIPT = limitScript(
  "fixedWindow",
  `
-- Breakwater fixed window: takes (or peeks at) units of one key's window, for a batch of inputs.
-- State:   "fw" then doubles: <start> <count>" (the window that opened at start, and what it admitted)
-- Params:  ARGV[2] limit, ARGV[3] windowMs`,
  `
local key = KEYS[1]
local limit = tonumber(ARGV[2])
local w = tonumber(ARGV[3])
local now = now_ms
local s = load_state(key, 'fw', 2)
if N == nil then return read_reply(s) end

local sStart, sCount = now, 0
if s ~= nil then sStart, sCount = s[1], s[2] end
local changed = false
for i = 1, N do
  local op, cost = input_at(i)
  local count, start = 0, now
  if sCount > 0 and now < sStart + w then start, count = sStart, sCount end
  if count + cost > limit then
    local closesIn = start + w - now
    emit(false, limit - count, limit, closesIn, closesIn)
  else
    if op == 't' and cost > 0 then
      sStart, sCount = start, count + cost
      changed = true
    end
    local used = count + cost
    local resetAfter = 0
    if used ~= 0 then resetAfter = start + w - now end
    emit(true, limit - used, limit, 0, resetAfter)
  end
end
if changed then save_state(key, 'fw', { sStart, sCount }, sStart + w - now) end
return finish()
`,
);
