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
