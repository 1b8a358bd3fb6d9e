/* push/route: where ephemeral events go, by the contract's rules.
 *
 * typing: to the room's members in rooms of any size, never back to the
 *   typist; a start lapses 5 s after the last one, shown or held back by
 *   the throttle (typing.renew; the hub sends the stop).
 * receipt: to small rooms only, at most one per user and room a second
 *   (the latest wins); delivered_up_to is recorded in batches, never with a
 *   store write per delivery, and an advance of it only goes to the sender
 *   of the message that advanced it (the one waiting for the ✓✓), so a
 *   message costs one receipt per member, not one per member squared.
 * presence: to the connections that asked about the user and to the
 *   members of the user's small rooms, once per connection per change;
 *   online/offline edges also to every /ws-online-status feed (push/feed).
 * None of these costs more than the connections it reaches. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/chat.h"
#include "base/clock.h"
#include "push/hubint.h"

#define TYPING_LAPSE_MS 5000
#define RECEIPT_EVERY_MS 1000

struct receipt_state {
	int64_t last_sent_ms;
	json_t *pending;
};

static void key_of(const char *room, const char *user, char *out, size_t len)
{
	snprintf(out, len, "%s\x1f%s", room, user);
}

/* Wraps a JSON event for delivery; the text is owned by the caller. */
static bool prepare(json_t *ev, struct pl_event_out *e, char **text)
{
	*text = json_dumps(ev, JSON_COMPACT);
	if (!*text)
		return false;
	memset(e, 0, sizeof *e);
	e->type = json_string_value(json_object_get(ev, "type"));
	e->room = json_string_value(json_object_get(ev, "room"));
	e->json = *text;
	e->len = strlen(*text);
	return e->type != NULL;
}

/* Read from the store each time (one primary-key row): joins to large
 * rooms and to general are silent, so no count kept here could follow. */
static int room_members(struct pl_hub *h, const struct pl_room *r)
{
	return pl_store_room_members(h->store, r->id);
}

/* Delivers to a room's connections, skipping the user's own when asked,
 * or only to one user's when the event names a "to" (taken out first). */
static void to_room(struct pl_hub *h, json_t *ev, const char *skip_user)
{
	char only[PL_ID_MAX + 1] = "";
	const char *to = json_string_value(json_object_get(ev, "to"));
	if (to) {
		snprintf(only, sizeof only, "%s", to);
		json_object_del(ev, "to");
	}
	struct pl_event_out e;
	char *text;
	const char *room = json_string_value(json_object_get(ev, "room"));
	struct pl_room *r = room ? pl_hub_room(h, room, false) : NULL;
	if (!r || !prepare(ev, &e, &text)) {
		if (r)
			free(text);
		return;
	}
	for (struct pl_sub *s = r->subs; s; s = s->next)
		if ((!skip_user || strcmp(s->conn->user, skip_user) != 0) &&
		    (!only[0] || strcmp(s->conn->user, only) == 0))
			pl_hub_deliver(h, s->conn, &e);
	pl_event_out_release(&e);
	free(text);
}

static const char *data_str(json_t *ev, const char *key)
{
	return json_string_value(json_object_get(json_object_get(ev, "data"), key));
}

/* The typing state of ev's room and user: their lapse time, made when
 * start is set and there is none; the key is written to key.  NULL when ev
 * names no room or user, or there is no state (or no memory for it). */
static int64_t *typing_state(struct pl_hub *h, json_t *ev, bool start, char *key, size_t size)
{
	const char *room = json_string_value(json_object_get(ev, "room"));
	const char *user = data_str(ev, "user");
	if (!room || !user)
		return NULL;
	key_of(room, user, key, size);
	int64_t *until = pl_map_get(h->typing, key);
	if (!until && start && (until = malloc(sizeof *until)) && !pl_map_put(h->typing, key, until)) {
		free(until);
		until = NULL;
	}
	return until;
}

