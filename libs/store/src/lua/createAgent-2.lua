--[[
  Creates an agent record (and, for a fork, its copied checkpoint). Agent slot; the tenant's list was reserved
  first by reserveAgent.

  KEYS[1] agent record (HASH)
  KEYS[2] agent state blob (STRING)
  ARGV[1] agent id
  ARGV[2] tenant id
  ARGV[3] model
  ARGV[4] system prompt
  ARGV[5] sampling JSON ('' = none)
  ARGV[6] now (ISO time)
  ARGV[7] the reservation's time (reserveAgent), ms
  ARGV[8] the oldest reservation accepted, ms of age (a reservation this old may have been released)
  ARGV[9] forked from (agent id; '' = a new agent, and ARGV[10..13] are ignored)
  ARGV[10] stateVersion
  ARGV[11] tokensSeen
  ARGV[12] checkpoint metadata JSON ('' = none)
  ARGV[13] state blob ('' = none)

  Returns 1 created (also on a resend) | 0 the reservation is too old: reserve again.
]]
--- @include "replay"
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then return 1 end
if time_ms() - tonumber(ARGV[7]) > tonumber(ARGV[8]) then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'tenant', ARGV[2], 'model', ARGV[3], 'system', ARGV[4],
  'sampling', ARGV[5], 'createdAt', ARGV[6], 'stateVersion', 0, 'tokensSeen', 0, 'active', 0, 'segSeq', 0,
  'epoch', 0, 'evseq', 0)
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[1], 'forkedFrom', ARGV[9], 'stateVersion', ARGV[10], 'tokensSeen', ARGV[11])
  if ARGV[12] ~= '' then redis.call('HSET', KEYS[1], 'ckpt', ARGV[12]) end
  if ARGV[13] ~= '' then redis.call('SET', KEYS[2], ARGV[13]) end
end
return 1
