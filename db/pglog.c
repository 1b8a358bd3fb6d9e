/* db/pglog: the event log on PostgreSQL (see db/pglog.h). */
#include "db/pglog.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pgconn.h"

/* One statement inserts a whole batch: the five columns as arrays, ids
 * drawn from events_id_seq in array order (ORDER BY the ordinality; since
 * PostgreSQL 9.6 a volatile output expression such as nextval is computed
 * after the sort), so a batch that posts then edits a message stores the
 * two events in that order. */
static const char INSERT_SQL[] =
	"INSERT INTO events(id, room, type, ts, target, data, sender, message_id)"
	" SELECT nextval('events_id_seq'), u.room, u.type, u.ts, u.target, u.data, u.sender,"
	"   u.message_id"
	" FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],"
	"   $7::bigint[]) WITH ORDINALITY AS u(room, type, ts, target, data, sender, message_id, o)"
	" ORDER BY u.o RETURNING id";
static const char READ_SQL[] = "SELECT id, room, type, ts, target, data, sender, message_id"
			       " FROM events WHERE id > $1 ORDER BY id LIMIT $2";

enum pl_code pl_pglog_prepare(PGconn *c, pl_error *err)
{
	static const struct {
		const char *name, *sql;
	} st[] = {{"pl_pglog_insert", INSERT_SQL}, {"pl_pglog_read", READ_SQL}};
	for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
		PGresult *r = PQprepare(c, st[i].name, st[i].sql, 0, NULL);
		if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
			pl_pg_fail(c, r, st[i].name, err);
			PQclear(r);
			return err->code;
		}
		PQclear(r);
	}
	return PL_OK;
}

enum pl_code pl_pglog_lock(PGconn *c, pl_error *err)
{
	char sql[64];
	snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%" PRId64 ")", PL_PGLOG_LOCK);
	return pl_pg_exec(c, sql, err);
}

