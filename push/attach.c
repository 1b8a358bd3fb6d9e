/* push/attach: a connection joining and leaving the hub (hub thread):
 * its indexes, gauges and presence count, the hello, the catch-up and
 * replay at attach, and the delayed free after detach. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "chat/chat.h"
#include "db/presence.h"
#include "push/hubint.h"
#include "push/ws.h"

/* Presence counts connections of every transport and process; the count
 * is mirrored into the store for processes without a hub. */
void pl_hub_count_connection(struct pl_hub *h, const char *user, bool up)
{
	struct pl_presence *p = h->ctx->presence;
	if (!p)
		return;
	if (up)
		pl_presence_connect(p, user);
	else
		pl_presence_disconnect(p, user);
	pl_chat_presence_mirror(h->ctx, user, pl_presence_connections(p, user), true);
}

static void all_add(struct pl_hub *h, struct pl_conn *c)
{
	if (h->nall == h->capall) {
		size_t cap = h->capall ? h->capall * 2 : 1024;
		void *grown = realloc(h->all, cap * sizeof *h->all);
		if (!grown)
			return;
		h->all = grown;
		h->capall = cap;
	}
	h->all[h->nall++] = c;
}

static void all_remove(struct pl_hub *h, const struct pl_conn *c)
{
	for (size_t i = 0; i < h->nall; i++) {
		if (h->all[i] == c) {
			h->all[i] = h->all[--h->nall];
			return;
		}
	}
}

static void hello(struct pl_hub *h, struct pl_conn *c)
{
	char text[160];
	int n = snprintf(text, sizeof text, "{\"type\":\"hello\",\"user\":\"%s\",\"last_event_id\":%lld}",
			 c->user, (long long)h->cursor);
	struct pl_buf *b = NULL;
	if (c->kind == PL_CONN_WS) {
		b = pl_ws_text_buf(text, (size_t)n);
	} else if (c->kind == PL_CONN_SSE) {
		char sse[256];
		int m = snprintf(sse, sizeof sse, "retry: 2000\nevent: hello\ndata: %s\n\n", text);
		b = pl_buf_new(sse, (size_t)m);
	} else if (c->kind == PL_CONN_ONLINE_WS) {
		n = snprintf(text, sizeof text,
			     "{\"type\":\"CONNECTION_ESTABLISHED\",\"userId\":\"%s\",\"timestamp\":%lld}",
			     c->user, (long long)pl_now_ms());
		b = pl_ws_text_buf(text, (size_t)n);
	}
	pl_hub_deliver_buf(h, c, b);
	pl_buf_unref(b);
}

static void subscribe_initial(struct pl_hub *h, struct pl_conn *c, json_t *rooms)
{
	json_t *mine = rooms ? json_incref(rooms) : pl_store_user_rooms(h->store, c->user);
	c->all_rooms = rooms == NULL;
	size_t i;
	json_t *r;
	json_array_foreach(mine, i, r) {
		pl_hub_subscribe(h, c, json_string_value(r));
	}
	json_decref(mine);
}

