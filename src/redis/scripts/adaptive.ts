import { CAP_RETRY_MS, UNKEPT_RETRY_MS } from "../../limit/adaptive-decision.js";
import { BELOW_CONFIRM_MS, EVIDENCE_MS, GATE_HOLD_MS, LONE_MIN } from "../../limit/concurrency-gate.js";
import { FLIGHT_SPAN_MS, IN_FLIGHT_FIELDS } from "../../limit/in-flight.js";
import { EXACT_NUMBERS, STALE_CHECK } from "./limit-lib.js";
import { luaScript } from "./script.js";

/** The order of the adaptive record's fields in its stored string (and in a read's reply). */
export const ADAPTIVE_FIELDS = [
  "rate",
  "base",
  "ceiling",
  "outages",
  "cutAt",
  "holdFor",
  "startAt",
  "epoch",
  "loss",
  "epochOk",
  "epochNo",
  "streak",
  "tokens",
  "refilledAt",
  "cooldownUntil",
  "meterAt",
  "okCur",
  "okPrev",
  "txCur",
  "txPrev",
  "noCur",
  "noPrev",
  "strictUntil",
  "capRate",
  "capUntil",
  "policyRate",
  "policyUntil",
  "successes",
  "backoffs",
  "lastStatus",
  "lastAt",
  "lastRetryAfterMs",
  "source",
  "touchedAt",
  "headSince",
  "headDue",
  "nextSince",
  "nextDue",
  ...IN_FLIGHT_FIELDS,
  "gateLimit",
  "gateLevel",
  "gateAt",
  "gateBelowAt",
  "gateOpens",
  "gateOpenedAt",
  "evidence0",
  "evidenceAt0",
  "evidence1",
  "evidenceAt1",
] as const;

/** The order of the law's parameters in ARGV[2]. */
export const ADAPTIVE_PARAMS = [
  "initialRate",
  "minRate",
  "maxRate",
  "burst",
  "decrease",
  "headroom",
  "holdMs",
  "holdPerCooldown",
  "doublingMs",
  "probeGain",
  "cooldownMultiplier",
  "maxCooldownMs",
  "forgetAfterMs",
  "cooldownCapMs",
] as const;

type AdaptiveField = (typeof ADAPTIVE_FIELDS)[number];

/**
 * The record a key starts with, as Lua expressions (`t` is now). Pairs, not an object keyed
 * by field: an object literal with the record's names in its order shares V8's hidden
 * class with the in-memory record, and its string values would turn that record's double
 * fields into boxed ones (+7 % instructions on the in-memory adaptive limiter's hot path).
 */
const INITIAL: readonly (readonly [AdaptiveField, string])[] = [
  ["rate", "initialRate"],
  ["base", "initialRate"],
  ["ceiling", "-1"],
  ["outages", "0"],
  ["cutAt", "-1"],
  ["holdFor", "holdMs"],
  ["startAt", "-1"],
  ["epoch", "0"],
  ["loss", "0"],
  ["epochOk", "0"],
  ["epochNo", "0"],
  ["streak", "0"],
  ["tokens", "burst"],
  ["refilledAt", "t"],
  ["cooldownUntil", "0"],
  ["meterAt", "t"],
  ["okCur", "0"],
  ["okPrev", "0"],
  ["txCur", "0"],
  ["txPrev", "0"],
  ["noCur", "0"],
  ["noPrev", "0"],
  ["strictUntil", "-1"],
  ["capRate", "-1"],
  ["capUntil", "-1"],
  ["policyRate", "-1"],
  ["policyUntil", "-1"],
  ["successes", "0"],
  ["backoffs", "0"],
  ["lastStatus", "0"],
  ["lastAt", "-1"],
  ["lastRetryAfterMs", "-1"],
  ["source", "SOURCE_INITIAL"],
  ["touchedAt", "t"],
  ["headSince", "-1"],
  ["headDue", "-1"],
  ["nextSince", "-1"],
  ["nextDue", "-1"],
  ["flightSpan", "math.floor(t / FLIGHT_SPAN_MS)"],
  ["flightCur", "0"],
  ["flightPrev", "0"],
  ["grants", "0"],
  ["refusedSeq0", "-1"],
  ["refusedAt0", "-1"],
  ["refusedSeq1", "-1"],
  ["refusedAt1", "-1"],
  ["refusedSeq2", "-1"],
  ["refusedAt2", "-1"],
  ["refusedSeq3", "-1"],
  ["refusedAt3", "-1"],
  ["gateLimit", "-1"],
  ["gateLevel", "-1"],
  ["gateAt", "-1"],
  ["gateBelowAt", "-1"],
  ["gateOpens", "0"],
  ["gateOpenedAt", "-1"],
  ["evidence0", "-1"],
  ["evidenceAt0", "-1"],
  ["evidence1", "-1"],
  ["evidenceAt1", "-1"],
];

