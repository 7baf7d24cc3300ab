--[[
  Publishes generated tokens, durably, fenced by the agent's epoch. Agent slot. Idempotent by itself: a batch
  already applied (the task's tokensOut reached) is not applied again.

  KEYS[1] agent record (HASH)
  KEYS[2] task record (HASH)
  KEYS[3] task events (STREAM)
  KEYS[4] agent events (STREAM)
  KEYS[5] task token ids (STRING, uint32 little-endian)
  KEYS[6] task output (STRING)
  ARGV[1] agent id
  ARGV[2] epoch (the lease's)
  ARGV[3] task id
  ARGV[4] the batch's token ids, packed
  ARGV[5] tokensOut after this batch
  ARGV[6] the batch's text
  ARGV[7] the batch's texts, one per token, as a JSON array without its brackets
  ARGV[8] n, the number of tokens
  ARGV[9] now (ISO time)
  ARGV[10] now, epoch ms
  ARGV[11] task event channel
  ARGV[12] agent event channel

  Returns 'ok' | 'cancel' (a cancel was requested) | 'fenced' (this worker lost the agent).
]]
--- @include "events"
--- @include "agent"
if fenced(KEYS[1], KEYS[2], ARGV[2]) then return 'fenced' end
local cancel = redis.call('HGET', KEYS[2], 'cancel') == '1' and 'cancel' or 'ok'
local after, n = tonumber(ARGV[5]), tonumber(ARGV[8])
if tonumber(redis.call('HGET', KEYS[2], 'tokensOut') or '0') >= after then return cancel end
redis.call('APPEND', KEYS[5], ARGV[4])
redis.call('APPEND', KEYS[6], ARGV[6])
redis.call('HSET', KEYS[2], 'tokensOut', after)
local log = event_log(KEYS[2], KEYS[1], KEYS[3], KEYS[4], ARGV[11], ARGV[12], ARGV[3], ARGV[1], ARGV[9], ARGV[10])
append_tokens(log, n, after - n + 1, ARGV[7])
return cancel
