-- Replaces this node's contribution with its current counts (after the
-- link came up, or when Redis no longer knows the node), reports the
-- transitions that makes, and returns a snapshot for the cache.
-- ARGV: prefix, node, deadline, ttl, known boot id, fresh boot id, then
-- (user, count now, count Redis may have had) triples.  "lost": the
-- dataset is not the one this node last saw (Redis restarted empty), so
-- the users it had registered were online as far as anyone knew.
-- -> {boot, seq, {online users}, {pending users}, {user, count...}, {pending}}
local P, me, deadline, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local known, fresh = ARGV[5], ARGV[6]
local boot = redis.call('GET', P..'boot')
if not boot then
  boot = fresh
  redis.call('SET', P..'boot', boot)
end
local lost = known ~= '' and known ~= boot
local nk = P..'node:'..me
local old, newc, prev, users, seen = {}, {}, {}, {}, {}
local h = redis.call('HGETALL', nk)
for i = 1, #h, 2 do
  old[h[i]] = tonumber(h[i + 1])
  if not seen[h[i]] then seen[h[i]] = true; users[#users + 1] = h[i] end
end
for i = 7, #ARGV, 3 do
  local u = ARGV[i]
  newc[u] = tonumber(ARGV[i + 1])
  prev[u] = tonumber(ARGV[i + 2])
  if not seen[u] then seen[u] = true; users[#users + 1] = u end
end
redis.call('DEL', nk)
local on, pend = {}, {}
for _, u in ipairs(users) do
  local c = newc[u] or 0
  local had = lost and (prev[u] or 0) > 0
  if c > 0 then redis.call('HSET', nk, u, c) end
  local before = tonumber(redis.call('HGET', P..'count', u) or '0')
  local after = before + c - (old[u] or 0)
  local p = 0
  if after <= 0 then
    after = 0
    redis.call('HDEL', P..'count', u)
    if before > 0 or had then
      redis.call('HSET', P..'pending', u, deadline)
      pend[#pend + 1] = u
    end
    if redis.call('HEXISTS', P..'pending', u) == 1 then p = 1 end
  else
    redis.call('HSET', P..'count', u, after)
    if before <= 0 and redis.call('HDEL', P..'pending', u) == 0 and not had then
      on[#on + 1] = u
    end
  end
  if after ~= before or p == 1 then
    local v = redis.call('INCR', P..'seq')
    redis.call('PUBLISH', P..'presence', u..' '..after..' '..p..' '..v)
  end
end
redis.call('SADD', P..'nodes', me)
redis.call('SET', P..'alive:'..me, '1', 'EX', ttl)
local seq = tonumber(redis.call('GET', P..'seq') or '0')
return {boot, seq, on, pend, redis.call('HGETALL', P..'count'),
        redis.call('HKEYS', P..'pending')}
