--[[
  Event logs. Every change a client can see is reported by an event appended in the same script as the change,
  so an event is never visible without its change, and vice versa.

  A log context names, from the caller's KEYS and ARGV:
    task, agent               the task and agent records (HASH; they hold the seq and agentSeq counters)
    task_events, agent_events the task's stream and the agent's capped stream
    task_channel, agent_channel  PUBLISH channels ("a new event with this seq exists")
    task_id, agent_id, now (ISO time), now_ms (the same instant, epoch ms)

  Stream entries (decoded by event-codec.ts): one field `e`. An event other than a token is its JSON object,
  entry id `{seq}-0`. A batch of n tokens is ONE entry whose id is the batch's LAST position, holding a JSON array:
    task stream:  [firstTokensOut, firstAgentSeq, nowMs, "text1", ..., "textN"]
    agent stream: [firstTokensOut, firstSeq, nowMs, "taskId", "agentId", "text1", ..., "textN"]
  Reading after position p is XRANGE from p+1: the entry holding p+1 is the first one returned.
]]
local AGENT_LOG_MAX = 2000

local function event_log(task, agent, task_events, agent_events, task_channel, agent_channel, task_id, agent_id,
                         now, now_ms)
  return {task = task, agent = agent, task_events = task_events, agent_events = agent_events,
    task_channel = task_channel, agent_channel = agent_channel, task_id = task_id, agent_id = agent_id,
    now = now, now_ms = now_ms}
end

-- Appends one event (data: a JSON object literal built by the caller) to both logs and tells followers.
local function append_event(log, kind, data)
  local seq = redis.call('HINCRBY', log.task, 'seq', 1)
  local aseq = redis.call('HINCRBY', log.agent, 'evseq', 1)
  local ev = '{"seq":' .. seq .. ',"taskId":"' .. log.task_id .. '","agentId":"' .. log.agent_id ..
    '","kind":"' .. kind .. '","data":' .. data .. ',"agentSeq":' .. aseq .. ',"at":"' .. log.now .. '"}'
  redis.call('XADD', log.task_events, seq .. '-0', 'e', ev)
  redis.call('XADD', log.agent_events, 'MAXLEN', '~', AGENT_LOG_MAX, aseq .. '-0', 'e', ev)
  redis.call('PUBLISH', log.task_channel, seq)
  redis.call('PUBLISH', log.agent_channel, aseq)
  return seq
end

-- Appends n token events as one entry per log. texts: the JSON array of their texts, without its brackets;
-- first_out: tokensOut of the first of them.
local function append_tokens(log, n, first_out, texts)
  local seq = redis.call('HINCRBY', log.task, 'seq', n)
  local aseq = redis.call('HINCRBY', log.agent, 'evseq', n)
  redis.call('XADD', log.task_events, seq .. '-0', 'e',
    '[' .. first_out .. ',' .. (aseq - n + 1) .. ',' .. log.now_ms .. ',' .. texts .. ']')
  redis.call('XADD', log.agent_events, 'MAXLEN', '~', AGENT_LOG_MAX, aseq .. '-0', 'e',
    '[' .. first_out .. ',' .. (seq - n + 1) .. ',' .. log.now_ms .. ',"' .. log.task_id .. '","' ..
    log.agent_id .. '",' .. texts .. ']')
  redis.call('PUBLISH', log.task_channel, seq)
  redis.call('PUBLISH', log.agent_channel, aseq)
  return seq
end

-- A finished task's record, logs, output and ids live for the retention period, then go.
local function expire_keys(ttl, ...)
  for _, k in ipairs({...}) do redis.call('EXPIRE', k, ttl) end
end
