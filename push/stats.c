/* push/stats: see stats.h. */
#include "push/stats.h"

#include <stdio.h>

#include "core/log.h"

static _Atomic long long *gauge(struct pl_counters *k, enum pl_conn_kind kind)
{
	switch (kind) {
	case PL_CONN_WS:
		return &k->open_ws;
	case PL_CONN_SSE:
		return &k->open_sse;
	case PL_CONN_POLL:
		return &k->open_poll;
	case PL_CONN_ONLINE_WS:
		return &k->open_feed;
	case PL_CONN_SIO:
		return &k->open_sio;
	}
	return &k->open_ws;
}

void pl_stats_conn(struct pl_counters *k, enum pl_conn_kind kind, bool opened,
		   bool first_or_last)
{
	long long d = opened ? 1 : -1;
	atomic_fetch_add(gauge(k, kind), d);
	if (first_or_last)
		atomic_fetch_add(&k->users_connected, d);
}

void pl_stats_line(struct pl_stats *st, struct pl_counters *k, char *out, size_t size)
{
	long long ws = atomic_load(&k->open_ws) + atomic_load(&k->open_feed);
	long long sse = atomic_load(&k->open_sse), poll = atomic_load(&k->open_poll);
	long long sio = atomic_load(&k->open_sio);
	long long messages = atomic_load(&k->messages_stored);
	long long deliveries = atomic_load(&k->deliveries);
	snprintf(out, size,
		 "stats: users=%lld connections=%lld ws=%lld sse=%lld poll=%lld messages=%lld "
		 "deliveries=%lld",
		 atomic_load(&k->users_connected), ws + sse + poll + sio, ws, sse, poll,
		 messages - st->messages, deliveries - st->deliveries);
	st->messages = messages;
	st->deliveries = deliveries;
}

void pl_stats_tick(struct pl_stats *st, struct pl_counters *k, int interval_s, int64_t now_ms)
{
	if (interval_s <= 0)
		return;
	if (st->next_ms == 0) { /* the first line covers the first interval */
		st->messages = atomic_load(&k->messages_stored);
		st->deliveries = atomic_load(&k->deliveries);
		st->next_ms = now_ms + interval_s * 1000LL;
		return;
	}
	if (now_ms < st->next_ms)
		return;
	st->next_ms += interval_s * 1000LL;
	if (st->next_ms <= now_ms) /* a stalled loop: no burst of lines after it */
		st->next_ms = now_ms + interval_s * 1000LL;
	char line[256];
	pl_stats_line(st, k, line, sizeof line);
	log_info("%s", line);
}
