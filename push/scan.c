/* push/scan: see scan.h. */
#include "push/scan.h"

struct run {
	struct pl_scan *s;
	bool reached;                 /* a row after upto: every row up to it was read */
	bool stopped;                 /* the reader is full or did not take a row */
};

static bool scan_row(void *ud, const struct pl_event_row *row)
{
	struct run *r = ud;
	struct pl_scan *s = r->s;
	if (row->id > s->upto) {
		r->reached = true;
		return false;
	}
	if (s->full(s->ud) || (s->wanted(s->ud, row) && !s->take(s->ud, row))) {
		r->stopped = true; /* this row is the next scan's first */
		return false;
	}
	s->cursor = row->id;
	return true;
}

bool pl_scan_run(pl_store *st, struct pl_scan *s)
{
	while (s->cursor < s->upto) {
		struct run r = {s, false, false};
		int n = pl_store_events_for_user(st, s->user, s->cursor, s->batch, scan_row, &r);
		if (r.stopped)
			return false;
		/* Every row of the user's up to upto was looked at. */
		if (r.reached || n < s->batch)
			s->cursor = s->upto;
	}
	return true;
}
