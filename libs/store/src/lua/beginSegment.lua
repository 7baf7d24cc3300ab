--[[
  Starts a segment of an agent's work. Agent slot. Taking the segment bumps the agent's epoch, which fences out
  any earlier holder. The caller read the mailbox head first (its keys must be passed); if the head changed, or
  was a finished task (popped here), the answer is 'retry' and the caller reads it again.

  5 or 6 keys:
  KEYS[1] agent record (HASH)
  KEYS[2] agent mailbox (LIST)
  KEYS[3] head task record (HASH; any key of the agent's slot when the mailbox was empty)
  KEYS[4] head task events (STREAM; likewise)
  KEYS[5] agent events (STREAM)
  KEYS[6] the queue job's lock (optional, standalone Redis only: on a Cluster it lives in another slot and the
          caller checks it just before)
  ARGV[1] agent id
  ARGV[2] segment seq (the job's)
  ARGV[3] worker name
  ARGV[4] head task id as read ('' = the mailbox was empty)
  ARGV[5] now (ISO time)
  ARGV[6] now, epoch ms
  ARGV[7] head task event channel
  ARGV[8] agent event channel
  ARGV[9] operation id
  ARGV[10] this run's lock token (with KEYS[6])

  Returns {'stale'} not the agent's current segment (a duplicate job), or the lock is someone else's
        | {'idle', epoch} the mailbox is empty: the agent is descheduled
        | {'run', epoch, taskId, mode}: mode 'fresh' (first run of the task), 'continue' (after a clean yield) or
          'resume' (the previous holder vanished: attempts + 1 and a resumed event)
        | {'retry'} read the mailbox head again
]]
--- @include "replay"
--- @include "events"
--- @include "agent"
local agent_id, seq, worker, head = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local again = replayed(KEYS[1], 'beginOp', ARGV[9])
if again then return again end
if #KEYS >= 6 and redis.call('GET', KEYS[6]) ~= ARGV[10] then return {'stale'} end
local a = redis.call('HMGET', KEYS[1], 'tenant', 'active', 'segSeq')
if not a[1] or a[2] ~= '1' or a[3] ~= seq then return {'stale'} end
local current = redis.call('LINDEX', KEYS[2], 0)
if (current or '') ~= head then return {'retry'} end
if not current then
  local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
  redis.call('HSET', KEYS[1], 'worker', worker)
  deactivate(KEYS[1])
  return remember(KEYS[1], 'beginOp', ARGV[9], {'idle', epoch})
end
local status = redis.call('HGET', KEYS[3], 'status')
if status ~= 'queued' and status ~= 'running' then
  redis.call('LPOP', KEYS[2])
  return {'retry'}
end
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'worker', worker)
local log = event_log(KEYS[3], KEYS[1], KEYS[4], KEYS[5], ARGV[7], ARGV[8], head, agent_id, ARGV[5], ARGV[6])
local w = cjson.encode(worker)
local mode
if status == 'queued' then
  redis.call('HSET', KEYS[3], 'status', 'running', 'attempts', 1, 'worker', worker, 'startedAt', ARGV[5],
    'yielded', 0)
  append_event(log, 'started', '{"worker":' .. w .. ',"attempt":1}')
  mode = 'fresh'
else
  redis.call('HSET', KEYS[3], 'worker', worker)
  if redis.call('HGET', KEYS[3], 'yielded') == '1' then
    redis.call('HSET', KEYS[3], 'yielded', 0)
    mode = 'continue'
  else
    local attempt = redis.call('HINCRBY', KEYS[3], 'attempts', 1)
    local from = redis.call('HGET', KEYS[3], 'tokensOut')
    append_event(log, 'resumed', '{"fromToken":' .. from .. ',"worker":' .. w .. ',"attempt":' .. attempt .. '}')
    mode = 'resume'
  end
end
return remember(KEYS[1], 'beginOp', ARGV[9], {'run', epoch, head, mode})
