/* db/sqlite_int: what the SQLite engine's files share (db/sqlite*.c).
 *
 * Not a public header: only the engine's own files include it.  The rest of
 * Parley sees db/store.h alone.  A pl_store is one SQLite connection and its
 * prepared statements.  Every statement has an id below; each file keeps the
 * text of its own statements in a table named sql, next to the code that
 * runs them, and gets them through pl_sq_stmt (prepared once per
 * connection, on first use, and reset before each use). */
#ifndef PL_SQLITE_INT_H
#define PL_SQLITE_INT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "base/clock.h"
#include "base/err.h"

/* The engine's functions are store.h's, renamed so that db/store.c can
 * choose between engines (db/engine.h): the files below define them under
 * store.h's names. */
#define pl_store_open pl_sqs_open
#define pl_store_close pl_sqs_close
#define pl_store_begin pl_sqs_begin
#define pl_store_commit pl_sqs_commit
#define pl_store_rollback pl_sqs_rollback
#define pl_store_savepoint pl_sqs_savepoint
#define pl_store_on_wal pl_sqs_on_wal
#define pl_store_checkpoint pl_sqs_checkpoint
#define pl_store_changes pl_sqs_changes
#define pl_store_in_transaction pl_sqs_in_transaction
#define pl_store_guard_commits pl_sqs_guard_commits
#define pl_store_user_ensure pl_sqs_user_ensure
#define pl_store_user_exists pl_sqs_user_exists
#define pl_store_set_status pl_sqs_set_status
#define pl_store_set_last_seen pl_sqs_set_last_seen
#define pl_store_user_status pl_sqs_user_status
#define pl_store_presence_set pl_sqs_presence_set
#define pl_store_presence_get pl_sqs_presence_get
#define pl_store_presence_clear pl_sqs_presence_clear
#define pl_store_room_create pl_sqs_room_create
#define pl_store_room_get pl_sqs_room_get
#define pl_store_room_private pl_sqs_room_private
#define pl_store_room_members pl_sqs_room_members
#define pl_store_rooms_page pl_sqs_rooms_page
#define pl_store_is_member pl_sqs_is_member
#define pl_store_member_add pl_sqs_member_add
#define pl_store_member_remove pl_sqs_member_remove
#define pl_store_user_rooms pl_sqs_user_rooms
#define pl_store_member_ids pl_sqs_member_ids
#define pl_store_message_post pl_sqs_message_post
#define pl_store_message_by_client_text pl_sqs_message_by_client_text
#define pl_store_message_insert pl_sqs_message_insert
#define pl_store_message_get pl_sqs_message_get
#define pl_store_message_edit pl_sqs_message_edit
#define pl_store_message_delete pl_sqs_message_delete
#define pl_store_messages_text pl_sqs_messages_text
#define pl_store_event_add pl_sqs_event_add
#define pl_store_last_event pl_sqs_last_event
#define pl_store_events_after pl_sqs_events_after
#define pl_store_events_for_user pl_sqs_events_for_user
#define pl_store_receipt_update pl_sqs_receipt_update
#define pl_store_receipts pl_sqs_receipts
#define pl_store_receipt_get pl_sqs_receipt_get

#include "db/engine.h"
#include "db/store.h"

enum stmt_id {
	/* db/sqlite.c: transactions */
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
	/* db/sqlite_users.c */
	S_USER_INSERT, S_USER_EXISTS, S_USER_STATUS, S_USER_SET_STATUS, S_USER_SET_SEEN,
	/* db/sqlite_rooms.c */
	S_ROOM_INSERT, S_ROOM_GET, S_ROOMS_VISIBLE, S_ROOM_COUNT,
	S_MEMBER_IS, S_MEMBER_INSERT, S_MEMBER_DELETE, S_MEMBER_COUNT_ADD,
	S_USER_ROOMS, S_MEMBER_IDS,
	/* db/sqlite_messages.c */
	S_MSG_INSERT, S_MSG_BY_CLIENT, S_MSG_GET, S_MSG_EDIT, S_MSG_DELETE,
	S_MSGS_BEFORE, S_MSGS_AFTER, S_MSGS_SINCE, S_MSGS_LATEST,
	S_MSGS_BEFORE_M, S_MSGS_AFTER_M, S_MSGS_SINCE_M, S_MSGS_LATEST_M,
	/* db/sqlite_events.c */
	S_EVENT_INSERT, S_EVENT_LAST, S_EVENTS_AFTER, S_EVENTS_USER,
	/* db/sqlite_receipts.c */
	S_RECEIPT_UPDATE, S_RECEIPTS, S_RECEIPT_GET,
	/* db/sqlite_presence.c */
	S_PRESENCE_SET, S_PRESENCE_DEL, S_PRESENCE_GET, S_PRESENCE_CLEAR,
	S_COUNT
};

struct pl_store {
	int engine;           /* PL_ENGINE_SQLITE, first (db/engine.h) */
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	pl_wal_fn on_wal;
	void *wal_ud;
	bool committing;      /* inside pl_store_commit (pl_store_guard_commits) */
};

/* db/sqlite_schema.c: brings the schema up to PL_SCHEMA_VERSION. */
enum pl_code pl_schema_migrate(sqlite3 *db, pl_error *err);

/* Statement id with text sql, prepared on first use; returns it reset with
 * cleared bindings, or NULL (logged by the caller through the error path). */
sqlite3_stmt *pl_sq_stmt(pl_store *s, enum stmt_id id, const char *sql);

/* The connection's last error as a pl_error: busy or locked is
 * "unavailable" (try again), anything else "internal". */
enum pl_code db_fail(pl_store *s, pl_error *err);

static inline void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Runs a statement that returns no rows. */
static inline enum pl_code exec_done(pl_store *s, sqlite3_stmt *st, pl_error *err)
{
	if (!st)
		return db_fail(s, err);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? PL_OK : db_fail(s, err);
}

static inline bool exists(sqlite3_stmt *st)
{
	bool yes = st && sqlite3_step(st) == SQLITE_ROW;
	if (st)
		sqlite3_reset(st);
	return yes;
}

/* ---- JSON of rows ---- */

static inline json_t *col_text_or_null(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return json_stringn((const char *)sqlite3_column_text(st, i),
			    (size_t)sqlite3_column_bytes(st, i));
}

static inline json_t *col_time_or_null(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	char t[PL_TIME_LEN];
	pl_time_format(sqlite3_column_int64(st, i), t);
	return json_string(t);
}

/* One row through fn, or NULL when the statement yields none. */
static inline json_t *one_row(sqlite3_stmt *st, json_t *(*fn)(sqlite3_stmt *))
{
	if (!st)
		return NULL;
	json_t *out = sqlite3_step(st) == SQLITE_ROW ? fn(st) : NULL;
	sqlite3_reset(st);
	return out;
}

/* Collects every row of st through fn into an array. */
static inline json_t *all_rows(sqlite3_stmt *st, json_t *(*fn)(sqlite3_stmt *))
{
	json_t *arr = json_array();
	if (!st)
		return arr;
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, fn(st));
	sqlite3_reset(st);
	return arr;
}

#endif
