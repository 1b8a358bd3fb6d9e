-- A connection on this node ended.  ARGV: prefix, node, user, deadline.
-- -> {-1} unregistered node | disconnect()
--#include count.lua
if redis.call('EXISTS', P..'alive:'..me) == 0 then return {-1} end
return disconnect()
