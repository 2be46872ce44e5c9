import { limitScript } from "./limit-lib.js";

/**
 * The approximate sliding window (`SlidingCounterDecision.step` in
 * src/limit/sliding-window.ts) as one Lua script, with the server's TIME as `now`. The key
 * expires when neither window counts any more (two windows after the current one began,
 * or one when the current one is empty).
 */
export const SLIDING_COUNTER_SCRIPT = limitScript(
  "slidingCounter",
  `
-- Breakwater approximate sliding window: takes (or peeks at) units of one key, for a batch of inputs.
-- State:   "sc" then doubles: <start> <current> <previous>" (the aligned window at start, its count and the previous one's)
-- Params:  ARGV[2] limit, ARGV[3] windowMs`,
  `
local key = KEYS[1]
local limit = tonumber(ARGV[2])
local w = tonumber(ARGV[3])
local now = now_ms
local s = load_state(key, 'sc', '<ddd', 26)
if N == nil then return read_reply(s, 3) end

-- math.fmod is C's fmod, like JavaScript's %.
local start = now - math.fmod(math.fmod(now, w) + w, w)
local sStart, sCurrent, sPrevious = start, 0, 0
if s ~= nil then sStart, sCurrent, sPrevious = s[1], s[2], s[3] end

local function reset_at(c, p)
  if c > 0 then return start + 2 * w end
  if p > 0 then return start + w end
  return start
end

local changed = false
for i = 1, N do
  local op, cost = ARGV[2 + 2 * i], tonumber(ARGV[3 + 2 * i])
  local current, previous = sCurrent, sPrevious
  if start ~= sStart then
    if start - sStart == w then previous = current else previous = 0 end
    current = 0
  end
  local elapsed = now - start
  local estimate = previous * (1 - elapsed / w) + current
  if estimate + cost > limit + EPSILON then
    local room = limit - current - cost
    local at
    if room >= 0 then
      at = start + w * (1 - room / previous)
    else
      at = start + w + w * math.max(0, 1 - (limit - cost) / current)
    end
    emit(false, math.max(0, floor(limit - estimate + EPSILON)), limit, at - now, reset_at(current, previous) - now)
  else
    if op == 't' then
      sStart, sCurrent, sPrevious = start, current + cost, previous
      changed = true
    end
    emit(true, math.max(0, floor(limit - estimate - cost + EPSILON)), limit, 0, math.max(0, reset_at(current + cost, previous) - now))
  end
end
if changed then save_state(key, 'sc' .. struct.pack('<ddd', sStart, sCurrent, sPrevious), reset_at(sCurrent, sPrevious) - now) end
return finish()
`,
);
