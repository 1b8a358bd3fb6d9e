/* push/scan: the one rule of reading a user's stored events after a
 * cursor, for every reader that resumes from the store: the hub's replay
 * (push/fanout.c, any transport) and parley.fcgi's long-poll (api/fcgi.c).
 *
 * The cursor moves over the rows looked at, up to the last event taken,
 * and never further while events are left: a scan that stops early (the
 * reader is full, or could not take an event) leaves the cursor on the
 * last event taken, so the next scan starts right after it.  Only a scan
 * that read every row up to `upto` takes `upto` as its cursor (rows after
 * it are the live stream's, or the next scan's).  ARCHITECTURE.md "Resume
 * without gaps". */
#ifndef PL_SCAN_H
#define PL_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "db/store.h"

/* Stored events in one long-poll answer, on parleyd and parley.fcgi alike.
 * An answer that stops at this many (a client far behind, or a burst) has
 * the cursor of its last event, and the next poll goes on from there. */
#define PL_POLL_ANSWER_MAX 100

struct pl_scan {
	const char *user;             /* whose rooms' events (pl_store_events_for_user) */
	int64_t cursor;               /* in: after this id; out: where the next scan starts */
	int64_t upto;                 /* the newest id this scan may take */
	int batch;                    /* rows read from the store at a time */
	/* The reader's: whether a row is for it; whether it takes no more now;
	 * take a row (false: it could not, and the row stays the next scan's). */
	bool (*wanted)(void *ud, const struct pl_event_row *row);
	bool (*full)(void *ud);
	bool (*take)(void *ud, const struct pl_event_row *row);
	void *ud;
};

/* Reads batches until the scan reaches upto (true: cursor is upto or past
 * it) or stops early (false: cursor is the last row looked at before the
 * one not taken). */
bool pl_scan_run(pl_store *st, struct pl_scan *s);

#endif
