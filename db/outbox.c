/* db/outbox: see outbox.h.  Statements are prepared per call: webhooks
 * run at human rates, and this keeps the store's hot statement table out
 * of it. */
#include "config.h"

#include "db/outbox.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "db/engine.h"

/* A PostgreSQL store's calls go to db/pg_outbox.c. */
#ifdef PL_HAVE_PG
#define ON_PG(call) \
	do { \
		if (pl_engine_of(s) == PL_ENGINE_PG) \
			return pl_pgs_##call; \
	} while (0)
#else
#define ON_PG(call) (void)0
#endif

void pl_delivery_clear(struct pl_delivery *d)
{
	free(d->data);
	memset(d, 0, sizeof *d);
}

static enum pl_code sql_fail(pl_store *s, pl_error *err, const char *what)
{
	return pl_fail(err, PL_UNAVAILABLE, "store: %s: %s", what,
		       sqlite3_errmsg(pl_store_sqlite(s)));
}

/* Prepares sql, or fails naming what. */
static sqlite3_stmt *prep(pl_store *s, const char *sql, const char *what, pl_error *err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(pl_store_sqlite(s), sql, -1, &st, NULL) != SQLITE_OK) {
		sql_fail(s, err, what);
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* Runs a statement that returns no rows. */
static enum pl_code done(pl_store *s, sqlite3_stmt *st, const char *what, pl_error *err)
{
	int rc = sqlite3_step(st);
	enum pl_code code = rc == SQLITE_DONE ? PL_OK : sql_fail(s, err, what);
	sqlite3_finalize(st);
	return code;
}

enum pl_code pl_outbox_add(pl_store *s, const char *user, const char *type, int64_t ts,
			   const char *data, int64_t now, pl_error *err)
{
	ON_PG(outbox_add(s, user, type, ts, data, now, err));
	sqlite3_stmt *st = prep(s,
				"INSERT INTO webhook_outbox(user, type, ts, data, created_at, next_at)"
				" VALUES(?1, ?2, ?3, ?4, ?5, ?5)",
				"queue a webhook", err);
	if (!st)
		return err->code;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ts);
	sqlite3_bind_text(st, 4, data, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	return done(s, st, "queue a webhook", err);
}

int64_t pl_outbox_cursor(pl_store *s)
{
	ON_PG(outbox_cursor(s));
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	if (sqlite3_prepare_v2(pl_store_sqlite(s),
			       "SELECT value FROM webhook_state WHERE key = 'cursor'", -1, &st,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static enum pl_code set_cursor(pl_store *s, int64_t v, pl_error *err)
{
	sqlite3_stmt *st = prep(s, "INSERT OR REPLACE INTO webhook_state(key, value) VALUES('cursor', ?1)",
				"move the webhook cursor", err);
	if (!st)
		return err->code;
	sqlite3_bind_int64(st, 1, v);
	return done(s, st, "move the webhook cursor", err);
}

enum pl_code pl_outbox_feed(pl_store *s, unsigned mask, int max, int64_t now, int *fed,
			    pl_error *err)
{
	ON_PG(outbox_feed(s, mask, max, now, fed, err));
	*fed = 0;
	int64_t cursor = pl_outbox_cursor(s);
	if (cursor < 0)
		return set_cursor(s, pl_store_last_event(s), err);
	/* The user that orders a delivery: the sender of a message, the
	 * member who joined or left. */
	sqlite3_stmt *st = prep(s,
				"SELECT id, type, ts, data,"
				" COALESCE(json_extract(data, '$.sender'), json_extract(data, '$.user'), room)"
				" FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
				"read the log for webhooks", err);
	if (!st)
		return err->code;
	sqlite3_bind_int64(st, 1, cursor);
	sqlite3_bind_int(st, 2, max);
	int rc;
	enum pl_code code = PL_OK;
	while (code == PL_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		cursor = sqlite3_column_int64(st, 0);
		const char *type = (const char *)sqlite3_column_text(st, 1);
		if (!type) { /* out of memory */
			code = pl_fail(err, PL_UNAVAILABLE, "store: read the log for webhooks: %s",
				       sqlite3_errstr(SQLITE_NOMEM));
			break;
		}
		if (!(pl_config_hook_bit(type) & mask))
			continue;
		code = pl_outbox_add(s, (const char *)sqlite3_column_text(st, 4), type,
				     sqlite3_column_int64(st, 2),
				     (const char *)sqlite3_column_text(st, 3), now, err);
		if (code == PL_OK)
			(*fed)++;
	}
	if (code == PL_OK && rc != SQLITE_DONE)
		code = sql_fail(s, err, "read the log for webhooks");
	sqlite3_finalize(st);
	return code == PL_OK ? set_cursor(s, cursor, err) : code;
}

int pl_outbox_claim(pl_store *s, const char *owner, int64_t now, int64_t lease_until,
		    struct pl_delivery *out, int max, pl_error *err)
{
	ON_PG(outbox_claim(s, owner, now, lease_until, out, max, err));
	/* Due, free (never leased, or the lease ran out), and its user's
	 * oldest row: a user's deliveries stay in order. */
	sqlite3_stmt *st = prep(
		s,
		"UPDATE webhook_outbox SET lease_owner = ?1, lease_until = ?2 WHERE id IN ("
		" SELECT o.id FROM webhook_outbox o WHERE o.next_at <= ?3 AND o.lease_until < ?3"
		" AND o.id = (SELECT min(p.id) FROM webhook_outbox p WHERE p.user = o.user)"
		" ORDER BY o.id LIMIT ?4)"
		" RETURNING id, user, type, ts, data, created_at, attempts",
		"claim webhooks", err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, lease_until);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int(st, 4, max);
	int n = 0, rc = SQLITE_DONE;
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* Out of memory, SQLite's column_text is NULL. */
		const char *user = (const char *)sqlite3_column_text(st, 1);
		const char *type = (const char *)sqlite3_column_text(st, 2);
		const char *data = (const char *)sqlite3_column_text(st, 4);
		char *copy = user && type && data ? strdup(data) : NULL;
		if (!copy) {
			rc = SQLITE_NOMEM;
			break;
		}
		struct pl_delivery *d = &out[n++];
		memset(d, 0, sizeof *d);
		d->id = sqlite3_column_int64(st, 0);
		snprintf(d->user, sizeof d->user, "%s", user);
		snprintf(d->type, sizeof d->type, "%s", type);
		d->ts = sqlite3_column_int64(st, 3);
		d->data = copy;
		d->created_at = sqlite3_column_int64(st, 5);
		d->attempts = sqlite3_column_int(st, 6);
	}
	if (n < max && rc != SQLITE_DONE) {
		pl_fail(err, PL_UNAVAILABLE, "store: claim webhooks: %s", sqlite3_errstr(rc));
		sqlite3_finalize(st);
		/* Only the rows filled: out[n] and after are the caller's garbage. */
		for (int i = 0; i < n; i++)
			pl_delivery_clear(&out[i]);
		return -1;
	}
	sqlite3_finalize(st);
	return n;
}

enum pl_code pl_outbox_remove(pl_store *s, int64_t id, const char *owner, pl_error *err)
{
	ON_PG(outbox_remove(s, id, owner, err));
	sqlite3_stmt *st = prep(s, "DELETE FROM webhook_outbox WHERE id = ?1 AND lease_owner = ?2",
				"finish a webhook", err);
	if (!st)
		return err->code;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
	return done(s, st, "finish a webhook", err);
}

enum pl_code pl_outbox_retry(pl_store *s, int64_t id, const char *owner, int64_t next_at,
			     pl_error *err)
{
	ON_PG(outbox_retry(s, id, owner, next_at, err));
	sqlite3_stmt *st = prep(s,
				"UPDATE webhook_outbox SET attempts = attempts + 1, next_at = ?3,"
				" lease_owner = NULL, lease_until = 0"
				" WHERE id = ?1 AND lease_owner = ?2",
				"reschedule a webhook", err);
	if (!st)
		return err->code;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, next_at);
	return done(s, st, "reschedule a webhook", err);
}

int64_t pl_outbox_depth(pl_store *s)
{
	ON_PG(outbox_depth(s));
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	if (sqlite3_prepare_v2(pl_store_sqlite(s), "SELECT count(*) FROM webhook_outbox", -1, &st,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}
