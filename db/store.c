/* db/store: what every engine shares, built on the functions an engine
 * provides (see store.h): the jansson forms of results the engines write
 * as text, and the API's event objects. */
#include "db/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jbuf.h"
#include "db/engine.h"


/* ---- the engine seam (db/engine.h) ---- */

/* libpq's URI forms (db/pgconn.h's pl_pg_is_url; not called here, so a
 * build without libpq links this file too). */
static bool is_pg_url(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

enum pl_code pl_store_open(const char *path, pl_store **out, pl_error *err)
{
	if (is_pg_url(path))
		return pl_pgs_open(path, out, err);
	return pl_sqs_open(path, out, err);
}

void pl_store_close(pl_store *s)
{
	if (!s)
		return;
	if (pl_engine_of(s) == PL_ENGINE_PG)
		pl_pgs_close(s);
	else
		pl_sqs_close(s);
}

/* Each function of db/engine.h's list, written out (one call site per
 * line, so static analysers follow each call to its engine). */
enum pl_code pl_store_begin(pl_store *s, pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_begin(s, err);
	return pl_sqs_begin(s, err);
}

enum pl_code pl_store_commit(pl_store *s, pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_commit(s, err);
	return pl_sqs_commit(s, err);
}

void pl_store_rollback(pl_store *s)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		pl_pgs_rollback(s);
	else
		pl_sqs_rollback(s);
}

enum pl_code pl_store_savepoint(pl_store *s, bool release, bool rollback)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_savepoint(s, release, rollback);
	return pl_sqs_savepoint(s, release, rollback);
}

void pl_store_on_wal(pl_store *s, pl_wal_fn fn, void *ud)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		pl_pgs_on_wal(s, fn, ud);
	else
		pl_sqs_on_wal(s, fn, ud);
}

void pl_store_checkpoint(pl_store *s)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		pl_pgs_checkpoint(s);
	else
		pl_sqs_checkpoint(s);
}

int64_t pl_store_changes(pl_store *s)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_changes(s);
	return pl_sqs_changes(s);
}

bool pl_store_in_transaction(pl_store *s)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_in_transaction(s);
	return pl_sqs_in_transaction(s);
}

void pl_store_guard_commits(pl_store *s)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		pl_pgs_guard_commits(s);
	else
		pl_sqs_guard_commits(s);
}

enum pl_code pl_store_user_ensure(pl_store *s, const char *user, const char *name, int64_t now,
                                  bool *created, pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_user_ensure(s, user, name, now, created, err);
	return pl_sqs_user_ensure(s, user, name, now, created, err);
}

bool pl_store_user_exists(pl_store *s, const char *user)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_user_exists(s, user);
	return pl_sqs_user_exists(s, user);
}

enum pl_code pl_store_set_status(pl_store *s, const char *user, const char *status, pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_set_status(s, user, status, err);
	return pl_sqs_set_status(s, user, status, err);
}

enum pl_code pl_store_set_last_seen(pl_store *s, const char *user, int64_t when, pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_set_last_seen(s, user, when, err);
	return pl_sqs_set_last_seen(s, user, when, err);
}

void pl_store_user_status(pl_store *s, const char *user, char status[16], int64_t *last_seen)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		pl_pgs_user_status(s, user, status, last_seen);
	else
		pl_sqs_user_status(s, user, status, last_seen);
}

enum pl_code pl_store_presence_set(pl_store *s, const char *user, int connections, bool online,
                                   pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_presence_set(s, user, connections, online, err);
	return pl_sqs_presence_set(s, user, connections, online, err);
}

bool pl_store_presence_get(pl_store *s, const char *user, int *connections)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_presence_get(s, user, connections);
	return pl_sqs_presence_get(s, user, connections);
}

enum pl_code pl_store_presence_clear(pl_store *s, pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_presence_clear(s, err);
	return pl_sqs_presence_clear(s, err);
}

enum pl_code pl_store_room_create(pl_store *s, const char *id, const char *name, bool priv,
                                  const char *creator, int64_t now, pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_room_create(s, id, name, priv, creator, now, err);
	return pl_sqs_room_create(s, id, name, priv, creator, now, err);
}

json_t *pl_store_room_get(pl_store *s, const char *id)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_room_get(s, id);
	return pl_sqs_room_get(s, id);
}

bool pl_store_room_private(pl_store *s, const char *id, bool *priv)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_room_private(s, id, priv);
	return pl_sqs_room_private(s, id, priv);
}

int pl_store_room_members(pl_store *s, const char *room)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_room_members(s, room);
	return pl_sqs_room_members(s, room);
}

json_t *pl_store_rooms_page(pl_store *s, const char *user, const char *after, const char *q,
                            int limit)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_rooms_page(s, user, after, q, limit);
	return pl_sqs_rooms_page(s, user, after, q, limit);
}

bool pl_store_is_member(pl_store *s, const char *room, const char *user)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_is_member(s, room, user);
	return pl_sqs_is_member(s, room, user);
}

enum pl_code pl_store_member_add(pl_store *s, const char *room, const char *user, int64_t now,
                                 bool *changed, pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_member_add(s, room, user, now, changed, err);
	return pl_sqs_member_add(s, room, user, now, changed, err);
}

enum pl_code pl_store_member_remove(pl_store *s, const char *room, const char *user, bool *changed,
                                    pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_member_remove(s, room, user, changed, err);
	return pl_sqs_member_remove(s, room, user, changed, err);
}

