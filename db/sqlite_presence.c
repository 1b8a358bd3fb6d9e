/* db/sqlite_presence: parleyd's presence counts mirrored into the store,
 * where parley.fcgi reads them (SQLite engine, see store.h). */
#include "db/sqlite_int.h"

static const char *const sql[S_COUNT] = {
	[S_PRESENCE_SET] = "INSERT INTO presence(user, connections) VALUES(?1, ?2)"
			   " ON CONFLICT(user) DO UPDATE SET connections = ?2",
	[S_PRESENCE_DEL] = "DELETE FROM presence WHERE user = ?1",
	[S_PRESENCE_GET] = "SELECT connections FROM presence WHERE user = ?1",
	[S_PRESENCE_CLEAR] = "DELETE FROM presence",
};

static sqlite3_stmt *stmt(pl_store *s, enum stmt_id id)
{
	return pl_sq_stmt(s, id, sql[id]);
}

enum pl_code pl_store_presence_set(pl_store *s, const char *user, int connections,
				   bool online, pl_error *err)
{
	sqlite3_stmt *st = stmt(s, online ? S_PRESENCE_SET : S_PRESENCE_DEL);
	if (!st)
		return db_fail(s, err);
	bind_text(st, 1, user);
	if (online)
		sqlite3_bind_int(st, 2, connections);
	return exec_done(s, st, err);
}

bool pl_store_presence_get(pl_store *s, const char *user, int *connections)
{
	sqlite3_stmt *st = stmt(s, S_PRESENCE_GET);
	*connections = 0;
	if (!st)
		return false;
	bind_text(st, 1, user);
	bool online = sqlite3_step(st) == SQLITE_ROW;
	if (online)
		*connections = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return online;
}

enum pl_code pl_store_presence_clear(pl_store *s, pl_error *err)
{
	return exec_done(s, stmt(s, S_PRESENCE_CLEAR), err);
}
