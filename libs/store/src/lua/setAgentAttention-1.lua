--[[
  Marks an agent as needing attention (its stored state could not be used), or clears the mark, fenced. Agent
  slot. Idempotent by itself (a field set or deleted).

  KEYS[1] agent record (HASH)
  ARGV[1] agent id
  ARGV[2] epoch (the lease's)
  ARGV[3] the attention record as JSON ('' = clear the mark)

  Returns 1 | 0 fenced.
]]
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[2] then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], 'attention')
else
  redis.call('HSET', KEYS[1], 'attention', ARGV[3])
end
return 1
