import { LUA_PRELUDE } from './common.js';

/** ARGV: P, NOW, tenant, agentId, model, system, samplingJson, maxAgents, nowMs → 1 created | 0 at limit. */
export const CREATE_AGENT = `${LUA_PRELUDE}
local tenant, agent_id = ARGV[3], ARGV[4]
local ta = k_tenant_agents(tenant)
if redis.call('ZCARD', ta) >= tonumber(ARGV[8]) then return 0 end
redis.call('HSET', k_agent(agent_id), 'id', agent_id, 'tenant', tenant, 'model', ARGV[5], 'system', ARGV[6],
  'sampling', ARGV[7], 'createdAt', NOW, 'stateVersion', 0, 'tokensSeen', 0, 'active', 0, 'segSeq', 0,
  'epoch', 0, 'evseq', 0)
redis.call('ZADD', ta, ARGV[9], agent_id)
return 1
`;

/**
 * ARGV: P, NOW, tenant, sourceId, newId, maxAgents, nowMs → 1 | 0 at limit | -1 no such agent.
 * Copies the record and the state blob (COPY: server-side, O(state size), not O(context)).
 */
export const FORK_AGENT = `${LUA_PRELUDE}
local tenant, src, dst = ARGV[3], ARGV[4], ARGV[5]
local sk = k_agent(src)
if redis.call('HGET', sk, 'tenant') ~= tenant then return -1 end
local ta = k_tenant_agents(tenant)
if redis.call('ZCARD', ta) >= tonumber(ARGV[6]) then return 0 end
local f = redis.call('HMGET', sk, 'model', 'system', 'sampling', 'stateVersion', 'tokensSeen', 'ckpt')
redis.call('HSET', k_agent(dst), 'id', dst, 'tenant', tenant, 'model', f[1], 'system', f[2] or '',
  'sampling', f[3] or '', 'createdAt', NOW, 'stateVersion', f[4] or 0, 'tokensSeen', f[5] or 0, 'active', 0,
  'segSeq', 0, 'epoch', 0, 'evseq', 0, 'forkedFrom', src)
if f[6] then redis.call('HSET', k_agent(dst), 'ckpt', f[6]) end
if redis.call('EXISTS', k_state(src)) == 1 then redis.call('COPY', k_state(src), k_state(dst)) end
redis.call('ZADD', ta, ARGV[7], dst)
return 1
`;

/**
 * ARGV: P, NOW, tenant, agentId, taskId, input, maxTokens, stopJson, samplingJson
 * → {0} no such agent | {1, segSeq, priority}: segSeq > 0 when the agent was idle and the caller must
 * enqueue that segment.
 */
export const SUBMIT_TASK = `${LUA_PRELUDE}
local tenant, agent_id, task_id = ARGV[3], ARGV[4], ARGV[5]
local ak = k_agent(agent_id)
if redis.call('HGET', ak, 'tenant') ~= tenant then return {0} end
redis.call('HSET', k_task(task_id), 'id', task_id, 'agentId', agent_id, 'tenant', tenant, 'status', 'queued',
  'input', ARGV[6], 'maxTokens', ARGV[7], 'stop', ARGV[8], 'sampling', ARGV[9], 'tokensIn', 0, 'tokensOut', 0,
  'attempts', 0, 'createdAt', NOW, 'seq', 0, 'cancel', 0, 'yielded', 0)
local position = redis.call('RPUSH', k_mailbox(agent_id), task_id)
append_event(task_id, agent_id, 'queued', '{"position":' .. position .. '}')
if redis.call('HGET', ak, 'active') == '1' then return {1, 0, 0} end
redis.call('HSET', ak, 'active', 1)
redis.call('SADD', K_ACTIVE, agent_id)
local depth = incr_depth(tenant)
local seg = redis.call('HINCRBY', ak, 'segSeq', 1)
return {1, seg, depth}
`;

/** ARGV: P, NOW, tenant, taskId, ttl → 'absent' | 'final' | 'cancelled' | 'requested'. */
export const CANCEL_TASK = `${LUA_PRELUDE}
local tenant, task_id = ARGV[3], ARGV[4]
local tk = k_task(task_id)
if redis.call('HGET', tk, 'tenant') ~= tenant then return 'absent' end
local status = redis.call('HGET', tk, 'status')
if status ~= 'queued' and status ~= 'running' then return 'final' end
local agent_id = redis.call('HGET', tk, 'agentId')
if status == 'queued' then
  redis.call('LREM', k_mailbox(agent_id), 0, task_id)
  redis.call('HSET', tk, 'status', 'cancelled', 'finishReason', 'cancelled', 'finishedAt', NOW, 'cancel', 1)
  append_event(task_id, agent_id, 'cancelled', '{"tokensOut":0}')
  expire_task(task_id, ARGV[5])
  return 'cancelled'
end
redis.call('HSET', tk, 'cancel', 1)
redis.call('PUBLISH', P .. ':cancel', task_id)
return 'requested'
`;

/**
 * ARGV: P, NOW, tenant, agentId, ttl → 1 | 0 absent. Cancels the agent's unfinished tasks, drops its
 * state and mailbox; deleting the record also fences out a worker still running it (its epoch is gone).
 */
export const DELETE_AGENT = `${LUA_PRELUDE}
local tenant, agent_id, ttl = ARGV[3], ARGV[4], ARGV[5]
local ak = k_agent(agent_id)
if redis.call('HGET', ak, 'tenant') ~= tenant then return 0 end
for _, task_id in ipairs(redis.call('LRANGE', k_mailbox(agent_id), 0, -1)) do
  local tk = k_task(task_id)
  local status = redis.call('HGET', tk, 'status')
  if status == 'queued' or status == 'running' then
    local out = redis.call('HGET', tk, 'tokensOut') or '0'
    redis.call('HSET', tk, 'status', 'cancelled', 'finishReason', 'cancelled', 'finishedAt', NOW, 'cancel', 1)
    append_event(task_id, agent_id, 'cancelled', '{"tokensOut":' .. out .. '}')
    expire_task(task_id, ttl)
    redis.call('PUBLISH', P .. ':cancel', task_id)
  end
end
if redis.call('HGET', ak, 'active') == '1' then deactivate(agent_id, tenant) end
redis.call('DEL', ak, k_state(agent_id), k_mailbox(agent_id))
redis.call('EXPIRE', k_agent_events(agent_id), ttl)
redis.call('ZREM', k_tenant_agents(tenant), agent_id)
return 1
`;