static void do_attach(struct pl_hub *h, struct pl_conn *c, struct pl_attach *a)
{
	if (c->closing)
		return;
	pl_conn_ref(c); /* the hub's reference, dropped at detach */
	c->attached = true;
	c->exp_ms = a->exp > 0 ? a->exp * 1000 : 0;
	all_add(h, c);
	if (c->admin) { /* figures only: no rooms, no presence, no gauges */
		pl_admin_attach(h, c);
		return;
	}
	struct pl_user *u = pl_hub_user(h, c->user, true);
	if (u) {
		c->user_next = u->conns;
		u->conns = c;
	}
	pl_stats_conn(&h->ctx->counters, c->kind, true, u && !c->user_next);
	if (c->kind == PL_CONN_ONLINE_WS)
		pl_feed_add(h, c);
	if (c->kind != PL_CONN_ONLINE_WS)
		subscribe_initial(h, c, a->rooms);
	pl_hub_set_presence(h, c, a->presence);
	atomic_fetch_add(&h->ctx->counters.push_open, 1);
	h->churn++;
	atomic_fetch_add(&h->ctx->counters.push_total, 1);
	pl_hub_count_connection(h, c->user, true);
	/* After the count: the session's previous connection leaves without
	 * the user's count passing through zero. */
	if (c->kind == PL_CONN_POLL && c->session[0])
		pl_poll_take_session(h, c);
	/* Catch up first, so the resume point is current before any event.
	 * c is subscribed already but not placed yet: the catch-up must not
	 * reach it (those events are its replay's, or before its hello). */
	c->replaying = true;
	pl_hub_fan_out(h);
	c->replaying = false;
	if (c->kind != PL_CONN_POLL)
		hello(h, c);
	if (a->last_event_id >= 0 && a->last_event_id < h->cursor) {
		c->cursor = a->last_event_id;
		c->replaying = c->kind != PL_CONN_ONLINE_WS;
		pl_hub_replay(h, c);
	} else {
		c->cursor = a->last_event_id >= 0 ? a->last_event_id : h->cursor;
	}
	if (c->kind == PL_CONN_POLL)
		c->poll_start = c->cursor;
}

void pl_hub_attach_now(struct pl_hub *h, struct pl_conn *c, struct pl_attach *a)
{
	do_attach(h, c, a);
}

void pl_hub_detach_now(struct pl_hub *h, struct pl_conn *c)
{
	if (!c->attached)
		return;
	c->attached = false;
	if (pl_poll_holds_session(h, c))
		pl_map_del(h->poll_sessions, c->session);
	all_remove(h, c);
	if (c->admin) {
		pl_admin_detach(h, c);
		return;
	}
	pl_hub_unsubscribe_all(h, c);
	pl_hub_watchers_remove(h, c);
	struct pl_user *u = pl_hub_user(h, c->user, false);
	bool last = false;
	if (u) {
		for (struct pl_conn **p = &u->conns; *p; p = &(*p)->user_next) {
			if (*p == c) {
				*p = c->user_next;
				last = !u->conns;
				break;
			}
		}
		pl_hub_user_maybe_free(h, c->user, u);
	}
	pl_stats_conn(&h->ctx->counters, c->kind, false, last);
	if (c->kind == PL_CONN_ONLINE_WS)
		pl_feed_remove(h, c);
	if (c->watch.fd >= 0) { /* a WebSocket: the hub owns its socket */
		pl_loop_del(h->loop, &c->watch);
		pl_stream_close(c->watch.fd);
		c->watch.fd = -1;
	}
	pl_ws_release(c);
	atomic_fetch_sub(&h->ctx->counters.push_open, 1);
	pl_hub_count_connection(h, c->user, false);
	/* Freed after this loop pass: other events of the pass may still
	 * point at it. */
	c->dirty_next = NULL;
	c->user_next = h->graveyard;
	h->graveyard = c;
}

/* The front end is done with c.  A long-poll that holds a session stays,
 * parked, until the session's next poll or PL_POLL_PARK_MS. */
static void do_detach(struct pl_hub *h, struct pl_conn *c)
{
	if (c->attached && pl_poll_holds_session(h, c) && !c->closing && !atomic_load(&h->stopping)) {
		pl_poll_make_room(h, c->user);
		pthread_mutex_lock(&c->lock);
		c->parked = true;
		c->done = true; /* stored events wait for the next poll's cursor */
		pthread_mutex_unlock(&c->lock);
		c->park_until_ms = pl_clock_mono_ms(h->ctx->clock) + PL_POLL_PARK_MS;
		return;
	}
	pl_hub_detach_now(h, c);
}

/* A WebSocket the hub tore down itself. */
void pl_hub_drop(struct pl_hub *h, struct pl_conn *c) { do_detach(h, c); }

