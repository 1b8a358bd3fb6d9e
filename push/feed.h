/* push/feed: the old online-status feed's promise (/ws-online-status).
 *
 * Every feed hears every user's online and offline transition (after the
 * grace period; an invisible user stays offline), whatever rooms the two
 * users share.  Only edges travel: a presence event that leaves a user on
 * the same side (online -> away) reaches no feed.  The cost of an edge is
 * the number of feeds; the state kept is one entry per user online (as
 * this node has heard), dropped when the user goes offline. */
#ifndef PL_FEED_H
#define PL_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "base/map.h"

struct pl_conn;
struct pl_hub;
struct pl_event_out;

struct pl_feeds {
	struct pl_conn **conns;  /* the feeds attached to this hub */
	size_t n, cap;
	pl_map *online;          /* users last reported online -> (void *)1 */
};

void pl_feed_add(struct pl_hub *h, struct pl_conn *c);
void pl_feed_remove(struct pl_hub *h, const struct pl_conn *c);
/* A presence event for user with this status: to every feed not already
 * stamped with mark, when it is an edge. */
void pl_feed_presence(struct pl_hub *h, const char *user, const char *status,
		      struct pl_event_out *e, uint64_t mark);
void pl_feed_free(struct pl_feeds *f);

#endif
