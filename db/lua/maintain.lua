-- Heartbeat, reaping of dead nodes and of stale long-poll counts, and the
-- grace periods nobody ended (their node died).  ARGV: prefix, node, now,
-- ttl, poll staleness (ms).
-- -> {-1} this node is not registered | {0, user, v, user, v...}: offline
local P, me, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
if redis.call('EXISTS', P..'alive:'..me) == 0 then return {-1} end
redis.call('SET', P..'alive:'..me, '1', 'EX', ttl)
local out = {0}
local function gone(u)
  local v = redis.call('INCR', P..'seq')
  redis.call('PUBLISH', P..'presence', u..' 0 0 '..v)
  out[#out + 1] = u
  out[#out + 1] = v
end
local function uncount(u, c)
  local n = redis.call('HINCRBY', P..'count', u, -c)
  if n <= 0 then
    redis.call('HDEL', P..'count', u)
    redis.call('HDEL', P..'pending', u)
    gone(u)
  else
    local v = redis.call('INCR', P..'seq')
    redis.call('PUBLISH', P..'presence', u..' '..n..' 0 '..v)
  end
end
for _, id in ipairs(redis.call('SMEMBERS', P..'nodes')) do
  if redis.call('EXISTS', P..'alive:'..id) == 0 then
    local h = redis.call('HGETALL', P..'node:'..id)
    for i = 1, #h, 2 do
      uncount(h[i], tonumber(h[i + 1]))
    end
    redis.call('DEL', P..'node:'..id)
    redis.call('SREM', P..'nodes', id)
  end
end
local stale = redis.call('ZRANGEBYSCORE', P..'polltouch', '-inf', now - tonumber(ARGV[5]))
for _, m in ipairs(stale) do
  local sep = string.find(m, '|', 1, true)
  local nk, u = P..'node:'..string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
  local c = tonumber(redis.call('HGET', nk, u) or '0')
  redis.call('HDEL', nk, u)
  redis.call('ZREM', P..'polltouch', m)
  if c > 0 then uncount(u, c) end
end
local p = redis.call('HGETALL', P..'pending')
for i = 1, #p, 2 do
  if tonumber(p[i + 1]) <= now then
    redis.call('HDEL', P..'pending', p[i])
    gone(p[i])
  end
end
return out
