/* db/store: see store.h.  Every statement is prepared once per connection
 * (lazily, from the table below) and reset after use. */
#include "db/store.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/jbuf.h"
#include "base/log.h"

enum pl_code pl_schema_migrate(sqlite3 *db, pl_error *err);

enum stmt_id {
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
	S_USER_INSERT, S_USER_EXISTS, S_USER_STATUS, S_USER_SET_STATUS, S_USER_SET_SEEN,
	S_ROOM_INSERT, S_ROOM_GET, S_ROOMS_VISIBLE, S_ROOM_COUNT,
	S_MEMBER_IS, S_MEMBER_INSERT, S_MEMBER_DELETE, S_MEMBER_COUNT_ADD,
	S_USER_ROOMS, S_MEMBER_IDS,
	S_MSG_INSERT, S_MSG_BY_CLIENT, S_MSG_GET, S_MSG_EDIT, S_MSG_DELETE,
	S_MSGS_BEFORE, S_MSGS_AFTER, S_MSGS_SINCE, S_MSGS_LATEST,
	S_MSGS_BEFORE_M, S_MSGS_AFTER_M, S_MSGS_SINCE_M, S_MSGS_LATEST_M,
	S_EVENT_INSERT, S_EVENT_LAST, S_EVENTS_AFTER, S_EVENTS_USER,
	S_RECEIPT_UPDATE, S_RECEIPTS, S_RECEIPT_GET,
	S_PRESENCE_SET, S_PRESENCE_DEL, S_PRESENCE_GET, S_PRESENCE_CLEAR,
	S_COUNT
};

#define MSG_COLS "id, room, sender, text, client_id, created_at, edited_at, deleted"
#define MSG_COLS_M "m.id, m.room, m.sender, m.text, m.client_id, m.created_at, m.edited_at," \
	" m.deleted"
#define MSGS_OF_MEMBER "FROM members u CROSS JOIN messages m WHERE u.room = ?1 AND" \
	" u.user = ?5 AND m.room = ?1"
#define ROOM_COLS "id, name, private, created_by, created_at, member_count"

