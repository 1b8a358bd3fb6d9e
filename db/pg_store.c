/* db/pg_store: the PostgreSQL engine's connection, transactions, users,
 * presence rows, rooms, members and receipts (see store.h and db/engine.h;
 * messages and events are db/pg_messages.c).  The SQL mirrors the SQLite
 * engine's statement for statement, so both answer the same. */
#include "db/pg_int.h"

#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "db/json.h"
#include "db/pgbus.h"
#include "db/pgconn.h"
#include "db/pglog.h"

#define ROOM_COLS "id, name, private, created_by, created_at, member_count"

static const char *const sql[P_COUNT] = {
	[P_USER_INSERT] = "INSERT INTO users(id, name, created_at) VALUES($1, $2, $3)"
			  " ON CONFLICT DO NOTHING",
	[P_USER_EXISTS] = "SELECT 1 FROM users WHERE id = $1",
	[P_USER_STATUS] = "SELECT status, last_seen FROM users WHERE id = $1",
	[P_USER_SET_STATUS] = "UPDATE users SET status = $2 WHERE id = $1",
	[P_USER_SET_SEEN] = "UPDATE users SET last_seen = $2 WHERE id = $1",
	[P_PRESENCE_SET] = "INSERT INTO presence(\"user\", connections) VALUES($1, $2)"
			   " ON CONFLICT(\"user\") DO UPDATE SET connections = $2",
	[P_PRESENCE_DEL] = "DELETE FROM presence WHERE \"user\" = $1",
	[P_PRESENCE_GET] = "SELECT connections FROM presence WHERE \"user\" = $1",
	[P_PRESENCE_CLEAR] = "DELETE FROM presence",
	[P_ROOM_INSERT] = "INSERT INTO rooms(id, name, private, created_by, created_at)"
			  " VALUES($1, $2, $3, $4, $5) ON CONFLICT(id) DO NOTHING",
	[P_ROOM_GET] = "SELECT " ROOM_COLS " FROM rooms WHERE id = $1",
	[P_ROOMS_VISIBLE] = "SELECT " ROOM_COLS " FROM rooms r WHERE (r.private = 0 OR EXISTS"
			    " (SELECT 1 FROM members m WHERE m.room = r.id AND m.\"user\" = $1))"
			    " AND ($2::text IS NULL OR r.id COLLATE \"C\" > $2)"
			    " AND ($3::text IS NULL OR strpos(lower(r.name), lower($3)) > 0)"
			    " ORDER BY r.id COLLATE \"C\""
			    " LIMIT CASE WHEN $4::int < 0 THEN NULL ELSE $4::int END",
	[P_ROOM_COUNT] = "SELECT member_count, private FROM rooms WHERE id = $1",
	[P_MEMBER_IS] = "SELECT 1 FROM members WHERE room = $1 AND \"user\" = $2",
	[P_MEMBER_INSERT] = "INSERT INTO members(room, \"user\", joined_at) VALUES($1, $2, $3)"
			    " ON CONFLICT DO NOTHING",
	[P_MEMBER_DELETE] = "DELETE FROM members WHERE room = $1 AND \"user\" = $2",
	[P_MEMBER_COUNT_ADD] = "UPDATE rooms SET member_count = member_count + $2 WHERE id = $1",
	[P_USER_ROOMS] = "SELECT room FROM members WHERE \"user\" = $1 ORDER BY room COLLATE \"C\"",
	[P_MEMBER_IDS] = "SELECT \"user\" FROM members WHERE room = $1"
			 " ORDER BY \"user\" COLLATE \"C\" LIMIT $2",
	[P_RECEIPT_UPDATE] = "UPDATE members SET"
			     " delivered_up_to = GREATEST(delivered_up_to, $3::bigint, $4::bigint),"
			     " read_up_to = GREATEST(read_up_to, $4::bigint)"
			     " WHERE room = $1 AND \"user\" = $2",
	[P_RECEIPTS] = "SELECT \"user\", delivered_up_to, read_up_to FROM members WHERE room = $1"
		       " AND (delivered_up_to > 0 OR read_up_to > 0)"
		       " ORDER BY \"user\" COLLATE \"C\" LIMIT 1000",
	[P_RECEIPT_GET] = "SELECT delivered_up_to, read_up_to FROM members"
			  " WHERE room = $1 AND \"user\" = $2",
};

