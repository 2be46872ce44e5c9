/**
 * The prelude every Breakwater script starts with: the server's clock and the number
 * helpers the decisions share. Kept once, here, and prepended by {@link luaScript}.
 */
export const PRELUDE = `
-- ---- prelude (shared by every Breakwater script) ----------------------------------
-- The clock is the server's TIME, never the caller's: skewed client clocks do not matter.
local __t = redis.call('TIME')
-- now_ms: integer milliseconds; now_us: microseconds, for revisions.
local now_ms = tonumber(__t[1]) * 1000 + math.floor(tonumber(__t[2]) / 1000)
local now_us = tonumber(__t[1]) * 1000000 + tonumber(__t[2])
local INF = math.huge

-- A number from JSON: null, "inf" and a missing value mean Infinity (JSON has none).
local function num(x)
  if x == nil or x == cjson.null or x == 'inf' then return INF end
  return tonumber(x)
end

-- Infinity as JSON: the string "inf" (decoded back by the TypeScript side).
local function jnum(x)
  if x == INF then return 'inf' end
  return x
end

-- A revision as an exact decimal string (cjson keeps only 14 significant digits).
local function revstr(x)
  return string.format('%.0f', x)
end
-- ---- end of prelude ----------------------------------------------------------------
`;