static void route_typing(struct pl_hub *h, json_t *ev)
{
	char key[2 * PL_ID_MAX + 16];
	bool on = json_is_true(json_object_get(json_object_get(ev, "data"), "typing"));
	int64_t *until = typing_state(h, ev, on, key, sizeof key);
	const char *user = data_str(ev, "user");
	if (!user || !json_string_value(json_object_get(ev, "room")))
		return;
	if (on && until)
		*until = pl_clock_mono_ms(h->ctx->clock) + TYPING_LAPSE_MS;
	else if (!on)
		free(pl_map_del(h->typing, key));
	to_room(h, ev, user);
}

/* A start the throttle held back: the typist is still at it, so the
 * lapse counts from now.  Reaches no connection. */
static void typing_renew(struct pl_hub *h, json_t *ev)
{
	char key[2 * PL_ID_MAX + 16];
	int64_t *until = typing_state(h, ev, false, key, sizeof key);
	if (until)
		*until = pl_clock_mono_ms(h->ctx->clock) + TYPING_LAPSE_MS;
}

static void typing_lapses(struct pl_hub *h, int64_t now)
{
	size_t pos = 0;
	const char *k;
	void *v;
	while (pl_map_next(h->typing, &pos, &k, &v)) {
		if (*(int64_t *)v > now)
			continue;
		const char *sep = strchr(k, '\x1f');
		char room[2 * PL_ID_MAX + 8];
		snprintf(room, sizeof room, "%.*s", (int)(sep - k), k);
		json_t *data = json_pack("{s:s, s:b}", "user", sep + 1, "typing", 0);
		json_t *ev = pl_event_json(0, "typing", room, pl_now_ms(), data);
		json_decref(data);
		if (ev)
			to_room(h, ev, sep + 1);
		json_decref(ev);
		free(pl_map_del(h->typing, k));
	}
}

static bool small_room(struct pl_hub *h, const char *room)
{
	struct pl_room *r = room ? pl_hub_room(h, room, false) : NULL;
	return r && room_members(h, r) <= h->ctx->cfg->small_room;
}

static void route_receipt(struct pl_hub *h, json_t *ev)
{
	const char *room = json_string_value(json_object_get(ev, "room"));
	const char *user = data_str(ev, "user");
	const char *to = json_string_value(json_object_get(ev, "to"));
	if (!user || !small_room(h, room))
		return;
	char key[3 * PL_ID_MAX + 24];
	snprintf(key, sizeof key, "%s\x1f%s\x1f%s", room, user, to ? to : "");
	struct receipt_state *st = pl_map_get(h->receipts, key);
	if (!st) {
		st = calloc(1, sizeof *st);
		if (!st || !pl_map_put(h->receipts, key, st)) {
			free(st);
			return;
		}
	}
	int64_t now = pl_clock_mono_ms(h->ctx->clock);
	json_decref(st->pending);
	st->pending = NULL;
	if (now - st->last_sent_ms >= RECEIPT_EVERY_MS) {
		st->last_sent_ms = now;
		to_room(h, ev, NULL);
	} else {
		st->pending = json_incref(ev);
	}
}

/* At the end: receipts still held back (coalesced) go with the map. */
void pl_hub_receipts_free(struct pl_hub *h)
{
	if (!h->receipts)
		return;
	size_t pos = 0;
	const char *k;
	void *v;
	while (pl_map_next(h->receipts, &pos, &k, &v))
		json_decref(((struct receipt_state *)v)->pending);
	pl_map_free_all(h->receipts);
	h->receipts = NULL;
}

static void receipt_ticks(struct pl_hub *h, int64_t now)
{
	size_t pos = 0;
	const char *k;
	void *v;
	while (pl_map_next(h->receipts, &pos, &k, &v)) {
		struct receipt_state *st = v;
		if (now - st->last_sent_ms < RECEIPT_EVERY_MS)
			continue;
		if (st->pending) {
			st->last_sent_ms = now;
			to_room(h, st->pending, NULL);
			json_decref(st->pending);
			st->pending = NULL;
		} else {
			free(pl_map_del(h->receipts, k)); /* quiet for a second: forget */
		}
	}
}