static const char *const sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT job",
	[S_RELEASE] = "RELEASE job",
	[S_ROLLBACK_TO] = "ROLLBACK TO job",
	[S_USER_INSERT] = "INSERT INTO users(id, name, created_at) VALUES(?1, ?2, ?3)"
			  " ON CONFLICT(id) DO NOTHING",
	[S_USER_EXISTS] = "SELECT 1 FROM users WHERE id = ?1",
	[S_USER_STATUS] = "SELECT status, last_seen FROM users WHERE id = ?1",
	[S_USER_SET_STATUS] = "UPDATE users SET status = ?2 WHERE id = ?1",
	[S_USER_SET_SEEN] = "UPDATE users SET last_seen = ?2 WHERE id = ?1",
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
	/* No RETURNING (it runs through a temporary table): the caller has
	 * every column but the id.  A client_id used before stores nothing. */
	[S_MSG_INSERT] = "INSERT INTO messages(room, sender, text, client_id, created_at)"
			 " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
	[S_MSG_BY_CLIENT] = "SELECT " MSG_COLS " FROM messages WHERE sender = ?1"
			    " AND client_id = ?2",
	[S_MSG_GET] = "SELECT " MSG_COLS " FROM messages WHERE id = ?2 AND room = ?1",
	[S_MSG_EDIT] = "UPDATE messages SET text = ?2, edited_at = ?3 WHERE id = ?1"
		       " AND deleted = 0 RETURNING " MSG_COLS,
	[S_MSG_DELETE] = "UPDATE messages SET text = NULL, deleted = 1, edited_at = ?2"
			 " WHERE id = ?1 RETURNING " MSG_COLS,
	/* Pages are read newest first (the index walks backwards) and turned
	 * around in C, so "before" and the default page stay cheap in huge
	 * rooms; one row more than asked tells has_more. */
	[S_MSGS_BEFORE] = "SELECT " MSG_COLS " FROM messages WHERE room = ?1 AND id < ?2"
			  " AND id > ?3 ORDER BY id DESC LIMIT ?4",
	[S_MSGS_AFTER] = "SELECT " MSG_COLS " FROM messages WHERE room = ?1 AND id > ?3"
			 " AND id < ?2 ORDER BY id ASC LIMIT ?4",
	[S_MSGS_SINCE] = "SELECT " MSG_COLS " FROM messages WHERE room = ?1"
			 " AND created_at >= ?3 AND id < ?2 ORDER BY id ASC LIMIT ?4",
	[S_MSGS_LATEST] = "SELECT " MSG_COLS " FROM messages WHERE room = ?1 AND id < ?2"
			  " ORDER BY id DESC LIMIT ?4",
	/* The same for a member ?5 only, in one statement and snapshot: the
	 * membership row is the outer loop (CROSS JOIN keeps it there), so a
	 * non-member costs one lookup and reads no messages. */
	[S_MSGS_BEFORE_M] = "SELECT " MSG_COLS_M " " MSGS_OF_MEMBER " AND m.id < ?2"
			    " AND m.id > ?3 ORDER BY m.id DESC LIMIT ?4",
	[S_MSGS_AFTER_M] = "SELECT " MSG_COLS_M " " MSGS_OF_MEMBER " AND m.id > ?3"
			   " AND m.id < ?2 ORDER BY m.id ASC LIMIT ?4",
	[S_MSGS_SINCE_M] = "SELECT " MSG_COLS_M " " MSGS_OF_MEMBER
			   " AND m.created_at >= ?3 AND m.id < ?2 ORDER BY m.id ASC LIMIT ?4",
	[S_MSGS_LATEST_M] = "SELECT " MSG_COLS_M " " MSGS_OF_MEMBER " AND m.id < ?2"
			    " ORDER BY m.id DESC LIMIT ?4",
	[S_EVENT_INSERT] = "INSERT INTO events(room, type, ts, target, data)"
			   " VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_EVENT_LAST] = "SELECT COALESCE(MAX(id), 0) FROM events",
	[S_EVENTS_AFTER] = "SELECT id, ts, room, type, target, data FROM events"
			   " WHERE id > ?1 ORDER BY id LIMIT ?2",
	[S_EVENTS_USER] = "SELECT e.id, e.ts, e.room, e.type, e.target, e.data FROM events e"
			  " WHERE e.id > ?2 AND (e.target = ?1 OR (e.target IS NULL AND"
			  " e.room IN (SELECT room FROM members WHERE user = ?1)))"
			  " ORDER BY e.id LIMIT ?3",
	[S_RECEIPT_UPDATE] = "UPDATE members SET"
			     " delivered_up_to = MAX(delivered_up_to, ?3, ?4),"
			     " read_up_to = MAX(read_up_to, ?4) WHERE room = ?1 AND user = ?2",
	[S_RECEIPTS] = "SELECT user, delivered_up_to, read_up_to FROM members WHERE room = ?1"
		       " AND (delivered_up_to > 0 OR read_up_to > 0) ORDER BY user LIMIT 1000",
	[S_PRESENCE_SET] = "INSERT INTO presence(user, connections) VALUES(?1, ?2)"
			   " ON CONFLICT(user) DO UPDATE SET connections = ?2",
	[S_PRESENCE_DEL] = "DELETE FROM presence WHERE user = ?1",
	[S_PRESENCE_GET] = "SELECT connections FROM presence WHERE user = ?1",
	[S_PRESENCE_CLEAR] = "DELETE FROM presence",
	[S_RECEIPT_GET] = "SELECT delivered_up_to, read_up_to FROM members"
			  " WHERE room = ?1 AND user = ?2",
};

struct pl_store {
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	pl_wal_fn on_wal;
	void *wal_ud;
};

