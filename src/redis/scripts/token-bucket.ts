import { limitScript } from "./limit-lib.js";

/**
 * The token bucket (`TokenBucketDecision.step` in src/limit/token-bucket.ts) as one Lua
 * script, with the server's TIME as `now`. The key expires when the bucket would be full
 * again, which is exactly when a missing key (a full bucket) means the same thing.
 */
export const TOKEN_BUCKET_SCRIPT = limitScript(
  "tokenBucket",
  `
-- Breakwater token bucket: takes (or peeks at) tokens of one key, for a batch of inputs.
-- State:   "tb" then doubles: <tokens> <at>" (tokens held at time at, ms)
-- Params:  ARGV[2] capacity, ARGV[3] ratePerSec`,
  `
local key = KEYS[1]
local capacity = tonumber(ARGV[2])
local perMs = tonumber(ARGV[3]) / 1000
local now = now_ms
local s = load_state(key, 'tb', 2)
if N == nil then return read_reply(s) end

local held, at = capacity, now
if s ~= nil then held, at = s[1], s[2] end
local changed = false
for i = 1, N do
  local op, cost = input_at(i)
  local tokens = held
  if now > at then tokens = tokens + (now - at) * perMs end
  if not (tokens < capacity) then tokens = capacity end
  if tokens + EPSILON < cost then
    emit(false, math.floor(tokens + EPSILON), capacity, (cost - tokens) / perMs, (capacity - tokens) / perMs)
  else
    local left = tokens - cost
    if op == 't' then
      held, at = left, now
      changed = true
    end
    emit(true, math.max(0, math.floor(left + EPSILON)), capacity, 0, (capacity - left) / perMs)
  end
end
if changed then save_state(key, 'tb', { held, at }, (capacity - held) / perMs) end
return finish()
`,
);