PGresult *pl_pgq(struct pl_pgstore *s, enum pg_stmt id, const char *text, int n,
		 const char *const *vals, pl_error *err)
{
	char name[16];
	snprintf(name, sizeof name, "pl_s%d", (int)id);
	if (!s->prepared[id]) {
		PGresult *r = PQprepare(s->c, name, text, n, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			pl_pg_fail(s->c, r, name, err);
			PQclear(r);
			return NULL;
		}
		PQclear(r);
		s->prepared[id] = true;
	}
	PGresult *r = PQexecPrepared(s->c, name, n, vals, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		pl_pg_fail(s->c, r, name, err);
		PQclear(r);
		return NULL;
	}
	const char *rows = PQcmdTuples(r);
	if (st == PGRES_COMMAND_OK && rows && *rows)
		s->changes += strtoll(rows, NULL, 10);
	return r;
}

static PGresult *q(pl_store *s, enum pg_stmt id, int n, const char *const *vals, pl_error *err)
{
	return pl_pgq(PG(s), id, sql[id], n, vals, err);
}

/* Runs a statement for its effect; *rows (may be NULL) the rows it wrote. */
static enum pl_code run(pl_store *s, enum pg_stmt id, int n, const char *const *vals,
			int64_t *rows, pl_error *err)
{
	PGresult *r = q(s, id, n, vals, err);
	if (!r)
		return err ? err->code : PL_INTERNAL;
	if (rows)
		*rows = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return PL_OK;
}

static bool any_row(pl_store *s, enum pg_stmt id, int n, const char *const *vals)
{
	PGresult *r = q(s, id, n, vals, NULL);
	bool yes = r && PQntuples(r) > 0;
	PQclear(r);
	return yes;
}

/* ---- connection and transactions ---- */

enum pl_code pl_pgs_open(const char *url, pl_store **out, pl_error *err)
{
	struct pl_pgstore *s = calloc(1, sizeof *s);
	if (!s)
		return pl_fail(err, PL_INTERNAL, "out of memory");
	s->engine = PL_ENGINE_PG;
	enum pl_code rc = pl_pg_open(url, &s->c, err);
	if (rc == PL_OK)
		rc = pl_pglog_prepare(s->c, err);
	if (rc != PL_OK) {
		PQfinish(s->c);
		free(s);
		return rc;
	}
	*out = (pl_store *)(void *)s;
	return PL_OK;
}

void pl_pgs_close(pl_store *st)
{
	struct pl_pgstore *s = PG(st);
	pl_pgs_events_drop(s, 0);
	free(s->ev);
	PQfinish(s->c);
	free(s);
}

static enum pl_code exec(pl_store *s, const char *text, pl_error *err)
{
	return pl_pg_exec(PG(s)->c, text, err);
}

enum pl_code pl_pgs_begin(pl_store *s, pl_error *err)
{
	pl_pgs_events_drop(PG(s), 0);
	return exec(s, "BEGIN", err);
}

/* The batch's events go in last, under the event-log lock, in the same
 * round trip as the COMMIT (db/pglog.h): the lock is held for the
 * server's insert and commit only. */
enum pl_code pl_pgs_commit(pl_store *s, pl_error *err)
{
	return pl_pgs_commit_events(PG(s), err);
}

void pl_pgs_rollback(pl_store *s)
{
	pl_pgs_events_drop(PG(s), 0);
	if (PQtransactionStatus(PG(s)->c) != PQTRANS_IDLE)
		exec(s, "ROLLBACK", NULL);
}

enum pl_code pl_pgs_savepoint(pl_store *s, bool release, bool rollback)
{
	if (!release) {
		PG(s)->sp_nev = PG(s)->nev;
		return exec(s, "SAVEPOINT job", NULL);
	}
	if (rollback) {
		pl_pgs_events_drop(PG(s), PG(s)->sp_nev);
		if (exec(s, "ROLLBACK TO job", NULL) != PL_OK)
			return PL_INTERNAL;
	}
	return exec(s, "RELEASE job", NULL);
}

/* WAL checkpoints are SQLite's: PostgreSQL runs its own. */
void pl_pgs_on_wal(pl_store *s, pl_wal_fn fn, void *ud) { (void)s, (void)fn, (void)ud; }
void pl_pgs_checkpoint(pl_store *s) { (void)s; }
/* A statement outside the writer's transaction commits on its own on
 * PostgreSQL only when nothing opened one; the writer always has. */
