/* push/feed: see feed.h.  Runs on the hub thread only. */
#include "push/feed.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "push/hubint.h"

void pl_feed_add(struct pl_hub *h, struct pl_conn *c)
{
	struct pl_feeds *f = &h->feeds;
	if (!f->online && !(f->online = pl_map_new()))
		return;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		void *grown = realloc(f->conns, cap * sizeof *f->conns);
		if (!grown)
			return;
		f->conns = grown;
		f->cap = cap;
	}
	f->conns[f->n++] = c;
}

void pl_feed_remove(struct pl_hub *h, const struct pl_conn *c)
{
	struct pl_feeds *f = &h->feeds;
	for (size_t i = 0; i < f->n; i++) {
		if (f->conns[i] == c) {
			f->conns[i] = f->conns[--f->n];
			return;
		}
	}
}

/* Whether this status moves user across the online/offline line, as the
 * feeds last heard it; records the new side. */
static bool edge(struct pl_feeds *f, const char *user, const char *status)
{
	bool online = strcmp(status, "offline") != 0;
	bool was = pl_map_get(f->online, user) != NULL;
	if (online == was)
		return false;
	if (online)
		return pl_map_put(f->online, user, (void *)1);
	pl_map_del(f->online, user);
	return true;
}

void pl_feed_presence(struct pl_hub *h, const char *user, const char *status,
		      struct pl_event_out *e, uint64_t mark)
{
	struct pl_feeds *f = &h->feeds;
	if (f->n == 0 || !status || !edge(f, user, status))
		return;
	for (size_t i = 0; i < f->n; i++) {
		struct pl_conn *c = f->conns[i];
		if (c->mark == mark)
			continue;
		c->mark = mark;
		pl_hub_deliver(h, c, e);
	}
}

void pl_feed_free(struct pl_feeds *f)
{
	free(f->conns);
	pl_map_free(f->online);
	memset(f, 0, sizeof *f);
}
