/* db/presence: counting connections, the readers' API, and embedded mode's
 * grace periods; see presence.h.  Redis mode's protocol is
 * db/presence_redis.c. */
#include "db/presenceint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

/* ================= common ================= */

struct pl_presence *pl_presence_new(int grace_seconds, pl_presence_fn fn, void *ud)
{
	struct pl_presence *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->users = pl_map_new();
	if (!p->users) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->grace_ms = grace_seconds * 1000;
	p->fn = fn;
	p->ud = ud;
	return p;
}

void pl_presence_free(struct pl_presence *p)
{
	if (!p)
		return;
	pl_map_free_all(p->users);
	free(p->checks);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Under the lock. */
struct entry *pl_presence_entry(struct pl_presence *p, const char *user, bool create)
{
	struct entry *e = pl_map_get(p->users, user);
	if (e || !create)
		return e;
	e = calloc(1, sizeof *e);
	if (e && !pl_map_put(p->users, user, e)) {
		free(e);
		e = NULL;
	}
	return e;
}

/* Under the lock (Redis mode): drops an entry that says nothing. */
void pl_presence_entry_tidy(struct pl_presence *p, const char *user, struct entry *e)
{
	if (e && !e->local && !e->count && !e->pending && !e->reg)
		free(pl_map_del(p->users, user));
}

/* Redis mode: connections anywhere, as this node knows now. */
static int global_conns(const struct pl_presence *p, const struct entry *e)
{
	if (p->synced)
		return e->count;
	/* Cut off from Redis: what the others had, plus this node's own now. */
	int others = e->count - e->reg;
	return (others > 0 ? others : 0) + e->local;
}

int pl_presence_connections(struct pl_presence *p, const char *user)
{
	pthread_mutex_lock(&p->lock);
	struct entry *e = pl_map_get(p->users, user);
	int n = !e ? 0 : p->bus ? global_conns(p, e) : e->local;
	pthread_mutex_unlock(&p->lock);
	return n;
}

bool pl_presence_online(struct pl_presence *p, const char *user)
{
	pthread_mutex_lock(&p->lock);
	struct entry *e = pl_map_get(p->users, user);
	bool on = e && (!p->bus || global_conns(p, e) > 0 || e->pending);
	pthread_mutex_unlock(&p->lock);
	return on;
}

/* ================= the API ================= */

void pl_presence_connect(struct pl_presence *p, const char *user)
{
	bool came_online = false;
	pthread_mutex_lock(&p->lock);
	struct entry *e = pl_map_get(p->users, user);
	if (!e && (e = pl_presence_entry(p, user, true)) != NULL && !p->bus)
		came_online = true;
	if (e) {
		e->local++;
		e->offline_at = 0; /* back within the grace period: no events */
	}
	bool redis = p->bus != NULL;
	pthread_mutex_unlock(&p->lock);
	if (redis && e)
		pl_presence_redis_connect(p, user);
	else if (came_online && p->fn)
		p->fn(p->ud, user, true);
}

void pl_presence_disconnect(struct pl_presence *p, const char *user)
{
	pthread_mutex_lock(&p->lock);
	struct entry *e = pl_map_get(p->users, user);
	bool counted = e && e->local > 0;
	if (counted && --e->local == 0 && !p->bus)
		e->offline_at = pl_mono_ms() + p->grace_ms;
	bool redis = p->bus != NULL;
	if (counted && redis)
		pl_presence_entry_tidy(p, user, e);
	pthread_mutex_unlock(&p->lock);
	if (counted && redis)
		pl_presence_redis_disconnect(p, user);
}

void pl_presence_tick(struct pl_presence *p)
{
	if (p->bus) {
		pl_presence_redis_tick(p);
		return;
	}
	int64_t now = pl_mono_ms();
	char (*gone)[PL_ID_MAX + 1] = NULL;
	size_t ngone = 0, cap = 0, pos = 0;
	const char *k;
	void *v;
	pthread_mutex_lock(&p->lock);
	while (pl_map_next(p->users, &pos, &k, &v)) {
		struct entry *e = v;
		if (e->local > 0 || !e->offline_at || e->offline_at > now)
			continue;
		if (ngone == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *grown = realloc(gone, ncap * sizeof *gone);
			if (!grown)
				break;
			gone = grown;
			cap = ncap;
		}
		snprintf(gone[ngone++], sizeof gone[0], "%s", k);
		free(pl_map_del(p->users, k));
	}
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < ngone && p->fn; i++)
		p->fn(p->ud, gone[i], false);
	free(gone);
}
