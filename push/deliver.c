/* push/deliver: queueing one event or frame on one connection (hub
 * thread): each transport's bytes of an event made once and shared, the
 * bounded queue, cutting off a consumer that fell behind, and closing a
 * connection whatever its transport. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "push/eiosess.h"
#include "push/hubint.h"
#include "push/sio_bind.h"
#include "push/ws.h"

static struct pl_buf *sse_buf(const struct pl_event_out *e)
{
	char head[128];
	int n = e->id > 0 ? snprintf(head, sizeof head, "id: %lld\nevent: %s\ndata: ",
				     (long long)e->id, e->type)
			  : snprintf(head, sizeof head, "event: %s\ndata: ", e->type);
	struct pl_buf *b = pl_buf_alloc((size_t)n + e->len + 2);
	if (b) {
		memcpy(b->data, head, (size_t)n);
		memcpy(b->data + n, e->json, e->len);
		memcpy(b->data + n + e->len, "\n\n", 2);
	}
	return b;
}

/* The old online-status feed's shape, for /ws-online-status. */
static struct pl_buf *online_buf(const struct pl_event_out *e)
{
	json_t *ev = json_loadb(e->json, e->len, 0, NULL);
	json_t *data = json_object_get(ev, "data");
	const char *status = json_string_value(json_object_get(data, "status"));
	const char *user = json_string_value(json_object_get(data, "user"));
	struct pl_buf *b = NULL;
	if (user && status) {
		json_t *o = json_pack("{s:s, s:s, s:I}", "type",
				      strcmp(status, "offline") ? "USER_ONLINE" : "USER_OFFLINE",
				      "userId", user, "timestamp", (json_int_t)pl_now_ms());
		char *text = json_dumps(o, JSON_COMPACT);
		if (text)
			b = pl_ws_text_buf(text, strlen(text));
		free(text);
		json_decref(o);
	}
	json_decref(ev);
	return b;
}

struct pl_buf *pl_hub_event_buf(struct pl_hub *h, struct pl_event_out *e, enum pl_conn_kind kind)
{
	struct pl_buf **slot = kind == PL_CONN_SSE ? &e->sse
			       : kind == PL_CONN_WS ? &e->ws
			       : kind == PL_CONN_POLL ? &e->raw
			       : kind == PL_CONN_SIO ? &e->sio
						      : &e->online;
	if (!*slot) {
		switch (kind) {
		case PL_CONN_SSE: *slot = sse_buf(e); break;
		case PL_CONN_WS: *slot = pl_ws_text_buf(e->json, e->len); break;
		case PL_CONN_POLL: *slot = pl_buf_new(e->json, e->len); break;
		case PL_CONN_ONLINE_WS:
			*slot = strcmp(e->type, "presence") == 0 ? online_buf(e) : NULL;
			break;
		case PL_CONN_SIO: *slot = pl_sio_event_buf(h, e); break;
		}
		if (*slot)
			(*slot)->commit_us = e->commit_us;
	}
	return *slot;
}

void pl_event_out_release(struct pl_event_out *e)
{
	pl_buf_unref(e->sse);
	pl_buf_unref(e->ws);
	pl_buf_unref(e->raw);
	pl_buf_unref(e->online);
	pl_buf_unref(e->sio);
	e->sse = e->ws = e->raw = e->online = e->sio = NULL;
}

void pl_hub_mark_dirty(struct pl_hub *h, struct pl_conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	pl_conn_ref(c);
	c->dirty_next = h->dirty;
	h->dirty = c;
}

/* The queues another thread reads: a long-poll's (the HTTP thread that
 * answers it) and a Socket.IO session's (push/eiosess.c takes its lock). */
static bool locked_kind(const struct pl_conn *c)
{
	return c->kind == PL_CONN_POLL || c->kind == PL_CONN_SIO;
}

static bool queue(struct pl_conn *c, struct pl_buf *b)
{
	if (!locked_kind(c))
		return pl_conn_push(c, b);
	pthread_mutex_lock(&c->lock);
	bool ok = !c->done && pl_conn_push(c, b);
	pthread_mutex_unlock(&c->lock);
	/* Stored events reach a long-poll through pl_poll_deliver; anything else
	 * a full or sealed answer cannot take is not worth cutting it off. */
	return ok || c->kind == PL_CONN_POLL;
}

void pl_hub_deliver_buf(struct pl_hub *h, struct pl_conn *c, struct pl_buf *b)
{
	if (c->closing || !b)
		return;
	if (!queue(c, b)) {
		atomic_fetch_add(&h->ctx->counters.slow_dropped, 1);
		pl_hub_close(h, c, WS_CLOSE_TRY_AGAIN, "too slow: reconnect and resume");
		return;
	}
	atomic_fetch_add(&h->ctx->counters.deliveries, 1);
	pl_hub_mark_dirty(h, c);
}

void pl_hub_deliver(struct pl_hub *h, struct pl_conn *c, struct pl_event_out *e)
{
	if (c->closing || (e->id > 0 && (c->replaying || e->id <= c->cursor)))
		return;
	if (c->kind == PL_CONN_POLL) {
		pl_poll_deliver(h, c, e);
		return;
	}
	pl_hub_deliver_buf(h, c, pl_hub_event_buf(h, e, c->kind));
	if (e->id > 0 && !c->closing)
		c->cursor = e->id;
	if (e->sender && e->message_id > 0 && strcmp(e->sender, c->user) != 0)
		pl_hub_note_delivered(h, e->room, c->user, e->message_id, e->sender);
}

void pl_hub_close(struct pl_hub *h, struct pl_conn *c, uint16_t ws_code, const char *why)
{
	if (c->closing)
		return;
	if (c->kind == PL_CONN_WS || c->kind == PL_CONN_ONLINE_WS) {
		pl_ws_close(h, c, ws_code, why);
		return;
	}
	if (c->kind == PL_CONN_SIO) {
		pl_eio_conn_close(h, c);
		return;
	}
	pthread_mutex_lock(&c->lock);
	c->closing = true;
	c->done = true;
	if (ws_code == WS_CLOSE_TRY_AGAIN)
		pl_conn_clear(c); /* too slow: end the stream now, not 4 MiB later */
	pthread_mutex_unlock(&c->lock);
	pl_hub_mark_dirty(h, c);
}

