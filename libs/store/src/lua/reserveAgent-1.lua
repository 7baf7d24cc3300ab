--[[
  Reserves a place in the tenant's agent list (listing order and the per-tenant limit) before the agent exists.
  Tenant slot. Runs before createAgent; a reservation whose agent never appears is removed by releaseAgent when
  found by a listing (README.md, "Consistency across slots").

  KEYS[1] tenant agents (ZSET agent id → reservation time, ms)
  ARGV[1] agent id
  ARGV[2] the tenant's agent limit
  ARGV[3] 'refresh': an existing reservation takes the current time (createAgent found it too old)

  Returns {1, reservedAtMs} (also when this agent was reserved already: a resend) | {0} at the limit.
]]
--- @include "replay"
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and ARGV[3] ~= 'refresh' then return {1, tonumber(score)} end
if score then
  local now = time_ms()
  redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
  return {1, now}
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return {0} end
local now = time_ms()
redis.call('ZADD', KEYS[1], now, ARGV[1])
return {1, now}
