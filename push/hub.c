/* push/hub: see hub.h and hubint.h. */
#include "push/hub.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "chat/chat.h"
#include "base/clock.h"
#include "base/log.h"
#include "db/bus.h"
#include "db/presence.h"
#include "push/eiosess.h"
#include "push/hubint.h"
#include "push/sio_bind.h"
#include "push/ws.h"

#define TICK_MS 250
#define REPLAY_BATCH 256
#define STOP_WAIT_MS 5000 /* at the stop, for clients to take their close */

enum mail_kind { MAIL_ATTACH, MAIL_DETACH, MAIL_ADOPT_WS, MAIL_EPHEMERAL, MAIL_ACK };

struct mail {
	enum mail_kind kind;
	struct pl_conn *conn;
	struct pl_attach attach;
	json_t *event;
	struct pl_buf *buf;
	int fd;
	char *extra;
	size_t extra_len;
	struct mail *next;
};

/* ---- mailbox (any thread) ---- */

static void handle_mail(struct pl_hub *h, struct mail *m);

static void post(struct pl_hub *h, struct mail *m)
{
	if (atomic_load(&h->stopped)) {
		handle_mail(h, m); /* no loop any more: let go at once */
		return;
	}
	pthread_mutex_lock(&h->mail_lock);
	/* Only the first letter into an empty box wakes the hub: it takes the
	 * whole box at once, so a burst of acks costs one wake-up. */
	bool first = h->mail_head == NULL;
	if (h->mail_tail)
		h->mail_tail->next = m;
	else
		h->mail_head = m;
	h->mail_tail = m;
	pthread_mutex_unlock(&h->mail_lock);
	uint64_t one = 1;
	if (first)
		(void)!write(h->wake.fd, &one, sizeof one);
}

static struct mail *mail_new(enum mail_kind kind, struct pl_conn *c)
{
	struct mail *m = calloc(1, sizeof *m);
	if (m) {
		m->kind = kind;
		m->conn = c;
		m->fd = -1;
		if (c)
			pl_conn_ref(c);
	}
	return m;
}

void pl_hub_attach(struct pl_hub *h, struct pl_conn *c, struct pl_attach *a)
{
	struct mail *m = mail_new(MAIL_ATTACH, c);
	if (!m)
		return;
	m->attach = *a;
	memset(a, 0, sizeof *a);
	post(h, m);
}

void pl_hub_detach(struct pl_hub *h, struct pl_conn *c)
{
	struct mail *m = mail_new(MAIL_DETACH, c);
	if (m)
		post(h, m);
}

void pl_hub_adopt_ws(struct pl_hub *h, struct pl_conn *c, int fd, const char *extra,
		     size_t extra_len, struct pl_attach *a)
{
	struct mail *m = mail_new(MAIL_ADOPT_WS, c);
	if (!m) {
		close(fd);
		return;
	}
	m->fd = fd;
	m->attach = *a;
	memset(a, 0, sizeof *a);
	if (extra_len && (m->extra = malloc(extra_len))) {
		memcpy(m->extra, extra, extra_len);
		m->extra_len = extra_len;
	}
	post(h, m);
}

void pl_hub_adopt_sse(struct pl_hub *h, struct pl_conn *c, int fd, struct pl_attach *a)
{
	pl_hub_adopt_ws(h, c, fd, NULL, 0, a);
}

/* The sink: called on the writer thread after commits, and by chat
 * operations on any thread. */
static void sink_stored(void *ud, int64_t id, const struct pl_commit *commit)
{
	struct pl_hub *h = ud;
	if (commit)
		pl_commits_add(&h->commits, commit);
	long long cur = atomic_load(&h->stored_hint);
	while (id > cur && !atomic_compare_exchange_weak(&h->stored_hint, &cur, id))
		;
	uint64_t one = 1;
	(void)!write(h->wake.fd, &one, sizeof one);
}

static void sink_ephemeral(void *ud, json_t *ev)
{
	struct pl_hub *h = ud;
	struct mail *m = mail_new(MAIL_EPHEMERAL, NULL);
	if (!m) {
		json_decref(ev);
		return;
	}
	m->event = ev; /* the hub's from now on */
	post(h, m);
}

/* ---- indexes ---- */

struct pl_room *pl_hub_room(struct pl_hub *h, const char *id, bool create)
{
	struct pl_room *r = pl_map_get(h->rooms, id);
	if (r || !create)
		return r;
	r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	snprintf(r->id, sizeof r->id, "%s", id);
	if (!pl_map_put(h->rooms, id, r)) {
		free(r);
		return NULL;
	}
	return r;
}

static struct pl_user *user_entry(struct pl_hub *h, const char *id, bool create)
{
	struct pl_user *u = pl_map_get(h->users, id);
	if (u || !create)
		return u;
	u = calloc(1, sizeof *u);
	if (u && !pl_map_put(h->users, id, u)) {
		free(u);
		u = NULL;
	}
	return u;
}

static void user_maybe_free(struct pl_hub *h, const char *id, struct pl_user *u)
{
	if (!u->conns && !u->nwatchers) {
		free(u->watchers);
		free(pl_map_del(h->users, id));
	}
}

void pl_hub_subscribe(struct pl_hub *h, struct pl_conn *c, const char *room)
{
	for (struct pl_sub *s = c->subs; s; s = s->conn_next)
		if (strcmp(s->room->id, room) == 0)
			return;
	struct pl_room *r = pl_hub_room(h, room, true);
	struct pl_sub *s = r ? calloc(1, sizeof *s) : NULL;
	if (!s)
		return;
	s->conn = c;
	s->room = r;
	s->next = r->subs;
	if (r->subs)
		r->subs->prev = s;
	r->subs = s;
	r->nsubs++;
	s->conn_next = c->subs;
	c->subs = s;
}

