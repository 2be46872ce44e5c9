import { limitScript, loadPair, savePair } from "./limit-lib.js";

/**
 * The token bucket (`TokenBucketDecision.step` in src/limit/token-bucket.ts) as one Lua
 * script, with the server's TIME as `now`, including `blockMs`, the paused refill and the
 * operations besides take and peek (penalty, reward, set, lease, return). The key expires
 * when the bucket would be full again, which is exactly when a missing key (a full bucket)
 * means the same thing. Inlined (no helper closures): it is the hottest script.
 */
export const TOKEN_BUCKET_SCRIPT = limitScript(
  "tokenBucket",
  `
-- Breakwater token bucket: takes (or peeks at) tokens of one key, for a batch of inputs.
-- State:   "tb" then two little-endian doubles (struct.pack): <tokens> <at> (tokens held at time at, ms;
--          an at after now pauses the refill until then: a block, or a lease from a nearly full bucket)
-- Params:  ARGV[2] capacity, ARGV[3] ratePerSec, ARGV[4] blockMs (a refused take pauses the refill this long; 0: never)
-- Ops besides 't' and 'p' (each answers a peek at cost 1 afterwards, but 'l'):
--          'f' penalty: take cost past empty; 'g' reward: give cost back; 's' set: cost below full, from now;
--          'r<ticket>' return cost leased tokens if now <= ticket (the lease's deadline);
--          'l<min>:<holdMs>' lease: take up to cost (at least min), answered with three more
--          numbers: granted, validMs, ticket (now + holdMs)`,
  `
local key = KEYS[1]
local capacity = tonumber(ARGV[2])
local perMs = tonumber(ARGV[3]) / 1000
local blockMs = tonumber(ARGV[4])
local now = now_ms
local held, at = capacity, now
${loadPair("tb", "held", "at")}

local out, k = {}, 0
local changed = false
for i = 1, N do
  local op, cost = ARGV[3 + 2 * i], tonumber(ARGV[4 + 2 * i])
  local tokens = held
  if now > at then tokens = tokens + (now - at) * perMs end
  if not (tokens < capacity) then tokens = capacity end
  -- The op's letter: most ops are one letter (no new string on the hot path).
  local c = op
  if #op > 1 then c = string.sub(op, 1, 1) end
  -- A lease that finds fewer than its least is refused as a take of that least would be (a block included).
  local leaseRefused = false
  if c == 'l' then
    local lo, hi = string.match(op, '^l([^:]+):(.+)$')
    local least, hold = tonumber(lo), tonumber(hi)
    local avail = math.max(0, floor(tokens + EPSILON))
    local g = 0
    if avail >= least then g = math.min(cost, avail, math.max(least, math.ceil(avail / 2))) end
    if g == 0 then
      leaseRefused = true
      op, cost, c = 't', least, 't'
    else
      -- Tokens out on lease are never refilled while it is valid: pause the refill as long
      -- as the tokens missing before the lease would not cover the hold.
      local left = tokens - g
      local pauseMs = hold - (capacity - tokens) / perMs
      local untilMs = now
      if pauseMs > 0 then untilMs = now + pauseMs end
      held = left
      if at < untilMs then at = untilMs end
      changed = true
      local paused = 0
      if at > now then paused = at - now end
      out[k + 1] = 1
      out[k + 2] = rnum(math.max(0, floor(left + EPSILON)))
      out[k + 3] = rnum(capacity)
      out[k + 4] = 0
      out[k + 5] = rnum(paused + (capacity - left) / perMs)
      out[k + 6] = g
      out[k + 7] = rnum(hold)
      out[k + 8] = rnum(now + hold)
      k = k + 8
    end
  end
  if c ~= 'l' then
    if c ~= 't' and c ~= 'p' then
      if c == 'f' then
        held = tokens - cost
        if at < now then at = now end
      elseif c == 'g' then
        held = math.min(capacity, tokens + cost)
        if at < now then at = now end
      elseif c == 's' then
        held, at = capacity - cost, now
      elseif c == 'r' then
        if now <= tonumber(string.sub(op, 2)) then
          held = math.min(capacity, tokens + cost)
          if at < now then at = now end
        end
      end
      changed = true
      -- The answer: a peek at cost 1 (one more unit) on the state as it is now.
      op, cost = 'p', 1
      tokens = held
      if now > at then tokens = tokens + (now - at) * perMs end
      if not (tokens < capacity) then tokens = capacity end
    end
    if tokens + EPSILON < cost then
      if op == 't' and blockMs > 0 then
        -- Blocked: the refill pauses blockMs from now (or longer).
        held = tokens
        if at < now + blockMs then at = now + blockMs end
        changed = true
      end
      local paused = 0
      if at > now then paused = at - now end
      out[k + 1] = 0
      out[k + 2] = rnum(math.max(0, floor(tokens + EPSILON)))
      out[k + 4] = rnum(paused + (cost - tokens) / perMs)
      out[k + 5] = rnum(paused + (capacity - tokens) / perMs)
    else
      local left = tokens - cost
      if op == 't' then
        held = left
        if at < now then at = now end
        changed = true
      end
      local paused = 0
      if at > now then paused = at - now end
      out[k + 1] = 1
      out[k + 2] = rnum(math.max(0, floor(left + EPSILON)))
      out[k + 4] = 0
      out[k + 5] = rnum(paused + (capacity - left) / perMs)
    end
    out[k + 3] = rnum(capacity)
    k = k + 5
    if leaseRefused then
      out[k + 1], out[k + 2], out[k + 3] = 0, 0, 0
      k = k + 3
    end
  end
end
if changed then
  -- Expires when full again (refilling from at); an already full bucket is deleted (a missing key reads the same).
  ${savePair("tb", "held", "at", "(capacity - held) / perMs + (at - now)")}
end
out[k + 1] = now
return out
`,
  false,
);
