/* db/pg_messages: messages and the event log on the PostgreSQL engine (see
 * store.h and db/engine.h): posts, edits, deletes, pages of messages as
 * JSON text (db/json.h's writers, so the bytes are the SQLite engine's),
 * and events.
 *
 * Events are not inserted when a job adds them: they are kept on the store
 * and appended at the transaction's COMMIT, under the event-log lock, in
 * one pipelined round trip with the NOTIFY that wakes the other nodes
 * (db/pglog.h, docs/ARCHITECTURE.md "Ordering on PostgreSQL").  So the
 * lock is held for the server's insert and commit only, never while the
 * batch's other statements run, and an event's id is known at the commit:
 * pl_store_event_add gives 0 for it on this engine (no caller uses it; the
 * hub reads the log after its cursor). */
#include "db/pg_int.h"

#include <string.h>

#include "base/jbuf.h"
#include "base/log.h"
#include "db/json.h"
#include "db/pgbus.h"
#include "db/pgconn.h"

#define MSG_COLS "id, room, sender, text, client_id, created_at, edited_at, deleted"
#define MSG_COLS_M "m.id, m.room, m.sender, m.text, m.client_id, m.created_at, m.edited_at," \
	" m.deleted"
#define MSGS_OF_MEMBER "FROM members u JOIN messages m ON m.room = u.room" \
	" WHERE u.room = $1 AND u.\"user\" = $5"

static const char *const sql[P_COUNT] = {
	[P_MSG_INSERT] = "INSERT INTO messages(room, sender, text, client_id, created_at)"
			 " VALUES($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id",
	[P_MSG_BY_CLIENT] = "SELECT " MSG_COLS " FROM messages WHERE sender = $1"
			    " AND client_id = $2",
	[P_MSG_GET] = "SELECT " MSG_COLS " FROM messages WHERE id = $2 AND room = $1",
	[P_MSG_EDIT] = "UPDATE messages SET text = $2, edited_at = $3 WHERE id = $1"
		       " AND deleted = 0 RETURNING " MSG_COLS,
	[P_MSG_DELETE] = "UPDATE messages SET text = NULL, deleted = 1, edited_at = $2"
			 " WHERE id = $1 RETURNING " MSG_COLS,
	/* $2 the upper bound, $3 the lower one (or the time), $4 the rows
	 * (one more than the page, for has_more); before and the latest page
	 * read newest first and are turned around in C. */
	[P_MSGS_BEFORE] = "SELECT " MSG_COLS " FROM messages WHERE room = $1 AND id < $2"
			  " AND id > $3 ORDER BY id DESC LIMIT $4",
	[P_MSGS_AFTER] = "SELECT " MSG_COLS " FROM messages WHERE room = $1 AND id > $3"
			 " AND id < $2 ORDER BY id ASC LIMIT $4",
	[P_MSGS_SINCE] = "SELECT " MSG_COLS " FROM messages WHERE room = $1"
			 " AND created_at >= $3 AND id < $2 ORDER BY id ASC LIMIT $4",
	[P_MSGS_BEFORE_M] = "SELECT " MSG_COLS_M " " MSGS_OF_MEMBER " AND m.id < $2"
			    " AND m.id > $3 ORDER BY m.id DESC LIMIT $4",
	[P_MSGS_AFTER_M] = "SELECT " MSG_COLS_M " " MSGS_OF_MEMBER " AND m.id > $3"
			   " AND m.id < $2 ORDER BY m.id ASC LIMIT $4",
	[P_MSGS_SINCE_M] = "SELECT " MSG_COLS_M " " MSGS_OF_MEMBER
			   " AND m.created_at >= $3 AND m.id < $2 ORDER BY m.id ASC LIMIT $4",
	[P_EVENTS_USER] = "SELECT e.id, e.ts, e.room, e.type, e.target, e.data, e.sender,"
			  " e.message_id FROM events e"
			  " WHERE e.id > $2 AND (e.target = $1 OR (e.target IS NULL AND"
			  " e.room IN (SELECT room FROM members WHERE \"user\" = $1)))"
			  " ORDER BY e.id LIMIT $3",
};

static PGresult *q(pl_store *s, enum pg_stmt id, int n, const char *const *vals, pl_error *err)
{
	return pl_pgq(PG(s), id, sql[id], n, vals, err);
}

static struct pl_jstr col(const PGresult *r, int row, int c)
{
	if (PQgetisnull(r, row, c))
		return (struct pl_jstr){NULL, 0};
	return (struct pl_jstr){PQgetvalue(r, row, c), (size_t)PQgetlength(r, row, c)};
}