/* Prepares on first use; returns a reset statement with cleared bindings,
 * or NULL (logged by the caller through the error path). */
static sqlite3_stmt *stmt(pl_store *s, enum stmt_id id)
{
	if (!s->st[id] &&
	    sqlite3_prepare_v3(s->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL) !=
		    SQLITE_OK)
		return NULL;
	sqlite3_reset(s->st[id]);
	sqlite3_clear_bindings(s->st[id]);
	return s->st[id];
}

static enum pl_code db_fail(pl_store *s, pl_error *err)
{
	int rc = sqlite3_errcode(s->db);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return pl_fail(err, PL_UNAVAILABLE, "store busy, try again");
	return pl_fail(err, PL_INTERNAL, "store error: %s", sqlite3_errmsg(s->db));
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Runs a statement that returns no rows. */
static enum pl_code exec_done(pl_store *s, sqlite3_stmt *st, pl_error *err)
{
	if (!st)
		return db_fail(s, err);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? PL_OK : db_fail(s, err);
}

static enum pl_code simple(pl_store *s, enum stmt_id id, pl_error *err)
{
	return exec_done(s, stmt(s, id), err);
}

static bool exists(sqlite3_stmt *st)
{
	bool yes = st && sqlite3_step(st) == SQLITE_ROW;
	if (st)
		sqlite3_reset(st);
	return yes;
}

enum pl_code pl_store_open(const char *path, pl_store **out, pl_error *err)
{
	pl_store *s = calloc(1, sizeof *s);
	if (!s)
		return pl_fail(err, PL_INTERNAL, "out of memory");
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		pl_fail(err, PL_INTERNAL, "cannot open %s: %s", path,
			s->db ? sqlite3_errmsg(s->db) : "out of memory");
		pl_store_close(s);
		return err->code;
	}
	/* busy_timeout first: the journal_mode switch itself may wait for
	 * another process.  synchronous=NORMAL in WAL mode survives a crash
	 * of the process (kill -9) with every commit; only a power cut may
	 * lose the last transactions. */
	sqlite3_busy_timeout(s->db, 10000);
	char *msg = NULL;
	if (sqlite3_exec(s->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
			 NULL, NULL, &msg) != SQLITE_OK) {
		pl_fail(err, PL_INTERNAL, "cannot set up %s: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		pl_store_close(s);
		return err->code;
	}
	if (pl_schema_migrate(s->db, err) != PL_OK) {
		pl_store_close(s);
		return err->code;
	}
	*out = s;
	return PL_OK;
}

void pl_store_close(pl_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close_v2(s->db);
	free(s);
}

struct sqlite3 *pl_store_sqlite(pl_store *s) { return s->db; }

enum pl_code pl_store_begin(pl_store *s, pl_error *err) { return simple(s, S_BEGIN, err); }
enum pl_code pl_store_commit(pl_store *s, pl_error *err) { return simple(s, S_COMMIT, err); }

void pl_store_rollback(pl_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		simple(s, S_ROLLBACK, NULL);
}

enum pl_code pl_store_savepoint(pl_store *s, bool release, bool rollback)
{
	if (!release)
		return simple(s, S_SAVEPOINT, NULL);
	if (rollback && simple(s, S_ROLLBACK_TO, NULL) != PL_OK)
		return PL_INTERNAL;
	return simple(s, S_RELEASE, NULL);
}

static int wal_hook(void *ud, sqlite3 *db, const char *name, int pages)
{
	(void)db, (void)name;
	pl_store *s = ud;
	s->on_wal(s->wal_ud, pages);
	return SQLITE_OK;
}

void pl_store_on_wal(pl_store *s, pl_wal_fn fn, void *ud)
{
	s->on_wal = fn;
	s->wal_ud = ud;
	if (fn)
		sqlite3_wal_hook(s->db, wal_hook, s);
	else
		sqlite3_wal_autocheckpoint(s->db, 1000);
}

void pl_store_checkpoint(pl_store *s)
{
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
		log_warn("store: checkpoint failed: %s", sqlite3_errmsg(s->db));
}

int64_t pl_store_changes(pl_store *s)
{
	return sqlite3_total_changes64(s->db);
}

bool pl_store_in_transaction(pl_store *s)
{
	return !sqlite3_get_autocommit(s->db);
}

/* ---- JSON of rows ---- */

static json_t *col_text_or_null(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return json_stringn((const char *)sqlite3_column_text(st, i),
			    (size_t)sqlite3_column_bytes(st, i));
}

static json_t *col_time_or_null(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	char t[PL_TIME_LEN];
	pl_time_format(sqlite3_column_int64(st, i), t);
	return json_string(t);
}

static json_t *message_row(sqlite3_stmt *st)
{
	return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "id",
			 (json_int_t)sqlite3_column_int64(st, 0), "room", col_text_or_null(st, 1),
			 "sender", col_text_or_null(st, 2), "text", col_text_or_null(st, 3),
			 "client_id", col_text_or_null(st, 4), "created_at",
			 col_time_or_null(st, 5), "edited_at", col_time_or_null(st, 6), "deleted",
			 sqlite3_column_int(st, 7) != 0);
}

