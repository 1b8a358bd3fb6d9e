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
 * parley.fcgi workers send to it and carry on if no daemon runs. */
#ifndef PL_BUS_H
#define PL_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct pl_bus;

#define PL_BUS_MAX 8192 /* largest payload */

enum pl_code pl_bus_open(const char *data_dir, bool listen, struct pl_bus **out,
			 pl_error *err);
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

#endif