/* Appends s to an array literal: quoted, with \ and " escaped; NULL as NULL. */
static void array_item(FILE *f, bool first, const char *s)
{
	if (!first)
		fputc(',', f);
	if (!s) {
		fputs("NULL", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The batch's columns as array literals (arr[i] malloc'd). */
#define NCOL 7
static enum pl_code build_arrays(const pl_pgevent *ev, size_t n, char *arr[NCOL], pl_error *err)
{
	size_t len[NCOL];
	FILE *f[NCOL];
	enum pl_code code = PL_OK;
	int open = 0;
	for (int i = 0; i < NCOL; i++)
		arr[i] = NULL;
	for (; open < NCOL; open++) {
		f[open] = open_memstream(&arr[open], &len[open]);
		if (!f[open])
			break;
		fputc('{', f[open]);
	}
	if (open < NCOL) {
		code = pl_fail(err, PL_INTERNAL, "event log: out of memory");
	} else {
		for (size_t i = 0; i < n; i++) {
			char ts[24], mid[24];
			snprintf(ts, sizeof ts, "%" PRId64, ev[i].ts);
			snprintf(mid, sizeof mid, "%" PRId64, ev[i].message_id);
			array_item(f[0], i == 0, ev[i].room);
			array_item(f[1], i == 0, ev[i].type);
			array_item(f[2], i == 0, ts);
			array_item(f[3], i == 0, ev[i].target);
			array_item(f[4], i == 0, ev[i].data);
			array_item(f[5], i == 0, ev[i].sender);
			array_item(f[6], i == 0, ev[i].message_id ? mid : NULL);
		}
	}
	for (int i = 0; i < open; i++) {
		fputc('}', f[i]);
		if (fclose(f[i]) != 0 && code == PL_OK)
			code = pl_fail(err, PL_INTERNAL, "event log: out of memory");
	}
	if (code != PL_OK)
		for (int i = 0; i < NCOL; i++) {
			free(arr[i]);
			arr[i] = NULL;
		}
	return code;
}

/* The ids RETURNING gave, onto ev.  They were drawn in array order:
 * sorted, they are the events' ids in order, whatever order RETURNING
 * used. */
static enum pl_code take_ids(const PGresult *r, pl_pgevent *ev, size_t n, pl_error *err)
{
	int64_t *ids = malloc(n * sizeof *ids);
	if (!ids)
		return pl_fail(err, PL_INTERNAL, "event log: out of memory");
	for (size_t i = 0; i < n; i++)
		ids[i] = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
	qsort(ids, n, sizeof *ids, cmp_id);
	for (size_t i = 0; i < n; i++)
		ev[i].id = ids[i];
	free(ids);
	return PL_OK;
}

enum pl_code pl_pglog_insert(PGconn *c, pl_pgevent *ev, size_t n, pl_error *err)
{
	if (n == 0)
		return PL_OK;
	char *arr[NCOL];
	if (build_arrays(ev, n, arr, err) != PL_OK)
		return err->code;
	const char *params[NCOL] = {arr[0], arr[1], arr[2], arr[3], arr[4], arr[5], arr[6]};
	PGresult *r = PQexecPrepared(c, "pl_pglog_insert", NCOL, params, NULL, NULL, 0);
	enum pl_code code;
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || (size_t)PQntuples(r) != n)
		code = pl_pg_fail(c, r, "insert events", err);
	else
		code = take_ids(r, ev, n, err);
	PQclear(r);
	for (int i = 0; i < NCOL; i++)
		free(arr[i]);
	return code;
}

enum query { Q_LOCK, Q_INSERT, Q_COMMIT };

/* The answer to one query of the pipeline: PL_OK or err filled. */
static enum pl_code check_answer(PGconn *c, enum query q, PGresult *r, pl_pgevent *ev, size_t n,
				 pl_error *err)
{
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	switch (q) {
	case Q_LOCK:
		return st == PGRES_TUPLES_OK ? PL_OK : pl_pg_fail(c, r, "event log lock", err);
	case Q_INSERT:
		if (st != PGRES_TUPLES_OK || (size_t)PQntuples(r) != n)
			return pl_pg_fail(c, r, "insert events", err);
		return take_ids(r, ev, n, err);
	case Q_COMMIT:
		/* A COMMIT of a failed transaction answers ROLLBACK, not an error. */
		if (st == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0)
			return PL_OK;
		if (st == PGRES_PIPELINE_ABORTED || st == PGRES_COMMAND_OK)
			return pl_fail(err, PL_INTERNAL, "event log: the batch was rolled back");
		return pl_pg_fail(c, r, "commit", err);
	}
	return pl_fail(err, PL_INTERNAL, "event log: unknown query");
}

/* Sends [lock,] insert, COMMIT as one pipeline and reads the answers.
 * A failure rolls the transaction back. */
static enum pl_code pipeline_commit(PGconn *c, pl_pgevent *ev, size_t n, bool lock,
				    pl_error *err)
{
	char *arr[NCOL] = {NULL};
	if (n > 0 && build_arrays(ev, n, arr, err) != PL_OK) {
		PQclear(PQexec(c, "ROLLBACK"));
		return err->code;
	}
	enum query sent[3];
	int nsent = 0;
	bool ok = PQenterPipelineMode(c) == 1;
	bool piped = ok;
	if (ok && lock && n > 0) {
		char key[24];
		snprintf(key, sizeof key, "%" PRId64, PL_PGLOG_LOCK);
		const char *keyp[1] = {key};
		ok = PQsendQueryParams(c, "SELECT pg_advisory_xact_lock($1::bigint)", 1, NULL, keyp,
				       NULL, NULL, 0) == 1;
		if (ok)
			sent[nsent++] = Q_LOCK;
	}
	if (ok && n > 0) {
		const char *params[NCOL] = {arr[0], arr[1], arr[2], arr[3], arr[4], arr[5], arr[6]};
		ok = PQsendQueryPrepared(c, "pl_pglog_insert", NCOL, params, NULL, NULL, 0) == 1;
		if (ok)
			sent[nsent++] = Q_INSERT;
	}
	if (ok) {
		ok = PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) == 1;
		if (ok)
			sent[nsent++] = Q_COMMIT;
	}
	if (piped && PQpipelineSync(c) != 1)
		ok = false;
	enum pl_code code = ok ? PL_OK : pl_pg_fail(c, NULL, "event log pipeline", err);
	/* One answer per query sent (each followed by a NULL), then the sync;
	 * after a failure the later ones answer PGRES_PIPELINE_ABORTED. */
	for (int q = 0; piped && q < nsent && PQstatus(c) == CONNECTION_OK; q++) {
		PGresult *r = PQgetResult(c);
		if (code == PL_OK)
			code = check_answer(c, sent[q], r, ev, n, err);
		PQclear(r);
		if (r)
			while ((r = PQgetResult(c)) != NULL)
				PQclear(r);
	}
	if (piped && PQstatus(c) == CONNECTION_OK) {
		PGresult *r = PQgetResult(c); /* PGRES_PIPELINE_SYNC */
		PQclear(r);
		PQexitPipelineMode(c);
	}
	if (code == PL_OK && PQstatus(c) != CONNECTION_OK)
		code = pl_pg_fail(c, NULL, "event log pipeline", err);
	if (code != PL_OK && PQstatus(c) == CONNECTION_OK)
		PQclear(PQexec(c, "ROLLBACK"));
	for (int i = 0; i < NCOL; i++)
		free(arr[i]);
	return code;
}

