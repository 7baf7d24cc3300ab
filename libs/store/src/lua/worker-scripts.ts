import { LUA_PRELUDE } from './common.js';

/**
 * Starts a segment. ARGV: P, NOW, agentId, seq, worker, lockKey, lockToken ('' = no lock check).
 * → {'stale'} (not the agent's current segment: a duplicate job) | {'idle', epoch} (mailbox empty; the agent
 *   is descheduled) | {'run', epoch, taskId, mode} with mode 'fresh' (first run of the task), 'continue'
 *   (after a clean yield) or 'resume' (the previous holder vanished: attempts + 1 and a resumed event).
 * Taking the segment bumps the agent's epoch, which fences out any earlier holder. With a lock, the caller
 * must still hold its queue job's lock (a run whose lock expired meanwhile is stale: another run has the job).
 */
export const BEGIN_SEGMENT = `${LUA_PRELUDE}
local agent_id, seq, worker = ARGV[3], ARGV[4], ARGV[5]
if ARGV[6] ~= '' and redis.call('GET', ARGV[6]) ~= ARGV[7] then return {'stale'} end
local ak = k_agent(agent_id)
local a = redis.call('HMGET', ak, 'tenant', 'active', 'segSeq')
if not a[1] or a[2] ~= '1' or a[3] ~= seq then return {'stale'} end
local epoch = redis.call('HINCRBY', ak, 'epoch', 1)
redis.call('HSET', ak, 'worker', worker)
local mb = k_mailbox(agent_id)
while true do
  local task_id = redis.call('LINDEX', mb, 0)
  if not task_id then
    deactivate(agent_id, a[1])
    return {'idle', epoch}
  end
  local tk = k_task(task_id)
  local status = redis.call('HGET', tk, 'status')
  local w = cjson.encode(worker)
  if status == 'queued' then
    redis.call('HSET', tk, 'status', 'running', 'attempts', 1, 'worker', worker, 'startedAt', NOW, 'yielded', 0)
    append_event(task_id, agent_id, 'started', '{"worker":' .. w .. ',"attempt":1}')
    return {'run', epoch, task_id, 'fresh'}
  elseif status == 'running' then
    redis.call('HSET', tk, 'worker', worker)
    if redis.call('HGET', tk, 'yielded') == '1' then
      redis.call('HSET', tk, 'yielded', 0)
      return {'run', epoch, task_id, 'continue'}
    end
    local attempt = redis.call('HINCRBY', tk, 'attempts', 1)
    local from = redis.call('HGET', tk, 'tokensOut')
    append_event(task_id, agent_id, 'resumed', '{"fromToken":' .. from .. ',"worker":' .. w .. ',"attempt":' ..
      attempt .. '}')
    return {'run', epoch, task_id, 'resume'}
  end
  redis.call('LPOP', mb)
end
`;

/**
 * Publishes generated tokens, durably. ARGV: P, NOW, agentId, epoch, taskId, packedIds, tokensOut (after
 * this batch), text, eventData... → 'ok' | 'cancel' (a cancel was requested) | 'fenced' (this worker lost
 * the agent). A batch already applied (tokensOut reached) is not applied again.
 */
export const APPEND_TOKENS = `${LUA_PRELUDE}
local agent_id, epoch, task_id = ARGV[3], ARGV[4], ARGV[5]
if fenced(agent_id, epoch, task_id) then return 'fenced' end
local tk = k_task(task_id)
local cancel = redis.call('HGET', tk, 'cancel') == '1' and 'cancel' or 'ok'
-- Idempotent: a client that resends this call after a broken connection (its reply lost) changes nothing.
if tonumber(redis.call('HGET', tk, 'tokensOut') or '0') >= tonumber(ARGV[7]) then return cancel end
redis.call('APPEND', k_task_ids(task_id), ARGV[6])
redis.call('APPEND', k_task_output(task_id), ARGV[8])
redis.call('HSET', tk, 'tokensOut', ARGV[7])
for i = 9, #ARGV do append_event(task_id, agent_id, 'token', ARGV[i]) end
return cancel
`;

