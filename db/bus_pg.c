/* db/bus_pg: the bus of nodes on PostgreSQL without Redis (see bus.h).
 *
 * The embedded bus (db/bus_unix.c) still carries what stays on this host
 * (parley.fcgi's wake-ups and connection counts to its parleyd); on top of
 * it, the daemon listens on PostgreSQL (db/pgbus.h): every batch that
 * appends events says NOTIFY in its transaction (db/pg_messages.c), and a
 * notification here becomes a 'W' wake-up with the log's newest id, so the
 * hub reads the log after its cursor as for a local commit.  A lost
 * listening connection is opened again on the next tick, followed by one
 * wake-up: what was said while it was away is in the log.
 *
 * Not carried between nodes here: ephemeral events (typing, receipts,
 * presence); they need Redis (docs/ARCHITECTURE.md). */
#include "db/busint.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "base/log.h"
#include "base/loop.h"
#include "db/bus_pg.h"
#include "db/pgbus.h"
#include "db/store.h"

struct bus_pg {
	struct pl_bus base;   /* first: db/bus.c's view */
	struct pl_bus *local; /* the embedded bus of this host */
	pl_pgbus *pg;         /* listening (the daemon only) */
	pl_store *store;      /* the loop thread's, for the newest id */
	struct pl_loop *loop;
	struct pl_watch watch;
	bool lost;
};

#define PG_OF(w) ((struct bus_pg *)(void *)((char *)(w) - offsetof(struct bus_pg, watch)))

static void wake(struct bus_pg *b)
{
	char id[24];
	int n = snprintf(id, sizeof id, "%lld", (long long)pl_store_last_event(b->store));
	b->base.fn(b->base.ud, 'W', id, (size_t)n);
}

static void unwatch(struct bus_pg *b)
{
	if (b->loop && b->watch.registered)
		pl_loop_del(b->loop, &b->watch);
}

static void on_readable(struct pl_watch *w, uint32_t events)
{
	(void)events;
	struct bus_pg *b = PG_OF(w);
	pl_error err = {0};
	int n = pl_pgbus_drain(b->pg, &err);
	if (n < 0) {
		log_warn("bus: PostgreSQL listener lost (%s); listening again shortly",
			 err.message);
		unwatch(b);
		b->lost = true;
		return;
	}
	if (n > 0)
		wake(b);
}

static bool add_watch(struct bus_pg *b)
{
	b->watch.fd = pl_pgbus_fd(b->pg);
	b->watch.fn = on_readable;
	if (b->watch.fd < 0)
		return false;
	return pl_loop_add(b->loop, &b->watch, EPOLLIN);
}

enum pl_code pl_bus_open_pg(const char *url, const char *data_dir, bool listen,
			    struct pl_bus **out, pl_error *err)
{
	struct bus_pg *b = calloc(1, sizeof *b);
	if (!b)
		return pl_fail(err, PL_INTERNAL, "out of memory");
	b->base.ops = &pl_bus_pg_ops;
	b->base.listening = listen;
	enum pl_code rc = pl_bus_open(data_dir, listen, &b->local, err);
	if (rc == PL_OK && listen)
		rc = pl_pgbus_open(url, &b->pg, err);
	if (rc == PL_OK && listen)
		rc = pl_store_open(url, &b->store, err);
	if (rc != PL_OK) {
		pl_bus_close(&b->base);
		return rc;
	}
	*out = &b->base;
	return PL_OK;
}

static void pg_close(struct pl_bus *bus)
{
	struct bus_pg *b = (struct bus_pg *)bus;
	/* No pl_loop_del: the hub frees its loop before the context closes
	 * the bus (as the embedded bus, only the descriptor goes, with the
	 * listening connection). */
	pl_bus_close(b->local);
	pl_pgbus_close(b->pg);
	pl_store_close(b->store);
	free(b);
}

static void pg_send(struct pl_bus *bus, char kind, const char *payload, size_t len)
{
	pl_bus_send(((struct bus_pg *)bus)->local, kind, payload, len);
}

static bool pg_attach(struct pl_bus *bus, struct pl_loop *loop)
{
	struct bus_pg *b = (struct bus_pg *)bus;
	b->loop = loop;
	return pl_bus_attach(b->local, loop, b->base.fn, b->base.ud) && add_watch(b);
}

static void pg_tick(struct pl_bus *bus)
{
	struct bus_pg *b = (struct bus_pg *)bus;
	pl_bus_tick(b->local);
	if (!b->lost || !b->loop)
		return;
	pl_error err = {0};
	if (pl_pgbus_reopen(b->pg, &err) != PL_OK || !add_watch(b))
		return;
	b->lost = false;
	log_info("bus: PostgreSQL listener back");
	wake(b);
}

static void pg_detach(struct pl_bus *bus)
{
	struct bus_pg *b = (struct bus_pg *)bus;
	unwatch(b);
	b->loop = NULL;
	pl_bus_detach(b->local);
}

const struct pl_bus_ops pl_bus_pg_ops = {
	.close = pg_close,
	.send = pg_send,
	.attach = pg_attach,
	.tick = pg_tick,
	.detach = pg_detach,
};
