/* db/sqlite_receipts: read and delivered receipts, kept on the member rows
 * (SQLite engine, see store.h). */
#include "db/sqlite_int.h"

#include "db/json.h"

static const char *const sql[S_COUNT] = {
	[S_RECEIPT_UPDATE] = "UPDATE members SET"
			     " delivered_up_to = MAX(delivered_up_to, ?3, ?4),"
			     " read_up_to = MAX(read_up_to, ?4) WHERE room = ?1 AND user = ?2",
	[S_RECEIPTS] = "SELECT user, delivered_up_to, read_up_to FROM members WHERE room = ?1"
		       " AND (delivered_up_to > 0 OR read_up_to > 0) ORDER BY user LIMIT 1000",
	[S_RECEIPT_GET] = "SELECT delivered_up_to, read_up_to FROM members"
			  " WHERE room = ?1 AND user = ?2",
};

static sqlite3_stmt *stmt(pl_store *s, enum stmt_id id)
{
	return pl_sq_stmt(s, id, sql[id]);
}

enum pl_code pl_store_receipt_update(pl_store *s, const char *room, const char *user,
				     int64_t delivered, int64_t read, pl_error *err)
{
	sqlite3_stmt *st = stmt(s, S_RECEIPT_UPDATE);
	if (!st)
		return db_fail(s, err);
	bind_text(st, 1, room);
	bind_text(st, 2, user);
	sqlite3_bind_int64(st, 3, delivered);
	sqlite3_bind_int64(st, 4, read);
	return exec_done(s, st, err);
}

static json_t *receipt_row(sqlite3_stmt *st)
{
	return pl_json_receipt((const char *)sqlite3_column_text(st, 0),
			       sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
}

json_t *pl_store_receipts(pl_store *s, const char *room)
{
	sqlite3_stmt *st = stmt(s, S_RECEIPTS);
	if (st)
		bind_text(st, 1, room);
	return all_rows(st, receipt_row);
}

void pl_store_receipt_get(pl_store *s, const char *room, const char *user, int64_t *delivered,
			  int64_t *read)
{
	*delivered = *read = 0;
	sqlite3_stmt *st = stmt(s, S_RECEIPT_GET);
	if (!st)
		return;
	bind_text(st, 1, room);
	bind_text(st, 2, user);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*delivered = sqlite3_column_int64(st, 0);
		*read = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
}
