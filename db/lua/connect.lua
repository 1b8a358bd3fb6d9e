-- A connection on this node.  ARGV: prefix, node, user, (unused).
-- -> {-1} unregistered node | connect()
--#include count.lua
if redis.call('EXISTS', P..'alive:'..me) == 0 then return {-1} end
return connect()
