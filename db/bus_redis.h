/* db/bus_redis: the Redis bus (see bus.h for the interface all buses have).
 *
 * Messages travel on the pub/sub channel "parley:bus", each tagged with
 * the sending process's node id (a random 64-bit number drawn at start) so
 * a process skips its own: it already handed them to its own sink.  The
 * daemon keeps two hiredis async connections on the hub's loop, one
 * SUBSCRIBEd and one for commands (its client's, PUBLISH); messages sent
 * from other threads are queued and published from the loop's thread.
 * parley.fcgi, which has no loop, publishes over a blocking connection
 * with short timeouts.  While Redis is down, messages are dropped (one log
 * line when it goes, one when it is back; reconnects back off from 0.5 s
 * to 10 s); once it is back, the daemon wakes its own hub and every other
 * node with a 'W' carrying the store's newest id, so all catch up from the
 * store, which is the log.  Runs of queued 'W's go out as one (the highest
 * id).
 *
 * One client (in Parley: presence's Redis protocol, db/presence_redis.c)
 * may use the link: it hears the link come and go, the messages of one
 * channel of its own, and the bus's 'C' messages; it sends commands on the
 * command connection.  The bus does not know what the client does. */
#ifndef PL_BUS_REDIS_H
#define PL_BUS_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include "db/bus.h"

struct redisReply;

enum pl_bus_link { PL_BUS_LINK_UP, PL_BUS_LINK_DOWN, PL_BUS_LINK_CLOSING };

struct pl_bus_client {
	/* A channel to subscribe to besides the bus's, or NULL. */
	const char *channel;
	/* The link came up or went down (the loop's thread), or the bus is
	 * closing (pl_bus_close's thread, before the bus goes: the last chance
	 * for a blocking command). */
	void (*on_link)(void *ud, enum pl_bus_link what);
	/* A message on channel (the loop's thread; msg ends with a NUL). */
	void (*on_channel)(void *ud, const char *msg, size_t len);
	/* A 'C' message of another process (the loop's thread), instead of the
	 * bus's fn: every daemon hears it, so a sender with no loop numbers
	 * them and op ("<node>:<number>") is unique across the cluster, for
	 * the client to apply each once.  payload is the sender's, unnumbered. */
	void (*on_claim)(void *ud, const char *node, const char *payload, const char *op);
	void *ud;
};

/* Registers the client (copied); before pl_bus_attach (the subscription
 * is made when the link comes up).  A no-op for a bus not of Redis. */
void pl_bus_set_client(struct pl_bus *bus, const struct pl_bus_client *client);

const char *pl_bus_node(const struct pl_bus *bus);      /* 16 hex digits; "" if not Redis */

typedef void (*pl_bus_reply_fn)(void *ud, struct redisReply *reply);
/* The loop's thread only: sends a command on the command connection.
 * False if the link is not up (fn is not called then); otherwise fn is
 * called exactly once, with NULL if the connection dropped first. */
bool pl_bus_command(struct pl_bus *bus, pl_bus_reply_fn fn, void *ud, int argc,
		    const char **argv, const size_t *lens);
/* Blocking, over the bus's own short-timeout connection (any thread, one
 * at a time): the reply to free with freeReplyObject, or NULL. */
struct redisReply *pl_bus_command_sync(struct pl_bus *bus, int argc, const char **argv,
				       const size_t *lens);

#endif
