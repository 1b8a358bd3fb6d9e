/* db/presence: see presence.h. */
#include "db/presence.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/map.h"

struct entry {
	int connections;
	int64_t offline_at;     /* monotonic ms when the grace period ends; 0 = none */
};

struct pl_presence {
	pthread_mutex_t lock;
	pl_map *users;          /* user -> struct entry, online or in grace only */
	int grace_ms;
	pl_presence_fn fn;
	void *ud;
};

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
	size_t pos = 0;
	const char *k;
	void *v;
	while (pl_map_next(p->users, &pos, &k, &v))
		free(v);
	pl_map_free(p->users);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void pl_presence_connect(struct pl_presence *p, const char *user)
{
	bool came_online = false;
	pthread_mutex_lock(&p->lock);
	struct entry *e = pl_map_get(p->users, user);
	if (!e) {
		e = calloc(1, sizeof *e);
		if (e && pl_map_put(p->users, user, e)) {
			came_online = true;
		} else {
			free(e);
			e = NULL;
		}
	}
	if (e) {
		e->connections++;
		e->offline_at = 0; /* back within the grace period: no events */
	}
	pthread_mutex_unlock(&p->lock);
	if (came_online && p->fn)
		p->fn(p->ud, user, true);
}

void pl_presence_disconnect(struct pl_presence *p, const char *user)
{
	pthread_mutex_lock(&p->lock);
	struct entry *e = pl_map_get(p->users, user);
	if (e && e->connections > 0 && --e->connections == 0)
		e->offline_at = pl_mono_ms() + p->grace_ms;
	pthread_mutex_unlock(&p->lock);
}

int pl_presence_connections(struct pl_presence *p, const char *user)
{
	pthread_mutex_lock(&p->lock);
	struct entry *e = pl_map_get(p->users, user);
	int n = e ? e->connections : 0;
	pthread_mutex_unlock(&p->lock);
	return n;
}

bool pl_presence_online(struct pl_presence *p, const char *user)
{
	pthread_mutex_lock(&p->lock);
	bool on = pl_map_get(p->users, user) != NULL;
	pthread_mutex_unlock(&p->lock);
	return on;
}

void pl_presence_tick(struct pl_presence *p)
{
	int64_t now = pl_mono_ms();
	char (*gone)[72] = NULL;
	size_t ngone = 0, cap = 0, pos = 0;
	const char *k;
	void *v;
	pthread_mutex_lock(&p->lock);
	while (pl_map_next(p->users, &pos, &k, &v)) {
		struct entry *e = v;
		if (e->connections > 0 || !e->offline_at || e->offline_at > now)
			continue;
		if (ngone == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *grown = realloc(gone, ncap * sizeof *gone);
			if (!grown)
				break;
			gone = grown;
			cap = ncap;
		}
		strncpy(gone[ngone], k, sizeof gone[0] - 1);
		gone[ngone++][sizeof gone[0] - 1] = 0;
		free(pl_map_del(p->users, k));
	}
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < ngone && p->fn; i++)
		p->fn(p->ud, gone[i], false);
	free(gone);
}
