--[[
  Removes an agent from the tenant's list. Tenant slot. After deleteAgent, or for a reservation whose agent
  never appeared (then only if it is still the reservation that was seen, and old enough that its createAgent
  can no longer run: createAgent refuses reservations older than ARGV[3] / 2).

  KEYS[1] tenant agents (ZSET)
  ARGV[1] agent id
  ARGV[2] the reservation time seen ('' = remove whatever is there)
  ARGV[3] minimum age of the reservation, ms (with ARGV[2])
  ARGV[4] the caller's reading that the agent does not exist is stale after this time, epoch ms (with ARGV[2])

  Returns 1 removed, or not there (so a resend answers as its first run did) | 0 not the one seen, or too young.
]]
--- @include "replay"
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 1 end
if ARGV[2] ~= '' then
  if tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
  local now = time_ms()
  if now - tonumber(score) < tonumber(ARGV[3]) or now > tonumber(ARGV[4]) then return 0 end
end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
