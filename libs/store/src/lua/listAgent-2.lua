--[[
  Lists an agent as possibly having work (the reconciler's worklist) and as busy for its tenant (the fair
  priority). Scheduling slot. Called before submitTask may activate the agent, and when a segment ends with
  more work; idempotent.

  KEYS[1] active agents (ZSET "agentId/tenant" → listing time, ms)
  KEYS[2] the tenant's busy agents (SET)
  ARGV[1] agent id
  ARGV[2] tenant id

  Returns {listedAtMs, busyAgentsOfTheTenant}.
]]
--- @include "replay"
local now = time_ms()
redis.call('ZADD', KEYS[1], now, ARGV[1] .. '/' .. ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return {now, redis.call('SCARD', KEYS[2])}
