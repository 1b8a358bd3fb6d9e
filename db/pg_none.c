/* db/pg_none: the PostgreSQL engine's functions in a build without libpq
 * (configure found none, or --with-postgresql=no).  No store is ever of
 * that engine then: pl_pgs_open refuses every URL with the reason, so
 * nothing else here is ever called. */
#include <stdlib.h>

#include "db/engine.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"

enum pl_code pl_pgs_open(const char *url, pl_store **out, pl_error *err)
{
	return pl_fail(err, PL_INVALID_ARGUMENT,
		       "this build has no PostgreSQL engine (libpq-dev was missing when it was"
		       " configured): a postgresql:// URL cannot be used");
}

void pl_pgs_close(pl_store *s)
{
	abort();
}

enum pl_code pl_pgs_begin(pl_store *s, pl_error *err)
{
	abort();
}

enum pl_code pl_pgs_commit(pl_store *s, pl_error *err)
{
	abort();
}

void pl_pgs_rollback(pl_store *s)
{
	abort();
}

enum pl_code pl_pgs_savepoint(pl_store *s, bool release, bool rollback)
{
	abort();
}

void pl_pgs_on_wal(pl_store *s, pl_wal_fn fn, void *ud)
{
	abort();
}

void pl_pgs_checkpoint(pl_store *s)
{
	abort();
}

int64_t pl_pgs_changes(pl_store *s)
{
	abort();
}

bool pl_pgs_in_transaction(pl_store *s)
{
	abort();
}

void pl_pgs_guard_commits(pl_store *s)
{
	abort();
}

enum pl_code pl_pgs_user_ensure(pl_store *s, const char *user, const char *name, int64_t now,
				bool *created, pl_error *err)
{
	abort();
}

bool pl_pgs_user_exists(pl_store *s, const char *user)
{
	abort();
}

enum pl_code pl_pgs_set_status(pl_store *s, const char *user, const char *status, pl_error *err)
{
	abort();
}

enum pl_code pl_pgs_set_last_seen(pl_store *s, const char *user, int64_t when, pl_error *err)
{
	abort();
}

void pl_pgs_user_status(pl_store *s, const char *user, char status[16], int64_t *last_seen)
{
	abort();
}

enum pl_code pl_pgs_presence_set(pl_store *s, const char *user, int connections, bool online,
				 pl_error *err)
{
	abort();
}

bool pl_pgs_presence_get(pl_store *s, const char *user, int *connections)
{
	abort();
}

enum pl_code pl_pgs_presence_clear(pl_store *s, pl_error *err)
{
	abort();
}

enum pl_code pl_pgs_room_create(pl_store *s, const char *id, const char *name, bool priv,
				const char *creator, int64_t now, pl_error *err)
{
	abort();
}

json_t *pl_pgs_room_get(pl_store *s, const char *id)
{
	abort();
}

bool pl_pgs_room_private(pl_store *s, const char *id, bool *priv)
{
	abort();
}

int pl_pgs_room_members(pl_store *s, const char *room)
{
	abort();
}

json_t *pl_pgs_rooms_page(pl_store *s, const char *user, const char *after, const char *q,
			  int limit)
{
	abort();
}

bool pl_pgs_is_member(pl_store *s, const char *room, const char *user)
{
	abort();
}

enum pl_code pl_pgs_member_add(pl_store *s, const char *room, const char *user, int64_t now,
			       bool *changed, pl_error *err)
{
	abort();
}

enum pl_code pl_pgs_member_remove(pl_store *s, const char *room, const char *user, bool *changed,
				  pl_error *err)
{
	abort();
}

json_t *pl_pgs_user_rooms(pl_store *s, const char *user)
{
	abort();
}

json_t *pl_pgs_member_ids(pl_store *s, const char *room, int limit)
{
	abort();
}

enum pl_code pl_pgs_message_post(pl_store *s, const struct pl_new_msg *m, char **json, size_t *len,
				 bool *created, pl_error *err)
{
	abort();
}

char *pl_pgs_message_by_client_text(pl_store *s, const char *sender, const char *client_id,
				    size_t *len)
{
	abort();
}

enum pl_code pl_pgs_message_insert(pl_store *s, const char *room, const char *sender,
				   const char *text, const char *client_id, int64_t now,
				   json_t **msg, pl_error *err)
{
	abort();
}

json_t *pl_pgs_message_get(pl_store *s, const char *room, int64_t id)
{
	abort();
}

enum pl_code pl_pgs_message_edit(pl_store *s, int64_t id, const char *text, int64_t now,
				 json_t **msg, pl_error *err)
{
	abort();
}

enum pl_code pl_pgs_message_delete(pl_store *s, int64_t id, int64_t now, json_t **msg,
				   pl_error *err)
{
	abort();
}

char *pl_pgs_messages_text(pl_store *s, const char *room, const char *member,
			   const struct pl_page *page, size_t *len, bool *any)
{
	abort();
}

enum pl_code pl_pgs_event_add(pl_store *s, const struct pl_new_event *e, int64_t *id,
			      pl_error *err)
{
	abort();
}

int64_t pl_pgs_last_event(pl_store *s)
{
	abort();
}

int pl_pgs_events_after(pl_store *s, int64_t after, int limit, pl_event_fn fn, void *ud)
{
	abort();
}

int pl_pgs_events_for_user(pl_store *s, const char *user, int64_t after, int limit, pl_event_fn fn,
			   void *ud)
{
	abort();
}

enum pl_code pl_pgs_receipt_update(pl_store *s, const char *room, const char *user,
				   int64_t delivered, int64_t read, pl_error *err)
{
	abort();
}

json_t *pl_pgs_receipts(pl_store *s, const char *room)
{
	abort();
}

void pl_pgs_receipt_get(pl_store *s, const char *room, const char *user, int64_t *delivered,
			int64_t *read)
{
	abort();
}