void pl_pgs_guard_commits(pl_store *s) { (void)s; }
int64_t pl_pgs_changes(pl_store *s) { return PG(s)->changes; }
bool pl_pgs_in_transaction(pl_store *s)
{
	return PQtransactionStatus(PG(s)->c) == PQTRANS_INTRANS;
}

/* ---- users ---- */

enum pl_code pl_pgs_user_ensure(pl_store *s, const char *user, const char *name, int64_t now,
				bool *created, pl_error *err)
{
	char t[24];
	const char *v[] = {user, name && *name ? name : NULL, pl_pgi(t, now)};
	int64_t rows = 0;
	enum pl_code rc = run(s, P_USER_INSERT, 3, v, &rows, err);
	*created = rows > 0;
	return rc;
}

bool pl_pgs_user_exists(pl_store *s, const char *user)
{
	const char *v[] = {user};
	return any_row(s, P_USER_EXISTS, 1, v);
}

enum pl_code pl_pgs_set_status(pl_store *s, const char *user, const char *status, pl_error *err)
{
	const char *v[] = {user, status};
	return run(s, P_USER_SET_STATUS, 2, v, NULL, err);
}

enum pl_code pl_pgs_set_last_seen(pl_store *s, const char *user, int64_t when, pl_error *err)
{
	char t[24];
	const char *v[] = {user, pl_pgi(t, when)};
	return run(s, P_USER_SET_SEEN, 2, v, NULL, err);
}

void pl_pgs_user_status(pl_store *s, const char *user, char status[16], int64_t *last_seen)
{
	strcpy(status, "online");
	*last_seen = 0;
	const char *v[] = {user};
	PGresult *r = q(s, P_USER_STATUS, 1, v, NULL);
	if (r && PQntuples(r) > 0) {
		if (!PQgetisnull(r, 0, 0))
			snprintf(status, 16, "%s", PQgetvalue(r, 0, 0));
		*last_seen = pl_pgv(r, 0, 1);
	}
	PQclear(r);
}

/* ---- presence rows ---- */

enum pl_code pl_pgs_presence_set(pl_store *s, const char *user, int connections, bool online,
				 pl_error *err)
{
	char t[24];
	const char *v[] = {user, pl_pgi(t, connections)};
	return online ? run(s, P_PRESENCE_SET, 2, v, NULL, err)
		      : run(s, P_PRESENCE_DEL, 1, v, NULL, err);
}

bool pl_pgs_presence_get(pl_store *s, const char *user, int *connections)
{
	const char *v[] = {user};
	*connections = 0;
	PGresult *r = q(s, P_PRESENCE_GET, 1, v, NULL);
	bool online = r && PQntuples(r) > 0;
	if (online)
		*connections = (int)pl_pgv(r, 0, 0);
	PQclear(r);
	return online;
}

enum pl_code pl_pgs_presence_clear(pl_store *s, pl_error *err)
{
	return run(s, P_PRESENCE_CLEAR, 0, NULL, NULL, err);
}

/* ---- rooms and members ---- */

static json_t *text_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

static json_t *time_or_null(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return json_null();
	char t[PL_TIME_LEN];
	pl_time_format(pl_pgv(r, row, col), t);
	return json_string(t);
}

static json_t *room_row(const PGresult *r, int i)
{
	return json_pack("{s:o, s:o, s:b, s:o, s:o, s:I}", "id", text_or_null(r, i, 0), "name",
			 text_or_null(r, i, 1), "private", pl_pgv(r, i, 2) != 0, "created_by",
			 text_or_null(r, i, 3), "created_at", time_or_null(r, i, 4), "members",
			 (json_int_t)pl_pgv(r, i, 5));
}

static json_t *first_col(const PGresult *r, int i) { return text_or_null(r, i, 0); }

static json_t *all_rows(PGresult *r, json_t *(*fn)(const PGresult *, int))
{
	json_t *arr = json_array();
	for (int i = 0; r && arr && i < PQntuples(r); i++)
		json_array_append_new(arr, fn(r, i));
	PQclear(r);
	return arr;
}

enum pl_code pl_pgs_room_create(pl_store *s, const char *id, const char *name, bool priv,
				const char *creator, int64_t now, pl_error *err)
{
	char t[24];
	const char *v[] = {id, name, priv ? "1" : "0", creator, pl_pgi(t, now)};
	int64_t rows = 0;
	enum pl_code rc = run(s, P_ROOM_INSERT, 5, v, &rows, err);
	if (rc == PL_OK && rows == 0)
		return pl_fail(err, PL_CONFLICT, "id: room %s exists already", id);
	return rc;
}