static void message_view(const PGresult *r, int i, struct pl_msg_view *m)
{
	m->id = pl_pgv(r, i, 0);
	m->room = col(r, i, 1);
	m->sender = col(r, i, 2);
	m->text = col(r, i, 3);
	m->client_id = col(r, i, 4);
	m->created_at = pl_pgv(r, i, 5);
	m->edited = !PQgetisnull(r, i, 6);
	m->edited_at = pl_pgv(r, i, 6);
	m->deleted = pl_pgv(r, i, 7) != 0;
}

static json_t *message_obj(const PGresult *r, int i)
{
	struct pl_msg_view m;
	message_view(r, i, &m);
	return pl_json_message_obj(&m);
}

/* Inserts a message; *id is 0 when sender's client_id is taken. */
static enum pl_code message_insert(pl_store *s, const struct pl_new_msg *m, int64_t *id,
				   pl_error *err)
{
	char t[24];
	const char *v[] = {m->room, m->sender, m->text, m->client_id, pl_pgi(t, m->now)};
	PGresult *r = q(s, P_MSG_INSERT, 5, v, err);
	if (!r)
		return err ? err->code : PL_INTERNAL;
	*id = PQntuples(r) > 0 ? pl_pgv(r, 0, 0) : 0;
	PQclear(r);
	return PL_OK;
}

enum pl_code pl_pgs_message_insert(pl_store *s, const char *room, const char *sender,
				   const char *text, const char *client_id, int64_t now,
				   json_t **msg, pl_error *err)
{
	struct pl_new_msg m = {room, sender, text, client_id, now};
	int64_t id;
	*msg = NULL;
	enum pl_code rc = message_insert(s, &m, &id, err);
	if (rc != PL_OK)
		return rc;
	if (!id)
		return pl_fail(err, PL_CONFLICT, "client_id: already used");
	*msg = pl_pgs_message_get(s, room, id);
	return *msg ? PL_OK : pl_fail(err, PL_INTERNAL, "store error: the message just stored");
}

json_t *pl_pgs_message_get(pl_store *s, const char *room, int64_t id)
{
	char t[24];
	const char *v[] = {room, pl_pgi(t, id)};
	PGresult *r = q(s, P_MSG_GET, 2, v, NULL);
	json_t *out = r && PQntuples(r) > 0 ? message_obj(r, 0) : NULL;
	PQclear(r);
	return out;
}

static enum pl_code message_write(pl_store *s, enum pg_stmt id, int n, const char *const *v,
				  json_t **msg, pl_error *err)
{
	*msg = NULL;
	PGresult *r = q(s, id, n, v, err);
	if (!r)
		return err ? err->code : PL_INTERNAL;
	if (PQntuples(r) > 0)
		*msg = message_obj(r, 0);
	PQclear(r);
	return *msg ? PL_OK : pl_fail(err, PL_NOT_FOUND, "id: no such message");
}

enum pl_code pl_pgs_message_edit(pl_store *s, int64_t id, const char *text, int64_t now,
				 json_t **msg, pl_error *err)
{
	char a[24], b[24];
	const char *v[] = {pl_pgi(a, id), text, pl_pgi(b, now)};
	return message_write(s, P_MSG_EDIT, 3, v, msg, err);
}

enum pl_code pl_pgs_message_delete(pl_store *s, int64_t id, int64_t now, json_t **msg,
				   pl_error *err)
{
	char a[24], b[24];
	const char *v[] = {pl_pgi(a, id), pl_pgi(b, now)};
	return message_write(s, P_MSG_DELETE, 2, v, msg, err);
}

/* A page as JSON text straight from the rows (as the SQLite engine's:
 * a row that is not valid UTF-8 is left out). */