static void sub_unlink(struct pl_hub *h, struct pl_sub *s)
{
	struct pl_room *r = s->room;
	if (s->prev)
		s->prev->next = s->next;
	else
		r->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (--r->nsubs == 0)
		free(pl_map_del(h->rooms, r->id));
	free(s);
}

void pl_hub_unsubscribe(struct pl_hub *h, struct pl_conn *c, const char *room)
{
	for (struct pl_sub **p = &c->subs; *p; p = &(*p)->conn_next) {
		if (strcmp((*p)->room->id, room) == 0) {
			struct pl_sub *s = *p;
			*p = s->conn_next;
			sub_unlink(h, s);
			return;
		}
	}
}

static void unsubscribe_all(struct pl_hub *h, struct pl_conn *c)
{
	while (c->subs) {
		struct pl_sub *s = c->subs;
		c->subs = s->conn_next;
		sub_unlink(h, s);
	}
}

static void watchers_remove(struct pl_hub *h, struct pl_conn *c)
{
	for (int i = 0; i < c->nasked; i++) {
		struct pl_user *u = user_entry(h, c->asked[i], false);
		for (int j = 0; u && j < u->nwatchers; j++) {
			if (u->watchers[j] == c) {
				u->watchers[j] = u->watchers[--u->nwatchers];
				break;
			}
		}
		if (u)
			user_maybe_free(h, c->asked[i], u);
		free(c->asked[i]);
	}
	free(c->asked);
	c->asked = NULL;
	c->nasked = 0;
}

/* Replaces the users c hears presence of (at most 500, checked before). */
void pl_hub_set_presence(struct pl_hub *h, struct pl_conn *c, json_t *users)
{
	watchers_remove(h, c);
	size_t n = json_array_size(users);
	if (!n || !(c->asked = calloc(n, sizeof *c->asked)))
		return;
	for (size_t i = 0; i < n; i++) {
		const char *id = json_string_value(json_array_get(users, i));
		struct pl_user *u = id ? user_entry(h, id, true) : NULL;
		if (!u)
			continue;
		if (u->nwatchers == u->capwatchers) {
			int cap = u->capwatchers ? u->capwatchers * 2 : 4;
			void *grown = realloc(u->watchers, (size_t)cap * sizeof *u->watchers);
			if (!grown)
				continue;
			u->watchers = grown;
			u->capwatchers = cap;
		}
		u->watchers[u->nwatchers++] = c;
		c->asked[c->nasked++] = strdup(id);
		if (!c->asked[c->nasked - 1]) {
			u->nwatchers--;
			c->nasked--;
		}
	}
}

/* ---- output ---- */

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

static struct pl_buf *buf_for(struct pl_hub *h, struct pl_event_out *e, enum pl_conn_kind kind)
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

static bool locked_kind(const struct pl_conn *c)
{
	return c->kind == PL_CONN_SSE || c->kind == PL_CONN_POLL || c->kind == PL_CONN_SIO;
}

