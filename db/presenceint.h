/* db/presenceint.h: the presence object, shared by its two halves and
 * nobody else: db/presence.c (counting, the readers' API, embedded mode)
 * and db/presence_redis.c (the Redis protocol).  See presence.h. */
#ifndef PL_PRESENCEINT_H
#define PL_PRESENCEINT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ids.h"
#include "base/map.h"
#include "db/presence.h"

struct entry {
	int local;              /* connections on this process */
	int64_t offline_at;     /* embedded: monotonic ms when the grace period ends; 0 = none */
	/* Redis mode: the global view, and what this node had registered */
	int count;              /* connections on all nodes */
	bool pending;           /* in the grace period */
	long long version;      /* of count and pending */
	int reg;                /* this node's count as Redis may still hold it (link down) */
};

struct check {
	char user[PL_ID_MAX + 1];
	int64_t due;            /* monotonic ms */
};

struct pl_bus;

struct pl_presence {
	pthread_mutex_t lock;
	pl_map *users;          /* user -> struct entry */
	int grace_ms;
	pl_presence_fn fn;
	void *ud;
	/* Redis mode; the fields below the lock are the loop thread's, except
	 * those the readers use (bus, synced), which change under the lock. */
	struct pl_bus *bus;     /* NULL: embedded mode */
	bool synced;            /* registered and snapshotted since the link came up */
	long long floor;        /* updates at or below this make no new entries */
	char boot[40];          /* the Redis dataset's id, as last seen */
	bool need_register;
	bool registering;
	int64_t register_at;    /* not before (after a failed registration) */
	int64_t next_maintain;
	struct check *checks;
	size_t nchecks, capchecks;
};

/* db/presence.c, under the lock: a user's entry (made if create), and
 * dropping one that says nothing (Redis mode). */
struct entry *pl_presence_entry(struct pl_presence *p, const char *user, bool create);
void pl_presence_entry_tidy(struct pl_presence *p, const char *user, struct entry *e);

/* db/presence_redis.c, on the bus's loop thread (p->bus set): a
 * connection of this node began or ended (already counted in local), and
 * the timers (registration, grace periods, heartbeat). */
void pl_presence_redis_connect(struct pl_presence *p, const char *user);
void pl_presence_redis_disconnect(struct pl_presence *p, const char *user);
void pl_presence_redis_tick(struct pl_presence *p);

#endif
