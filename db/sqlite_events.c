/* db/sqlite_events: the event log: appending an event in the transaction
 * of the change it describes, and reading what came after an id (SQLite
 * engine, see store.h). */
#include "db/sqlite_int.h"

#include <stdio.h>

#include "base/log.h"

static const char *const sql[S_COUNT] = {
	[S_EVENT_INSERT] = "INSERT INTO events(room, type, ts, target, data, sender, message_id)"
			   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_EVENT_LAST] = "SELECT COALESCE(MAX(id), 0) FROM events",
	[S_EVENTS_AFTER] = "SELECT id, ts, room, type, target, data, sender, message_id FROM events"
			   " WHERE id > ?1 ORDER BY id LIMIT ?2",
	[S_EVENTS_USER] = "SELECT e.id, e.ts, e.room, e.type, e.target, e.data, e.sender,"
			  " e.message_id FROM events e"
			  " WHERE e.id > ?2 AND (e.target = ?1 OR (e.target IS NULL AND"
			  " e.room IN (SELECT room FROM members WHERE user = ?1)))"
			  " ORDER BY e.id LIMIT ?3",
};

static sqlite3_stmt *stmt(pl_store *s, enum stmt_id id)
{
	return pl_sq_stmt(s, id, sql[id]);
}

enum pl_code pl_store_event_add(pl_store *s, const struct pl_new_event *e, int64_t *id,
				pl_error *err)
{
	sqlite3_stmt *st = stmt(s, S_EVENT_INSERT);
	if (!st)
		return db_fail(s, err);
	bind_text(st, 1, e->room);
	bind_text(st, 2, e->type);
	sqlite3_bind_int64(st, 3, e->ts);
	bind_text(st, 4, e->target);
	sqlite3_bind_text(st, 5, e->data, (int)e->len, SQLITE_STATIC);
	bind_text(st, 6, e->sender);
	if (e->message_id > 0)
		sqlite3_bind_int64(st, 7, e->message_id);
	enum pl_code rc = exec_done(s, st, err);
	if (rc != PL_OK)
		return rc;
	*id = sqlite3_last_insert_rowid(s->db);
	return PL_OK;
}

int64_t pl_store_last_event(pl_store *s)
{
	sqlite3_stmt *st = stmt(s, S_EVENT_LAST);
	int64_t id = 0;
	if (st && sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	return id;
}

static void copy_col(sqlite3_stmt *st, int i, char *out, size_t outlen)
{
	const char *v = (const char *)sqlite3_column_text(st, i);
	snprintf(out, outlen, "%s", v ? v : "");
}

static int walk_events(sqlite3_stmt *st, pl_event_fn fn, void *ud)
{
	int n = 0;
	if (!st)
		return 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pl_event_row row;
		row.id = sqlite3_column_int64(st, 0);
		row.ts = sqlite3_column_int64(st, 1);
		copy_col(st, 2, row.room, sizeof row.room);
		copy_col(st, 3, row.type, sizeof row.type);
		copy_col(st, 4, row.target, sizeof row.target);
		copy_col(st, 6, row.sender, sizeof row.sender);
		row.message_id = sqlite3_column_int64(st, 7);
		row.data = (const char *)sqlite3_column_text(st, 5);
		n++;
		if (!fn(ud, &row))
			break;
	}
	/* The rows read are still a gap-free prefix: the reader's cursor
	 * stops at the last one and it reads on from there next time. */
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		log_warn("store: reading events stopped early: %s",
			 sqlite3_errstr(rc));
	sqlite3_reset(st);
	return n;
}

int pl_store_events_after(pl_store *s, int64_t after, int limit, pl_event_fn fn, void *ud)
{
	sqlite3_stmt *st = stmt(s, S_EVENTS_AFTER);
	if (st) {
		sqlite3_bind_int64(st, 1, after);
		sqlite3_bind_int(st, 2, limit);
	}
	return walk_events(st, fn, ud);
}

int pl_store_events_for_user(pl_store *s, const char *user, int64_t after, int limit,
			     pl_event_fn fn, void *ud)
{
	sqlite3_stmt *st = stmt(s, S_EVENTS_USER);
	if (st) {
		bind_text(st, 1, user);
		sqlite3_bind_int64(st, 2, after);
		sqlite3_bind_int(st, 3, limit);
	}
	return walk_events(st, fn, ud);
}
