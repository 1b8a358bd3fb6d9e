-- The two counting steps, as local functions of a script whose ARGV starts
-- prefix, node, user, deadline (the end of a grace period, ms); included
-- by connect, disconnect and remote ("--#include count.lua", expanded by
-- embed.awk at build time).
-- connect() -> {n, online, v}
-- disconnect() -> {-2} nothing registered | {n, pending, v}
local P, me, u, dl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local nk = P..'node:'..me
local function connect()
  local n = redis.call('HINCRBY', P..'count', u, 1)
  redis.call('HINCRBY', nk, u, 1)
  local was = redis.call('HDEL', P..'pending', u)
  local on = 0
  if n == 1 and was == 0 then on = 1 end
  local v = redis.call('INCR', P..'seq')
  redis.call('PUBLISH', P..'presence', u..' '..n..' 0 '..v)
  return {n, on, v}
end
local function disconnect()
  local mine = tonumber(redis.call('HGET', nk, u) or '0')
  if mine <= 0 then return {-2} end
  if mine == 1 then redis.call('HDEL', nk, u) else redis.call('HINCRBY', nk, u, -1) end
  local n = redis.call('HINCRBY', P..'count', u, -1)
  local pend = 0
  if n <= 0 then
    n = 0
    redis.call('HDEL', P..'count', u)
    redis.call('HSET', P..'pending', u, dl)
    pend = 1
  end
  local v = redis.call('INCR', P..'seq')
  redis.call('PUBLISH', P..'presence', u..' '..n..' '..pend..' '..v)
  return {n, pend, v}
end