static bool queue(struct pl_conn *c, struct pl_buf *b)
{
	if (!locked_kind(c))
		return pl_conn_push(c, b);
	pthread_mutex_lock(&c->lock);
	bool ok = !c->done && pl_conn_push(c, b);
	pthread_mutex_unlock(&c->lock);
	/* Stored events reach a long-poll through deliver_poll; anything else
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

/* A long-poll answer takes up to PL_POLL_ANSWER_MAX stored events, and
 * c->cursor (the answer's cursor once sealed) moves only over those it
 * took: a stored event it cannot take is the next poll's, which resumes
 * from that cursor.  Once the answer is sealed (or sent), ephemeral events
 * are kept for the session's next poll (PL_POLL_KEEP, hubint.h). */
static void deliver_poll(struct pl_hub *h, struct pl_conn *c, struct pl_event_out *e)
{
	struct pl_buf *b = buf_for(h, e, c->kind);
	if (!b)
		return;
	bool taken = false;
	pthread_mutex_lock(&c->lock);
	if (!c->done && (e->id == 0 || c->qitems < PL_POLL_ANSWER_MAX))
		taken = pl_conn_push(c, b);
	else if (c->done && e->id == 0 && c->session[0] && c->qitems < PL_POLL_KEEP)
		pl_conn_push(c, b);
	pthread_mutex_unlock(&c->lock);
	if (!taken)
		return;
	atomic_fetch_add(&h->ctx->counters.deliveries, 1);
	pl_hub_mark_dirty(h, c);
	if (e->id > 0)
		c->cursor = e->id;
	if (e->sender && e->message_id > 0 && strcmp(e->sender, c->user) != 0)
		pl_hub_note_delivered(h, e->room, c->user, e->message_id, e->sender);
}

void pl_hub_deliver(struct pl_hub *h, struct pl_conn *c, struct pl_event_out *e)
{
	if (c->closing || (e->id > 0 && (c->replaying || e->id <= c->cursor)))
		return;
	if (c->kind == PL_CONN_POLL) {
		deliver_poll(h, c, e);
		return;
	}
	pl_hub_deliver_buf(h, c, buf_for(h, e, c->kind));
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

/* ---- stored events: fan-out and replay ---- */

/* member.* events name their user in data; the hub follows them to keep
 * open connections' subscriptions equal to the membership. */
static void member_user(const char *data, char out[PL_ID_MAX + 1])
{
	json_t *d = json_loads(data ? data : "{}", 0, NULL);
	snprintf(out, PL_ID_MAX + 1, "%s", json_string_value(json_object_get(d, "user")) ?: "");
	json_decref(d);
}

static void follow_membership(struct pl_hub *h, const struct pl_event_row *row, bool joined)
{
	char user[PL_ID_MAX + 1];
	member_user(row->data, user);
	struct pl_user *u = user_entry(h, user, false);
	for (struct pl_conn *c = u ? u->conns : NULL; c; c = c->user_next)
		if (joined && c->all_rooms)
			pl_hub_subscribe(h, c, row->room);
}

static void unfollow(struct pl_hub *h, const struct pl_event_row *row)
{
	char user[PL_ID_MAX + 1];
	member_user(row->data, user);
	struct pl_user *u = user_entry(h, user, false);
	for (struct pl_conn *c = u ? u->conns : NULL; c; c = c->user_next)
		pl_hub_unsubscribe(h, c, row->room);
}

/* The message id and sender of a message.created row: the row's own
 * fields (db/store.h); only events stored before they existed are parsed. */
static void message_fields(const struct pl_event_row *row, int64_t *id,
			   char sender[PL_ID_MAX + 1])
{
	if (row->message_id > 0) {
		*id = row->message_id;
		snprintf(sender, PL_ID_MAX + 1, "%s", row->sender);
		return;
	}
	json_t *d = json_loads(row->data ? row->data : "{}", 0, NULL);
	*id = json_integer_value(json_object_get(d, "id"));
	snprintf(sender, PL_ID_MAX + 1, "%s", json_string_value(json_object_get(d, "sender")) ?: "");
	json_decref(d);
}

/* Prepares a stored row for delivery: its text (returned, the caller
 * frees it), and for messages the sender and id that delivered receipts
 * need, found once per message rather than once per delivery. */
static char *prepare_row(const struct pl_event_row *row, struct pl_event_out *e,
			 char sender[PL_ID_MAX + 1])
{
	*e = (struct pl_event_out){.id = row->id, .type = row->type, .room = row->room};
	char *text = pl_event_row_json(row, &e->len);
	e->json = text;
	if (strcmp(row->type, "message.created") == 0) {
		message_fields(row, &e->message_id, sender);
		e->sender = sender[0] ? sender : NULL;
	}
	return text;
}

static bool fan_out_row(void *ud, const struct pl_event_row *row)
{
	struct pl_hub *h = ud;
	bool joined = strcmp(row->type, "member.joined") == 0;
	bool left = strcmp(row->type, "member.left") == 0;
	if (joined)
		follow_membership(h, row, true);
	struct pl_event_out e;
	char sender[PL_ID_MAX + 1];
	char *text = prepare_row(row, &e, sender);
	e.commit_us = pl_commits_time(&h->commits, row->id);
	if (text && row->target[0]) {
		struct pl_user *u = user_entry(h, row->target, false);
		for (struct pl_conn *c = u ? u->conns : NULL; c; c = c->user_next)
			pl_hub_deliver(h, c, &e);
	} else if (text) {
		struct pl_room *r = pl_hub_room(h, row->room, false);
		for (struct pl_sub *s = r ? r->subs : NULL; s; s = s->next)
			pl_hub_deliver(h, s->conn, &e);
	}
	if (left)
		unfollow(h, row);
	pl_event_out_release(&e);
	free(text);
	h->cursor = row->id;
	atomic_fetch_add(&h->ctx->counters.events_fanned_out, 1);
	return true;
}

static void fan_out(struct pl_hub *h)
{
	while (atomic_load(&h->stored_hint) > h->cursor) {
		int64_t before = h->cursor;
		pl_store_events_after(h->store, h->cursor, 512, fan_out_row, h);
		if (h->cursor == before) {
			/* The hint ran ahead of what this connection sees yet (a
			 * WAL snapshot race): the next wake-up will catch it. */
			break;
		}
	}
}

struct replay_ctx {
	struct pl_hub *h;
	struct pl_conn *c;
	bool live;                    /* reached the hub's cursor */
	bool paused;                  /* stopped early: c->cursor is the last row queued */
};

/* Whether c's queue takes no more replayed events for now: a long-poll
 * answer is full (PL_POLL_ANSWER_MAX), a stream's queue is half way to its
 * bounds (the rest follows once it has drained). */
static bool replay_full(const struct pl_conn *c)
{
	if (c->kind == PL_CONN_POLL)
		return c->qitems >= PL_POLL_ANSWER_MAX;
	return c->qitems >= PL_QUEUE_MAX_ITEMS / 2 || c->qbytes >= PL_QUEUE_MAX_BYTES / 2;
}

/* One stored row for a replaying connection.  c->cursor moves over every
 * row looked at and only over those: when the replay stops early, the next
 * replay (or, for a long-poll, the next poll from the answer's cursor)
 * starts right after the last event queued. */
static bool replay_row(void *ud, const struct pl_event_row *row)
{
	struct replay_ctx *rc = ud;
	struct pl_conn *c = rc->c;
	if (row->id > rc->h->cursor) {
		rc->live = true; /* live from here on */
		return false;
	}
	if (c->closing || replay_full(c)) {
		rc->paused = true; /* this row is the next one's to replay */
		return false;
	}
	bool wanted = c->all_rooms || row->target[0];
	for (struct pl_sub *s = c->subs; !wanted && s; s = s->conn_next)
		wanted = strcmp(s->room->id, row->room) == 0;
	if (wanted) {
		struct pl_event_out e;
		char sender[PL_ID_MAX + 1];
		char *text = prepare_row(row, &e, sender);
		c->replaying = false; /* deliver() skips replaying conns */
		if (text)
			pl_hub_deliver(rc->h, c, &e);
		c->replaying = true;
		pl_event_out_release(&e);
		free(text);
		if (!text || c->cursor != row->id) {
			rc->paused = true; /* not queued (no memory, or cut off): try it again */
			return false;
		}
	}
	c->cursor = row->id;
	return true;
}

/* Feeds a resuming connection from the store, a batch at a time while its
 * queue has room, until it reaches the live stream.  A long-poll's answer
 * takes PL_POLL_ANSWER_MAX events; the poll then answers with the cursor of
 * the last one, and the rest is the next poll's. */
static void replay(struct pl_hub *h, struct pl_conn *c)
{
	while (c->replaying && !c->closing) {
		if (c->cursor >= h->cursor) {
			c->replaying = false;
			break;
		}
		struct replay_ctx rc = {h, c, false, false};
		int n = pl_store_events_for_user(h->store, c->user, c->cursor, REPLAY_BATCH,
						 replay_row, &rc);
		if (rc.paused)
			return; /* go on at a tick, once the queue has drained */
		/* Every row of the user's up to the hub's cursor was looked at:
		 * those after it are the live stream's. */
		if (rc.live || n < REPLAY_BATCH)
			c->cursor = c->cursor > h->cursor ? c->cursor : h->cursor;
	}
}

/* ---- attach and detach ---- */

/* Presence counts connections of every transport and process; the count
 * is mirrored into the store for processes without a hub. */
static void count_connection(struct pl_hub *h, const char *user, bool up)
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

static void take_session(struct pl_hub *h, struct pl_conn *c);

static void do_attach(struct pl_hub *h, struct pl_conn *c, struct pl_attach *a)
{
	if (c->closing)
		return;
	pl_conn_ref(c); /* the hub's reference, dropped at detach */
	c->attached = true;
	c->exp_ms = a->exp > 0 ? a->exp * 1000 : 0;
	if (c->kind == PL_CONN_POLL && c->exp_ms) {
		/* A poll ends at its token's exp at the latest. */
		int64_t left = c->exp_ms - pl_now_ms();
		int64_t at = pl_mono_ms() + (left > 0 ? left : 0);
		if (at < c->poll_deadline_ms)
			c->poll_deadline_ms = at;
	}
	all_add(h, c);
	if (c->admin) { /* figures only: no rooms, no presence, no gauges */
		pl_admin_attach(h, c);
		return;
	}
	struct pl_user *u = user_entry(h, c->user, true);
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
	count_connection(h, c->user, true);
	/* After the count: the session's previous connection leaves without
	 * the user's count passing through zero. */
	if (c->kind == PL_CONN_POLL && c->session[0])
		take_session(h, c);
	/* Catch up first, so the resume point is current before any event.
	 * c is subscribed already but not placed yet: the catch-up must not
	 * reach it (those events are its replay's, or before its hello). */
	c->replaying = true;
	fan_out(h);
	c->replaying = false;
	if (c->kind != PL_CONN_POLL)
		hello(h, c);
	if (a->last_event_id >= 0 && a->last_event_id < h->cursor) {
		c->cursor = a->last_event_id;
		c->replaying = c->kind != PL_CONN_ONLINE_WS;
		replay(h, c);
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

/* The session c holds (its id names c), or false. */
static bool holds_session(struct pl_hub *h, const struct pl_conn *c)
{
	return c->kind == PL_CONN_POLL && c->session[0] &&
	       pl_map_get(h->poll_sessions, c->session) == c;
}

static void detach_now(struct pl_hub *h, struct pl_conn *c)
{
	if (!c->attached)
		return;
	c->attached = false;
	if (holds_session(h, c))
		pl_map_del(h->poll_sessions, c->session);
	all_remove(h, c);
	if (c->admin) {
		pl_admin_detach(h, c);
		return;
	}
	unsubscribe_all(h, c);
	watchers_remove(h, c);
	struct pl_user *u = user_entry(h, c->user, false);
	bool last = false;
	if (u) {
		for (struct pl_conn **p = &u->conns; *p; p = &(*p)->user_next) {
			if (*p == c) {
				*p = c->user_next;
				last = !u->conns;
				break;
			}
		}
		user_maybe_free(h, c->user, u);
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
	count_connection(h, c->user, false);
	/* Freed after this loop pass: other events of the pass may still
	 * point at it. */
	c->dirty_next = NULL;
	c->user_next = h->graveyard;
	h->graveyard = c;
}

/* Ends the user's oldest parked sessions while PL_POLL_PARKED_MAX or more
 * are parked. */
static void make_room_to_park(struct pl_hub *h, const char *user)
{
	for (;;) {
		struct pl_user *u = user_entry(h, user, false);
		struct pl_conn *oldest = NULL;
		int n = 0;
		for (struct pl_conn *p = u ? u->conns : NULL; p; p = p->user_next) {
			if (p->kind != PL_CONN_POLL || !p->parked)
				continue;
			n++;
			if (!oldest || p->park_until_ms < oldest->park_until_ms)
				oldest = p;
		}
		if (n < PL_POLL_PARKED_MAX || !oldest)
			return;
		detach_now(h, oldest);
	}
}

/* The front end is done with c.  A long-poll that holds a session stays,
 * parked, until the session's next poll or PL_POLL_PARK_MS. */
static void do_detach(struct pl_hub *h, struct pl_conn *c)
{
	if (c->attached && holds_session(h, c) && !c->closing && !atomic_load(&h->stopping)) {
		make_room_to_park(h, c->user);
		pthread_mutex_lock(&c->lock);
		c->parked = true;
		c->done = true; /* stored events wait for the next poll's cursor */
		pthread_mutex_unlock(&c->lock);
		c->park_until_ms = pl_mono_ms() + PL_POLL_PARK_MS;
		return;
	}
	detach_now(h, c);
}

/* A poll of session c->session: c takes over what the session's previous
 * connection kept, and that one ends (answering now if it still waits).
 * Only the session's own user can take it over. */
static void take_session(struct pl_hub *h, struct pl_conn *c)
{
	struct pl_conn *old = pl_map_get(h->poll_sessions, c->session);
	/* Not theirs (or no memory to note it): this poll goes without. */
	if ((old && strcmp(old->user, c->user) != 0) ||
	    !pl_map_put(h->poll_sessions, c->session, c)) {
		pthread_mutex_lock(&c->lock);
		c->session[0] = 0;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (!old)
		return;
	/* The hub is the only thread that holds two queues' locks: old's first. */
	pthread_mutex_lock(&old->lock);
	pthread_mutex_lock(&c->lock);
	if (old->parked) {
		for (struct pl_qitem *it = old->head; it; it = it->next)
			pl_conn_push(c, it->buf);
		pl_conn_clear(old);
	}
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&old->lock);
	if (old->parked)
		detach_now(h, old);
	else
		pl_hub_close(h, old, 0, "a newer poll of the session"); /* answers it */
	pl_hub_mark_dirty(h, c); /* what it kept answers this poll at once */
}

/* A WebSocket the hub tore down itself. */
void pl_hub_drop(struct pl_hub *h, struct pl_conn *c) { do_detach(h, c); }

static void free_attach(struct pl_attach *a)
{
	json_decref(a->rooms);
	json_decref(a->presence);
}

/* After the stop, a connection that still arrives is ended at once (and
 * its suspended request resumed, so the HTTP library can finish it). */
static void refuse(struct mail *m)
{
	struct pl_conn *c = m->conn;
	if (m->kind == MAIL_ADOPT_WS) {
		/* The client saw its handshake succeed: it hears why it ends. */
		if (c->kind == PL_CONN_SSE)
			pl_stream_close(m->fd);
		else
			pl_ws_refuse(m->fd);
		c->watch.fd = -1;
	}
	if (!c || (m->kind != MAIL_ATTACH && m->kind != MAIL_ADOPT_WS))
		return;
	pthread_mutex_lock(&c->lock);
	c->closing = c->done = true;
	bool wake = c->suspended;
	c->suspended = false;
	pthread_mutex_unlock(&c->lock);
	if (wake && c->wake)
		c->wake(c);
}

static void handle_mail(struct pl_hub *h, struct mail *m)
{
	if (atomic_load(&h->stopped)) {
		refuse(m);
		m->kind = MAIL_DETACH; /* nothing is attached any more */
	}
	switch (m->kind) {
	case MAIL_ATTACH:
		do_attach(h, m->conn, &m->attach);
		break;
	case MAIL_ADOPT_WS:
		if (m->conn->kind == PL_CONN_SSE ? pl_sse_adopt(h, m->conn, m->fd)
						  : pl_ws_adopt(h, m->conn, m->fd, m->extra, m->extra_len)) {
			do_attach(h, m->conn, &m->attach);
			pl_ws_start(h, m->conn);
		} else {
			close(m->fd);
			m->conn->watch.fd = -1;
			pl_ws_release(m->conn);
		}
		break;
	case MAIL_DETACH:
		do_detach(h, m->conn);
		break;
	case MAIL_EPHEMERAL:
		if (m->event)
			pl_hub_route_ephemeral(h, m->event);
		break;
	case MAIL_ACK:
		pl_hub_deliver_buf(h, m->conn, m->buf);
		break;
	}
	free_attach(&m->attach);
	json_decref(m->event);
	pl_buf_unref(m->buf);
	free(m->extra);
	pl_conn_unref(m->conn);
	free(m);
}

/* WebSocket acks come back from the writer thread. */
void pl_hub_post_buf(struct pl_hub *h, struct pl_conn *c, struct pl_buf *b)
{
	struct mail *m = mail_new(MAIL_ACK, c);
	if (!m) {
		pl_buf_unref(b);
		return;
	}
	m->buf = b;
	post(h, m);
}

static void on_wake(struct pl_watch *w, uint32_t events)
{
	(void)events;
	struct pl_hub *h = (struct pl_hub *)((char *)w - offsetof(struct pl_hub, wake));
	uint64_t n;
	(void)!read(w->fd, &n, sizeof n);
	pthread_mutex_lock(&h->mail_lock);
	struct mail *m = h->mail_head;
	h->mail_head = h->mail_tail = NULL;
	pthread_mutex_unlock(&h->mail_lock);
	fan_out(h);
	while (m) {
		struct mail *next = m->next;
		handle_mail(h, m);
		m = next;
	}
}

/* Another process wrote (wake-up), published an ephemeral event, or
 * counts a connection for presence. */
static void on_bus_message(void *ud, char kind, const char *payload, size_t len)
{
	struct pl_hub *h = ud;
	if (kind == 'W') {
		sink_stored(h, strtoll(payload, NULL, 10), NULL); /* read on the next pass */
	} else if (kind == 'E') {
		json_t *ev = json_loadb(payload, len, 0, NULL);
		if (ev)
			pl_hub_route_ephemeral(h, ev);
		json_decref(ev);
	} else if (kind == 'C' && len > 1 && pl_valid_id(payload + 1)) {
		count_connection(h, payload + 1, payload[0] == '+');
	}
}


/* ---- flushing, ticks and the thread ---- */

/* SSE and long-poll output leaves on the HTTP library's threads: resume
 * the suspended ones.  Resumes happen here, once per loop pass for every
 * connection that got output, which batches them. */
static void flush_http(struct pl_hub *h, struct pl_conn *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->kind == PL_CONN_POLL && !c->done && (c->qitems > 0 || c->closing)) {
		pl_latency_queued(&h->ctx->counters.delivery_latency, c);
		c->done = true;
		c->poll_start = c->cursor; /* the answer's cursor, fixed now */
	}
	bool wake = c->suspended && (c->qitems > 0 || c->closing || c->done);
	if (wake)
		c->suspended = false;
	pthread_mutex_unlock(&c->lock);
	if (wake && c->wake)
		c->wake(c);
}

static void flush(struct pl_hub *h)
{
	while (h->dirty) {
		struct pl_conn *c = h->dirty;
		h->dirty = c->dirty_next;
		c->dirty = false;
		if (c->kind == PL_CONN_WS || c->kind == PL_CONN_ONLINE_WS)
			pl_ws_flush(h, c);
		else if (c->kind == PL_CONN_SIO)
			pl_eio_flush(h, c);
		else if (c->kind == PL_CONN_SSE && c->watch.fd >= 0)
			pl_sse_flush(h, c);
		else
			flush_http(h, c);
		pl_conn_unref(c);
	}
}

static void bury(struct pl_hub *h)
{
	while (h->graveyard) {
		struct pl_conn *c = h->graveyard;
		h->graveyard = c->user_next;
		pl_conn_unref(c);
	}
}

static void tick_http(struct pl_hub *h, struct pl_conn *c, int64_t now)
{
	if (c->kind == PL_CONN_POLL && c->parked) {
		if (now >= c->park_until_ms)
			detach_now(h, c); /* nobody polled again: the session ends */
		return;
	}
	if (c->kind == PL_CONN_POLL) {
		if (now >= c->poll_deadline_ms && !c->done) {
			pthread_mutex_lock(&c->lock);
			c->done = true;
			c->poll_start = c->cursor;
			pthread_mutex_unlock(&c->lock);
			pl_hub_mark_dirty(h, c);
		}
		return;
	}
	pthread_mutex_lock(&c->lock);
	bool idle = c->qitems == 0 &&
		    now - c->last_write_ms >= (int64_t)h->ctx->cfg->keepalive * 1000;
	pthread_mutex_unlock(&c->lock);
	if (idle) {
		/* A comment keeps proxies from closing the stream, and the write
		 * is what finds a peer that went away. */
		struct pl_buf *b = pl_buf_new(":\n\n", 3);
		pl_hub_deliver_buf(h, c, b);
		pl_buf_unref(b);
		pthread_mutex_lock(&c->lock);
		c->last_write_ms = now;
		pthread_mutex_unlock(&c->lock);
	}
}

/* A stream lives no longer than its token (API.md "Limits and abuse"). */
void pl_hub_expire(struct pl_hub *h, struct pl_conn *c)
{
	static const char sse_error[] =
		"event: error\ndata: {\"code\":\"unauthenticated\","
		"\"message\":\"token expired: connect again with a fresh token\"}\n\n";
	if (c->closing)
		return;
	if (c->kind == PL_CONN_WS || c->kind == PL_CONN_ONLINE_WS) {
		pl_ws_close(h, c, PL_WS_CLOSE_EXPIRED, "token expired");
	} else if (c->kind == PL_CONN_SSE) {
		struct pl_buf *b = pl_buf_new(sse_error, sizeof sse_error - 1);
		pl_hub_deliver_buf(h, c, b);
		pl_buf_unref(b);
		pl_hub_close(h, c, 0, "token expired");
	}
	/* Long-polls end at exp by their deadline (do_attach). */
}

static void tick(struct pl_hub *h, int64_t now)
{
	if (h->ctx->presence)
		pl_presence_tick(h->ctx->presence);
	pl_hub_route_tick(h, now);
	pl_stats_tick(&h->stats, &h->ctx->counters, h->ctx->cfg->stats_interval, now);
	pl_admin_tick(h, now);
	/* Delivered receipts are written in rounds, one a tick at most. */
	pl_hub_flush_delivered(h);
	/* Pings, keep-alives and timeouts every tick, not every second: the
	 * connections due come in four smaller groups. */
	int64_t wall = pl_now_ms();
	for (size_t i = 0; i < h->nall; i++) {
		struct pl_conn *c = h->all[i];
		if (c->exp_ms && wall >= c->exp_ms)
			pl_hub_expire(h, c);
		if (c->kind == PL_CONN_WS || c->kind == PL_CONN_ONLINE_WS)
			pl_ws_tick(h, c, now); /* also ends closes the peer never answers */
		else if (c->kind == PL_CONN_SIO) {
			/* Engine.IO heartbeats run on their own timer */
		} else if (!c->closing || c->parked) /* a parked one must still end */
			tick_http(h, c, now);
		if (c->replaying && !c->done)
			replay(h, c);
	}
	if (now < h->next_flush_ms)
		return;
	h->next_flush_ms = now + 1000;
	/* HTTP's per-connection pools are freed when a WebSocket leaves MHD
	 * or a request ends; give those pages back after a burst, or idle
	 * connections would look as big as the handshakes once were. */
	if (h->churn > 256 || (h->churn && now - h->trimmed_ms > 10000)) {
		malloc_trim(0);
		h->churn = 0;
		h->trimmed_ms = now;
	}
	pl_bus_tick(h->ctx->bus);
}

/* At the stop: closes every connection (WebSocket 1001, streams ended,
 * long-polls answered), and goes on running the loop until every socket
 * the hub owns has finished, or STOP_WAIT_MS has passed.  A WebSocket has
 * finished when its close frame is written out and the client answered it
 * (its close frame, or EOF); an SSE stream when its last bytes are written.
 * Closing sooner would lose the close frame: it may still sit in the queue
 * behind a backlog (the write would block), or in the kernel's send
 * buffer, which close() throws away when the client's sends in flight are
 * unread.  Connections that arrive meanwhile are closed the same way. */
static void close_everything(struct pl_hub *h)
{
	int64_t until = pl_mono_ms() + STOP_WAIT_MS;
	for (;;) {
		bool open = false;
		/* Backwards: a connection closed at once leaves h->all, and the
		 * last one, already seen, takes its place. */
		for (size_t i = h->nall; i-- > 0;) {
			struct pl_conn *c = h->all[i];
			if (!c->closing)
				pl_hub_close(h, c, WS_CLOSE_GOING_AWAY, "server shutting down");
			if (i < h->nall && h->all[i] == c && c->watch.fd >= 0)
				open = true;
		}
		flush(h);
		bury(h);
		int64_t now = pl_mono_ms();
		if (!open || now >= until)
			return;
		if (!pl_loop_once(h->loop, until - now < 50 ? (int)(until - now) : 50))
			return;
	}
}

/* At the stop, before the close frames: the writer still commits the
 * WebSocket sends it was given, and each one's ack (or error) must be
 * queued ahead of its connection's close frame, or the client would see a
 * message stored but never acknowledged.  No frame is read meanwhile, so
 * no new send starts.  Bounded by STOP_WAIT_MS. */
static void wait_for_acks(struct pl_hub *h)
{
	int64_t until = pl_mono_ms() + STOP_WAIT_MS;
	while (atomic_load(&h->sends_in_flight) > 0 && pl_mono_ms() < until) {
		struct pollfd p = {.fd = h->wake.fd, .events = POLLIN};
		(void)poll(&p, 1, 10);
		on_wake(&h->wake, 0);
	}
	on_wake(&h->wake, 0); /* the last ones posted */
	if (atomic_load(&h->sends_in_flight) > 0)
		log_warn("stop: %d WebSocket sends still at the writer; their acks are lost",
			 atomic_load(&h->sends_in_flight));
}

static void *hub_main(void *arg)
{
	struct pl_hub *h = arg;
	while (!atomic_load(&h->stopping)) {
		int64_t now = pl_mono_ms();
		int wait = h->next_tick_ms > now && !h->ws_backlog ? (int)(h->next_tick_ms - now) : 0;
		if (!pl_loop_once(h->loop, wait)) {
			log_error("hub: epoll failed: %s", strerror(errno));
			break;
		}
		now = pl_mono_ms();
		if (now >= h->next_tick_ms) {
			h->next_tick_ms = now + TICK_MS;
			tick(h, now);
		}
		pl_ws_backlog(h);
		pl_hub_delivered_next(h);
		flush(h);
		bury(h);
		pl_eio_bury(h->eio);
	}
	on_wake(&h->wake, 0); /* take what was posted before the stop */
	wait_for_acks(h);
	pl_eio_stop(h->eio);
	close_everything(h);
	pl_hub_delivered_drain(h);
	while (h->nall)
		do_detach(h, h->all[h->nall - 1]);
	pl_ws_backlog(h); /* its connections are detached: this lets go of them */
	flush(h);
	bury(h);
	pl_eio_bury(h->eio);
	return NULL;
}

static void on_presence(void *ud, const char *user, bool online)
{
	struct pl_hub *h = ud;
	pl_chat_presence_changed(h->ctx, user, online);
}

struct pl_hub *pl_hub_start(struct pl_ctx *ctx, pl_error *err)
{
	struct pl_hub *h = calloc(1, sizeof *h);
	if (!h) {
		pl_fail(err, PL_INTERNAL, "out of memory");
		return NULL;
	}
	h->ctx = ctx;
	pthread_mutex_init(&h->mail_lock, NULL);
	pl_commits_init(&h->commits);
	h->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	h->wake.fn = on_wake;
	h->loop = pl_loop_new();
	h->rooms = pl_map_new();
	h->users = pl_map_new();
	h->typing = pl_map_new();
	h->receipts = pl_map_new();
	h->delivered = pl_map_new();
	h->poll_sessions = pl_map_new();
	h->delivered_round = pl_map_new();
	h->store = pl_ctx_reader(ctx);
	h->eio = h->loop ? pl_eio_new(h) : NULL;
	ctx->presence = pl_presence_new(ctx->cfg->presence_grace, on_presence, h);
	if (h->wake.fd < 0 || !h->loop || !h->rooms || !h->users || !h->typing || !h->receipts ||
	    !h->delivered || !h->delivered_round || !h->poll_sessions || !h->store || !h->eio || !ctx->presence ||
	    !pl_loop_add(h->loop, &h->wake, EPOLLIN) ||
	    !pl_bus_attach(ctx->bus, h->loop, on_bus_message, h)) {
		pl_fail(err, PL_INTERNAL, "cannot start the hub");
		return NULL; /* the process exits: nothing to free carefully */
	}
	h->cursor = pl_store_last_event(h->store);
	/* A mirror left by a daemon that died counts nobody now. */
	pl_store_presence_clear(h->store, err);
	atomic_init(&h->stored_hint, h->cursor);
	struct pl_sink sink = {h, sink_stored, sink_ephemeral};
	pl_ctx_set_sink(ctx, &sink);
	if (pthread_create(&h->thread, NULL, hub_main, h) != 0) {
		pl_fail(err, PL_INTERNAL, "cannot start the hub thread");
		return NULL;
	}
	return h;
}

void pl_hub_stop(struct pl_hub *h)
{
	if (!h)
		return;
	struct pl_sink none = {0};
	pl_ctx_set_sink(h->ctx, &none);
	atomic_store(&h->stopping, true);
	uint64_t one = 1;
	(void)!write(h->wake.fd, &one, sizeof one);
	pthread_join(h->thread, NULL);
	atomic_store(&h->stopped, true);
	/* What was posted between the thread's last pass and now. */
	on_wake(&h->wake, 0);
}

void pl_hub_free(struct pl_hub *h)
{
	if (!h)
		return;
	on_wake(&h->wake, 0);
	pl_map_free_all(h->rooms);
	pl_map_free_all(h->users);
	pl_feed_free(&h->feeds);
	pl_map_free_all(h->typing);
	pl_hub_receipts_free(h);
	pl_map_free_all(h->delivered);
	pl_map_free_all(h->delivered_round);
	pl_map_free(h->poll_sessions); /* its conns are gone by now */
	pl_eio_free(h->eio);
	if (h->ping)
		pl_buf_unref(h->ping);
	pl_ctx_reader_put(h->ctx, h->store);
	pl_loop_free(h->loop);
	close(h->wake.fd);
	free(h->all);
	pthread_mutex_destroy(&h->mail_lock);
	pl_commits_free(&h->commits);
	pl_admin_free(&h->admin);
	free(h);
}

bool pl_hub_stopping(struct pl_hub *h);
bool pl_hub_stopping(struct pl_hub *h) { return atomic_load(&h->stopping); }

/* ---- helpers for the front ends ---- */

static enum pl_code split_ids(const char *list, const char *field, int max, json_t **out,
			      pl_error *err)
{
	*out = NULL;
	if (!list || !*list)
		return PL_OK;
	json_t *arr = json_array();
	char *copy = strdup(list), *save = NULL;
	enum pl_code rc = copy ? PL_OK : pl_fail(err, PL_INTERNAL, "out of memory");
	for (char *id = copy ? strtok_r(copy, ",", &save) : NULL; id && rc == PL_OK;
	     id = strtok_r(NULL, ",", &save)) {
		if ((int)json_array_size(arr) >= max)
			rc = pl_fail(err, PL_INVALID_ARGUMENT, "%s: at most %d ids", field, max);
		else if (pl_check_id(field, id, err) != PL_OK)
			rc = err->code;
		else
			json_array_append_new(arr, json_string(id));
	}
	free(copy);
	if (rc != PL_OK)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}

enum pl_code pl_hub_parse_users(const char *users, json_t **out, pl_error *err)
{
	return split_ids(users, "presence", 500, out, err);
}

enum pl_code pl_hub_parse_rooms(struct pl_ctx *ctx, const char *user, const char *rooms,
				json_t **out, pl_error *err)
{
	enum pl_code split = split_ids(rooms, "rooms", 1000, out, err);
	if (split != PL_OK || !*out)
		return split;
	pl_store *s = pl_ctx_reader(ctx);
	if (!s) {
		json_decref(*out);
		*out = NULL;
		return pl_fail(err, PL_UNAVAILABLE, "store unavailable");
	}
	size_t i;
	json_t *r;
	enum pl_code rc = PL_OK;
	json_array_foreach(*out, i, r) {
		if (!pl_store_is_member(s, json_string_value(r), user)) {
			rc = pl_fail(err, PL_PERMISSION_DENIED, "rooms: you are not a member of %s",
				     json_string_value(r));
			break;
		}
	}
	pl_ctx_reader_put(ctx, s);
	if (rc != PL_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

char *pl_poll_answer(struct pl_conn *c, size_t *len)
{
	pthread_mutex_lock(&c->lock);
	size_t cap = c->qbytes + c->qitems + 128;
	char *out = malloc(cap);
	size_t n = 0;
	if (out) {
		n = (size_t)snprintf(out, cap, "{\"events\":[");
		bool first = true;
		for (struct pl_qitem *it = c->head; it; it = it->next) {
			if (!first)
				out[n++] = ',';
			first = false;
			memcpy(out + n, it->buf->data, it->buf->len);
			n += it->buf->len;
		}
		n += (size_t)snprintf(out + n, cap - n, "],\"cursor\":%lld", (long long)c->poll_start);
		if (c->session[0])
			n += (size_t)snprintf(out + n, cap - n, ",\"session\":\"%s\"", c->session);
		out[n++] = '}';
		out[n] = 0;
	}
	pl_conn_clear(c);
	pthread_mutex_unlock(&c->lock);
	*len = n;
	return out;
}
