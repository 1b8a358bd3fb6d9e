/* push/fanout: stored events on the hub thread: reading what is new from
 * the store and queueing it on every subscribed connection (fan-out), and
 * feeding a resuming connection from the store until it joins the live
 * stream (replay).  ARCHITECTURE.md "Resume without gaps" states the rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push/hubint.h"
#include "push/scan.h"

#define REPLAY_BATCH 256

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
	struct pl_user *u = pl_hub_user(h, user, false);
	for (struct pl_conn *c = u ? u->conns : NULL; c; c = c->user_next)
		if (joined && c->all_rooms)
			pl_hub_subscribe(h, c, row->room);
}

static void unfollow(struct pl_hub *h, const struct pl_event_row *row)
{
	char user[PL_ID_MAX + 1];
	member_user(row->data, user);
	struct pl_user *u = pl_hub_user(h, user, false);
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
		struct pl_user *u = pl_hub_user(h, row->target, false);
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

void pl_hub_fan_out(struct pl_hub *h)
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
};

/* Whether c's queue takes no more replayed events for now: a long-poll
 * answer is full (PL_POLL_ANSWER_MAX), a stream's queue is half way to its
 * bounds (the rest follows once it has drained), or it is closing. */
static bool replay_full(void *ud)
{
	const struct pl_conn *c = ((struct replay_ctx *)ud)->c;
	if (c->closing)
		return true;
	if (c->kind == PL_CONN_POLL)
		return c->qitems >= PL_POLL_ANSWER_MAX;
	return c->qitems >= PL_QUEUE_MAX_ITEMS / 2 || c->qbytes >= PL_QUEUE_MAX_BYTES / 2;
}

/* Events aimed at the user always; the others by the rooms c follows. */
static bool replay_wanted(void *ud, const struct pl_event_row *row)
{
	const struct pl_conn *c = ((struct replay_ctx *)ud)->c;
	bool wanted = c->all_rooms || row->target[0];
	for (struct pl_sub *s = c->subs; !wanted && s; s = s->conn_next)
		wanted = strcmp(s->room->id, row->room) == 0;
	return wanted;
}

/* Queues one stored row on a replaying connection; false when it was not
 * queued (no memory, or c was cut off): the row is the next replay's. */
static bool replay_take(void *ud, const struct pl_event_row *row)
{
	struct replay_ctx *rc = ud;
	struct pl_conn *c = rc->c;
	struct pl_event_out e;
	char sender[PL_ID_MAX + 1];
	char *text = prepare_row(row, &e, sender);
	c->replaying = false; /* deliver() skips replaying conns */
	if (text)
		pl_hub_deliver(rc->h, c, &e);
	c->replaying = true;
	pl_event_out_release(&e);
	free(text);
	return text && c->cursor == row->id;
}

/* Feeds a resuming connection from the store, a batch at a time while its
 * queue has room, until it reaches the hub's cursor and joins the live
 * stream; a replay that stops early goes on at a tick, once the queue has
 * drained.  The cursor follows push/scan.h: a long-poll's answer takes
 * PL_POLL_ANSWER_MAX events, the poll then answers with the cursor of the
 * last one, and the rest is the next poll's. */
void pl_hub_replay(struct pl_hub *h, struct pl_conn *c)
{
	if (!c->replaying || c->closing)
		return;
	struct replay_ctx rc = {h, c};
	struct pl_scan s = {
		.user = c->user, .cursor = c->cursor, .upto = h->cursor, .batch = REPLAY_BATCH,
		.wanted = replay_wanted, .full = replay_full, .take = replay_take, .ud = &rc,
	};
	bool reached = pl_scan_run(h->store, &s);
	c->cursor = s.cursor;
	if (reached)
		c->replaying = false;
}
