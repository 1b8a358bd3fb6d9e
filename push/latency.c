/* push/latency: see latency.h. */
#include "push/latency.h"

#include <string.h>

#include "base/clock.h"

void pl_commits_init(struct pl_commits *k)
{
	memset(k, 0, sizeof *k);
	pthread_mutex_init(&k->lock, NULL);
}

void pl_commits_free(struct pl_commits *k)
{
	pthread_mutex_destroy(&k->lock);
}

void pl_commits_add(struct pl_commits *k, const struct pl_commit *c)
{
	if (c->last_event_id <= 0)
		return;
	pthread_mutex_lock(&k->lock);
	if (k->n == PL_COMMITS_KEPT) { /* the hub is far behind: forget the oldest */
		k->head = (k->head + 1) % PL_COMMITS_KEPT;
		k->n--;
	}
	k->ring[(k->head + k->n) % PL_COMMITS_KEPT] = *c;
	k->n++;
	pthread_mutex_unlock(&k->lock);
}

int64_t pl_commits_time(struct pl_commits *k, int64_t id)
{
	/* Most events share their commit with the one before: no lock. */
	if (id >= k->cur.first_event_id && id <= k->cur.last_event_id && k->cur.first_event_id > 0)
		return k->cur.at_us;
	int64_t at = 0;
	pthread_mutex_lock(&k->lock);
	while (k->n > 0 && k->ring[k->head].last_event_id < id) {
		k->head = (k->head + 1) % PL_COMMITS_KEPT;
		k->n--;
	}
	if (k->n > 0 && k->ring[k->head].first_event_id <= id) {
		k->cur = k->ring[k->head];
		at = k->cur.at_us;
	}
	pthread_mutex_unlock(&k->lock);
	return at;
}

/* Adds one observation per buffer, in runs of equal commit times. */
struct run {
	struct pl_histo *h;
	int64_t now, at;
	long long n;
};

static void run_add(struct run *r, int64_t at)
{
	if (at == r->at) {
		r->n++;
		return;
	}
	if (r->n > 0 && r->at > 0)
		pl_histo_record(r->h, r->now - r->at, r->n);
	r->at = at;
	r->n = 1;
}

static void run_end(struct run *r)
{
	run_add(r, -1);
}

void pl_latency_written(struct pl_histo *h, const struct pl_conn *c, size_t n)
{
	struct run r = {.h = h};
	size_t off = c->head_off;
	for (const struct pl_qitem *it = c->head; it; it = it->next) {
		size_t part = it->buf->len - off;
		if (n < part)
			break;
		n -= part;
		off = 0;
		if (it->buf->commit_us > 0) {
			if (!r.now)
				r.now = pl_mono_us();
			run_add(&r, it->buf->commit_us);
		}
	}
	run_end(&r);
}

void pl_latency_queued(struct pl_histo *h, const struct pl_conn *c)
{
	struct run r = {.h = h};
	for (const struct pl_qitem *it = c->head; it; it = it->next) {
		if (it->buf->commit_us > 0) {
			if (!r.now)
				r.now = pl_mono_us();
			run_add(&r, it->buf->commit_us);
		}
	}
	run_end(&r);
}
