--[[
  Ends a task: final text, final state, status and final event, mailbox pop, retention, and the next segment if
  more tasks wait, in one step, fenced. Agent slot.

  KEYS[1] agent record (HASH)
  KEYS[2] agent state blob (STRING)
  KEYS[3] agent mailbox (LIST)
  KEYS[4] task record (HASH)
  KEYS[5] task events (STREAM)
  KEYS[6] task output (STRING)
  KEYS[7] task token ids (STRING)
  KEYS[8] agent events (STREAM)
  ARGV[1] agent id
  ARGV[2] epoch (the lease's)
  ARGV[3] task id
  ARGV[4] final state blob ('' = keep the last checkpoint)
  ARGV[5] checkpoint metadata JSON
  ARGV[6] tokensSeen
  ARGV[7] tokensIn
  ARGV[8] status: 'succeeded' | 'failed' | 'cancelled'
  ARGV[9] finishReason
  ARGV[10] error ('' = none)
  ARGV[11] the final event's data JSON
  ARGV[12] text held back until the end ('' = none), published as one more token event
  ARGV[13] tokensOut (of the held-back text's event)
  ARGV[14] retention of the finished task, s
  ARGV[15] now (ISO time)
  ARGV[16] now, epoch ms
  ARGV[17] task event channel
  ARGV[18] agent event channel
  ARGV[19] operation id
  ARGV[20] the held-back text as a JSON string literal

  Returns {'fenced'} | {'ok', stateVersion, nextSeq, idle, outputBytes}: nextSeq > 0 is the agent's next segment
  (more tasks wait); idle is 1 when the agent was descheduled; outputBytes, the task's output length (the
  caller charges it to the tenant's storage).
]]
--- @include "replay"
--- @include "events"
--- @include "agent"
local again = replayed(KEYS[4], 'finishOp', ARGV[19])
if again then return again end
if fenced(KEYS[1], KEYS[4], ARGV[2]) then return {'fenced'} end
local log = event_log(KEYS[4], KEYS[1], KEYS[5], KEYS[8], ARGV[17], ARGV[18], ARGV[3], ARGV[1], ARGV[15], ARGV[16])
if ARGV[12] ~= '' then
  redis.call('APPEND', KEYS[6], ARGV[12])
  append_tokens(log, 1, tonumber(ARGV[13]), ARGV[20])
end
local version = tonumber(redis.call('HGET', KEYS[1], 'stateVersion'))
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[2], ARGV[4])
  redis.call('HSET', KEYS[1], 'ckpt', ARGV[5], 'tokensSeen', ARGV[6])
  version = redis.call('HINCRBY', KEYS[1], 'stateVersion', 1)
end
local status = ARGV[8]
redis.call('HSET', KEYS[4], 'status', status, 'finishReason', ARGV[9], 'finishedAt', ARGV[15], 'tokensIn', ARGV[7])
if ARGV[10] ~= '' then redis.call('HSET', KEYS[4], 'error', ARGV[10]) end
local kind = status == 'succeeded' and 'completed' or status
append_event(log, kind, ARGV[11])
redis.call('LREM', KEYS[3], 1, ARGV[3])
local nxt = schedule_next(KEYS[1], KEYS[3])
local result = {'ok', version, nxt, nxt == 0 and 1 or 0, redis.call('STRLEN', KEYS[6])}
remember(KEYS[4], 'finishOp', ARGV[19], result)
expire_keys(ARGV[14], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
return result