/** The initial value of `field`, as a Lua expression. */
function initialOf(field: AdaptiveField): string {
  const pair = INITIAL.find(([name]) => name === field);
  if (pair === undefined) throw new Error(`adaptive script: no initial value for ${field}`);
  return pair[1];
}

const FIELD_COUNT = ADAPTIVE_FIELDS.length;
/** The places (from 1) of the count in flight and the refusals kept, which a reset keeps (in-flight.ts's `carryFlights`). */
const FLIGHT_FIRST = ADAPTIVE_FIELDS.indexOf(IN_FLIGHT_FIELDS[0]) + 1;
const FLIGHT_LAST = FLIGHT_FIRST + IN_FLIGHT_FIELDS.length - 1;
/** The struct format of the stored record. */
const RECORD = `<${"d".repeat(FIELD_COUNT)}`;

/**
 * ARGV[2] read into one local per param, by one anchored match: no iterator, no table
 * (the split with gmatch cost about 1 µs per call).
 */
const PARAMS = `local ${ADAPTIVE_PARAMS.join(", ")} = string.match(ARGV[2], '^${ADAPTIVE_PARAMS.map(() => "(%S+)").join(" ")}$')
${ADAPTIVE_PARAMS.join(", ")} = ${ADAPTIVE_PARAMS.map((name) => `tonumber(${name})`).join(", ")}`;

/**
 * `body` with each `s.<field>` written as `s[<its place in ADAPTIVE_FIELDS>]`: the script
 * holds the record as the array struct.unpack gives and struct.pack takes, with no table
 * keyed by name to fill and empty on every call (about 4 of its 20 µs per call on the server).
 */
function recordAsArray(body: string): string {
  return body.replace(/\bs\.(\w+)/g, (_, name: string) => {
    const i = (ADAPTIVE_FIELDS as readonly string[]).indexOf(name);
    if (i < 0) throw new Error(`adaptive script: s.${name} is no record field`);
    return `s[${i + 1}]`;
  });
}

/**
 * The adaptive limiter's decision (`AdaptiveDecision.step` in src/limit/adaptive-decision.ts)
 * as one Lua script, with the server's TIME as `now`: every process sharing the key shares
 * one rate, one pacing bucket and one cooldown, so a back-off seen by one slows them all.
 * The key expires `forgetAfterMs` after its last use (or when its cooldown ends, if later).
 */
