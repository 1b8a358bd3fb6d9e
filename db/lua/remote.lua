-- A long-poll of a process with no loop (parley.fcgi), told over the bus
-- to every daemon: the first to run this applies it (op is unique), under
-- the poller's own node id.  Such a node has no heartbeat: each user's
-- count there is touched at every change, and one untouched for longer
-- than a poll can last (POLL_STALE_MS) is reaped by the heartbeat.
-- ARGV: prefix, poller node, user, deadline, op, now, sign.
-- -> {-3} another daemon did it | connect() | disconnect()
--#include count.lua
if not redis.call('SET', P..'op:'..ARGV[5], '1', 'NX', 'EX', '300') then return {-3} end
local m = me..'|'..u
redis.call('ZADD', P..'polltouch', ARGV[6], m)
if ARGV[7] == '+' then return connect() end
local r = disconnect()
if redis.call('HEXISTS', nk, u) == 0 then redis.call('ZREM', P..'polltouch', m) end
return r
