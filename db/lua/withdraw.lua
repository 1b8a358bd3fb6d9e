-- The node stops (gracefully): its users' connections stop counting; those
-- left with none go through the grace period (another node's sweep
-- reports them).  ARGV: prefix, node, deadline.  -> users withdrawn
local P, me, deadline = ARGV[1], ARGV[2], ARGV[3]
local nk = P..'node:'..me
local h = redis.call('HGETALL', nk)
for i = 1, #h, 2 do
  local u = h[i]
  local n = redis.call('HINCRBY', P..'count', u, -tonumber(h[i + 1]))
  local p = 0
  if n <= 0 then
    n = 0
    redis.call('HDEL', P..'count', u)
    redis.call('HSET', P..'pending', u, deadline)
    p = 1
  end
  local v = redis.call('INCR', P..'seq')
  redis.call('PUBLISH', P..'presence', u..' '..n..' '..p..' '..v)
end
redis.call('DEL', nk)
redis.call('DEL', P..'alive:'..me)
redis.call('SREM', P..'nodes', me)
return #h / 2
