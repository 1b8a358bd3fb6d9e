/* db/bus: see bus.h.  Hands each call to the implementation the bus was
 * opened as (db/bus_unix.c, db/bus_redis.c). */
#include "db/busint.h"

void pl_bus_close(struct pl_bus *b)
{
	if (b)
		b->ops->close(b);
}

void pl_bus_send(struct pl_bus *b, char kind, const char *payload, size_t len)
{
	if (b && len <= PL_BUS_MAX)
		b->ops->send(b, kind, payload, len);
}

bool pl_bus_attach(struct pl_bus *b, struct pl_loop *loop, pl_bus_fn fn, void *ud)
{
	if (!b || !b->listening)
		return true;
	b->fn = fn;
	b->ud = ud;
	return b->ops->attach(b, loop);
}

void pl_bus_tick(struct pl_bus *b)
{
	if (b && b->listening && b->ops->tick)
		b->ops->tick(b);
}

void pl_bus_detach(struct pl_bus *b)
{
	if (b && b->ops->detach)
		b->ops->detach(b);
}
