--[[
  Deletes an agent: cancels its unfinished tasks, drops its state and mailbox. Agent slot. Deleting the record
  also fences out a worker still running it (its epoch is gone). A tombstone (the record with only `deleteOp`)
  answers a resend for a while. The caller then removes the agent from its tenant's list (releaseAgent) and from
  the scheduling sets; the reconciler does both if the caller dies first.

  Variable key count: 4 + 4 per task in the mailbox, as the caller read it.
  KEYS[1] agent record (HASH)
  KEYS[2] agent state blob (STRING)
  KEYS[3] agent mailbox (LIST)
  KEYS[4] agent events (STREAM)
  KEYS[4+4i+1 .. 4+4i+4] the i-th mailbox task's record, events, output, token ids (i from 0)
  ARGV[1] tenant id
  ARGV[2] agent id
  ARGV[3] retention of a finished task (and of the agent's log), s
  ARGV[4] now (ISO time)
  ARGV[5] now, epoch ms
  ARGV[6] operation id
  ARGV[7] cancel channel
  ARGV[8] agent event channel
  ARGV[9] how long the tombstone answers resends, s
  ARGV[10] n, the number of mailbox tasks the caller read
  ARGV[11 .. 10+n] their ids, in mailbox order
  ARGV[11+n .. 10+2n] their event channels

  Returns 1 deleted (also on a resend) | 0 no such agent for this tenant | 'retry' the mailbox changed since
  the caller read it.
]]
--- @include "replay"
--- @include "events"
local tenant, agent_id, ttl = ARGV[1], ARGV[2], ARGV[3]
local again = replayed(KEYS[1], 'deleteOp', ARGV[6])
if again then return again end
if redis.call('HGET', KEYS[1], 'tenant') ~= tenant then return 0 end
local n = tonumber(ARGV[10])
local mailbox = redis.call('LRANGE', KEYS[3], 0, -1)
if #mailbox ~= n then return 'retry' end
for i = 1, n do
  if mailbox[i] ~= ARGV[10 + i] then return 'retry' end
end
for i = 1, n do
  local task_id = ARGV[10 + i]
  local base = 4 + 4 * (i - 1)
  local tk = KEYS[base + 1]
  local status = redis.call('HGET', tk, 'status')
  if status == 'queued' or status == 'running' then
    local out = redis.call('HGET', tk, 'tokensOut') or '0'
    redis.call('HSET', tk, 'status', 'cancelled', 'finishReason', 'cancelled', 'finishedAt', ARGV[4], 'cancel', 1)
    local log = event_log(tk, KEYS[1], KEYS[base + 2], KEYS[4], ARGV[10 + n + i], ARGV[8], task_id, agent_id,
      ARGV[4], ARGV[5])
    append_event(log, 'cancelled', '{"tokensOut":' .. out .. '}')
    expire_keys(ttl, tk, KEYS[base + 2], KEYS[base + 3], KEYS[base + 4])
    redis.call('PUBLISH', ARGV[7], task_id)
  end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('EXPIRE', KEYS[4], ttl)
remember(KEYS[1], 'deleteOp', ARGV[6], 1)
redis.call('EXPIRE', KEYS[1], ARGV[9])
return 1
