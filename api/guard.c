/* api/guard: see guard.h. */
#include "api/guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/map.h"

#define SWEEP_MS 250

struct pl_guard_slot {
	struct pl_guard_slot *prev, *next;
	int fd;
	int64_t start_ms;      /* when its current request's clock started */
	bool busy;             /* the request arrived whole */
	bool cut;              /* shut down by the sweep */
	bool over_ip;
	char ip[INET6_ADDRSTRLEN];
};

struct pl_guard_lease {
	struct pl_guard *g;
	bool ip_counted;
	char user[PL_ID_MAX + 1];
	char ip[INET6_ADDRSTRLEN];
};

struct pl_guard {
	pthread_mutex_t lock;  /* guards everything below */
	pthread_cond_t wake;
	pl_map *per_ip, *per_user; /* counts, kept as pointer-sized integers */
	struct pl_guard_slot *slots;
	bool stop;
	int leases;            /* out now: the guard outlives them */
	pthread_t sweeper;
	int max_ip, max_user;
	int64_t timeout_ms;
};

/* Adds delta to key's count and answers the new count (entries at 0 go). */
static int count_add(pl_map *m, const char *key, int delta)
{
	intptr_t n = (intptr_t)pl_map_get(m, key) + delta;
	if (n <= 0)
		pl_map_del(m, key);
	else if (!pl_map_put(m, key, (void *)n))
		return -1;
	return (int)n;
}

static int count_of(pl_map *m, const char *key) { return (int)(intptr_t)pl_map_get(m, key); }

static void *sweep(void *arg)
{
	struct pl_guard *g = arg;
	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += SWEEP_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &until);
		int64_t now = pl_mono_ms();
		/* Under the lock: a slot still listed has a socket MHD has not
		 * closed yet (MHD tells of the close before it closes), so the
		 * descriptor cannot be someone else's. */
		for (struct pl_guard_slot *s = g->slots; s; s = s->next)
			if (!s->busy && !s->cut && now - s->start_ms > g->timeout_ms) {
				s->cut = true;
				shutdown(s->fd, SHUT_RDWR);
			}
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

struct pl_guard *pl_guard_new(int max_ip, int max_user, int timeout_s)
{
	struct pl_guard *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	g->max_ip = max_ip;
	g->max_user = max_user;
	g->timeout_ms = (int64_t)timeout_s * 1000;
	g->per_ip = pl_map_new();
	g->per_user = pl_map_new();
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->wake, NULL);
	if (!g->per_ip || !g->per_user || pthread_create(&g->sweeper, NULL, sweep, g) != 0) {
		pl_map_free(g->per_ip);
		pl_map_free(g->per_user);
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return NULL;
	}
	return g;
}

static void destroy(struct pl_guard *g)
{
	pl_map_free(g->per_ip);
	pl_map_free(g->per_user);
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* The hub lets go of push connections after MHD stopped: the last lease
 * given back frees a guard already stopped. */
void pl_guard_free(struct pl_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->sweeper, NULL);
	pthread_mutex_lock(&g->lock);
	bool last = g->leases == 0;
	pthread_mutex_unlock(&g->lock);
	if (last)
		destroy(g);
}

static void peer_text(const struct sockaddr *peer, char out[INET6_ADDRSTRLEN])
{
	out[0] = 0;
	if (peer && peer->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, out,
			  INET6_ADDRSTRLEN);
	else if (peer && peer->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, out,
			  INET6_ADDRSTRLEN);
	if (!out[0])
		snprintf(out, INET6_ADDRSTRLEN, "?");
}

struct pl_guard_slot *pl_guard_open(struct pl_guard *g, int fd, const struct sockaddr *peer)
{
	struct pl_guard_slot *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->fd = fd;
	s->start_ms = pl_mono_ms();
	peer_text(peer, s->ip);
	pthread_mutex_lock(&g->lock);
	int n = count_add(g->per_ip, s->ip, 1);
	/* n < 0: no memory to count it; refused rather than uncounted */
	s->over_ip = n < 0 || (g->max_ip > 0 && n > g->max_ip);
	s->next = g->slots;
	if (g->slots)
		g->slots->prev = s;
	g->slots = s;
	pthread_mutex_unlock(&g->lock);
	return s;
}

void pl_guard_close(struct pl_guard *g, struct pl_guard_slot *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&g->lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		g->slots = s->next;
	if (s->next)
		s->next->prev = s->prev;
	count_add(g->per_ip, s->ip, -1);
	pthread_mutex_unlock(&g->lock);
	free(s);
}

bool pl_guard_over_ip(const struct pl_guard_slot *s) { return s && s->over_ip; }

void pl_guard_busy(struct pl_guard *g, struct pl_guard_slot *s, bool busy)
{
	if (!s)
		return;
	pthread_mutex_lock(&g->lock);
	s->busy = busy;
	if (!busy)
		s->start_ms = pl_mono_ms();
	pthread_mutex_unlock(&g->lock);
}

struct pl_guard_lease *pl_guard_lease(struct pl_guard *g, const struct pl_guard_slot *s,
				      const char *user, bool outlives, bool *over_cap)
{
	*over_cap = false;
	struct pl_guard_lease *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->g = g;
	snprintf(l->user, sizeof l->user, "%s", user);
	snprintf(l->ip, sizeof l->ip, "%s", s ? s->ip : "?");
	pthread_mutex_lock(&g->lock);
	if (g->max_user > 0 && count_of(g->per_user, l->user) >= g->max_user) {
		*over_cap = true;
	} else if (count_add(g->per_user, l->user, 1) < 0) {
		*over_cap = false; /* out of memory */
	} else {
		if (outlives)
			l->ip_counted = count_add(g->per_ip, l->ip, 1) > 0;
		g->leases++;
		pthread_mutex_unlock(&g->lock);
		return l;
	}
	pthread_mutex_unlock(&g->lock);
	free(l);
	return NULL;
}

void pl_guard_release(void *lease)
{
	struct pl_guard_lease *l = lease;
	if (!l)
		return;
	struct pl_guard *g = l->g;
	pthread_mutex_lock(&g->lock);
	count_add(g->per_user, l->user, -1);
	if (l->ip_counted)
		count_add(g->per_ip, l->ip, -1);
	bool last = --g->leases == 0 && g->stop;
	pthread_mutex_unlock(&g->lock);
	free(l);
	if (last)
		destroy(g);
}
