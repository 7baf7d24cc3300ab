--[[
  Cancels a task: a queued one at once, a running one by flagging it (its worker stops within a step). Agent
  slot (a task's keys carry its agent's tag).

  KEYS[1] task record (HASH)
  KEYS[2] task events (STREAM)
  KEYS[3] task output (STRING)
  KEYS[4] task token ids (STRING)
  KEYS[5] agent record (HASH)
  KEYS[6] agent mailbox (LIST)
  KEYS[7] agent events (STREAM)
  ARGV[1] tenant id
  ARGV[2] task id
  ARGV[3] agent id (read from the task record by the caller)
  ARGV[4] now (ISO time)
  ARGV[5] now, epoch ms
  ARGV[6] retention of a finished task, s
  ARGV[7] task event channel
  ARGV[8] agent event channel
  ARGV[9] cancel channel
  ARGV[10] operation id (a resend returns the first outcome)

  Returns 'absent' | 'final' (already finished) | 'cancelled' (was queued) | 'requested' (was running).
]]
--- @include "replay"
--- @include "events"
local tenant, task_id, agent_id = ARGV[1], ARGV[2], ARGV[3]
local t = redis.call('HMGET', KEYS[1], 'tenant', 'agentId', 'status')
if t[1] ~= tenant or t[2] ~= agent_id then return 'absent' end
local again = replayed(KEYS[1], 'cancelOp', ARGV[10])
if again then return again end
local status = t[3]
if status ~= 'queued' and status ~= 'running' then return remember(KEYS[1], 'cancelOp', ARGV[10], 'final') end
if status == 'queued' then
  redis.call('LREM', KEYS[6], 0, task_id)
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishReason', 'cancelled', 'finishedAt', ARGV[4],
    'cancel', 1)
  local log = event_log(KEYS[1], KEYS[5], KEYS[2], KEYS[7], ARGV[7], ARGV[8], task_id, agent_id, ARGV[4], ARGV[5])
  append_event(log, 'cancelled', '{"tokensOut":0}')
  remember(KEYS[1], 'cancelOp', ARGV[10], 'cancelled')
  expire_keys(ARGV[6], KEYS[1], KEYS[2], KEYS[3], KEYS[4])
  return 'cancelled'
end
redis.call('HSET', KEYS[1], 'cancel', 1)
redis.call('PUBLISH', ARGV[9], task_id)
return remember(KEYS[1], 'cancelOp', ARGV[10], 'requested')