static json_t *room_row(sqlite3_stmt *st)
{
	return json_pack("{s:o, s:o, s:b, s:o, s:o, s:I}", "id", col_text_or_null(st, 0), "name",
			 col_text_or_null(st, 1), "private", sqlite3_column_int(st, 2) != 0,
			 "created_by", col_text_or_null(st, 3), "created_at",
			 col_time_or_null(st, 4), "members",
			 (json_int_t)sqlite3_column_int64(st, 5));
}

/* One row through fn, or NULL when the statement yields none. */
static json_t *one_row(sqlite3_stmt *st, json_t *(*fn)(sqlite3_stmt *))
{
	if (!st)
		return NULL;
	json_t *out = sqlite3_step(st) == SQLITE_ROW ? fn(st) : NULL;
	sqlite3_reset(st);
	return out;
}

json_t *pl_event_json(int64_t id, const char *type, const char *room, int64_t ts, json_t *data)
{
	char t[PL_TIME_LEN];
	pl_time_format(ts, t);
	json_t *ev = json_pack("{s:s, s:s, s:O}", "type", type, "ts", t, "data", data);
	if (ev && room && *room) /* presence belongs to no room */
		json_object_set_new(ev, "room", json_string(room));
	if (ev && id > 0)
		json_object_set_new(ev, "id", json_integer(id));
	return ev;
}

/* ---- users ---- */

