-- The grace period of user should be over.  ARGV: prefix, user, now.
-- -> v > 0: offline now (report it) | 0: back online, or another node
-- reported it | -ms: not yet, ms to go
local P, u, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local d = redis.call('HGET', P..'pending', u)
if not d then return 0 end
d = tonumber(d)
if d > now then return -(d - now) end
redis.call('HDEL', P..'pending', u)
local v = redis.call('INCR', P..'seq')
redis.call('PUBLISH', P..'presence', u..' 0 0 '..v)
return v
