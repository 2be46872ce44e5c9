import { luaScript } from "./script.js";

/**
 * The breaker's decision (`BreakerDecision.step` in src/breaker/state.ts, with its trip
 * rules, windows and backoffs) as one Lua script: a batch of inputs applied in order,
 * atomically, with the server's TIME as `now`. A transition is published in the same
 * script, so a transition and its announcement cannot be separated.
 */
export const BREAKER_SCRIPT = luaScript(
  "breaker",
  `
-- Breakwater breaker: applies a batch of inputs to one breaker record.
-- KEYS[1]  the breaker's record: JSON {k = "breaker", v = revision (string), p = params, r = record}
-- ARGV[1]  params JSON: {trip = JSON string of the TripSpec, recovery = JSON string of the
--          BackoffSpec, maxCalls, successesToClose, trialTimeoutMs ("inf" for Infinity), quorum}
-- ARGV[2]  the batch, JSON array of entries, in order:
--            ["a", n]                          acquire n permits (one output each)
--            ["s", epoch, n, random]           n successes (random: optional, for a ratio rule's open)
--            ["f", epoch, n, reason, random, origin]
--                                              n failures (reason, pre-drawn random; origin:
--                                              optional, the process, default ARGV[5])
--            ["r", epoch, n]                   n releases (ignored calls)
--            ["i"] isolate, ["x"] reset        ([] entries: none, a read)
--            ["o", forMs]                      open for forMs (by hand)
--            ["v", origin, until]              a process's own view is open until (0: closed)
-- ARGV[3]  the key's TTL in ms (metaTtlMs; an open circuit adds its open interval)
-- ARGV[4]  the pub/sub channel transitions are published on
-- ARGV[5]  the caller's origin id (echoed in the message, so it knows its own)
-- ARGV[6]  optional: the deadline, server ms after which the script does nothing and
--          answers "stale" (0 or missing: none), as the limiters' (see limit-lib.ts)
-- Reply:   JSON {v = revision, n = now_ms, r = record, t = transitions, p = acquire outputs}
--          (the published message is the same JSON plus k = KEYS[1] and o = ARGV[5])
`,
  `
-- A batch that arrives after its caller gave up (e.g. replayed on reconnect) must not count twice.
local __deadline = tonumber(ARGV[6])
if __deadline ~= nil and __deadline > 0 and now_ms > __deadline then return 'stale' end
local P = cjson.decode(ARGV[1])
local T = cjson.decode(P.trip)
local B = cjson.decode(P.recovery)
local batch = cjson.decode(ARGV[2])
local ttl = tonumber(ARGV[3])
local maxCalls = num(P.maxCalls)
local successesToClose = num(P.successesToClose)
local trialTimeoutMs = num(P.trialTimeoutMs)
local quorum = tonumber(P.quorum) or 1
local kind = T.kind
local slotMs = 0
if T.windowMs ~= nil and T.buckets ~= nil then slotMs = T.windowMs / T.buckets end

-- ---- windows (src/breaker/windows.ts) ----
local function count_push(w, failed)
  local v = 0
  if failed then v = 1 end
  local n = #w.ring
  if w.filled == n then w.failures = w.failures - w.ring[w.next + 1] else w.filled = w.filled + 1 end
  w.ring[w.next + 1] = v
  w.failures = w.failures + v
  w.next = (w.next + 1) % n
end

local function time_push(w, failed, now)
  local slot = math.floor(now / slotMs)
  local i = (slot % #w.stamps) + 1
  if w.stamps[i] ~= slot then
    w.stamps[i] = slot
    w.calls[i] = 0
    w.failures[i] = 0
  end
  w.calls[i] = w.calls[i] + 1
  if failed then w.failures[i] = w.failures[i] + 1 end
end

local function time_totals(w, now)
  local oldest = math.floor(now / slotMs) - #w.stamps + 1
  local calls, failures = 0, 0
  for i = 1, #w.stamps do
    if w.stamps[i] >= oldest then
      calls = calls + w.calls[i]
      failures = failures + w.failures[i]
    end
  end
  return calls, failures
end

-- ---- trip rules (src/breaker/trip.ts) ----
local function trip_init()
  if kind == 'consecutiveFailures' then return { consecutive = 0 } end
  if kind == 'failureRatio' then
    local ring = {}
    for i = 1, T.windowCalls do ring[i] = 0 end
    return { ring = ring, next = 0, filled = 0, failures = 0 }
  end
  local stamps, calls, failures = {}, {}, {}
  for i = 1, T.buckets do
    stamps[i] = -1
    calls[i] = 0
    failures[i] = 0
  end
  return { stamps = stamps, calls = calls, failures = failures }
end

-- Every outcome judges the ratio, a success too.
local function ratio_met(calls, failures)
  return calls >= T.minimumCalls and failures > 0 and failures >= T.ratio * calls - 1e-9
end

local function trip_record(s, failed, now)
  if kind == 'consecutiveFailures' then
    if failed then s.consecutive = s.consecutive + 1 else s.consecutive = 0 end
    return s.consecutive >= T.threshold
  elseif kind == 'failuresInWindow' then
    if not failed then
      -- resetOnSuccess: a success clears the failures counted so far.
      if T.resetOnSuccess then
        local _, failures = time_totals(s, now)
        if failures > 0 then
          for i = 1, #s.stamps do
            s.stamps[i] = -1
            s.calls[i] = 0
            s.failures[i] = 0
          end
        end
      end
      return false
    end
    time_push(s, true, now)
    local _, failures = time_totals(s, now)
    return failures >= T.threshold
  elseif kind == 'failureRatio' then
    count_push(s, failed)
    return ratio_met(s.filled, s.failures)
  end
  -- failureRatioInTime
  time_push(s, failed, now)
  local calls, failures = time_totals(s, now)
  return ratio_met(calls, failures)
end

-- ---- quorum (BreakerDecision.judge) ----
-- A failure's mark: its outcome number (count rules) or its time (time windows).
local function mark_of(outcomes, now)
  if kind == 'consecutiveFailures' or kind == 'failureRatio' then return outcomes end
  return now
end

-- Whether a failure with that mark is still among the outcomes the rule considers.
local function still_counts(s, mark, outcomes, now)
  if kind == 'consecutiveFailures' then return mark > outcomes - s.consecutive end
  if kind == 'failureRatio' then return mark > outcomes - s.filled end
  return math.floor(mark / slotMs) >= math.floor(now / slotMs) - T.buckets + 1
end

local function reset_counts(r)
  r.trip = trip_init()
  r.outcomes = 0
  r.failers = {}
end

local function judge(r, failed, origin, now)
  local met = trip_record(r.trip, failed, now)
  if quorum == 1 then return met end
  r.outcomes = r.outcomes + 1
  -- A success that cleared the rule's failures clears the processes they came from too.
  if not failed and kind == 'failuresInWindow' and T.resetOnSuccess then r.failers = {} end
  if failed then r.failers[origin] = mark_of(r.outcomes, now) end
  local processes = 0
  local stale = {}
  for p, m in pairs(r.failers) do
    if still_counts(r.trip, m, r.outcomes, now) then processes = processes + 1 else stale[#stale + 1] = p end
  end
  for _, p in ipairs(stale) do r.failers[p] = nil end
  return met and processes >= quorum
end

local function view(r, origin, untilMs, now)
  if untilMs > now then r.views[origin] = untilMs else r.views[origin] = nil end
  local stale = {}
  for p, u in pairs(r.views) do
    if u <= now then stale[#stale + 1] = p end
  end
  for _, p in ipairs(stale) do r.views[p] = nil end
end

local function count_keys(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- ---- recovery backoff (src/backoff/) ----
local function grow(base, factor, k)
  if base == 0 then return 0 end
  return base * factor ^ k
end

local b_base, b_cap
if B.kind == 'constant' then
  b_base, b_cap = B.delayMs, B.delayMs
elseif B.kind == 'exponential' then
  b_base, b_cap = B.initialMs, num(B.maxMs)
else
  b_base = B.intervalMs
  b_cap = math.min(num(B.maxMs), grow(B.intervalMs, B.factor, B.exponentialAttempts))
end

local function raw_delay(attempt)
  if B.kind == 'constant' then return B.delayMs end
  if B.kind == 'exponential' then return math.min(num(B.maxMs), grow(B.initialMs, B.factor, attempt - 1)) end
  local k = math.min(math.max(0, attempt - B.fixedAttempts), B.exponentialAttempts)
  return math.min(num(B.maxMs), grow(B.intervalMs, B.factor, k))
end

local function delay(attempt, u, previous)
  local a = 1
  if attempt >= 1 then a = math.floor(attempt) end
  local d = raw_delay(a)
  local j = B.jitter
  if j == 'none' then return d end
  if j == 'full' then return u * d end
  if j == 'equal' then return d / 2 + (u * d) / 2 end
  local prev = previous
  if prev == nil or prev < b_base then prev = b_base end
  return math.min(b_cap, b_base + u * (prev * 3 - b_base))
end

-- ---- the state machine (src/breaker/state.ts) ----
local function init_record()
  return {
    state = 'closed', isolated = false, epoch = 0, openedAt = -1, nextProbeAt = 0, attempt = 0,
    openForMs = 0, trials = 0, trialSuccesses = 0, halfOpenAt = -1, trip = trip_init(), lastFailure = cjson.null,
    outcomes = 0, failers = {}, views = {},
  }
end

local function transition(from, to, reason, now)
  return { from = from, to = to, reason = reason, at = now }
end

local function open(r, now, attempt, random, reason)
  local from = r.state
  r.attempt = math.max(1, attempt)
  if r.isolated then
    r.openForMs = 0
  else
    local previous = nil
    if r.openForMs ~= 0 then previous = r.openForMs end
    r.openForMs = delay(r.attempt, random, previous)
  end
  r.state = 'open'
  r.epoch = r.epoch + 1
  r.openedAt = now
  if r.isolated then r.nextProbeAt = INF else r.nextProbeAt = now + r.openForMs end
  r.trials = 0
  r.trialSuccesses = 0
  r.halfOpenAt = -1
  return transition(from, 'open', reason, now)
end

local function half_open(r, now)
  r.state = 'half-open'
  r.epoch = r.epoch + 1
  r.trials = 0
  r.trialSuccesses = 0
  r.halfOpenAt = now
  return transition('open', 'half-open', 'recovery interval elapsed', now)
end

local function close(r, now, reason)
  local from = r.state
  r.state = 'closed'
  r.epoch = r.epoch + 1
  r.attempt = 0
  r.openForMs = 0
  r.openedAt = -1
  r.nextProbeAt = 0
  r.trials = 0
  r.trialSuccesses = 0
  r.halfOpenAt = -1
  reset_counts(r)
  return transition(from, 'closed', reason, now)
end

local function trip_reason(r)
  local why
  if r.lastFailure == cjson.null then why = 'trip rule ' .. kind .. ' reached'
  else why = 'trip rule ' .. kind .. ' reached: ' .. r.lastFailure.reason end
  if quorum == 1 then return why end
  return why .. ' (' .. count_keys(r.failers) .. ' processes)'
end

-- Opens for forMs by hand; already open: the probe time moves; isolated: nothing.
local function open_for(r, now, forMs)
  if r.isolated then return nil end
  local from = r.state
  r.attempt = math.max(1, r.attempt)
  r.openForMs = forMs
  r.nextProbeAt = now + forMs
  if from == 'open' then return nil end
  r.state = 'open'
  r.epoch = r.epoch + 1
  r.openedAt = now
  r.trials = 0
  r.trialSuccesses = 0
  r.halfOpenAt = -1
  return transition(from, 'open', 'opened by hand', now)
end

local function trial_succeeded(r, now, from)
  r.trialSuccesses = r.trialSuccesses + 1
  if r.trialSuccesses >= successesToClose then
    local plural = 's'
    if r.trialSuccesses == 1 then plural = '' end
    local t = close(r, now, r.trialSuccesses .. ' trial call' .. plural .. ' succeeded')
    if from ~= 'half-open' then t.from = from end
    return t
  end
  if from == 'open' then return transition('open', 'half-open', 'recovery interval elapsed', now) end
  return nil
end

-- Returns the permit and the transition it caused (or nil).
local function acquire(r, now)
  if r.isolated then return { allowed = false, retryAfterMs = INF }, nil end
  if r.state == 'closed' then return { allowed = true, epoch = r.epoch }, nil end
  if r.state == 'open' then
    if now < r.nextProbeAt then return { allowed = false, retryAfterMs = r.nextProbeAt - now }, nil end
    local t = half_open(r, now)
    r.trials = 1
    return { allowed = true, epoch = r.epoch }, t
  end
  if r.trials >= maxCalls and now - r.halfOpenAt >= trialTimeoutMs then
    -- Every trial permit is out and none came back in time: take them back.
    r.trials = 0
    r.halfOpenAt = now
  end
  if r.trials >= maxCalls then return { allowed = false, retryAfterMs = 0 }, nil end
  r.trials = r.trials + 1
  return { allowed = true, epoch = r.epoch }, nil
end

local function success(r, epoch, random, now)
  if r.isolated then return nil end
  local current = epoch == -1 or epoch == r.epoch
  if r.state == 'closed' then
    if not current or not judge(r, false, '', now) then return nil end
    return open(r, now, 1, random, trip_reason(r))
  end
  if r.state == 'open' then
    -- A manual success once a probe is due counts as a successful probe.
    if epoch ~= -1 or now < r.nextProbeAt then return nil end
    half_open(r, now)
    return trial_succeeded(r, now, 'open')
  end
  if not current then return nil end
  if epoch ~= -1 and r.trials > 0 then r.trials = r.trials - 1 end
  return trial_succeeded(r, now, 'half-open')
end

local function failure(r, epoch, reason, random, origin, now)
  r.lastFailure = { reason = reason, at = now }
  if r.isolated then return nil end
  local current = epoch == -1 or epoch == r.epoch
  if r.state == 'closed' then
    if not current or not judge(r, true, origin, now) then return nil end
    return open(r, now, 1, random, trip_reason(r))
  end
  if r.state == 'open' then
    -- A manual failure once a probe is due counts as a failed probe.
    if epoch ~= -1 or now < r.nextProbeAt then return nil end
    return open(r, now, r.attempt + 1, random, 'probe failed: ' .. reason)
  end
  if not current then return nil end
  return open(r, now, r.attempt + 1, random, 'trial call failed: ' .. reason)
end

-- ---- load, apply the batch, store, publish ----
local stored = redis.call('GET', KEYS[1])
local r, rev
if stored then
  local w = cjson.decode(stored)
  r = w.r
  rev = tonumber(w.v)
  if r.nextProbeAt == 'inf' then r.nextProbeAt = INF end
  -- Written before quorum existed: no bookkeeping yet.
  if r.outcomes == nil then r.outcomes = 0 end
  if type(r.failers) ~= 'table' then r.failers = {} end
  if type(r.views) ~= 'table' then r.views = {} end
  -- The trip rule changed since the record was written: its counting state no longer fits.
  if w.p == nil or cjson.decode(w.p).trip ~= P.trip then reset_counts(r) end
else
  r = init_record()
  rev = 0
end

local now = now_ms
local transitions = {}
local outputs = {}
local changed = false
for _, e in ipairs(batch) do
  local op = e[1]
  if op == 'a' then
    for _ = 1, e[2] do
      local permit, t = acquire(r, now)
      permit.retryAfterMs = jnum(permit.retryAfterMs)
      outputs[#outputs + 1] = permit
      if t then transitions[#transitions + 1] = t end
    end
    changed = true
  elseif op == 's' or op == 'f' or op == 'r' then
    for _ = 1, e[3] do
      local t = nil
      if op == 's' then
        t = success(r, e[2], e[4] or 0, now)
      elseif op == 'f' then
        t = failure(r, e[2], e[4], e[5], e[6] or ARGV[5], now)
      elseif r.state == 'half-open' and e[2] == r.epoch and r.trials > 0 then
        r.trials = r.trials - 1
      end
      if t then transitions[#transitions + 1] = t end
    end
    changed = true
  elseif op == 'i' then
    if not r.isolated then
      r.isolated = true
      transitions[#transitions + 1] = open(r, now, r.attempt, 0, 'isolated')
    end
    changed = true
  elseif op == 'o' then
    local t = open_for(r, now, e[2])
    if t then transitions[#transitions + 1] = t end
    changed = true
  elseif op == 'v' then
    view(r, e[2], e[3], now)
    changed = true
  elseif op == 'x' then
    r.views = {}
    if not r.isolated and r.state == 'closed' then
      reset_counts(r)
    else
      r.isolated = false
      transitions[#transitions + 1] = close(r, now, 'reset')
    end
    changed = true
  end
end

if changed then
  rev = math.max(rev + 1, now_us)
  local keep = ttl
  if r.state == 'open' and r.nextProbeAt ~= INF then keep = keep + math.max(0, r.nextProbeAt - now) end
  r.nextProbeAt = jnum(r.nextProbeAt)
  redis.call('SET', KEYS[1], cjson.encode({ k = 'breaker', v = revstr(rev), p = ARGV[1], r = r }), 'PX', math.floor(keep))
else
  r.nextProbeAt = jnum(r.nextProbeAt)
end

local reply = { v = revstr(rev), n = now, r = r, t = transitions, p = outputs }
if #transitions > 0 then
  reply.k = KEYS[1]
  reply.o = ARGV[5]
  local message = cjson.encode(reply)
  redis.call('PUBLISH', ARGV[4], message)
  return message
end
return cjson.encode(reply)
`,
);