static void route_presence(struct pl_hub *h, json_t *ev)
{
	const char *user = data_str(ev, "user");
	struct pl_event_out e;
	char *text;
	if (!user || !prepare(ev, &e, &text)) {
		free(user ? text : NULL);
		return;
	}
	uint64_t mark = ++h->mark;
	struct pl_user *u = pl_map_get(h->users, user);
	for (int i = 0; u && i < u->nwatchers; i++) {
		u->watchers[i]->mark = mark;
		pl_hub_deliver(h, u->watchers[i], &e);
	}
	json_t *rooms = pl_store_user_rooms(h->store, user);
	size_t i;
	json_t *id;
	json_array_foreach(rooms, i, id) {
		struct pl_room *r = pl_hub_room(h, json_string_value(id), false);
		if (!r || room_members(h, r) > h->ctx->cfg->small_room)
			continue;
		for (struct pl_sub *s = r->subs; s; s = s->next) {
			if (s->conn->mark == mark)
				continue;
			s->conn->mark = mark;
			pl_hub_deliver(h, s->conn, &e);
		}
	}
	json_decref(rooms);
	pl_feed_presence(h, user, data_str(ev, "status"), &e, mark);
	pl_event_out_release(&e);
	free(text);
}

void pl_hub_route_ephemeral(struct pl_hub *h, json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	if (!type)
		return;
	if (strcmp(type, "typing") == 0)
		route_typing(h, ev);
	else if (strcmp(type, "typing.renew") == 0)
		typing_renew(h, ev);
	else if (strcmp(type, "receipt") == 0)
		route_receipt(h, ev);
	else if (strcmp(type, "presence") == 0)
		route_presence(h, ev);
}

void pl_hub_route_tick(struct pl_hub *h, int64_t now)
{
	typing_lapses(h, now);
	receipt_ticks(h, now);
}

/* ---- delivered receipts, recorded in batches ---- */

struct delivery {
	int64_t id;                   /* the newest message delivered */
	char sender[PL_ID_MAX + 1];   /* who sent it */
};

void pl_hub_note_delivered(struct pl_hub *h, const char *room, const char *user, int64_t id,
			   const char *sender)
{
	char key[2 * PL_ID_MAX + 16];
	key_of(room, user, key, sizeof key);
	struct delivery *v = pl_map_get(h->delivered, key);
	if (!v) {
		v = calloc(1, sizeof *v);
		if (!v || !pl_map_put(h->delivered, key, v)) {
			free(v);
			return;
		}
	}
	if (id > v->id) {
		v->id = id;
		snprintf(v->sender, sizeof v->sender, "%s", sender);
	}
}

/* Keys written per job: about a millisecond of the writer's time. */
#define DELIVERED_CHUNK 128

struct delivered_job {
	struct pl_hub *h;
	size_t n;
	char (*keys)[2 * PL_ID_MAX + 16];
	struct delivery *items;
	json_t *events;       /* receipt events for small rooms, made in the job */
};

static enum pl_code delivered_fn(pl_store *s, void *arg, pl_error *err)
{
	struct delivered_job *j = arg;
	json_array_clear(j->events); /* from a run the writer undid */
	for (size_t i = 0; i < j->n; i++) {
		const char *sep = strchr(j->keys[i], '\x1f'), *user = sep ? sep + 1 : "";
		char room[sizeof j->keys[i]];
		snprintf(room, sizeof room, "%.*s", sep ? (int)(sep - j->keys[i]) : 0, j->keys[i]);
		if (pl_store_receipt_update(s, room, user, j->items[i].id, 0, err) != PL_OK)
			return err->code;
		int members = pl_store_room_members(s, room);
		if (members < 0 || members > j->h->ctx->cfg->small_room)
			continue;
		int64_t delivered, read;
		pl_store_receipt_get(s, room, user, &delivered, &read);
		json_t *data = pl_json_receipt(user, delivered, read);
		json_t *ev = pl_event_json(0, "receipt", room, pl_now_ms(), data);
		json_decref(data);
		if (ev) /* routing only: the hub takes "to" out before delivery */
			json_object_set_new(ev, "to", json_string(j->items[i].sender));
		json_array_append_new(j->events, ev);
	}
	return PL_OK;
}

