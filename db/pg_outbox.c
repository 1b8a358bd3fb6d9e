/* db/pg_outbox: the webhook outbox on the PostgreSQL engine (db/outbox.h
 * says what each call does; db/outbox.c hands a PostgreSQL store's calls
 * here).  The same statements as SQLite's, with two things more for
 * several nodes writing at once: the feed locks the cursor row (FOR
 * UPDATE), so two nodes never turn the same events into rows twice, and a
 * claim checks the lease again on the row it updates, so a row claimed by
 * one node in the meantime is not taken by another. */
#include "db/pg_int.h"

#include <string.h>

#include "base/config.h"
#include "db/outbox.h"

static const char *const sql[P_COUNT] = {
	[P_OB_ADD] = "INSERT INTO webhook_outbox(\"user\", type, ts, data, created_at, next_at)"
		     " VALUES($1, $2, $3, $4, $5, $5)",
	[P_OB_CURSOR] = "SELECT value FROM webhook_state WHERE key = 'cursor'",
	[P_OB_CURSOR_LOCK] = "SELECT value FROM webhook_state WHERE key = 'cursor' FOR UPDATE",
	[P_OB_SET_CURSOR] = "INSERT INTO webhook_state(key, value) VALUES('cursor', $1)"
			    " ON CONFLICT(key) DO UPDATE SET value = $1",
	/* The user that orders a delivery: the sender of a message, the
	 * member who joined or left. */
	[P_OB_FEED] = "SELECT id, type, ts, data,"
		      " COALESCE(data::json->>'sender', data::json->>'user', room)"
		      " FROM events WHERE id > $1 ORDER BY id LIMIT $2",
	[P_OB_CLAIM] = "UPDATE webhook_outbox SET lease_owner = $1, lease_until = $2"
		       " WHERE lease_until < $3 AND id IN ("
		       " SELECT o.id FROM webhook_outbox o WHERE o.next_at <= $3 AND o.lease_until < $3"
		       " AND o.id = (SELECT min(p.id) FROM webhook_outbox p WHERE p.\"user\" = o.\"user\")"
		       " ORDER BY o.id LIMIT $4)"
		       " RETURNING id, \"user\", type, ts, data, created_at, attempts",
	[P_OB_REMOVE] = "DELETE FROM webhook_outbox WHERE id = $1 AND lease_owner = $2",
	[P_OB_RETRY] = "UPDATE webhook_outbox SET attempts = attempts + 1, next_at = $3,"
		       " lease_owner = NULL, lease_until = 0 WHERE id = $1 AND lease_owner = $2",
	[P_OB_DEPTH] = "SELECT count(*) FROM webhook_outbox",
};

static PGresult *q(pl_store *s, enum pg_stmt id, int n, const char *const *vals, pl_error *err)
{
	return pl_pgq(PG(s), id, sql[id], n, vals, err);
}

static enum pl_code run(pl_store *s, enum pg_stmt id, int n, const char *const *vals,
			pl_error *err)
{
	PGresult *r = q(s, id, n, vals, err);
	if (!r)
		return err ? err->code : PL_INTERNAL;
	PQclear(r);
	return PL_OK;
}

enum pl_code pl_pgs_outbox_add(pl_store *s, const char *user, const char *type, int64_t ts,
			       const char *data, int64_t now, pl_error *err)
{
	char a[24], b[24];
	const char *v[] = {user, type, pl_pgi(a, ts), data, pl_pgi(b, now)};
	return run(s, P_OB_ADD, 5, v, err);
}

static int64_t cursor(pl_store *s, enum pg_stmt id)
{
	PGresult *r = q(s, id, 0, NULL, NULL);
	int64_t v = r && PQntuples(r) > 0 ? pl_pgv(r, 0, 0) : -1;
	PQclear(r);
	return v;
}

int64_t pl_pgs_outbox_cursor(pl_store *s) { return cursor(s, P_OB_CURSOR); }

