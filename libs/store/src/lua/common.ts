/**
 * Lua shared by every script: key names (mirroring keys.ts) and the event appender. Every script takes
 * ARGV[1] = key prefix and ARGV[2] = the caller's clock (ISO time), and runs atomically in Redis, so an event
 * is never visible without the state change it reports, and vice versa.
 *
 * Keys are derived inside the scripts, so this targets a standalone Redis (or Sentinel); Redis Cluster would
 * need every key of an agent under one hash tag.
 */
export const LUA_PRELUDE = `
local P = ARGV[1]
local NOW = ARGV[2]
local AGENT_LOG_MAX = 2000
local function k_agent(a) return P .. ':agent:' .. a end
local function k_state(a) return P .. ':agent:' .. a .. ':state' end
local function k_mailbox(a) return P .. ':agent:' .. a .. ':mailbox' end
local function k_agent_events(a) return P .. ':agent:' .. a .. ':events' end
local function k_task(t) return P .. ':task:' .. t end
local function k_task_events(t) return P .. ':task:' .. t .. ':events' end
local function k_task_output(t) return P .. ':task:' .. t .. ':output' end
local function k_task_ids(t) return P .. ':task:' .. t .. ':ids' end
local function k_tenant_agents(t) return P .. ':tenant:' .. t .. ':agents' end
local K_ACTIVE = P .. ':active-agents'
local K_DEPTH = P .. ':tenant-depth'

-- Appends one event to the task's log (seq = 1, 2, ...) and to the agent's capped log, then tells
-- followers. data is a JSON object literal built by the caller.
local function append_event(task_id, agent_id, kind, data)
  local seq = redis.call('HINCRBY', k_task(task_id), 'seq', 1)
  local aseq = redis.call('HINCRBY', k_agent(agent_id), 'evseq', 1)
  local ev = '{"seq":' .. seq .. ',"taskId":"' .. task_id .. '","agentId":"' .. agent_id .. '","kind":"' ..
    kind .. '","data":' .. data .. ',"agentSeq":' .. aseq .. ',"at":"' .. NOW .. '"}'
  redis.call('XADD', k_task_events(task_id), seq .. '-0', 'e', ev)
  redis.call('XADD', k_agent_events(agent_id), 'MAXLEN', '~', AGENT_LOG_MAX, aseq .. '-0', 'e', ev)
  redis.call('PUBLISH', P .. ':ev:t:' .. task_id, seq)
  redis.call('PUBLISH', P .. ':ev:a:' .. agent_id, aseq)
  return seq
end

-- A finished task's record and logs live for the retention period, then go.
local function expire_task(task_id, ttl)
  for _, k in ipairs({k_task(task_id), k_task_events(task_id), k_task_output(task_id), k_task_ids(task_id)}) do
    redis.call('EXPIRE', k, ttl)
  end
end

local function incr_depth(tenant)
  return redis.call('HINCRBY', K_DEPTH, tenant, 1)
end

local function decr_depth(tenant)
  if redis.call('HINCRBY', K_DEPTH, tenant, -1) <= 0 then redis.call('HDEL', K_DEPTH, tenant) end
end

-- The agent has no more work: it leaves the scheduled set.
local function deactivate(agent_id, tenant)
  redis.call('HSET', k_agent(agent_id), 'active', 0)
  redis.call('SREM', K_ACTIVE, agent_id)
  decr_depth(tenant)
end

-- After a segment ends: the next segment's seq and priority when work remains, else {0, 0}.
local function schedule_next(agent_id, tenant)
  if redis.call('LLEN', k_mailbox(agent_id)) > 0 then
    local seg = redis.call('HINCRBY', k_agent(agent_id), 'segSeq', 1)
    local depth = tonumber(redis.call('HGET', K_DEPTH, tenant) or '1')
    return {seg, depth}
  end
  deactivate(agent_id, tenant)
  return {0, 0}
end

-- Fence: only the holder of the agent's current epoch may write, and only while its task runs.
local function fenced(agent_id, epoch, task_id)
  if redis.call('HGET', k_agent(agent_id), 'epoch') ~= epoch then return true end
  if redis.call('HGET', k_task(task_id), 'status') ~= 'running' then return true end
  return false
end
`;