/**
 * Commits a checkpoint: the state blob and its metadata together with the task's position.
 * ARGV: P, NOW, agentId, epoch, taskId, state, ckptJson, tokensSeen, tokensIn ('' = unchanged), tokensOut,
 * mode ('checkpoint' | 'yield')
 * → {'fenced'} | {'ok', stateVersion, nextSeq, priority, cancel}; on 'yield' the segment ends and nextSeq is
 *   the agent's next segment (always > 0: the task is unfinished).
 */
export const COMMIT_CHECKPOINT = `${LUA_PRELUDE}
local agent_id, epoch, task_id = ARGV[3], ARGV[4], ARGV[5]
if fenced(agent_id, epoch, task_id) then return {'fenced'} end
local ak, tk = k_agent(agent_id), k_task(task_id)
redis.call('SET', k_state(agent_id), ARGV[6])
redis.call('HSET', ak, 'ckpt', ARGV[7], 'tokensSeen', ARGV[8])
local version = redis.call('HINCRBY', ak, 'stateVersion', 1)
if ARGV[9] ~= '' then redis.call('HSET', tk, 'tokensIn', ARGV[9]) end
append_event(task_id, agent_id, 'checkpoint', '{"tokensOut":' .. ARGV[10] .. ',"stateVersion":' .. version ..
  ',"tokensSeen":' .. ARGV[8] .. '}')
local cancel = redis.call('HGET', tk, 'cancel') == '1' and 1 or 0
if ARGV[11] == 'yield' then
  redis.call('HSET', tk, 'yielded', 1)
  local seg = redis.call('HINCRBY', ak, 'segSeq', 1)
  local depth = tonumber(redis.call('HGET', K_DEPTH, redis.call('HGET', ak, 'tenant')) or '1')
  return {'ok', version, seg, depth, cancel}
end
return {'ok', version, 0, 0, cancel}
`;

/**
 * Ends a task: final text, final state, status and final event, mailbox pop, retention, and the next
 * segment if more tasks wait. ARGV: P, NOW, agentId, epoch, taskId, state ('' = keep), ckptJson, tokensSeen,
 * tokensIn, status, finishReason, error, finalEventData, flushText, flushEventData ('' = none), ttl
 * → {'fenced'} | {'ok', stateVersion, nextSeq (0 = none), priority}
 */
export const FINISH_TASK = `${LUA_PRELUDE}
local agent_id, epoch, task_id = ARGV[3], ARGV[4], ARGV[5]
if fenced(agent_id, epoch, task_id) then return {'fenced'} end
local ak, tk = k_agent(agent_id), k_task(task_id)
if ARGV[15] ~= '' then
  redis.call('APPEND', k_task_output(task_id), ARGV[14])
  append_event(task_id, agent_id, 'token', ARGV[15])
end
local version = tonumber(redis.call('HGET', ak, 'stateVersion'))
if ARGV[6] ~= '' then
  redis.call('SET', k_state(agent_id), ARGV[6])
  redis.call('HSET', ak, 'ckpt', ARGV[7], 'tokensSeen', ARGV[8])
  version = redis.call('HINCRBY', ak, 'stateVersion', 1)
end
local status = ARGV[10]
redis.call('HSET', tk, 'status', status, 'finishReason', ARGV[11], 'finishedAt', NOW, 'tokensIn', ARGV[9])
if ARGV[12] ~= '' then redis.call('HSET', tk, 'error', ARGV[12]) end
local kind = status == 'succeeded' and 'completed' or status
append_event(task_id, agent_id, kind, ARGV[13])
redis.call('LREM', k_mailbox(agent_id), 1, task_id)
expire_task(task_id, ARGV[16])
local nxt = schedule_next(agent_id, redis.call('HGET', ak, 'tenant'))
return {'ok', version, nxt[1], nxt[2]}
`;
