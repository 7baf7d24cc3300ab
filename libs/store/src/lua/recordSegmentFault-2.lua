--[[
  Records that a segment failed for a reason other than Redis (a fault), fenced. Agent slot. Progress is the
  task's durable tokensOut: a fault at a new position starts the count again. The worker fails the task after a
  few faults in a row.

  KEYS[1] agent record (HASH)
  KEYS[2] task record (HASH)
  ARGV[1] agent id
  ARGV[2] epoch (the lease's)
  ARGV[3] operation id

  Returns -1 (fenced) | the task's faults in a row without progress, this one included.
]]
--- @include "replay"
local again = replayed(KEYS[2], 'faultOp', ARGV[3])
if again then return again end
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[2] then return -1 end
if redis.call('HGET', KEYS[2], 'status') ~= 'running' then return -1 end
local at = redis.call('HGET', KEYS[2], 'tokensOut') or '0'
local faults = 1
if redis.call('HGET', KEYS[2], 'faultAt') == at then
  faults = redis.call('HINCRBY', KEYS[2], 'faults', 1)
else
  redis.call('HSET', KEYS[2], 'faults', 1, 'faultAt', at)
end
return remember(KEYS[2], 'faultOp', ARGV[3], faults)