enum pl_code pl_pglog_append_commit(PGconn *c, pl_pgevent *ev, size_t n, pl_error *err)
{
	return pipeline_commit(c, ev, n, true, err);
}

enum pl_code pl_pglog_unlocked_commit_for_tests(PGconn *c, pl_pgevent *ev, size_t n,
						pl_error *err)
{
	return pipeline_commit(c, ev, n, false, err);
}

enum pl_code pl_pglog_append(PGconn *c, pl_pgevent *ev, size_t n, pl_error *err)
{
	if (n == 0)
		return PL_OK;
	if (pl_pglog_lock(c, err) != PL_OK)
		return err->code;
	return pl_pglog_insert(c, ev, n, err);
}

enum pl_code pl_pglog_read(PGconn *c, int64_t after, int limit, pl_pglog_fn fn, void *ud,
			   int *count, pl_error *err)
{
	char a[24], l[16];
	snprintf(a, sizeof a, "%" PRId64, after);
	snprintf(l, sizeof l, "%d", limit);
	const char *params[2] = {a, l};
	if (count)
		*count = 0;
	PGresult *r = PQexecPrepared(c, "pl_pglog_read", 2, params, NULL, NULL, 0);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		pl_pg_fail(c, r, "read events", err);
		PQclear(r);
		return err->code;
	}
	int rows = PQntuples(r);
	for (int i = 0; i < rows; i++) {
		pl_pgevent e = {
			.id = strtoll(PQgetvalue(r, i, 0), NULL, 10),
			.room = PQgetvalue(r, i, 1),
			.type = PQgetvalue(r, i, 2),
			.ts = strtoll(PQgetvalue(r, i, 3), NULL, 10),
			.target = PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4),
			.data = PQgetvalue(r, i, 5),
			.sender = PQgetisnull(r, i, 6) ? NULL : PQgetvalue(r, i, 6),
			.message_id = PQgetisnull(r, i, 7) ? 0 : strtoll(PQgetvalue(r, i, 7), NULL, 10),
		};
		if (count)
			(*count)++;
		if (fn(ud, &e))
			break;
	}
	PQclear(r);
	return PL_OK;
}

enum pl_code pl_pglog_last(PGconn *c, int64_t *last, pl_error *err)
{
	PGresult *r = PQexec(c, "SELECT coalesce(max(id), 0) FROM events");
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		pl_pg_fail(c, r, "last event", err);
		PQclear(r);
		return err->code;
	}
	*last = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return PL_OK;
}