export const ADAPTIVE_SCRIPT = luaScript(
  "adaptive",
  `
-- Breakwater adaptive limiter: applies one input to the shared record.
-- KEYS[1]  the record: "ad" and ${FIELD_COUNT} little-endian doubles (struct.pack), in the order of
--          ADAPTIVE_FIELDS (src/redis/scripts/adaptive.ts)
-- ARGV[1]  the input: 'a' acquire, 's' success, 'b' backoff, 'o' outage, 'l' release, 'x' reset, 'r' read the record
-- ARGV[2]  the params, space-separated in the order of ADAPTIVE_PARAMS
-- ARGV[3..] 'a': cost, waitedMs (-1: a one-shot try) | 's': epoch, quota, flight, others, seq
--          | 'b': epoch, status, retryAfterMs, quota, issuedRate (-1: unknown), flight, others, seq, closeFrom
--          | 'o': epoch, retryAfterMs, flight | 'l' (a permit released): flight
--          flight: the span the answered permit was counted in (-1: unknown, the oldest; -2: none)
--          others, seq: the permit's requests in flight at its grant and its number (-1: unknown)
--          closeFrom: the least count in flight the sender's successes allow a cap at (-1: too few)
--          quota: "-" for none, or "<limit> <remaining> <resetMs> <policyRate>" (-1 = not given)
-- ARGV[#ARGV] the deadline: server ms after which the script does nothing (0: none)
-- Reply:   {allowed, waitMs, epoch, rate, previousRate, cooldownUntil, congestion, cooldownMs,
--          source, tokens, successes, backoffs, lastStatus, lastAt, lastRetryAfterMs, inFlight, flightSpan,
--          seq, others, gateLimit, gateOpens, gateOpenedAt, server now_ms}
--          (integral numbers as integers, others as exact text; 'r': the ${FIELD_COUNT} numbers, or nil; past the deadline: "stale")
`,
  recordAsArray(`
${STALE_CHECK}
local key = KEYS[1]
local op = ARGV[1]

${EXACT_NUMBERS}
local function numbers(text)
  local out = {}
  for word in string.gmatch(text, '%S+') do out[#out + 1] = tonumber(word) end
  return out
end

${PARAMS}

-- Constants of src/limit/adaptive-decision.ts.
local METER_BUCKET_MS = 1000
local TIMER_SLACK_MS = 1
local POLICY_SLACK_MS = 3
local OUTAGE_CONFIRM = 2
local OUTAGE_TRICKLE = 0.5
local ROUNDING_MS = 1000
local ESCALATE_MAX = 6
local STREAK_FREE = 3
local STREAK_DOUBLINGS = 3
local SUSTAINED_SHARE = 0.03
local PROBE_RETURN_S = 0.5
local CUT_BOUND = 3
local CEILING_SPAN = 2
local STEEP_SHARE = 4
local LOSS_WEIGHT = 0.3
local CONFIRM_LOSS = 0.5
local MIN_SAMPLES = 3
local POLICY_TTL_MS = 60000
local POLICY_SHARE = 0.975
local RESERVE_SHARE = 0.02
local MIN_RESERVE = 1
local APP_LIMIT_FACTOR = 2
local WAITER_GRACE_MS = 10
local SAME_WAITER_MS = 5
local FLIGHT_SPAN_MS = ${FLIGHT_SPAN_MS}
local CAP_RETRY_MS = ${CAP_RETRY_MS}
local UNKEPT_RETRY_MS = ${UNKEPT_RETRY_MS}
local GATE_HOLD_MS = ${GATE_HOLD_MS}
local EVIDENCE_MS = ${EVIDENCE_MS}
local BELOW_CONFIRM_MS = ${BELOW_CONFIRM_MS}
local LONE_MIN = ${LONE_MIN}
local SOURCE_INITIAL, SOURCE_ADAPTIVE, SOURCE_HEADERS = 0, 1, 2

local now = now_ms

-- The record: an array in the order of ADAPTIVE_FIELDS (named in adaptive.ts, numbered when built).
local function init(t)
  return { ${ADAPTIVE_FIELDS.map(initialOf).join(", ")} }
end

-- Load: another decision's state at this key is started afresh, as in MemoryStore.
-- (unpack's last value, its next position, lands past the record, unused.)
local s = nil
local text = redis.pcall('GET', key)
if type(text) == 'string' and #text == ${2 + 8 * FIELD_COUNT} and string.sub(text, 1, 2) == 'ad' then
  s = { struct.unpack('${RECORD}', text, 3) }
end
if op == 'r' then
  if s == nil then return false end
  local out = {}
  for i = 1, ${FIELD_COUNT} do out[i] = f(s[i]) end
  return out
end
if s == nil then s = init(now) end

local function clamp(rate)
  return math.min(maxRate, math.max(minRate, rate))
end

local function pace(t)
  local rate = s.rate
  if s.capUntil > t then rate = math.min(s.rate, s.capRate) end
  if s.outages >= OUTAGE_CONFIRM then return math.max(minRate, math.min(rate, math.max(1, OUTAGE_TRICKLE * rate))) end
  return rate
end

local function refill()
  if now > s.refilledAt then
    local p = pace(s.refilledAt)
    local cap = burst
    local slackMs = TIMER_SLACK_MS
    if s.policyUntil > now then slackMs = POLICY_SLACK_MS end
    if s.strictUntil <= now then cap = burst + math.max(p * slackMs, p * POLICY_SLACK_MS - 1000) / 1000 end
    s.tokens = math.min(cap, s.tokens + ((now - s.refilledAt) * p) / 1000)
    s.refilledAt = now
  end
end

local function roll()
  local elapsed = now - s.meterAt
  if elapsed < METER_BUCKET_MS then return end
  if elapsed < 2 * METER_BUCKET_MS then
    s.okPrev = s.okCur
    s.txPrev = s.txCur
    s.noPrev = s.noCur
    s.meterAt = s.meterAt + METER_BUCKET_MS
  else
    s.okPrev = 0
    s.txPrev = 0
    s.noPrev = 0
    s.meterAt = now - math.fmod(elapsed, METER_BUCKET_MS)
  end
  s.okCur = 0
  s.txCur = 0
  s.noCur = 0
end

-- Events per second over the last second (rate, samples).
local function window_rate(cur, prev)
  local into = math.min(1, math.max(0, (now - s.meterAt) / METER_BUCKET_MS))
  local samples = cur + prev * (1 - into)
  return (samples * 1000) / METER_BUCKET_MS, samples
end

local function measured_rate()
  local rate, samples = window_rate(s.okCur, s.okPrev)
  if samples >= MIN_SAMPLES then return rate end
  return nil
end

local function quota(q)
  local limit, remaining, resetMs, policyRate = q[1], q[2], q[3], q[4]
  if policyRate > 0 then
    s.policyRate = policyRate
    s.policyUntil = now + math.max(POLICY_TTL_MS, resetMs)
  end
  if remaining < 0 then return 0 end
  if resetMs <= 0 then
    s.capUntil = -1
    return 0
  end
  if remaining < 1 then
    s.capUntil = -1
    if policyRate > 0 then return 0 end
    local w = math.min(resetMs, maxCooldownMs)
    if now + w <= s.cooldownUntil then return 0 end
    s.cooldownUntil = now + w
    return w
  end
  local spread = (remaining * 1000) / resetMs
  local cap = spread
  if policyRate > 0 then
    local basis = policyRate
    if limit > 0 then basis = limit end
    local reserve = math.max(MIN_RESERVE, RESERVE_SHARE * basis)
    cap = math.max(spread, policyRate * math.min(1, remaining / reserve))
  end
  s.capRate = math.max(minRate, cap)
  s.capUntil = now + resetMs
  s.source = SOURCE_HEADERS
  return 0
end

local function grow()
  local holding = s.cutAt >= 0 and now - s.cutAt <= s.holdFor
  local policy = -1
  if s.policyUntil > now then policy = clamp(s.policyRate * POLICY_SHARE) end
  if policy > 0 and (s.rate > policy or (s.cutAt < 0 and not holding)) then
    s.rate = policy
    s.base = math.min(s.base, policy)
    s.source = SOURCE_HEADERS
    return
  end
  local target
  if s.cutAt < 0 then
    target = s.base * 2 ^ (math.max(0, now - math.max(s.startAt, 0)) / doublingMs)
  else
    local t = math.max(0, now - s.cutAt - s.holdFor) / 1000
    local ceiling = math.max(s.ceiling * (1 - headroom / 2), s.base)
    local d = t - PROBE_RETURN_S
    if d < 0 then
      local fr = -d / PROBE_RETURN_S
      target = ceiling - (ceiling - s.base) * fr * fr * fr
    else
      target = ceiling * (1 + probeGain * d * d * d * d)
    end
  end
  local sent = window_rate(s.txCur, s.txPrev)
  local nextRate = clamp(math.min(target, math.max(s.base, APP_LIMIT_FACTOR * sent)))
  if policy > 0 then nextRate = math.min(nextRate, policy) end
  if nextRate ~= s.rate then
    s.rate = nextRate
    if s.source == SOURCE_INITIAL then s.source = SOURCE_ADAPTIVE end
  end
end

-- The first success after an outage: growth resumes from where it stood.
local function resume()
  if s.cutAt < 0 then
    s.startAt = now
    s.base = s.rate
  elseif now - s.cutAt > s.holdFor + PROBE_RETURN_S * 1000 then
    s.cutAt = now - s.holdFor - PROBE_RETURN_S * 1000
    s.base = math.min(s.base, s.rate)
  end
end

-- The two longest-waiting callers turned away: a free permit goes to the longest waiter first.
local function forget_next()
  s.nextSince = -1
  s.nextDue = -1
end

local function promote()
  s.headSince = s.nextSince
  s.headDue = s.nextDue
  forget_next()
end

local function waiters_ahead(since)
  local n = 0
  if s.headSince >= 0 and s.headSince < since - SAME_WAITER_MS then n = n + 1 end
  if s.nextSince >= 0 and s.nextSince < since - SAME_WAITER_MS then n = n + 1 end
  return n
end

local function turn_away(since, due)
  if s.headSince < 0 or since < s.headSince - SAME_WAITER_MS then
    s.nextSince = s.headSince
    s.nextDue = s.headDue
    s.headSince = since
    s.headDue = due
  elseif since <= s.headSince + SAME_WAITER_MS then
    s.headDue = due
  elseif s.nextSince < 0 or since <= s.nextSince + SAME_WAITER_MS then
    s.nextSince = since
    s.nextDue = due
  else
    return false
  end
  return true
end

-- An answer to a permit counted in span 'flight' (-1 unknown: the oldest; -2 none) leaves the count in flight.
local function land(flight)
  if flight == -2 then return end
  if flight == s.flightSpan or (flight == -1 and s.flightPrev <= 0) then
    if s.flightCur > 0 then s.flightCur = s.flightCur - 1 end
  elseif (flight == s.flightSpan - 1 or flight == -1) and s.flightPrev > 0 then
    s.flightPrev = s.flightPrev - 1
  end
end

-- othersHeld and noteRefused of src/limit/in-flight.ts.
local function others_held(others, seq)
  if others < 0 then return -1 end
  if seq < 0 then return others end
  local n = 0
  if s.refusedSeq0 >= 0 and s.refusedSeq0 < seq and s.refusedAt0 > seq then n = n + 1 end
  if s.refusedSeq1 >= 0 and s.refusedSeq1 < seq and s.refusedAt1 > seq then n = n + 1 end
  if s.refusedSeq2 >= 0 and s.refusedSeq2 < seq and s.refusedAt2 > seq then n = n + 1 end
  if s.refusedSeq3 >= 0 and s.refusedSeq3 < seq and s.refusedAt3 > seq then n = n + 1 end
  return math.max(0, others - n)
end
local function note_refused(seq)
  if seq < 0 then return end
  s.refusedSeq3, s.refusedAt3 = s.refusedSeq2, s.refusedAt2
  s.refusedSeq2, s.refusedAt2 = s.refusedSeq1, s.refusedAt1
  s.refusedSeq1, s.refusedAt1 = s.refusedSeq0, s.refusedAt0
  s.refusedSeq0, s.refusedAt0 = seq, s.grants
end

-- The concurrency gate (widen and refuse in src/limit/concurrency-gate.ts).
local function widen(others, t)
  if s.gateLimit >= 0 and t - s.gateAt >= GATE_HOLD_MS and others >= s.gateLimit - 1 then s.gateLimit = s.gateLimit + 1 end
end
local function refuse(others, closeFrom, t)
  if s.gateLimit >= 0 then
    s.gateAt = t
    if others >= s.gateLevel then
      s.gateLimit = math.max(1, math.min(s.gateLimit, others))
      s.gateLevel = s.gateLimit
      s.gateBelowAt = -1
      return 1
    end
    -- Below the width: it opens only when another came just before (one alone may have been overtaken).
    if s.gateBelowAt < 0 or t - s.gateBelowAt > BELOW_CONFIRM_MS then
      s.gateBelowAt = t
      return 1
    end
    s.gateBelowAt = -1
    s.gateLimit, s.gateLevel, s.gateOpens, s.gateOpenedAt = -1, -1, s.gateOpens + 1, others
    s.evidence0, s.evidenceAt0, s.evidence1, s.evidenceAt1 = others, t, -1, -1
    return 3
  end
  s.evidence1, s.evidenceAt1 = s.evidence0, s.evidenceAt0
  s.evidence0, s.evidenceAt0 = others, t
  local lone = s.evidence1 < 0
  if not lone and t - s.evidenceAt1 > EVIDENCE_MS then return 0 end
  local k, least = others, LONE_MIN
  if not lone then k, least = math.min(others, s.evidence1), 1 end
  if closeFrom < 0 or k < closeFrom or k < least then return 0 end
  s.gateLimit, s.gateLevel, s.gateAt = k, k, t
  return 2
end

local function quota_arg(i)
  if ARGV[i] == nil or ARGV[i] == '-' then return nil end
  return numbers(ARGV[i])
end

-- An outage answer: the rate is kept; a Retry-After is honoured; two in a row slow the pace to a trickle.
local function outage(retryAfterMs, q)
  s.outages = s.outages + 1
  local cd = 0
  if q ~= nil then cd = quota(q) end
  if retryAfterMs >= 0 then
    local pause = math.min(retryAfterMs, maxCooldownMs)
    if now + pause > s.cooldownUntil then
      s.cooldownUntil = now + pause
      cd = math.max(cd, pause)
    end
  end
  return cd
end

local previousRate = s.rate
s.touchedAt = math.max(s.touchedAt, now)
refill()
roll()
local span = math.floor(now / FLIGHT_SPAN_MS)
if span > s.flightSpan then
  if span == s.flightSpan + 1 then s.flightPrev = s.flightCur else s.flightPrev = 0 end
  s.flightCur = 0
  s.flightSpan = span
end

local allowed, waitMs, congestion, cooldownMs = false, 0, false, 0
local inFlight, seq, held = -1, -1, -1
if op == 'a' then
  local cost = tonumber(ARGV[3])
  local waitedMs = tonumber(ARGV[4])
  local since = now - math.max(0, waitedMs)
  if s.startAt < 0 then s.startAt = now end
  -- A waiter that did not come back in time gave up.
  if s.nextSince >= 0 and now > s.nextDue + WAITER_GRACE_MS then forget_next() end
  if s.headSince >= 0 and now > s.headDue + WAITER_GRACE_MS then promote() end
  if now < s.cooldownUntil then
    waitMs = s.cooldownUntil - now
    if waitedMs >= 0 then turn_away(since, s.cooldownUntil) end
  elseif s.gateLimit >= 0 and s.flightCur + s.flightPrev + waiters_ahead(since) >= s.gateLimit then
    -- At the cap on requests in flight: no place until an answer frees one (maybe another
    -- process's), and the places freed go to the longer waiters the record knows first.
    -- A waiter the record does not keep (two longer ones are ahead) asks less often.
    waitMs = CAP_RETRY_MS
    if waitedMs >= 0 and not turn_away(since, now + CAP_RETRY_MS) then waitMs = UNKEPT_RETRY_MS end
  else
    if s.tokens >= cost then
      s.tokens = s.tokens - cost
      s.txCur = s.txCur + cost
      allowed = true
      inFlight = s.flightCur + s.flightPrev
      s.flightCur = s.flightCur + 1
      seq = s.grants
      s.grants = s.grants + 1
      if waitedMs < 0 then
        -- a one-shot try is no waiter: the queue stays as it is
      elseif s.headSince >= 0 and math.abs(since - s.headSince) <= SAME_WAITER_MS then
        promote()
      elseif s.nextSince >= 0 and math.abs(since - s.nextSince) <= SAME_WAITER_MS then
        forget_next()
      end
    else
      -- Turned away: back when there is a permit for each longer waiter the record knows, and one more.
      local ahead = waiters_ahead(since)
      if cost > burst then waitMs = INF else waitMs = ((cost + ahead - s.tokens) / pace(now)) * 1000 end
      waitMs = math.max(waitMs, 1e-3)
      if waitedMs >= 0 then turn_away(since, now + waitMs) end
    end
  end
elseif op == 's' then
  local epoch = tonumber(ARGV[3])
  land(tonumber(ARGV[5]))
  held = others_held(tonumber(ARGV[6]), tonumber(ARGV[7]))
  if held >= 0 then widen(held, now) end
  s.successes = s.successes + 1
  s.okCur = s.okCur + 1
  s.streak = 0
  if s.outages >= OUTAGE_CONFIRM then resume() end
  s.outages = 0
  if epoch < 0 or epoch == s.epoch then
    s.loss = s.loss * (1 - LOSS_WEIGHT)
    s.epochOk = s.epochOk + 1
  end
  -- An empty budget opens a cooldown: reported, so the shell can emit it.
  local q = quota_arg(4)
  if q ~= nil then cooldownMs = quota(q) end
  -- A success that leaves nothing: no burst upstream, so no release may come early.
  if q ~= nil and q[2] >= 0 and q[2] < 1 then
    s.strictUntil = now + math.max(q[3], METER_BUCKET_MS)
  end
  grow()
elseif op == 'b' and tonumber(ARGV[4]) >= 500 then
  -- A 5xx is no evidence about the rate limit: an outage.
  land(tonumber(ARGV[8]))
  local retryAfterMs = tonumber(ARGV[5])
  s.backoffs = s.backoffs + 1
  s.lastStatus = tonumber(ARGV[4])
  s.lastAt = now
  s.lastRetryAfterMs = retryAfterMs
  cooldownMs = outage(retryAfterMs, quota_arg(6))
elseif op == 'o' then
  land(tonumber(ARGV[5]))
  cooldownMs = outage(tonumber(ARGV[4]), nil)
elseif op == 'l' then
  land(tonumber(ARGV[3]))
elseif op == 'b' then
  local epoch, status, retryAfterMs = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  land(tonumber(ARGV[8]))
  s.backoffs = s.backoffs + 1
  s.lastStatus = status
  s.lastAt = now
  s.lastRetryAfterMs = retryAfterMs
  s.outages = 0
  local q = quota_arg(6)
  if q ~= nil then cooldownMs = quota(q) end
  -- A refusal at the learned cap on requests in flight says nothing about the rate: no epoch for the law.
  local refusedSeq = tonumber(ARGV[10])
  held = others_held(tonumber(ARGV[9]), refusedSeq)
  local gate = 0
  if held >= 0 then gate = refuse(held, tonumber(ARGV[11]), now) end
  note_refused(refusedSeq)
  if gate == 1 or gate == 2 then epoch = -2 end
  local current = epoch == -1 or epoch >= s.epoch
  if current then
    s.loss = s.loss + LOSS_WEIGHT * (1 - s.loss)
    s.epochNo = s.epochNo + 1
    s.streak = s.streak + 1
    -- The refusal speaks of the pace its request went out at.
    local p = pace(now)
    local issued = tonumber(ARGV[7])
    if issued > 0 then p = math.min(issued, p) end
    local accepted = measured_rate()
    local holding = s.cutAt >= 0 and now - s.cutAt <= s.holdFor
    local nextRate = -1
    if not holding then
      local _, refused = window_rate(s.noCur, s.noPrev)
      local _, okd = window_rate(s.okCur, s.okPrev)
      local answered = refused + okd
      local steep = s.policyUntil <= now and (s.ceiling < 0 or p > s.ceiling * (1 + 2 * headroom)
        or (answered >= MIN_SAMPLES and refused > STEEP_SHARE * headroom * answered))
      local limit = p
      if accepted == nil then
        nextRate = p * decrease
      elseif steep then
        nextRate = math.min(p, accepted) * (1 - headroom)
        limit = math.max(math.min(p, accepted), (1 - CEILING_SPAN * headroom) * p)
      else
        nextRate = p * (1 - headroom)
      end
      s.ceiling = limit
    else
      local sustained
      if accepted == nil then
        sustained = s.loss >= CONFIRM_LOSS
      else
        sustained = s.epochNo >= 2 and s.epochNo > SUSTAINED_SHARE * (s.epochNo + s.epochOk)
      end
      if sustained then
        local floor = (1 - CUT_BOUND * headroom) * p
        if retryAfterMs > ROUNDING_MS then floor = 0 end
        local target
        if accepted == nil then target = p * decrease else target = math.max(accepted, floor) * (1 - headroom) end
        if target < p * (1 - headroom / 2) then
          nextRate = target
          if accepted == nil then s.ceiling = target else s.ceiling = accepted end
        else
          s.ceiling = math.min(s.ceiling, accepted or p)
        end
      end
    end
    if nextRate >= 0 then
      congestion = true
      s.rate = clamp(nextRate)
      s.base = s.rate
      s.cutAt = now
      s.epoch = s.epoch + 1
      s.loss = 0
      s.epochOk = 0
      s.epochNo = 0
      s.tokens = 0
      s.source = SOURCE_ADAPTIVE
    end
  end
  -- Refusals in a row within an epoch, and beyond STREAK_FREE across cuts (no policy), double the pause; a rounded Retry-After only caps it.
  -- Without a policy the intervals are capped at cooldownCapMs: at low rates the pauses, not the pace, would hold the rate sent.
  local streak = math.min(STREAK_DOUBLINGS, s.streak - STREAK_FREE)
  local intervals = (cooldownMultiplier * 1000) / s.rate
  if s.policyUntil > now then streak = 0 else intervals = math.min(cooldownCapMs, intervals) end
  local function pause_after(doublings)
    local lawPause = math.min(maxCooldownMs, intervals * 2 ^ math.min(ESCALATE_MAX, doublings))
    if retryAfterMs < 0 then
      if current then return lawPause end
      return -1
    end
    local full = math.min(retryAfterMs, maxCooldownMs)
    if retryAfterMs > ROUNDING_MS then return full end
    if current then return math.min(full, lawPause) end
    return -1
  end
  local pause = pause_after(math.max(0, s.epochNo - 1, streak))
  -- A long Retry-After makes probes rarer; a run of refusals does not.
  if congestion then s.holdFor = math.max(holdMs, holdPerCooldown * math.max(0, pause_after(0))) end
  if pause >= 0 and now + pause > s.cooldownUntil then
    s.cooldownUntil = now + pause
    cooldownMs = math.max(cooldownMs, pause)
  end
  s.noCur = s.noCur + 1
elseif op == 'x' then
  -- Requests in flight stay counted: their answers will come.
  local old = s
  s = init(now)
  for i = ${FLIGHT_FIRST}, ${FLIGHT_LAST} do s[i] = old[i] end
end

-- Store: kept until forgotten (forgetAfterMs idle) and its cooldown is over.
local keep = math.max(s.touchedAt + forgetAfterMs, s.cooldownUntil) - now
redis.call('SET', key, 'ad' .. struct.pack('${RECORD}', unpack(s, 1, ${FIELD_COUNT})), 'PX', math.max(1, math.ceil(keep)))

if inFlight < 0 then inFlight = s.flightCur + s.flightPrev end
local a, c = 0, 0
if allowed then a = 1 end
if congestion then c = 1 end
return { a, rnum(waitMs), rnum(s.epoch), rnum(pace(now)), rnum(previousRate), rnum(s.cooldownUntil), c, rnum(cooldownMs),
  rnum(s.source), rnum(s.tokens), rnum(s.successes), rnum(s.backoffs), rnum(s.lastStatus), rnum(s.lastAt),
  rnum(s.lastRetryAfterMs), rnum(inFlight), rnum(s.flightSpan), rnum(seq), rnum(held), rnum(s.gateLimit), rnum(s.gateOpens), rnum(s.gateOpenedAt), now }
`),
);