enum pl_code pl_store_user_ensure(pl_store *s, const char *user, const char *name,
				  int64_t now, bool *created, pl_error *err)
{
	sqlite3_stmt *st = stmt(s, S_USER_INSERT);
	if (!st)
		return db_fail(s, err);
	bind_text(st, 1, user);
	bind_text(st, 2, name && *name ? name : NULL);
	sqlite3_bind_int64(st, 3, now);
	if (exec_done(s, st, err) != PL_OK)
		return err->code;
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

/* ---- rooms and members ---- */

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
	if (exec_done(s, st, err) != PL_OK)
		return err->code;
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

/* Collects every row of st through fn into an array. */
static json_t *all_rows(sqlite3_stmt *st, json_t *(*fn)(sqlite3_stmt *))
{
	json_t *arr = json_array();
	if (!st)
		return arr;
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, fn(st));
	sqlite3_reset(st);
	return arr;
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

json_t *pl_store_rooms_visible(pl_store *s, const char *user)
{
	return pl_store_rooms_page(s, user, NULL, NULL, -1);
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
	if (exec_done(s, st, err) != PL_OK)
		return err->code;
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

/* ---- messages ---- */

static enum pl_code message_write(pl_store *s, sqlite3_stmt *st, json_t **msg, pl_error *err)
{
	if (!st)
		return db_fail(s, err);
	int rc = sqlite3_step(st);
	*msg = rc == SQLITE_ROW ? message_row(st) : NULL;
	/* RETURNING statements finish their write only when stepped to DONE. */
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(*msg);
		*msg = NULL;
		return db_fail(s, err);
	}
	if (!*msg)
		return pl_fail(err, PL_NOT_FOUND, "id: no such message");
	return PL_OK;
}

/* Inserts a message; *id is 0 when sender's client_id is taken. */
static enum pl_code message_insert(pl_store *s, const struct pl_new_msg *m, int64_t *id,
				   pl_error *err)
{
	sqlite3_stmt *st = stmt(s, S_MSG_INSERT);
	if (st) {
		bind_text(st, 1, m->room);
		bind_text(st, 2, m->sender);
		bind_text(st, 3, m->text);
		bind_text(st, 4, m->client_id);
		sqlite3_bind_int64(st, 5, m->now);
	}
	if (exec_done(s, st, err) != PL_OK)
		return err->code;
	*id = sqlite3_changes(s->db) ? sqlite3_last_insert_rowid(s->db) : 0;
	return PL_OK;
}

enum pl_code pl_store_message_insert(pl_store *s, const char *room, const char *sender,
				     const char *text, const char *client_id, int64_t now,
				     json_t **msg, pl_error *err)
{
	struct pl_new_msg m = {room, sender, text, client_id, now};
	int64_t id;
	*msg = NULL;
	if (message_insert(s, &m, &id, err) != PL_OK)
		return err->code;
	if (!id)
		return pl_fail(err, PL_CONFLICT, "client_id: already used");
	*msg = pl_store_message_get(s, room, id);
	return *msg ? PL_OK : db_fail(s, err);
}

json_t *pl_store_message_by_client(pl_store *s, const char *sender, const char *client_id)
{
	size_t len;
	char *text = pl_store_message_by_client_text(s, sender, client_id, &len);
	json_t *msg = text ? json_loadb(text, len, 0, NULL) : NULL;
	free(text);
	return msg;
}

json_t *pl_store_message_get(pl_store *s, const char *room, int64_t id)
{
	sqlite3_stmt *st = stmt(s, S_MSG_GET);
	if (st) {
		bind_text(st, 1, room);
		sqlite3_bind_int64(st, 2, id);
	}
	return one_row(st, message_row);
}

enum pl_code pl_store_message_edit(pl_store *s, int64_t id, const char *text, int64_t now,
				   json_t **msg, pl_error *err)
{
	sqlite3_stmt *st = stmt(s, S_MSG_EDIT);
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, text);
		sqlite3_bind_int64(st, 3, now);
	}
	return message_write(s, st, msg, err);
}

enum pl_code pl_store_message_delete(pl_store *s, int64_t id, int64_t now, json_t **msg,
				     pl_error *err)
{
	sqlite3_stmt *st = stmt(s, S_MSG_DELETE);
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, now);
	}
	return message_write(s, st, msg, err);
}

/* ---- pages of messages as JSON text ----
 *
 * A page is the hottest read there is, so it is written straight from the
 * rows into one buffer: no jansson tree, no per-field allocations, no
 * gmtime/printf.  The text is what json_dumps(JSON_COMPACT) makes of the
 * tree message_row builds (same members, same order, same escapes), and a
 * row whose text is not valid UTF-8, which jansson would refuse, is left
 * out the same way. */

/* A text column: a string, or null; false when it is not UTF-8 (or
 * SQLite is out of memory), as json_stringn would fail. */
static bool jb_col_text(struct pl_jbuf *b, sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	if (!t) {
		if (sqlite3_column_type(st, i) != SQLITE_NULL)
			return false;
		PL_JB_LIT(b, "null");
		return true;
	}
	return pl_jb_str(b, t, (size_t)sqlite3_column_bytes(st, i));
}

