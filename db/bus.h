/* db/bus: wake-ups and ephemeral events between the processes sharing a
 * store.
 *
 * The bus never carries stored events themselves, only "there is more up to
 * id N" (kind 'W'); each listener then reads the new events from the store
 * in id order, so nothing is lost if a wake-up is.  Ephemeral events
 * (typing, receipts, presence: kind 'E', a JSON event) travel on the bus
 * alone, and connection counts of other processes (kind 'C', "+user" or
 * "-user") feed the daemon's presence.
 *
 * Embedded mode: parleyd binds a Unix datagram socket in the data folder;
 * parley.fcgi workers send to it and carry on if no daemon runs.
 *
 * Redis mode (REDIS_URL): messages travel on the pub/sub channel
 * "parley:bus", each tagged with the sending process's node id (a random
 * 64-bit number drawn at start) so a process skips its own: it already
 * handed them to its own sink.  The daemon keeps two hiredis async
 * connections on the hub's loop, one SUBSCRIBEd and one for commands
 * (presence's scripts, PUBLISH); messages sent from other threads are
 * queued and published from the loop's thread.  parley.fcgi, which has no
 * loop, publishes over a blocking connection with short timeouts.  While
 * Redis is down, messages are dropped (one log line when it goes, one when
 * it is back; reconnects back off from 0.5 s to 10 s); once it is back,
 * the daemon wakes its own hub and every other node with a 'W' carrying
 * the store's newest id, so all catch up from the store, which is the log.
 * Runs of queued 'W's go out as one (the highest id).  'C' messages (from
 * parley.fcgi) are numbered and handed to presence, not to fn: every
 * daemon hears them and exactly one applies each to the Redis counts. */
#ifndef PL_BUS_H
#define PL_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct pl_bus;

#define PL_BUS_MAX 8192 /* largest payload */

enum pl_code pl_bus_open(const char *data_dir, bool listen, struct pl_bus **out,
			 pl_error *err);
/* Redis mode.  db_path: the store, read for its newest event id after a
 * reconnect.  Never fails for an unreachable Redis (it is retried in the
 * background), only for a URL it cannot read. */
enum pl_code pl_bus_open_redis(const char *url, const char *db_path, bool listen,
			       struct pl_bus **out, pl_error *err);
void pl_bus_close(struct pl_bus *bus);
/* Best effort: a full or absent listener drops the datagram. */
void pl_bus_send(struct pl_bus *bus, char kind, const char *payload, size_t len);
struct pl_loop;
typedef void (*pl_bus_fn)(void *ud, char kind, const char *payload, size_t len);
/* Listens on the caller's event loop (the hub's): every message from
 * another process is handed to fn on the loop's thread.  A no-op for a
 * bus that only sends. */
bool pl_bus_attach(struct pl_bus *bus, struct pl_loop *loop, pl_bus_fn fn, void *ud);
/* Timers of the bus (reconnects, heartbeats); call about once a second
 * from the loop's thread. */
void pl_bus_tick(struct pl_bus *bus);

/* ---- for db/presence (Redis mode) ---- */

struct redisReply;
struct pl_presence;

/* Where the process's presence will be (ctx->presence): pl_bus_attach
 * links the presence it finds there to the bus (pl_presence_use_bus). */
void pl_bus_set_presence_slot(struct pl_bus *bus, struct pl_presence **slot);
bool pl_bus_is_redis(const struct pl_bus *bus);
const char *pl_bus_node(const struct pl_bus *bus);      /* 16 hex digits */
/* The link is up: both connections ready and subscribed. */
bool pl_bus_redis_up(const struct pl_bus *bus);

enum pl_bus_link { PL_BUS_LINK_UP, PL_BUS_LINK_DOWN, PL_BUS_LINK_CLOSING };
typedef void (*pl_bus_link_fn)(void *ud, enum pl_bus_link what);
/* One listener, told on the loop's thread when the link comes up and goes
 * down, and from pl_bus_close (CLOSING, any thread) before the bus goes. */
void pl_bus_on_link(struct pl_bus *bus, pl_bus_link_fn fn, void *ud);
/* Also delivers "parley:presence" channel messages to fn (loop thread). */
typedef void (*pl_bus_presence_msg_fn)(void *ud, const char *msg, size_t len);
void pl_bus_on_presence_msg(struct pl_bus *bus, pl_bus_presence_msg_fn fn, void *ud);

/* Connection counts ('C') from processes with no loop (parley.fcgi's
 * long-polls) reach this instead of the bus's fn: node is the sender's id,
 * op a unique id of the message (every daemon hears it; one applies it). */
typedef void (*pl_bus_count_fn)(void *ud, const char *node, char sign, const char *user,
				const char *op);
void pl_bus_on_remote_count(struct pl_bus *bus, pl_bus_count_fn fn, void *ud);

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
/* Drops the loop (if it is freed before the bus): no watch is touched
 * after this. */
void pl_bus_detach(struct pl_bus *bus);

#endif