json_t *pl_pgs_room_get(pl_store *s, const char *id)
{
	const char *v[] = {id};
	PGresult *r = q(s, P_ROOM_GET, 1, v, NULL);
	json_t *out = r && PQntuples(r) > 0 ? room_row(r, 0) : NULL;
	PQclear(r);
	return out;
}

static bool room_count(pl_store *s, const char *room, int *count, bool *priv)
{
	const char *v[] = {room};
	PGresult *r = q(s, P_ROOM_COUNT, 1, v, NULL);
	bool found = r && PQntuples(r) > 0;
	if (found) {
		*count = (int)pl_pgv(r, 0, 0);
		*priv = pl_pgv(r, 0, 1) != 0;
	}
	PQclear(r);
	return found;
}

bool pl_pgs_room_private(pl_store *s, const char *id, bool *priv)
{
	int count;
	return room_count(s, id, &count, priv);
}

int pl_pgs_room_members(pl_store *s, const char *room)
{
	int count;
	bool priv;
	return room_count(s, room, &count, &priv) ? count : -1;
}

json_t *pl_pgs_rooms_page(pl_store *s, const char *user, const char *after, const char *q_,
			  int limit)
{
	char t[24];
	const char *v[] = {user, after, q_, pl_pgi(t, limit)};
	return all_rows(q(s, P_ROOMS_VISIBLE, 4, v, NULL), room_row);
}

bool pl_pgs_is_member(pl_store *s, const char *room, const char *user)
{
	const char *v[] = {room, user};
	return any_row(s, P_MEMBER_IS, 2, v);
}

static enum pl_code member_change(pl_store *s, bool add, const char *room, const char *user,
				  int64_t now, bool *changed, pl_error *err)
{
	char t[24];
	const char *v[] = {room, user, pl_pgi(t, now)};
	int64_t rows = 0;
	*changed = false;
	enum pl_code rc = run(s, add ? P_MEMBER_INSERT : P_MEMBER_DELETE, add ? 3 : 2, v, &rows,
			      err);
	if (rc != PL_OK || rows == 0)
		return rc;
	*changed = true;
	const char *w[] = {room, add ? "1" : "-1"};
	return run(s, P_MEMBER_COUNT_ADD, 2, w, NULL, err);
}

enum pl_code pl_pgs_member_add(pl_store *s, const char *room, const char *user, int64_t now,
			       bool *changed, pl_error *err)
{
	return member_change(s, true, room, user, now, changed, err);
}

enum pl_code pl_pgs_member_remove(pl_store *s, const char *room, const char *user,
				  bool *changed, pl_error *err)
{
	return member_change(s, false, room, user, 0, changed, err);
}

json_t *pl_pgs_user_rooms(pl_store *s, const char *user)
{
	const char *v[] = {user};
	return all_rows(q(s, P_USER_ROOMS, 1, v, NULL), first_col);
}

json_t *pl_pgs_member_ids(pl_store *s, const char *room, int limit)
{
	char t[24];
	const char *v[] = {room, pl_pgi(t, limit)};
	return all_rows(q(s, P_MEMBER_IDS, 2, v, NULL), first_col);
}

/* ---- receipts ---- */

enum pl_code pl_pgs_receipt_update(pl_store *s, const char *room, const char *user,
				   int64_t delivered, int64_t read, pl_error *err)
{
	char a[24], b[24];
	const char *v[] = {room, user, pl_pgi(a, delivered), pl_pgi(b, read)};
	return run(s, P_RECEIPT_UPDATE, 4, v, NULL, err);
}

static json_t *receipt_row(const PGresult *r, int i)
{
	return pl_json_receipt(PQgetvalue(r, i, 0), pl_pgv(r, i, 1), pl_pgv(r, i, 2));
}

json_t *pl_pgs_receipts(pl_store *s, const char *room)
{
	const char *v[] = {room};
	return all_rows(q(s, P_RECEIPTS, 1, v, NULL), receipt_row);
}

void pl_pgs_receipt_get(pl_store *s, const char *room, const char *user, int64_t *delivered,
			int64_t *read)
{
	*delivered = *read = 0;
	const char *v[] = {room, user};
	PGresult *r = q(s, P_RECEIPT_GET, 2, v, NULL);
	if (r && PQntuples(r) > 0) {
		*delivered = pl_pgv(r, 0, 0);
		*read = pl_pgv(r, 0, 1);
	}
	PQclear(r);
}
