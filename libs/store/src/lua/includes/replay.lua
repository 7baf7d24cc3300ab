--[[
  Idempotence. ioredis resends a command whose reply was lost on a broken connection, so every script may run
  twice with the same ARGV. A script whose effect does not show in its keys by itself remembers its outcome under
  the caller's operation id (a random id per call, the same on a resend) in a hash field; the second run finds it,
  returns the first run's outcome and writes nothing. One field per kind of operation: a resend follows its first
  run at once, before the same caller issues another operation of that kind.
]]
local function replayed(key, field, op)
  if op == '' then return nil end
  local v = redis.call('HGET', key, field)
  if v and string.sub(v, 1, #op + 1) == op .. '|' then return cjson.decode(string.sub(v, #op + 2)) end
  return nil
end

local function remember(key, field, op, result)
  if op ~= '' then redis.call('HSET', key, field, op .. '|' .. cjson.encode(result)) end
  return result
end

-- Redis's clock, epoch ms (the listing and reservation checks compare it with times stored by other scripts).
local function time_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
