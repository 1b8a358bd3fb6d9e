/* db/bus: wake-ups and ephemeral events between the processes sharing a
 * store.
 *
 * The bus never carries stored events themselves, only "there is more up to
 * id N" (kind 'W'); each listener then reads the new events from the store
 * in id order, so nothing is lost if a wake-up is.  Ephemeral events
 * (typing, receipts, presence: kind 'E', a JSON event) travel on the bus
 * alone, and connection counts of processes with no loop (kind 'C', "+user"
 * or "-user", parley.fcgi's long-polls) feed the daemon's presence.
 *
 * Two implementations behind this one interface, chosen at open:
 * - db/bus_unix.c, embedded mode: parleyd binds a Unix datagram socket in
 *   the data folder; parley.fcgi workers send to it and carry on if no
 *   daemon runs.
 * - db/bus_redis.c, Redis mode (REDIS_URL): pub/sub between processes and
 *   nodes; db/bus_redis.h is its extra interface (the link's state and
 *   commands, for a client such as presence's Redis protocol).
 *
 * The bus knows what a message kind is, never what it means: the hub (fn)
 * and a registered client (db/bus_redis.h) do. */
#ifndef PL_BUS_H
#define PL_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct pl_bus;
struct pl_loop;

#define PL_BUS_MAX 8192 /* largest payload */

/* Embedded mode: listen is parleyd's (binds the socket), the others send. */
enum pl_code pl_bus_open(const char *data_dir, bool listen, struct pl_bus **out,
			 pl_error *err);
/* Redis mode.  db_path: the store, read for its newest event id after a
 * reconnect.  Never fails for an unreachable Redis (it is retried in the
 * background), only for a URL it cannot read. */
enum pl_code pl_bus_open_redis(const char *url, const char *db_path, bool listen,
			       struct pl_bus **out, pl_error *err);
void pl_bus_close(struct pl_bus *bus);
/* Best effort: a full or absent listener drops the message. */
void pl_bus_send(struct pl_bus *bus, char kind, const char *payload, size_t len);
typedef void (*pl_bus_fn)(void *ud, char kind, const char *payload, size_t len);
/* Listens on the caller's event loop (the hub's): every message from
 * another process is handed to fn on the loop's thread.  A no-op for a
 * bus that only sends. */
bool pl_bus_attach(struct pl_bus *bus, struct pl_loop *loop, pl_bus_fn fn, void *ud);
/* Timers of the bus (reconnects, heartbeats); call about once a second
 * from the loop's thread. */
void pl_bus_tick(struct pl_bus *bus);
/* Drops the loop (if it is freed before the bus): no watch is touched
 * after this. */
void pl_bus_detach(struct pl_bus *bus);

/* For status pages: a Redis bus, and its link up (both connections ready
 * and subscribed). */
bool pl_bus_is_redis(const struct pl_bus *bus);
bool pl_bus_redis_up(const struct pl_bus *bus);

#endif
