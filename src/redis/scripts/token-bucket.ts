import { limitScript, loadPair, savePair } from "./limit-lib.js";

/**
 * The token bucket (`TokenBucketDecision.step` in src/limit/token-bucket.ts) as one Lua
 * script, with the server's TIME as `now`. The key expires when the bucket would be full
 * again, which is exactly when a missing key (a full bucket) means the same thing.
 * Inlined (no helper closures): it is the hottest script.
 */
export const TOKEN_BUCKET_SCRIPT = limitScript(
  "tokenBucket",
  `
-- Breakwater token bucket: takes (or peeks at) tokens of one key, for a batch of inputs.
-- State:   "tb" then two little-endian doubles (struct.pack): <tokens> <at> (tokens held at time at, ms)
-- Params:  ARGV[2] capacity, ARGV[3] ratePerSec`,
  `
local key = KEYS[1]
local capacity = tonumber(ARGV[2])
local perMs = tonumber(ARGV[3]) / 1000
local now = now_ms
local held, at = capacity, now
${loadPair("tb", "held", "at")}

local out, k = {}, 0
local changed = false
for i = 1, N do
  local op, cost = ARGV[2 + 2 * i], tonumber(ARGV[3 + 2 * i])
  local tokens = held
  if now > at then tokens = tokens + (now - at) * perMs end
  if not (tokens < capacity) then tokens = capacity end
  if tokens + EPSILON < cost then
    out[k + 1] = 0
    out[k + 2] = rnum(floor(tokens + EPSILON))
    out[k + 4] = rnum((cost - tokens) / perMs)
    out[k + 5] = rnum((capacity - tokens) / perMs)
  else
    local left = tokens - cost
    if op == 't' then
      held, at = left, now
      changed = true
    end
    out[k + 1] = 1
    out[k + 2] = rnum(math.max(0, floor(left + EPSILON)))
    out[k + 4] = 0
    out[k + 5] = rnum((capacity - left) / perMs)
  end
  out[k + 3] = rnum(capacity)
  k = k + 5
end
if changed then
  -- Expires when full again; an already full bucket is deleted (a missing key reads the same).
  ${savePair("tb", "held", "at", "(capacity - held) / perMs")}
end
out[k + 1] = now
return out
`,
  false,
);
