/* push/admin: see admin.h. */
#include "push/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/webhook.h"
#include "base/clock.h"
#include "db/bus.h"
#include "push/hubint.h"
#include "push/ws.h"

/* Queues b on an admin stream.  As pl_hub_deliver_buf, but not counted
 * as a delivery: the figures would otherwise count themselves. */
static void admin_send(struct pl_hub *h, struct pl_conn *c, struct pl_buf *b)
{
	if (c->closing || !b)
		return;
	if (!pl_conn_push(c, b)) { /* an SSE queue: the hub thread's alone */
		atomic_fetch_add(&h->ctx->counters.slow_dropped, 1);
		pl_hub_close(h, c, WS_CLOSE_TRY_AGAIN, "too slow: reconnect");
		return;
	}
	pl_hub_mark_dirty(h, c);
}

void pl_admin_attach(struct pl_hub *h, struct pl_conn *c)
{
	struct pl_admin *a = &h->admin;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		void *grown = realloc(a->conns, cap * sizeof *a->conns);
		if (!grown) {
			pl_hub_close(h, c, 0, "out of memory");
			return;
		}
		a->conns = grown;
		a->cap = cap;
	}
	a->conns[a->n++] = c;
	static const char hello[] = "retry: 2000\nevent: hello\ndata: {\"type\":\"hello\"}\n\n";
	struct pl_buf *b = pl_buf_new(hello, sizeof hello - 1);
	admin_send(h, c, b);
	pl_buf_unref(b);
}

void pl_admin_detach(struct pl_hub *h, struct pl_conn *c)
{
	struct pl_admin *a = &h->admin;
	for (size_t i = 0; i < a->n; i++) {
		if (a->conns[i] == c) {
			a->conns[i] = a->conns[--a->n];
			break;
		}
	}
	if (c->watch.fd >= 0) {
		pl_loop_del(h->loop, &c->watch);
		pl_stream_close(c->watch.fd);
		c->watch.fd = -1;
	}
	/* Freed after this loop pass, as every detached connection is. */
	c->dirty_next = NULL;
	c->user_next = h->graveyard;
	h->graveyard = c;
}

void pl_admin_free(struct pl_admin *a)
{
	free(a->conns);
	a->conns = NULL;
	a->n = a->cap = 0;
}

static json_t *seconds_or_null(double s)
{
	return s < 0 ? json_null() : json_real(s);
}

static json_t *latency(const struct pl_histo_snap *d)
{
	return json_pack("{s:o,s:o,s:I}", "p50", seconds_or_null(pl_histo_quantile(d, 0.5)), "p99",
			 seconds_or_null(pl_histo_quantile(d, 0.99)), "count", (json_int_t)d->total);
}

static double per_s(long long delta, int64_t ms)
{
	return ms > 0 ? (double)delta * 1000.0 / (double)ms : 0;
}

json_t *pl_admin_json(struct pl_admin *a, struct pl_ctx *ctx, int64_t now_ms)
{
	struct pl_counters *k = &ctx->counters;
	if (!a->node[0]) {
		char host[256] = "localhost";
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "localhost");
		host[sizeof host - 1] = 0;
		snprintf(a->node, sizeof a->node, "%s:%d", host, ctx->cfg->listen_port);
	}
	long long messages = atomic_load(&k->messages_stored);
	long long deliveries = atomic_load(&k->deliveries);
	long long slow = atomic_load(&k->slow_dropped);
	struct pl_histo_snap dnow, cnow, dd, cd;
	pl_histo_snapshot(&k->delivery_latency, &dnow);
	pl_histo_snapshot(&k->commit_latency, &cnow);
	bool first = a->last_ms == 0;
	int64_t ms = first ? 0 : now_ms - a->last_ms;
	pl_histo_diff(&dnow, first ? &dnow : &a->delivery, &dd);
	pl_histo_diff(&cnow, first ? &cnow : &a->commit, &cd);

	const struct pl_webhook_stats *hook = pl_webhook_stats(ctx->webhook);
	json_t *webhook = hook ? json_pack("{s:I,s:I,s:I,s:I}", "queue",
					   (json_int_t)atomic_load(&hook->queued), "failures",
					   (json_int_t)atomic_load(&hook->failed), "dropped",
					   (json_int_t)atomic_load(&hook->dropped), "delivered",
					   (json_int_t)atomic_load(&hook->delivered))
			       : json_null();
	bool redis = pl_bus_is_redis(ctx->bus);
	char ts[PL_TIME_LEN];
	pl_time_format(pl_now_ms(), ts);
	json_t *o = json_pack(
		"{s:s,s:s,s:{s:I,s:I,s:I,s:I,s:I},s:I,s:f,s:f,s:o,s:o,s:I,s:I,s:o,s:s,s:o,s:I}",
		"node", a->node, "ts", ts, "connections", "ws",
		(json_int_t)atomic_load(&k->open_ws), "sse", (json_int_t)atomic_load(&k->open_sse),
		"poll", (json_int_t)atomic_load(&k->open_poll), "online_ws",
		(json_int_t)atomic_load(&k->open_feed), "socketio",
		(json_int_t)atomic_load(&k->socketio_open), "users_online",
		(json_int_t)atomic_load(&k->users_connected), "messages_per_s",
		per_s(messages - a->messages, ms), "deliveries_per_s",
		per_s(deliveries - a->deliveries, ms), "delivery_latency", latency(&dd),
		"commit_latency", latency(&cd), "slow_consumers_cut", (json_int_t)slow,
		"slow_consumers_cut_per_s", (json_int_t)(first ? 0 : slow - a->slow), "webhook",
		webhook, "bus", redis ? "redis" : "local", "redis",
		redis ? json_pack("{s:b}", "connected", pl_bus_redis_up(ctx->bus)) : json_null(),
		"uptime_s", (json_int_t)((pl_now_ms() - ctx->started_ms) / 1000));
	a->last_ms = now_ms;
	a->messages = messages;
	a->deliveries = deliveries;
	a->slow = slow;
	a->delivery = dnow;
	a->commit = cnow;
	return o;
}

void pl_admin_tick(struct pl_hub *h, int64_t now_ms)
{
	struct pl_admin *a = &h->admin;
	if (a->last_ms && now_ms - a->last_ms < 1000)
		return;
	/* Figured every second even with no one watching: a stream that
	 * opens gets a true "last second" at its first event. */
	json_t *o = pl_admin_json(a, h->ctx, now_ms);
	char *text = o && a->n ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
	json_decref(o);
	if (!text)
		return;
	size_t len = strlen(text);
	struct pl_buf *b = pl_buf_alloc(len + sizeof "event: stats\ndata: \n\n" - 1);
	if (b) {
		memcpy(b->data, "event: stats\ndata: ", 19);
		memcpy(b->data + 19, text, len);
		memcpy(b->data + 19 + len, "\n\n", 2);
		for (size_t i = a->n; i-- > 0;)
			admin_send(h, a->conns[i], b);
		pl_buf_unref(b);
	}
	free(text);
}
