/* db/sqlite_messages: messages: the post of the ingest path (the message,
 * its JSON text and its message.created event in one go), edits and
 * deletes, and pages of messages as JSON text (SQLite engine, see
 * store.h). */
#include "db/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/jbuf.h"
#include "db/json.h"

#define MSG_COLS "id, room, sender, text, client_id, created_at, edited_at, deleted"
#define MSG_COLS_M "m.id, m.room, m.sender, m.text, m.client_id, m.created_at, m.edited_at," \
	" m.deleted"
#define MSGS_OF_MEMBER "FROM members u CROSS JOIN messages m WHERE u.room = ?1 AND" \
	" u.user = ?5 AND m.room = ?1"

static const char *const sql[S_COUNT] = {
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
};

static sqlite3_stmt *stmt(pl_store *s, enum stmt_id id)
{
	return pl_sq_stmt(s, id, sql[id]);
}

/* A text column as a string or null; false when SQLite is out of memory. */
static bool col_str(sqlite3_stmt *st, int i, struct pl_jstr *out)
{
	out->p = (const char *)sqlite3_column_text(st, i);
	out->n = (size_t)sqlite3_column_bytes(st, i);
	return out->p || sqlite3_column_type(st, i) == SQLITE_NULL;
}

/* The message of a row of MSG_COLS, for db/json's writer. */
static bool message_view(sqlite3_stmt *st, struct pl_msg_view *m)
{
	m->id = sqlite3_column_int64(st, 0);
	m->created_at = sqlite3_column_int64(st, 5);
	m->edited = sqlite3_column_type(st, 6) != SQLITE_NULL;
	m->edited_at = m->edited ? sqlite3_column_int64(st, 6) : 0;
	m->deleted = sqlite3_column_int(st, 7) != 0;
	return col_str(st, 1, &m->room) && col_str(st, 2, &m->sender) &&
	       col_str(st, 3, &m->text) && col_str(st, 4, &m->client_id);
}

static json_t *message_row(sqlite3_stmt *st)
{
	struct pl_msg_view m;
	return message_view(st, &m) ? pl_json_message_obj(&m) : NULL;
}

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
	enum pl_code rc = exec_done(s, st, err);
	if (rc != PL_OK)
		return rc;
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
	enum pl_code rc = message_insert(s, &m, &id, err);
	if (rc != PL_OK)
		return rc;
	if (!id)
		return pl_fail(err, PL_CONFLICT, "client_id: already used");
	*msg = pl_store_message_get(s, room, id);
	return *msg ? PL_OK : db_fail(s, err);
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
 * gmtime/printf (db/json.h's message writer).  A row whose text is not
 * valid UTF-8, which jansson would refuse, is left out. */

/* One message object (db/json's writer); false, nothing written, when a
 * text column is not valid UTF-8 or SQLite is out of memory. */
static bool jb_message(struct pl_jbuf *b, sqlite3_stmt *st, struct pl_jb_day *memo)
{
	struct pl_msg_view m;
	return message_view(st, &m) && pl_json_message(b, &m, memo);
}

/* The same in a page: a row that is not UTF-8 is left out (*bad), but
 * SQLite failing (out of memory) fails the page: a page with a row
 * missing must not pass for the whole page. */
static bool jb_page_row(struct pl_jbuf *b, sqlite3_stmt *st, struct pl_jb_day *memo, bool *bad)
{
	struct pl_msg_view m;
	if (!message_view(st, &m))
		return false;
	*bad = !pl_json_message(b, &m, memo);
	return true;
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
	struct pl_jbuf b = {0};
	struct pl_jb_day memo = {.day = -1};
	pl_jb_room(&b, 64 + (size_t)limit * 256);
	const char head[] = "{\"messages\":[";
	PL_JB_LIT(&b, head);
	bool more = false, failed = !st;
	int nrows = 0;
	if (st) {
		bind_text(st, 1, room);
		sqlite3_bind_int64(st, 2, p->before ? p->before : INT64_MAX);
		sqlite3_bind_int64(st, 3, since ? p->since : p->after);
		sqlite3_bind_int(st, 4, p->limit + 1);
		if (member)
			bind_text(st, 5, member);
		int n = 0, rc = SQLITE_DONE;
		bool bad;
		while (!b.oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			*any = true;
			if (n++ == limit) {
				more = true;
				break;
			}
			rows[nrows] = b.len;
			if (nrows && !backwards)
				PL_JB_LIT(&b, ",");
			if (!jb_page_row(&b, st, &memo, &bad)) {
				failed = true;
				break;
			}
			if (!bad)
				nrows++;
			else
				b.len = rows[nrows];
		}
		/* An error ends the rows early: not the end of the page. */
		failed |= !b.oom && !more && rc != SQLITE_DONE;
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
	if (b.oom || failed) {
		free(b.p);
		return NULL;
	}
	*len = b.len - 1;
	return b.p;
}

/* The message m becomes, given its id; false when a text is not UTF-8
 * (which the API refuses before it gets here). */
static bool jb_new_message(struct pl_jbuf *b, const struct pl_new_msg *m, int64_t id)
{
	struct pl_msg_view v = {
		.id = id, .room = PL_JSTR(m->room), .sender = PL_JSTR(m->sender),
		.text = PL_JSTR(m->text), .client_id = PL_JSTR(m->client_id), .created_at = m->now,
	};
	return pl_json_message(b, &v, NULL);
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
	bool ok = sqlite3_step(st) == SQLITE_ROW && jb_message(b, st, NULL);
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
	enum pl_code rc = message_insert(s, m, &id, err);
	if (rc != PL_OK)
		return rc;
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
		struct pl_new_event e = {m->room, "message.created", NULL, b.p, b.len, m->now,
					 m->sender, id};
		rc = b.oom ? PL_OK : pl_store_event_add(s, &e, &ev, err);
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