json_t *pl_store_user_rooms(pl_store *s, const char *user)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_user_rooms(s, user);
	return pl_sqs_user_rooms(s, user);
}

json_t *pl_store_member_ids(pl_store *s, const char *room, int limit)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_member_ids(s, room, limit);
	return pl_sqs_member_ids(s, room, limit);
}

enum pl_code pl_store_message_post(pl_store *s, const struct pl_new_msg *m, char **json,
                                   size_t *len, bool *created, pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_message_post(s, m, json, len, created, err);
	return pl_sqs_message_post(s, m, json, len, created, err);
}

char *pl_store_message_by_client_text(pl_store *s, const char *sender, const char *client_id,
                                      size_t *len)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_message_by_client_text(s, sender, client_id, len);
	return pl_sqs_message_by_client_text(s, sender, client_id, len);
}

enum pl_code pl_store_message_insert(pl_store *s, const char *room, const char *sender,
                                     const char *text, const char *client_id, int64_t now,
                                     json_t **msg, pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_message_insert(s, room, sender, text, client_id, now, msg, err);
	return pl_sqs_message_insert(s, room, sender, text, client_id, now, msg, err);
}

json_t *pl_store_message_get(pl_store *s, const char *room, int64_t id)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_message_get(s, room, id);
	return pl_sqs_message_get(s, room, id);
}

enum pl_code pl_store_message_edit(pl_store *s, int64_t id, const char *text, int64_t now,
                                   json_t **msg, pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_message_edit(s, id, text, now, msg, err);
	return pl_sqs_message_edit(s, id, text, now, msg, err);
}

enum pl_code pl_store_message_delete(pl_store *s, int64_t id, int64_t now, json_t **msg,
                                     pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_message_delete(s, id, now, msg, err);
	return pl_sqs_message_delete(s, id, now, msg, err);
}

char *pl_store_messages_text(pl_store *s, const char *room, const char *member,
                             const struct pl_page *page, size_t *len, bool *any)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_messages_text(s, room, member, page, len, any);
	return pl_sqs_messages_text(s, room, member, page, len, any);
}

enum pl_code pl_store_event_add(pl_store *s, const struct pl_new_event *e, int64_t *id,
                                pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_event_add(s, e, id, err);
	return pl_sqs_event_add(s, e, id, err);
}

int64_t pl_store_last_event(pl_store *s)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_last_event(s);
	return pl_sqs_last_event(s);
}

int pl_store_events_after(pl_store *s, int64_t after, int limit, pl_event_fn fn, void *ud)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_events_after(s, after, limit, fn, ud);
	return pl_sqs_events_after(s, after, limit, fn, ud);
}

int pl_store_events_for_user(pl_store *s, const char *user, int64_t after, int limit,
                             pl_event_fn fn, void *ud)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_events_for_user(s, user, after, limit, fn, ud);
	return pl_sqs_events_for_user(s, user, after, limit, fn, ud);
}

enum pl_code pl_store_receipt_update(pl_store *s, const char *room, const char *user,
                                     int64_t delivered, int64_t read, pl_error *err)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_receipt_update(s, room, user, delivered, read, err);
	return pl_sqs_receipt_update(s, room, user, delivered, read, err);
}

json_t *pl_store_receipts(pl_store *s, const char *room)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		return pl_pgs_receipts(s, room);
	return pl_sqs_receipts(s, room);
}

void pl_store_receipt_get(pl_store *s, const char *room, const char *user, int64_t *delivered,
                          int64_t *read)
{
	if (pl_engine_of(s) == PL_ENGINE_PG)
		pl_pgs_receipt_get(s, room, user, delivered, read);
	else
		pl_sqs_receipt_get(s, room, user, delivered, read);
}

/* ---- shared ---- */

json_t *pl_store_rooms_visible(pl_store *s, const char *user)
{
	return pl_store_rooms_page(s, user, NULL, NULL, -1);
}

json_t *pl_store_message_by_client(pl_store *s, const char *sender, const char *client_id)
{
	size_t len;
	char *text = pl_store_message_by_client_text(s, sender, client_id, &len);
	json_t *msg = text ? json_loadb(text, len, 0, NULL) : NULL;
	free(text);
	return msg;
}

json_t *pl_store_messages(pl_store *s, const char *room, const struct pl_page *p)
{
	size_t len;
	bool any;
	char *text = pl_store_messages_text(s, room, NULL, p, &len, &any);
	json_t *out = text ? json_loadb(text, len, JSON_ALLOW_NUL, NULL) : NULL;
	free(text);
	return out;
}

enum pl_code pl_store_event_append(pl_store *s, const char *room, const char *type,
				   const char *target, json_t *data, int64_t now, int64_t *id,
				   pl_error *err)
{
	char *text = json_dumps(data, JSON_COMPACT);
	if (!text)
		return pl_fail(err, PL_INTERNAL, "out of memory");
	struct pl_new_event e = {room, type, target, text, strlen(text), now, NULL, 0};
	enum pl_code rc = pl_store_event_add(s, &e, id, err);
	free(text);
	return rc;
}

char *pl_event_row_json(const struct pl_event_row *row, size_t *len)
{
	struct pl_jbuf b = {0};
	const char *data = row->data ? row->data : "{}";
	if (!pl_json_event(&b, row->id, row->type, row->room, row->ts, data, strlen(data))) {
		pl_jb_free(&b);
		return NULL;
	}
	return pl_jb_take(&b, len);
}