static enum pl_code set_cursor(pl_store *s, int64_t v, pl_error *err)
{
	char a[24];
	const char *p[] = {pl_pgi(a, v)};
	return run(s, P_OB_SET_CURSOR, 1, p, err);
}

enum pl_code pl_pgs_outbox_feed(pl_store *s, unsigned mask, int max, int64_t now, int *fed,
				pl_error *err)
{
	*fed = 0;
	int64_t cur = cursor(s, P_OB_CURSOR_LOCK);
	if (cur < 0)
		return set_cursor(s, pl_store_last_event(s), err);
	char a[24], b[24];
	const char *v[] = {pl_pgi(a, cur), pl_pgi(b, max)};
	PGresult *r = q(s, P_OB_FEED, 2, v, err);
	if (!r)
		return err ? err->code : PL_INTERNAL;
	enum pl_code code = PL_OK;
	for (int i = 0; code == PL_OK && i < PQntuples(r); i++) {
		cur = pl_pgv(r, i, 0);
		const char *type = PQgetvalue(r, i, 1);
		if (!(pl_config_hook_bit(type) & mask))
			continue;
		code = pl_pgs_outbox_add(s, PQgetvalue(r, i, 4), type, pl_pgv(r, i, 2),
					 PQgetvalue(r, i, 3), now, err);
		if (code == PL_OK)
			(*fed)++;
	}
	PQclear(r);
	return code == PL_OK ? set_cursor(s, cur, err) : code;
}

int pl_pgs_outbox_claim(pl_store *s, const char *owner, int64_t now, int64_t lease_until,
			struct pl_delivery *out, int max, pl_error *err)
{
	char a[24], b[24], c[24];
	const char *v[] = {owner, pl_pgi(a, lease_until), pl_pgi(b, now), pl_pgi(c, max)};
	PGresult *r = q(s, P_OB_CLAIM, 4, v, err);
	if (!r)
		return -1;
	int n = 0;
	for (int i = 0; i < PQntuples(r) && n < max; i++) {
		char *copy = strdup(PQgetvalue(r, i, 4));
		if (!copy) {
			/* The rows stay leased: they are tried again once it runs out. */
			pl_fail(err, PL_UNAVAILABLE, "store: claim webhooks: out of memory");
			for (int k = 0; k < n; k++)
				pl_delivery_clear(&out[k]);
			PQclear(r);
			return -1;
		}
		struct pl_delivery *d = &out[n++];
		memset(d, 0, sizeof *d);
		d->id = pl_pgv(r, i, 0);
		snprintf(d->user, sizeof d->user, "%s", PQgetvalue(r, i, 1));
		snprintf(d->type, sizeof d->type, "%s", PQgetvalue(r, i, 2));
		d->ts = pl_pgv(r, i, 3);
		d->data = copy;
		d->created_at = pl_pgv(r, i, 5);
		d->attempts = (int)pl_pgv(r, i, 6);
	}
	PQclear(r);
	return n;
}

enum pl_code pl_pgs_outbox_remove(pl_store *s, int64_t id, const char *owner, pl_error *err)
{
	char a[24];
	const char *v[] = {pl_pgi(a, id), owner};
	return run(s, P_OB_REMOVE, 2, v, err);
}

enum pl_code pl_pgs_outbox_retry(pl_store *s, int64_t id, const char *owner, int64_t next_at,
				 pl_error *err)
{
	char a[24], b[24];
	const char *v[] = {pl_pgi(a, id), owner, pl_pgi(b, next_at)};
	return run(s, P_OB_RETRY, 3, v, err);
}

int64_t pl_pgs_outbox_depth(pl_store *s)
{
	PGresult *r = q(s, P_OB_DEPTH, 0, NULL, NULL);
	int64_t v = r && PQntuples(r) > 0 ? pl_pgv(r, 0, 0) : -1;
	PQclear(r);
	return v;
}
