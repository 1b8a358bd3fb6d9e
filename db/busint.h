/* db/busint.h: what the two bus implementations (db/bus_unix.c,
 * db/bus_redis.c) share with db/bus.c, which hands each call to the one
 * a bus was opened as.  Nobody else includes this. */
#ifndef PL_BUSINT_H
#define PL_BUSINT_H

#include "db/bus.h"

struct pl_bus_ops {
	void (*close)(struct pl_bus *b);
	void (*send)(struct pl_bus *b, char kind, const char *payload, size_t len);
	bool (*attach)(struct pl_bus *b, struct pl_loop *loop); /* fn and ud are set */
	void (*tick)(struct pl_bus *b);                         /* may be NULL */
	void (*detach)(struct pl_bus *b);                       /* may be NULL */
};

/* The first member of each implementation's bus. */
struct pl_bus {
	const struct pl_bus_ops *ops;
	bool listening;         /* parleyd's: receives (attach), never sends to itself */
	pl_bus_fn fn;           /* set by pl_bus_attach */
	void *ud;
};

extern const struct pl_bus_ops pl_bus_unix_ops;
extern const struct pl_bus_ops pl_bus_redis_ops;
extern const struct pl_bus_ops pl_bus_pg_ops;

#endif
