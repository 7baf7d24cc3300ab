--[[
  Commits a checkpoint: the state blob and its metadata together with the task's position, fenced. Agent slot.

  KEYS[1] agent record (HASH)
  KEYS[2] agent state blob (STRING)
  KEYS[3] task record (HASH)
  KEYS[4] task events (STREAM)
  KEYS[5] agent events (STREAM)
  ARGV[1] agent id
  ARGV[2] epoch (the lease's)
  ARGV[3] task id
  ARGV[4] state blob
  ARGV[5] checkpoint metadata JSON
  ARGV[6] tokensSeen
  ARGV[7] tokensIn ('' = unchanged)
  ARGV[8] tokensOut
  ARGV[9] 'checkpoint' | 'yield' (the segment ends here)
  ARGV[10] now (ISO time)
  ARGV[11] now, epoch ms
  ARGV[12] task event channel
  ARGV[13] agent event channel
  ARGV[14] operation id

  Returns {'fenced'} | {'ok', stateVersion, nextSeq, cancel}: on 'yield', nextSeq is the agent's next segment
  (always > 0: the task is unfinished), else 0; cancel is 1 when a cancel was requested.
]]
--- @include "replay"
--- @include "events"
--- @include "agent"
local again = replayed(KEYS[3], 'ckptOp', ARGV[14])
if again then return again end
if fenced(KEYS[1], KEYS[3], ARGV[2]) then return {'fenced'} end
redis.call('SET', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[1], 'ckpt', ARGV[5], 'tokensSeen', ARGV[6])
local version = redis.call('HINCRBY', KEYS[1], 'stateVersion', 1)
if ARGV[7] ~= '' then redis.call('HSET', KEYS[3], 'tokensIn', ARGV[7]) end
local log = event_log(KEYS[3], KEYS[1], KEYS[4], KEYS[5], ARGV[12], ARGV[13], ARGV[3], ARGV[1], ARGV[10], ARGV[11])
append_event(log, 'checkpoint', '{"tokensOut":' .. ARGV[8] .. ',"stateVersion":' .. version .. ',"tokensSeen":' ..
  ARGV[6] .. '}')
local cancel = redis.call('HGET', KEYS[3], 'cancel') == '1' and 1 or 0
local seg = 0
if ARGV[9] == 'yield' then
  redis.call('HSET', KEYS[3], 'yielded', 1)
  seg = redis.call('HINCRBY', KEYS[1], 'segSeq', 1)
end
return remember(KEYS[3], 'ckptOp', ARGV[14], {'ok', version, seg, cancel})