char *pl_pgs_messages_text(pl_store *s, const char *room, const char *member,
			   const struct pl_page *p, size_t *len, bool *any)
{
	enum pg_stmt id = p->after || p->from_start ? P_MSGS_AFTER
			  : p->has_since ? P_MSGS_SINCE
					 : P_MSGS_BEFORE;
	bool backwards = id == P_MSGS_BEFORE;
	bool since = id == P_MSGS_SINCE;
	if (member)
		id = (enum pg_stmt)(id + P_MSGS_BEFORE_M - P_MSGS_BEFORE);
	int limit = p->limit < 0 ? 0 : p->limit;
	char hi[24], lo[24], lim[24];
	const char *v[] = {room, pl_pgi(hi, p->before ? p->before : INT64_MAX),
			   pl_pgi(lo, since ? p->since : p->after), pl_pgi(lim, limit + 1), member};
	*any = false;
	PGresult *r = q(s, id, member ? 5 : 4, v, NULL);
	if (!r)
		return NULL;
	int n = PQntuples(r);
	*any = n > 0;
	bool more = n > limit;
	if (more)
		n = limit;
	struct pl_jbuf b = {0};
	struct pl_jb_day memo = {.day = -1};
	pl_jb_room(&b, 64 + (size_t)n * 256);
	PL_JB_LIT(&b, "{\"messages\":[");
	int written = 0;
	for (int k = 0; k < n && !b.oom; k++) {
		int i = backwards ? n - 1 - k : k;
		struct pl_msg_view m;
		message_view(r, i, &m);
		size_t at = b.len;
		if (written)
			PL_JB_LIT(&b, ",");
		if (pl_json_message(&b, &m, &memo))
			written++;
		else
			b.len = at;
	}
	PQclear(r);
	if (more)
		pl_jb_put(&b, "],\"has_more\":true}", sizeof "],\"has_more\":true}");
	else
		pl_jb_put(&b, "],\"has_more\":false}", sizeof "],\"has_more\":false}");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len - 1;
	return b.p;
}

static bool jb_message_by_client(pl_store *s, struct pl_jbuf *b, const char *sender,
				 const char *client_id)
{
	const char *v[] = {sender, client_id};
	PGresult *r = q(s, P_MSG_BY_CLIENT, 2, v, NULL);
	bool ok = false;
	if (r && PQntuples(r) > 0) {
		struct pl_msg_view m;
		message_view(r, 0, &m);
		ok = pl_json_message(b, &m, NULL);
	}
	PQclear(r);
	return ok;
}

char *pl_pgs_message_by_client_text(pl_store *s, const char *sender, const char *client_id,
				    size_t *len)
{
	struct pl_jbuf b = {0};
	if (jb_message_by_client(s, &b, sender, client_id))
		return pl_jb_take(&b, len);
	pl_jb_free(&b);
	return NULL;
}

enum pl_code pl_pgs_message_post(pl_store *s, const struct pl_new_msg *m, char **json,
				 size_t *len, bool *created, pl_error *err)
{
	struct pl_jbuf b = {0};
	int64_t id, ev;
	*json = NULL;
	*created = false;
	enum pl_code rc = message_insert(s, m, &id, err);
	if (rc != PL_OK)
		return rc;
	if (!id) { /* a retry: the first answer again, nothing stored */
		if (!jb_message_by_client(s, &b, m->sender, m->client_id)) {
			pl_jb_free(&b);
			return pl_fail(err, PL_INTERNAL, "store error: the earlier message");
		}
	} else {
		struct pl_msg_view v = {
			.id = id, .room = PL_JSTR(m->room), .sender = PL_JSTR(m->sender),
			.text = PL_JSTR(m->text), .client_id = PL_JSTR(m->client_id),
			.created_at = m->now,
		};
		if (!pl_json_message(&b, &v, NULL)) {
			pl_jb_free(&b);
			return pl_fail(err, PL_INVALID_ARGUMENT, "text: not valid UTF-8");
		}
		struct pl_new_event e = {m->room, "message.created", NULL, b.p, b.len, m->now,
					 m->sender, id};
		rc = b.oom ? PL_OK : pl_pgs_event_add(s, &e, &ev, err);
		if (rc != PL_OK) {
			pl_jb_free(&b);
			return rc;
		}
		*created = true;
	}
	if (!(*json = pl_jb_take(&b, len)))
		return pl_fail(err, PL_INTERNAL, "out of memory");
	return PL_OK;
}

/* ---- events ---- */

static char *dup_or_null(const char *p, size_t n)
{
	return p ? strndup(p, n) : NULL;
}

void pl_pgs_events_drop(struct pl_pgstore *s, size_t from)
{
	for (size_t i = from; i < s->nev; i++) {
		pl_pgevent *e = &s->ev[i];
		free((char *)e->room);
		free((char *)e->type);
		free((char *)e->target);
		free((char *)e->data);
		free((char *)e->sender);
	}
	if (from < s->nev)
		s->nev = from;
	if (s->sp_nev > s->nev)
		s->sp_nev = s->nev;
}

