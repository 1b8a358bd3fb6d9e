/* db/sqlite_users: users, their manual status and last_seen (SQLite
 * engine, see store.h). */
#include "db/sqlite_int.h"

#include <stdio.h>
#include <string.h>

static const char *const sql[S_COUNT] = {
	[S_USER_INSERT] = "INSERT INTO users(id, name, created_at) VALUES(?1, ?2, ?3)"
			  " ON CONFLICT(id) DO NOTHING",
	[S_USER_EXISTS] = "SELECT 1 FROM users WHERE id = ?1",
	[S_USER_STATUS] = "SELECT status, last_seen FROM users WHERE id = ?1",
	[S_USER_SET_STATUS] = "UPDATE users SET status = ?2 WHERE id = ?1",
	[S_USER_SET_SEEN] = "UPDATE users SET last_seen = ?2 WHERE id = ?1",
};

static sqlite3_stmt *stmt(pl_store *s, enum stmt_id id)
{
	return pl_sq_stmt(s, id, sql[id]);
}

enum pl_code pl_store_user_ensure(pl_store *s, const char *user, const char *name,
				  int64_t now, bool *created, pl_error *err)
{
	sqlite3_stmt *st = stmt(s, S_USER_INSERT);
	if (!st)
		return db_fail(s, err);
	bind_text(st, 1, user);
	bind_text(st, 2, name && *name ? name : NULL);
	sqlite3_bind_int64(st, 3, now);
	enum pl_code rc = exec_done(s, st, err);
	if (rc != PL_OK)
		return rc;
	*created = sqlite3_changes(s->db) > 0;
	return PL_OK;
}

bool pl_store_user_exists(pl_store *s, const char *user)
{
	sqlite3_stmt *st = stmt(s, S_USER_EXISTS);
	if (st)
		bind_text(st, 1, user);
	return exists(st);
}

static enum pl_code user_update(pl_store *s, enum stmt_id id, const char *user,
				const char *text, int64_t num, pl_error *err)
{
	sqlite3_stmt *st = stmt(s, id);
	if (!st)
		return db_fail(s, err);
	bind_text(st, 1, user);
	if (text)
		bind_text(st, 2, text);
	else
		sqlite3_bind_int64(st, 2, num);
	return exec_done(s, st, err);
}

enum pl_code pl_store_set_status(pl_store *s, const char *user, const char *status,
				 pl_error *err)
{
	return user_update(s, S_USER_SET_STATUS, user, status, 0, err);
}

enum pl_code pl_store_set_last_seen(pl_store *s, const char *user, int64_t when, pl_error *err)
{
	return user_update(s, S_USER_SET_SEEN, user, NULL, when, err);
}

void pl_store_user_status(pl_store *s, const char *user, char status[16], int64_t *last_seen)
{
	strcpy(status, "online");
	*last_seen = 0;
	sqlite3_stmt *st = stmt(s, S_USER_STATUS);
	if (!st)
		return;
	bind_text(st, 1, user);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		if (v)
			snprintf(status, 16, "%s", v);
		*last_seen = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
}
