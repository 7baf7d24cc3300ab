--[[
  Stores a task, appends it to the agent's mailbox and writes its `queued` event, in one step. Agent slot. The
  caller listed the agent first (listAgent); when the agent was idle this activates it and returns the segment the
  caller must enqueue.

  KEYS[1] agent record (HASH)
  KEYS[2] agent mailbox (LIST)
  KEYS[3] task record (HASH)
  KEYS[4] task events (STREAM)
  KEYS[5] agent events (STREAM)
  KEYS[6] Idempotency-Key record (HASH {taskId, body}; used only when ARGV[14] is not '')
  ARGV[1] tenant id
  ARGV[2] agent id
  ARGV[3] task id
  ARGV[4] input
  ARGV[5] maxTokens
  ARGV[6] stop JSON ('' = default)
  ARGV[7] sampling JSON ('' = agent's)
  ARGV[8] now (ISO time)
  ARGV[9] now, epoch ms
  ARGV[10] task event channel
  ARGV[11] agent event channel
  ARGV[12] the agent's listing time (listAgent), ms
  ARGV[13] the oldest listing accepted for an activation, ms of age
  ARGV[14] hash of the request body under an Idempotency-Key ('' = no key)
  ARGV[15] how long an Idempotency-Key is remembered, s
  ARGV[16] the most tasks an agent may hold waiting or running

  Returns {'ok', taskId, segSeq} (segSeq > 0: the agent was idle, enqueue segment segSeq; also on a resend)
        | {'absent'} no such agent for this tenant
        | {'replay', taskId} the Idempotency-Key was used with the same body: that task
        | {'conflict'} the Idempotency-Key was used with another body
        | {'full', limit} the agent's mailbox is at the limit
        | {'relist'} the agent is idle and its listing too old to activate on: list it again, then resend
]]
--- @include "replay"
--- @include "events"
local tenant, agent_id, task_id = ARGV[1], ARGV[2], ARGV[3]
-- A resend of a call that stored the task: its outcome, unchanged.
if redis.call('HGET', KEYS[3], 'agentId') == agent_id then
  return {'ok', task_id, tonumber(redis.call('HGET', KEYS[3], 'activatedSeg') or '0')}
end
if redis.call('HGET', KEYS[1], 'tenant') ~= tenant then return {'absent'} end
if ARGV[14] ~= '' then
  local seen = redis.call('HMGET', KEYS[6], 'taskId', 'body')
  if seen[1] then
    if seen[2] == ARGV[14] then return {'replay', seen[1]} end
    return {'conflict'}
  end
end
local limit = tonumber(ARGV[16])
if redis.call('LLEN', KEYS[2]) >= limit then return {'full', limit} end
local activate = redis.call('HGET', KEYS[1], 'active') ~= '1'
if activate and time_ms() - tonumber(ARGV[12]) > tonumber(ARGV[13]) then return {'relist'} end
local seg = 0
if activate then
  redis.call('HSET', KEYS[1], 'active', 1)
  seg = redis.call('HINCRBY', KEYS[1], 'segSeq', 1)
end
redis.call('HSET', KEYS[3], 'id', task_id, 'agentId', agent_id, 'tenant', tenant, 'status', 'queued',
  'input', ARGV[4], 'maxTokens', ARGV[5], 'stop', ARGV[6], 'sampling', ARGV[7], 'tokensIn', 0, 'tokensOut', 0,
  'attempts', 0, 'createdAt', ARGV[8], 'seq', 0, 'cancel', 0, 'yielded', 0, 'activatedSeg', seg)
local position = redis.call('RPUSH', KEYS[2], task_id)
local log = event_log(KEYS[3], KEYS[1], KEYS[4], KEYS[5], ARGV[10], ARGV[11], task_id, agent_id, ARGV[8], ARGV[9])
append_event(log, 'queued', '{"position":' .. position .. '}')
if ARGV[14] ~= '' then
  redis.call('HSET', KEYS[6], 'taskId', task_id, 'body', ARGV[14])
  redis.call('EXPIRE', KEYS[6], ARGV[15])
end
return {'ok', task_id, seg}
