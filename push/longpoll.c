/* push/longpoll: long-poll connections on the hub (hub thread, except
 * pl_poll_take): what an answer takes, sealing it and resuming its
 * request, and sessions (a parked connection kept between two polls and
 * taken over by the next; PL_POLL_* in hubint.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "push/hubint.h"
#include "push/latency.h"

/* A long-poll answer takes up to PL_POLL_ANSWER_MAX stored events, and
 * c->cursor (the answer's cursor once sealed) moves only over those it
 * took: a stored event it cannot take is the next poll's, which resumes
 * from that cursor.  Once the answer is sealed (or sent), ephemeral events
 * are kept for the session's next poll (PL_POLL_KEEP, hubint.h). */
void pl_poll_deliver(struct pl_hub *h, struct pl_conn *c, struct pl_event_out *e)
{
	struct pl_buf *b = pl_hub_event_buf(h, e, c->kind);
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

/* The session c holds (its id names c), or false. */
bool pl_poll_holds_session(struct pl_hub *h, const struct pl_conn *c)
{
	return c->kind == PL_CONN_POLL && c->session[0] &&
	       pl_map_get(h->poll_sessions, c->session) == c;
}

/* Ends the user's oldest parked sessions while PL_POLL_PARKED_MAX or more
 * are parked. */
void pl_poll_make_room(struct pl_hub *h, const char *user)
{
	for (;;) {
		struct pl_user *u = pl_hub_user(h, user, false);
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
		pl_hub_detach_now(h, oldest);
	}
}

/* A poll of session c->session: c takes over what the session's previous
 * connection kept, and that one ends (answering now if it still waits).
 * Only the session's own user can take it over. */
void pl_poll_take_session(struct pl_hub *h, struct pl_conn *c)
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
		pl_hub_detach_now(h, old);
	else
		pl_hub_close(h, old, 0, "a newer poll of the session"); /* answers it */
	pl_hub_mark_dirty(h, c); /* what it kept answers this poll at once */
}

/* A long-poll's answer leaves on the HTTP library's thread: once sealed
 * (done), its suspended request is resumed and the front end takes the
 * answer (pl_poll_take).  Resumes happen here, once per loop pass for
 * every poll that got output, which batches them. */
void pl_poll_flush(struct pl_hub *h, struct pl_conn *c)
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

char *pl_poll_take(struct pl_conn *c, size_t *len, int64_t *cursor, char session[33])
{
	pthread_mutex_lock(&c->lock);
	char *out = malloc(c->qbytes + c->qitems + 1);
	size_t n = 0;
	for (struct pl_qitem *it = out ? c->head : NULL; it; it = it->next) {
		if (n)
			out[n++] = ',';
		memcpy(out + n, it->buf->data, it->buf->len);
		n += it->buf->len;
	}
	if (out)
		out[n] = 0;
	*cursor = c->poll_start;
	memcpy(session, c->session, sizeof c->session);
	pl_conn_clear(c);
	pthread_mutex_unlock(&c->lock);
	*len = n;
	return out;
}

void pl_poll_tick(struct pl_hub *h, struct pl_conn *c, int64_t now)
{
	if (c->parked) {
		if (now >= c->park_until_ms)
			pl_hub_detach_now(h, c); /* nobody polled again: the session ends */
		return;
	}
	if (c->closing || c->done || now < c->poll_deadline_ms)
		return;
	pthread_mutex_lock(&c->lock);
	c->done = true;
	c->poll_start = c->cursor;
	pthread_mutex_unlock(&c->lock);
	pl_hub_mark_dirty(h, c);
}
