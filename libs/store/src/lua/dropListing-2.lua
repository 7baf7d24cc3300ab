--[[
  Drops an idle agent's listing (the reconciler, after reading the agent record as idle). Scheduling slot. Only
  the listing that was seen, only when it is older than the grace (a submitTask refuses to activate an agent on a
  listing older than half of it), and only while the reconciler's reading is fresh.

  KEYS[1] active agents (ZSET)
  KEYS[2] the tenant's busy agents (SET)
  ARGV[1] agent id
  ARGV[2] tenant id
  ARGV[3] the listing time seen, ms
  ARGV[4] grace, ms
  ARGV[5] the reading of the agent is stale after this time, epoch ms

  Returns 1 dropped, or not there (so a resend answers as its first run did) | 0 kept.
]]
--- @include "replay"
local member = ARGV[1] .. '/' .. ARGV[2]
local score = redis.call('ZSCORE', KEYS[1], member)
if not score then return 1 end
if tonumber(score) ~= tonumber(ARGV[3]) then return 0 end
local now = time_ms()
if now - tonumber(score) < tonumber(ARGV[4]) or now > tonumber(ARGV[5]) then return 0 end
redis.call('ZREM', KEYS[1], member)
redis.call('SREM', KEYS[2], ARGV[1])
return 1
