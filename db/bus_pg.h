/* db/bus_pg: the bus of parleyd nodes sharing PostgreSQL without Redis:
 * the embedded bus for this host, plus LISTEN/NOTIFY wake-ups between
 * nodes (db/bus_pg.c says what crosses and what does not). */
#ifndef PL_BUS_PG_H
#define PL_BUS_PG_H

#include "db/bus.h"

/* url: the PostgreSQL store; data_dir: this host's embedded bus.  Only
 * listen (parleyd) connects a listener. */
enum pl_code pl_bus_open_pg(const char *url, const char *data_dir, bool listen,
			    struct pl_bus **out, pl_error *err);

#endif
