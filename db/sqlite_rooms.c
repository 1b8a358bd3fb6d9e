/* db/sqlite_rooms: rooms and their members, with the member count kept on
 * the room (SQLite engine, see store.h). */
#include "db/sqlite_int.h"

#define ROOM_COLS "id, name, private, created_by, created_at, member_count"

static const char *const sql[S_COUNT] = {
	[S_ROOM_INSERT] = "INSERT INTO rooms(id, name, private, created_by, created_at)"
			  " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO NOTHING",
	[S_ROOM_GET] = "SELECT " ROOM_COLS " FROM rooms WHERE id = ?1",
	/* A page in id order: after ?2 (NULL: from the start), names holding
	 * ?3 in any ASCII case (NULL: all), at most ?4 rows (-1: all). */
	[S_ROOMS_VISIBLE] = "SELECT " ROOM_COLS " FROM rooms r WHERE (r.private = 0 OR EXISTS"
			    " (SELECT 1 FROM members m WHERE m.room = r.id AND m.user = ?1))"
			    " AND (?2 IS NULL OR r.id > ?2)"
			    " AND (?3 IS NULL OR instr(lower(r.name), lower(?3)) > 0)"
			    " ORDER BY r.id LIMIT ?4",
	[S_ROOM_COUNT] = "SELECT member_count, private FROM rooms WHERE id = ?1",
	[S_MEMBER_IS] = "SELECT 1 FROM members WHERE room = ?1 AND user = ?2",
	[S_MEMBER_INSERT] = "INSERT INTO members(room, user, joined_at) VALUES(?1, ?2, ?3)"
			    " ON CONFLICT DO NOTHING",
	[S_MEMBER_DELETE] = "DELETE FROM members WHERE room = ?1 AND user = ?2",
	[S_MEMBER_COUNT_ADD] = "UPDATE rooms SET member_count = member_count + ?2 WHERE id = ?1",
	[S_USER_ROOMS] = "SELECT room FROM members WHERE user = ?1 ORDER BY room",
	[S_MEMBER_IDS] = "SELECT user FROM members WHERE room = ?1 ORDER BY user LIMIT ?2",
};

static sqlite3_stmt *stmt(pl_store *s, enum stmt_id id)
{
	return pl_sq_stmt(s, id, sql[id]);
}

static json_t *room_row(sqlite3_stmt *st)
{
	return json_pack("{s:o, s:o, s:b, s:o, s:o, s:I}", "id", col_text_or_null(st, 0), "name",
			 col_text_or_null(st, 1), "private", sqlite3_column_int(st, 2) != 0,
			 "created_by", col_text_or_null(st, 3), "created_at",
			 col_time_or_null(st, 4), "members",
			 (json_int_t)sqlite3_column_int64(st, 5));
}

enum pl_code pl_store_room_create(pl_store *s, const char *id, const char *name, bool priv,
				  const char *creator, int64_t now, pl_error *err)
{
	sqlite3_stmt *st = stmt(s, S_ROOM_INSERT);
	if (!st)
		return db_fail(s, err);
	bind_text(st, 1, id);
	bind_text(st, 2, name);
	sqlite3_bind_int(st, 3, priv);
	bind_text(st, 4, creator);
	sqlite3_bind_int64(st, 5, now);
	enum pl_code rc = exec_done(s, st, err);
	if (rc != PL_OK)
		return rc;
	if (sqlite3_changes(s->db) == 0)
		return pl_fail(err, PL_CONFLICT, "id: room %s exists already", id);
	return PL_OK;
}

json_t *pl_store_room_get(pl_store *s, const char *id)
{
	sqlite3_stmt *st = stmt(s, S_ROOM_GET);
	if (st)
		bind_text(st, 1, id);
	return one_row(st, room_row);
}

static bool room_count(pl_store *s, const char *room, int *count, bool *priv)
{
	sqlite3_stmt *st = stmt(s, S_ROOM_COUNT);
	if (!st)
		return false;
	bind_text(st, 1, room);
	bool found = sqlite3_step(st) == SQLITE_ROW;
	if (found) {
		*count = sqlite3_column_int(st, 0);
		*priv = sqlite3_column_int(st, 1) != 0;
	}
	sqlite3_reset(st);
	return found;
}

bool pl_store_room_private(pl_store *s, const char *id, bool *priv)
{
	int count;
	return room_count(s, id, &count, priv);
}

int pl_store_room_members(pl_store *s, const char *room)
{
	int count;
	bool priv;
	return room_count(s, room, &count, &priv) ? count : -1;
}

static json_t *first_col(sqlite3_stmt *st) { return col_text_or_null(st, 0); }

json_t *pl_store_rooms_page(pl_store *s, const char *user, const char *after, const char *q,
			    int limit)
{
	sqlite3_stmt *st = stmt(s, S_ROOMS_VISIBLE);
	if (st) {
		bind_text(st, 1, user);
		bind_text(st, 2, after); /* NULL binds NULL */
		bind_text(st, 3, q);
		sqlite3_bind_int(st, 4, limit);
	}
	return all_rows(st, room_row);
}

bool pl_store_is_member(pl_store *s, const char *room, const char *user)
{
	sqlite3_stmt *st = stmt(s, S_MEMBER_IS);
	if (st) {
		bind_text(st, 1, room);
		bind_text(st, 2, user);
	}
	return exists(st);
}

static enum pl_code member_change(pl_store *s, enum stmt_id id, const char *room,
				  const char *user, int64_t now, bool *changed, pl_error *err)
{
	sqlite3_stmt *st = stmt(s, id);
	if (!st)
		return db_fail(s, err);
	bind_text(st, 1, room);
	bind_text(st, 2, user);
	if (id == S_MEMBER_INSERT)
		sqlite3_bind_int64(st, 3, now);
	enum pl_code rc = exec_done(s, st, err);
	if (rc != PL_OK)
		return rc;
	*changed = sqlite3_changes(s->db) > 0;
	if (!*changed)
		return PL_OK;
	/* The count lives on the room so size checks (small rooms) cost one
	 * row read, not a count over the members. */
	st = stmt(s, S_MEMBER_COUNT_ADD);
	if (!st)
		return db_fail(s, err);
	bind_text(st, 1, room);
	sqlite3_bind_int(st, 2, id == S_MEMBER_INSERT ? 1 : -1);
	return exec_done(s, st, err);
}

enum pl_code pl_store_member_add(pl_store *s, const char *room, const char *user, int64_t now,
				 bool *changed, pl_error *err)
{
	return member_change(s, S_MEMBER_INSERT, room, user, now, changed, err);
}

enum pl_code pl_store_member_remove(pl_store *s, const char *room, const char *user,
				    bool *changed, pl_error *err)
{
	return member_change(s, S_MEMBER_DELETE, room, user, 0, changed, err);
}

json_t *pl_store_user_rooms(pl_store *s, const char *user)
{
	sqlite3_stmt *st = stmt(s, S_USER_ROOMS);
	if (st)
		bind_text(st, 1, user);
	return all_rows(st, first_col);
}

json_t *pl_store_member_ids(pl_store *s, const char *room, int limit)
{
	sqlite3_stmt *st = stmt(s, S_MEMBER_IDS);
	if (st) {
		bind_text(st, 1, room);
		sqlite3_bind_int(st, 2, limit);
	}
	return all_rows(st, first_col);
}
