--[[ Agent scheduling and the fence, on the agent's own keys only. ]]

-- The agent has no more work. Its listing in the scheduled set (another slot) is dropped by the caller or,
-- failing that, by the reconciler.
local function deactivate(agent_key)
  redis.call('HSET', agent_key, 'active', 0)
end

-- After a segment ends: the next segment's seq when work remains, else 0 (the agent is descheduled).
local function schedule_next(agent_key, mailbox_key)
  if redis.call('LLEN', mailbox_key) > 0 then return redis.call('HINCRBY', agent_key, 'segSeq', 1) end
  deactivate(agent_key)
  return 0
end

-- Fence: only the holder of the agent's current epoch may write, and only while its task runs.
local function fenced(agent_key, task_key, epoch)
  if redis.call('HGET', agent_key, 'epoch') ~= epoch then return true end
  if redis.call('HGET', task_key, 'status') ~= 'running' then return true end
  return false
end