/* A time column, or null. */
static void jb_col_time(struct pl_jbuf *b, sqlite3_stmt *st, int i, struct pl_jb_day *memo)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		PL_JB_LIT(b, "null");
	else
		pl_jb_time(b, sqlite3_column_int64(st, i), memo);
}

/* One message object, the members of message_row in its order; false
 * (nothing written) when a text column is not valid UTF-8.  room_sender
 * is ,"room":<room>,"sender": written once for the page: every row has
 * the room the statement asked for, byte for byte (room = ?1, BINARY). */
static bool jb_message(struct pl_jbuf *b, sqlite3_stmt *st, const struct pl_jbuf *room_sender,
		       struct pl_jb_day *memo)
{
	size_t start = b->len;
	PL_JB_LIT(b, "{\"id\":");
	pl_jb_int(b, sqlite3_column_int64(st, 0));
	pl_jb_put(b, room_sender->p, room_sender->len);
	if (!jb_col_text(b, st, 2))
		goto bad;
	PL_JB_LIT(b, ",\"text\":");
	if (!jb_col_text(b, st, 3))
		goto bad;
	PL_JB_LIT(b, ",\"client_id\":");
	if (!jb_col_text(b, st, 4))
		goto bad;
	PL_JB_LIT(b, ",\"created_at\":");
	jb_col_time(b, st, 5, memo);
	PL_JB_LIT(b, ",\"edited_at\":");
	jb_col_time(b, st, 6, memo);
	if (sqlite3_column_int(st, 7) != 0)
		PL_JB_LIT(b, ",\"deleted\":true}");
	else
		PL_JB_LIT(b, ",\"deleted\":false}");
	return true;
bad:
	b->len = start;
	return false;
}

