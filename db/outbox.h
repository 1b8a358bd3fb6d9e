/* db/outbox: webhook deliveries, queued in the store.
 *
 * A delivery is a row: the event (type, time, data), the user whose
 * deliveries it orders, and its retry state.  Rows come from two places:
 * presence transitions, added by the node that reports them, and stored
 * events, which the event log already holds in commit order: pl_outbox_feed
 * turns the log after a cursor into rows and moves the cursor in the same
 * transaction, so every stored event becomes exactly one row, crash or not.
 *
 * Any number of nodes deliver from one store: a node claims due rows with
 * a lease (its owner name and an expiry), so a row is in one node's hands
 * at a time, and a dead node's leases expire.  Only the oldest row of each
 * user is ever claimed: a user's deliveries go out in order.
 *
 * Every writing function runs inside a writer job (db/writer.h). */
#ifndef PL_OUTBOX_H
#define PL_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/ids.h"
#include "db/store.h"

struct pl_delivery {
	int64_t id;
	char user[PL_ID_MAX + 1];
	char type[32];
	int64_t ts;              /* the event's time, ms */
	char *data;              /* the event's data, JSON text (malloc'd) */
	int64_t created_at;      /* when the row was queued, ms */
	int attempts;            /* failed attempts so far */
};

void pl_delivery_clear(struct pl_delivery *d);

enum pl_code pl_outbox_add(pl_store *s, const char *user, const char *type, int64_t ts,
			   const char *data, int64_t now, pl_error *err);
/* Turns up to max stored events after the cursor into rows, those whose
 * type bit (base/config.h PL_HOOK_*) is in mask; the first call starts the
 * cursor at the end of the log (webhooks carry what happens from then on).
 * *fed: rows added. */
enum pl_code pl_outbox_feed(pl_store *s, unsigned mask, int max, int64_t now, int *fed,
			    pl_error *err);
/* The log's end as the feed last left it (a reader's quick look: is there
 * anything to feed?).  -1 before the first feed. */
int64_t pl_outbox_cursor(pl_store *s);
/* Claims up to max due rows for owner until lease_until; out[] gets them
 * (the caller clears each).  Returns the count, or -1 with err. */
int pl_outbox_claim(pl_store *s, const char *owner, int64_t now, int64_t lease_until,
		    struct pl_delivery *out, int max, pl_error *err);
/* Delivered (or dropped): the row goes, if owner still holds it. */
enum pl_code pl_outbox_remove(pl_store *s, int64_t id, const char *owner, pl_error *err);
/* Failed: tried again at next_at, by any node. */
enum pl_code pl_outbox_retry(pl_store *s, int64_t id, const char *owner, int64_t next_at,
			     pl_error *err);
/* Rows waiting, for the metrics; -1 on error. */
int64_t pl_outbox_depth(pl_store *s);

#endif