enum pl_code pl_pgs_event_add(pl_store *st, const struct pl_new_event *e, int64_t *id,
			      pl_error *err)
{
	struct pl_pgstore *s = PG(st);
	*id = 0;
	if (s->nev == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		pl_pgevent *ev = realloc(s->ev, cap * sizeof *ev);
		if (!ev)
			return pl_fail(err, PL_INTERNAL, "out of memory");
		s->ev = ev;
		s->cap = cap;
	}
	pl_pgevent ev = {
		.room = dup_or_null(e->room, e->room ? strlen(e->room) : 0),
		.type = dup_or_null(e->type, e->type ? strlen(e->type) : 0),
		.ts = e->ts,
		.target = dup_or_null(e->target, e->target ? strlen(e->target) : 0),
		.data = dup_or_null(e->data ? e->data : "{}", e->data ? e->len : 2),
		.sender = dup_or_null(e->sender, e->sender ? strlen(e->sender) : 0),
		.message_id = e->message_id,
	};
	s->ev[s->nev++] = ev;
	if (!ev.room || !ev.type || !ev.data || (e->target && !ev.target) ||
	    (e->sender && !ev.sender)) {
		pl_pgs_events_drop(s, s->nev - 1);
		return pl_fail(err, PL_INTERNAL, "out of memory");
	}
	/* Outside a transaction (not the writer): a transaction of its own. */
	if (PQtransactionStatus(s->c) == PQTRANS_IDLE) {
		enum pl_code rc = pl_pg_exec(s->c, "BEGIN", err);
		if (rc == PL_OK)
			rc = pl_pgs_commit_events(s, err);
		return rc;
	}
	return PL_OK;
}

enum pl_code pl_pgs_commit_events(struct pl_pgstore *s, pl_error *err)
{
	enum pl_code rc = PL_OK;
	/* Said inside the transaction: delivered at its commit, after the
	 * rows are visible, never for a rollback. */
	if (s->nev > 0)
		rc = pl_pgbus_notify(s->c, err);
	if (rc == PL_OK)
		rc = pl_pglog_append_commit(s->c, s->ev, s->nev, err);
	else if (PQtransactionStatus(s->c) != PQTRANS_IDLE)
		PQclear(PQexec(s->c, "ROLLBACK"));
	pl_pgs_events_drop(s, 0);
	return rc;
}

int64_t pl_pgs_last_event(pl_store *s)
{
	int64_t last = 0;
	if (pl_pglog_last(PG(s)->c, &last, NULL) != PL_OK)
		return 0;
	return last;
}

static void copy(char *out, size_t n, const char *v)
{
	snprintf(out, n, "%s", v ? v : "");
}

struct walk {
	pl_event_fn fn;
	void *ud;
	int n;
};

static int walk_one(void *ud, const pl_pgevent *ev)
{
	struct walk *w = ud;
	struct pl_event_row row = {.id = ev->id, .ts = ev->ts, .data = ev->data,
				   .message_id = ev->message_id};
	copy(row.room, sizeof row.room, ev->room);
	copy(row.type, sizeof row.type, ev->type);
	copy(row.target, sizeof row.target, ev->target);
	copy(row.sender, sizeof row.sender, ev->sender);
	w->n++;
	return !w->fn(w->ud, &row);
}

int pl_pgs_events_after(pl_store *s, int64_t after, int limit, pl_event_fn fn, void *ud)
{
	struct walk w = {fn, ud, 0};
	pl_error err = {0};
	/* The rows read are a gap-free prefix whatever happens after them. */
	if (pl_pglog_read(PG(s)->c, after, limit, walk_one, &w, NULL, &err) != PL_OK)
		log_warn("store: reading events stopped early: %s", err.message);
	return w.n;
}

int pl_pgs_events_for_user(pl_store *s, const char *user, int64_t after, int limit,
			   pl_event_fn fn, void *ud)
{
	char a[24], l[24];
	const char *v[] = {user, pl_pgi(a, after), pl_pgi(l, limit)};
	PGresult *r = q(s, P_EVENTS_USER, 3, v, NULL);
	struct walk w = {fn, ud, 0};
	for (int i = 0; r && i < PQntuples(r); i++) {
		pl_pgevent ev = {
			.id = pl_pgv(r, i, 0), .ts = pl_pgv(r, i, 1), .room = PQgetvalue(r, i, 2),
			.type = PQgetvalue(r, i, 3),
			.target = PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4),
			.data = PQgetvalue(r, i, 5),
			.sender = PQgetisnull(r, i, 6) ? NULL : PQgetvalue(r, i, 6),
			.message_id = pl_pgv(r, i, 7),
		};
		if (walk_one(&w, &ev))
			break;
	}
	PQclear(r);
	return w.n;
}