char *pl_store_messages_text(pl_store *s, const char *room, const char *member,
			     const struct pl_page *p, size_t *len, bool *any)
{
	/* after/since read forwards from the start point; before or nothing
	 * reads backwards from the end point.  ?2 is the upper bound, ?3 the
	 * lower one. */
	enum stmt_id id = p->after || p->from_start ? S_MSGS_AFTER
			  : p->has_since ? S_MSGS_SINCE
			  : p->before ? S_MSGS_BEFORE
				      : S_MSGS_LATEST;
	bool backwards = id == S_MSGS_BEFORE || id == S_MSGS_LATEST;
	bool since = id == S_MSGS_SINCE;
	if (member)
		id = (enum stmt_id)(id + S_MSGS_BEFORE_M - S_MSGS_BEFORE);
	sqlite3_stmt *st = stmt(s, id);
	*any = false;
	int limit = p->limit < 0 ? 0 : p->limit;
	/* rows[k]..rows[k+1] is the k-th object written, in the order read. */
	size_t small[64], *rows = small;
	if (limit + 2 > (int)(sizeof small / sizeof small[0]) &&
	    !(rows = malloc(((size_t)limit + 2) * sizeof *rows)))
		return NULL;
	struct pl_jbuf b = {0}, room_sender = {0};
	struct pl_jb_day memo = {.day = -1};
	pl_jb_room(&b, 64 + (size_t)limit * 256);
	PL_JB_LIT(&room_sender, ",\"room\":");
	/* Not UTF-8: no row could be written, as with jansson. */
	bool room_ok = room && pl_jb_str(&room_sender, room, strlen(room));
	PL_JB_LIT(&room_sender, ",\"sender\":");
	b.oom |= room_sender.oom;
	const char head[] = "{\"messages\":[";
	PL_JB_LIT(&b, head);
	bool more = false;
	int nrows = 0;
	if (st) {
		bind_text(st, 1, room);
		sqlite3_bind_int64(st, 2, p->before ? p->before : INT64_MAX);
		sqlite3_bind_int64(st, 3, since ? p->since : p->after);
		sqlite3_bind_int(st, 4, p->limit + 1);
		if (member)
			bind_text(st, 5, member);
		int n = 0;
		while (!b.oom && sqlite3_step(st) == SQLITE_ROW) {
			*any = true;
			if (n++ == limit) {
				more = true;
				break;
			}
			rows[nrows] = b.len;
			if (nrows && !backwards)
				PL_JB_LIT(&b, ",");
			if (room_ok && jb_message(&b, st, &room_sender, &memo))
				nrows++;
			else
				b.len = rows[nrows];
		}
		sqlite3_reset(st);
	}
	rows[nrows] = b.len;
	/* The NUL ends the text for C but is not part of *len. */
	if (more)
		pl_jb_put(&b, "],\"has_more\":true}", sizeof "],\"has_more\":true}");
	else
		pl_jb_put(&b, "],\"has_more\":false}", sizeof "],\"has_more\":false}");
	if (nrows > 1 && backwards && !b.oom) {
		/* Read newest first: the objects go out in the other order. */
		size_t tail = b.len - rows[nrows];
		char *out = malloc(b.len + (size_t)nrows); /* the commas */
		if (!out) {
			b.oom = true;
		} else {
			size_t o = sizeof head - 1;
			memcpy(out, b.p, o);
			for (int k = nrows - 1; k >= 0; k--) {
				memcpy(out + o, b.p + rows[k], rows[k + 1] - rows[k]);
				o += rows[k + 1] - rows[k];
				if (k)
					out[o++] = ',';
			}
			memcpy(out + o, b.p + rows[nrows], tail);
			free(b.p);
			b.p = out;
			b.len = o + tail;
		}
	}
	if (rows != small)
		free(rows);
	free(room_sender.p);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len - 1;
	return b.p;
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

/* ---- events ---- */

enum pl_code pl_store_event_append_text(pl_store *s, const char *room, const char *type,
					const char *target, const char *data, size_t len,
					int64_t now, int64_t *id, pl_error *err)
{
	sqlite3_stmt *st = stmt(s, S_EVENT_INSERT);
	if (!st)
		return db_fail(s, err);
	bind_text(st, 1, room);
	bind_text(st, 2, type);
	sqlite3_bind_int64(st, 3, now);
	bind_text(st, 4, target);
	sqlite3_bind_text(st, 5, data, (int)len, SQLITE_STATIC);
	if (exec_done(s, st, err) != PL_OK)
		return err->code;
	*id = sqlite3_last_insert_rowid(s->db);
	return PL_OK;
}

enum pl_code pl_store_event_append(pl_store *s, const char *room, const char *type,
				   const char *target, json_t *data, int64_t now, int64_t *id,
				   pl_error *err)
{
	char *text = json_dumps(data, JSON_COMPACT);
	if (!text)
		return pl_fail(err, PL_INTERNAL, "out of memory");
	enum pl_code rc =
		pl_store_event_append_text(s, room, type, target, text, strlen(text), now, id, err);
	free(text);
	return rc;
}

/* What message_row would make of the row m becomes, given its id; false
 * when a text is not UTF-8 (which the API refuses before it gets here). */
static bool jb_new_message(struct pl_jbuf *b, const struct pl_new_msg *m, int64_t id)
{
	struct pl_jb_day memo = PL_JB_DAY_INIT;
	PL_JB_LIT(b, "{\"id\":");
	pl_jb_int(b, id);
	PL_JB_LIT(b, ",\"room\":");
	bool ok = pl_jb_str_or_null(b, m->room);
	PL_JB_LIT(b, ",\"sender\":");
	ok = ok && pl_jb_str_or_null(b, m->sender);
	PL_JB_LIT(b, ",\"text\":");
	ok = ok && pl_jb_str_or_null(b, m->text);
	PL_JB_LIT(b, ",\"client_id\":");
	ok = ok && pl_jb_str_or_null(b, m->client_id);
	PL_JB_LIT(b, ",\"created_at\":");
	pl_jb_time(b, m->now, &memo);
	PL_JB_LIT(b, ",\"edited_at\":null,\"deleted\":false}");
	return ok;
}

/* The message sender stored earlier with client_id, as text. */
static bool jb_message_by_client(pl_store *s, struct pl_jbuf *b, const char *sender,
				 const char *client_id)
{
	sqlite3_stmt *st = stmt(s, S_MSG_BY_CLIENT);
	if (!st)
		return false;
	bind_text(st, 1, sender);
	bind_text(st, 2, client_id);
	bool ok = false;
	if (sqlite3_step(st) == SQLITE_ROW) {
		struct pl_jbuf room_sender = {0};
		struct pl_jb_day memo = PL_JB_DAY_INIT;
		PL_JB_LIT(&room_sender, ",\"room\":");
		ok = jb_col_text(&room_sender, st, 1);
		PL_JB_LIT(&room_sender, ",\"sender\":");
		ok = ok && !room_sender.oom && jb_message(b, st, &room_sender, &memo);
		pl_jb_free(&room_sender);
	}
	sqlite3_reset(st);
	return ok;
}

char *pl_store_message_by_client_text(pl_store *s, const char *sender, const char *client_id,
				      size_t *len)
{
	struct pl_jbuf b = {0};
	if (jb_message_by_client(s, &b, sender, client_id))
		return pl_jb_take(&b, len);
	pl_jb_free(&b);
	return NULL;
}

enum pl_code pl_store_message_post(pl_store *s, const struct pl_new_msg *m, char **json,
				   size_t *len, bool *created, pl_error *err)
{
	struct pl_jbuf b = {0};
	int64_t id, ev;
	*json = NULL;
	*created = false;
	if (message_insert(s, m, &id, err) != PL_OK)
		return err->code;
	if (!id) { /* a retry: the first answer again, nothing stored */
		if (!jb_message_by_client(s, &b, m->sender, m->client_id)) {
			pl_jb_free(&b);
			return db_fail(s, err);
		}
	} else {
		if (!jb_new_message(&b, m, id)) {
			pl_jb_free(&b);
			return pl_fail(err, PL_INVALID_ARGUMENT, "text: not valid UTF-8");
		}
		if (!b.oom && pl_store_event_append_text(s, m->room, "message.created", NULL, b.p,
							 b.len, m->now, &ev, err) != PL_OK) {
			pl_jb_free(&b);
			return err->code;
		}
		*created = true;
	}
	if (!(*json = pl_jb_take(&b, len)))
		return pl_fail(err, PL_INTERNAL, "out of memory");
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
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct pl_event_row row;
		row.id = sqlite3_column_int64(st, 0);
		row.ts = sqlite3_column_int64(st, 1);
		copy_col(st, 2, row.room, sizeof row.room);
		copy_col(st, 3, row.type, sizeof row.type);
		copy_col(st, 4, row.target, sizeof row.target);
		row.data = (const char *)sqlite3_column_text(st, 5);
		n++;
		if (!fn(ud, &row))
			break;
	}
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

/* ---- receipts ---- */

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
	return json_pack("{s:o, s:I, s:I}", "user", col_text_or_null(st, 0), "delivered_up_to",
			 (json_int_t)sqlite3_column_int64(st, 1), "read_up_to",
			 (json_int_t)sqlite3_column_int64(st, 2));
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

/* ---- presence mirror ---- */

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
	return simple(s, S_PRESENCE_CLEAR, err);
}

char *pl_event_row_json(const struct pl_event_row *row, size_t *len)
{
	char ts[PL_TIME_LEN];
	pl_time_format(row->ts, ts);
	char *out = NULL;
	int n = asprintf(&out, "{\"id\":%lld,\"type\":\"%s\",\"room\":\"%s\",\"ts\":\"%s\",\"data\":%s}",
			 (long long)row->id, row->type, row->room, ts, row->data ? row->data : "{}");
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return out;
}
