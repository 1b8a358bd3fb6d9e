/* db/presence: who is online, counted by connections.
 *
 * A user is online from their first connection until the last one closed
 * and a grace period passed without a new one, so a reloading tab or a
 * phone changing networks never shows as offline-then-online.  Transitions
 * are reported once per change through the callback, never once per
 * connection.  Thread-safe: connections come and go on the hub thread,
 * status is read from HTTP threads.
 *
 * Redis mode (pl_presence_use_bus with a Redis bus): the counts are global
 * across processes and nodes, kept in Redis by atomic Lua scripts:
 * parley:count (user -> connections on all nodes), parley:node:<id> (user
 * -> this node's connections), parley:pending (user -> end of the grace
 * period, ms), parley:nodes, parley:alive:<id> (a heartbeat: EX 15,
 * refreshed every 5 s).  Every node reaps, every 5 s, the nodes whose
 * heartbeat is gone (their counts are subtracted, users left with none go
 * offline at once), so a crashed node stops counting within about 20 s.
 * Long-polls of parley.fcgi (which has no loop, so no heartbeat) count
 * under its own node id, applied by one daemon, with a per-user touch time
 * (parley:polltouch) so a count untouched for 75 s is reaped.
 * Online is the global count going 0 -> 1 with no grace period running;
 * offline is the grace period ending with the count still 0, decided by
 * the one script run that deletes the pending entry, so exactly one node
 * reports each transition (through the callback, on the hub thread: the
 * callback publishes the presence event to every node).
 * Status reads answer from a local cache, never from Redis: the callback
 * and HTTP threads read it without waiting on the network, and a Redis
 * outage cannot stall them.  The cache is kept by versioned updates every
 * script publishes on "parley:presence", plus a full snapshot whenever the
 * link comes up.  While Redis is down, this node's own connections count
 * locally (added to what other nodes had), no transitions are reported,
 * and when it is back the node re-registers its counts; the transitions
 * that happened meanwhile are reported then. */
#ifndef PL_PRESENCE_H
#define PL_PRESENCE_H

#include <stdbool.h>
#include <stdint.h>

struct pl_presence;

/* online: the user came online (true) or went offline after the grace
 * period (false).  Called without the presence lock held. */
typedef void (*pl_presence_fn)(void *ud, const char *user, bool online);

struct pl_presence *pl_presence_new(int grace_seconds, pl_presence_fn fn, void *ud);
void pl_presence_free(struct pl_presence *p);
void pl_presence_connect(struct pl_presence *p, const char *user);
void pl_presence_disconnect(struct pl_presence *p, const char *user);
/* Connections open now (0 during the grace period). */
int pl_presence_connections(struct pl_presence *p, const char *user);
/* Online now, including during the grace period. */
bool pl_presence_online(struct pl_presence *p, const char *user);
/* Fires the offline transitions whose grace period ended; call about once
 * a second. */
void pl_presence_tick(struct pl_presence *p);

struct pl_bus;
/* Redis mode when bus is a Redis bus (a no-op otherwise): presence
 * registers itself as the bus's client (db/bus_redis.h).  Call once, before
 * the first connection and before pl_bus_attach (the bus subscribes to
 * presence's channel when its link comes up).  The bus must outlive p's
 * use of it: close the bus first (its goodbye runs presence's), then free
 * p.  Implemented in db/presence_redis.c. */
void pl_presence_use_bus(struct pl_presence *p, struct pl_bus *bus);

#endif
