/* push/stats: what this node is doing, in numbers an operator reads.
 *
 * The hub keeps the per-transport gauges and the count of connected users
 * here as connections attach and detach (it is the one place that sees
 * both), and writes the stats line every --stats-interval seconds:
 *   stats: users=5 connections=8 ws=6 sse=1 poll=1 messages=120 deliveries=960
 * users and connections are now (connections include Socket.IO sockets,
 * which have no column of their own); messages (stored by this node) and
 * deliveries (event copies queued on connections) since the last line. */
#ifndef PL_STATS_H
#define PL_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/ctx.h"
#include "push/conn.h"

struct pl_stats {
	int64_t next_ms;         /* when the next line is due; 0: not started */
	long long messages;      /* the counters at the last line */
	long long deliveries;
};

/* A connection of this kind opened (opened) or closed; first_or_last: it
 * was its user's first, or is its user's last. */
void pl_stats_conn(struct pl_counters *k, enum pl_conn_kind kind, bool opened,
		   bool first_or_last);
/* The stats line of now into out; the deltas restart from here. */
void pl_stats_line(struct pl_stats *st, struct pl_counters *k, char *out, size_t size);
/* Logs the line when it is due (interval_s 0: never). */
void pl_stats_tick(struct pl_stats *st, struct pl_counters *k, int interval_s, int64_t now_ms);

#endif