static void delivered_free(struct delivered_job *j)
{
	json_decref(j->events);
	free(j->keys);
	free(j->items);
	free(j);
}

/* On the writer thread: the events go to the hub's mailbox, and the hub
 * is woken for the next chunk. */
static void delivered_done(void *arg, const pl_error *err)
{
	struct delivered_job *j = arg;
	for (size_t i = 0; err->code == PL_OK && i < json_array_size(j->events); i++) {
		/* Out of the array, so the hub holds the only reference. */
		json_t *ev = json_incref(json_array_get(j->events, i));
		json_array_set_new(j->events, i, json_null());
		pl_ctx_ephemeral(j->h->ctx, ev);
	}
	atomic_store(&j->h->delivered_busy, false);
	uint64_t one = 1;
	(void)!write(j->h->wake.fd, &one, sizeof one);
	delivered_free(j);
}

/* Takes up to DELIVERED_CHUNK keys out of m into a job for the writer. */
static bool submit_chunk(struct pl_hub *h, pl_map *m)
{
	size_t n = pl_map_len(m), pos = 0, i = 0;
	if (n > DELIVERED_CHUNK)
		n = DELIVERED_CHUNK;
	struct delivered_job *j = calloc(1, sizeof *j);
	if (j) {
		j->h = h;
		j->keys = malloc(n * sizeof *j->keys);
		j->items = malloc(n * sizeof *j->items);
		j->events = json_array();
	}
	const char *k;
	void *v;
	while (i < n && pl_map_next(m, &pos, &k, &v)) {
		if (j && j->keys && j->items) {
			snprintf(j->keys[i], sizeof j->keys[i], "%s", k);
			j->items[i] = *(struct delivery *)v;
		}
		i++;
		free(pl_map_del(m, k));
	}
	if (!j || !j->keys || !j->items || !j->events) {
		if (j)
			delivered_free(j);
		return false; /* out of memory: these receipts are not recorded */
	}
	j->n = i;
	atomic_store(&h->delivered_busy, true);
	pl_writer_submit(h->ctx->writer, delivered_fn, delivered_done, j);
	return true;
}

void pl_hub_delivered_next(struct pl_hub *h)
{
	if (!atomic_load(&h->delivered_busy) && pl_map_len(h->delivered_round))
		submit_chunk(h, h->delivered_round);
}

void pl_hub_flush_delivered(struct pl_hub *h)
{
	if (!pl_map_len(h->delivered_round) && pl_map_len(h->delivered)) {
		pl_map *round = h->delivered_round;
		h->delivered_round = h->delivered;
		h->delivered = round; /* empty */
	}
	pl_hub_delivered_next(h);
}

static enum pl_code barrier_fn(pl_store *s, void *arg, pl_error *err)
{
	(void)s, (void)arg, (void)err;
	return PL_OK;
}

void pl_hub_delivered_drain(struct pl_hub *h)
{
	while (pl_map_len(h->delivered_round))
		submit_chunk(h, h->delivered_round);
	while (pl_map_len(h->delivered))
		submit_chunk(h, h->delivered);
	/* The writer runs jobs in order: when this one is done, so are they,
	 * and none of them refers to the hub any more. */
	pl_error err;
	pl_writer_run(h->ctx->writer, barrier_fn, NULL, &err);
}
