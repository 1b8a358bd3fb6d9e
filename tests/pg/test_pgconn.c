/* tests/pg/test_pgconn: connecting by URL, the errors an operator sees,
 * the schema files and their version, and the event log's basics, against
 * the scratch server of tests/pg/pgscratch.sh. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pgconn.h"
#include "db/pglog.h"
#include "db/store.h"
#include "tests/pg/pgt.h"
#include "tests/unit/t.h"

#define SECRET "hunter2-Sekr3t"

static long long one_int(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	long long v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

static void test_urls(void)
{
	CHECK(pl_pg_is_url("postgresql://h/db"));
	CHECK(pl_pg_is_url("postgres://u:p@h:5432/db"));
	CHECK(!pl_pg_is_url("host=h dbname=db"));
	CHECK(!pl_pg_is_url("mysql://h/db"));
	CHECK(!pl_pg_is_url(NULL));

	char out[200];
	pl_pg_redact("postgresql://u:" SECRET "@h:5/db", out, sizeof out);
	CHECK_STR(out, "postgresql://u:***@h:5/db");
	pl_pg_redact("postgresql://u@h/db?sslmode=disable&password=" SECRET "&x=1", out, sizeof out);
	CHECK_STR(out, "postgresql://u@h/db?sslmode=disable&password=***&x=1");
	pl_pg_redact("postgresql://h/db", out, sizeof out);
	CHECK_STR(out, "postgresql://h/db");
	pl_pg_redact("postgresql://u:" SECRET "@h/db", out, 12);
	CHECK(strlen(out) == 11 && !strstr(out, "hunter"));
}

/* Connecting to url fails with code, and the message says what and never
 * holds the secret (raw or decoded). */
static void refused(const char *url, enum pl_code code, const char *says, const char *secret)
{
	PGconn *c = NULL;
	pl_error err = {0};
	enum pl_code got = pl_pg_connect(url, &c, &err);
	CHECK(got == code);
	CHECK(c == NULL);
	CHECK(strstr(err.message, says) != NULL);
	CHECK(!secret || strstr(err.message, secret) == NULL);
	printf("  %s -> %s: %s\n", says, pl_code_name(got), err.message);
}

static void test_connect_errors(void)
{
	const char *port = getenv("PGSCRATCH_PORT");
	char url[300];
	refused("mysql://u:" SECRET "@h/db", PL_INVALID_ARGUMENT, "not a PostgreSQL URL", SECRET);
	refused("", PL_INVALID_ARGUMENT, "not a PostgreSQL URL", NULL);
	refused("host=h password=" SECRET, PL_INVALID_ARGUMENT, "not a PostgreSQL URL", SECRET);
	refused("postgresql://u:" SECRET "@[::1/db", PL_INVALID_ARGUMENT, "does not parse", SECRET);
	refused("postgresql://u:" SECRET "@h/db?nosuchoption=1", PL_INVALID_ARGUMENT,
		"does not parse", SECRET);
	/* Nothing listens on port 1. */
	refused("postgresql://parley:" SECRET "@127.0.0.1:1/parley", PL_UNAVAILABLE,
		"cannot reach PostgreSQL", SECRET);
	snprintf(url, sizeof url, "postgresql://parley:%s@127.0.0.1:%s/parley", "wrong-" SECRET, port);
	refused(url, PL_PERMISSION_DENIED, "refused the login", SECRET);
	/* The same password percent-encoded in the URL: scrubbed decoded too. */
	snprintf(url, sizeof url, "postgresql://nosuchrole:%%68unter2-Sekr3t@127.0.0.1:%s/parley", port);
	refused(url, PL_PERMISSION_DENIED, "refused the login", "unter2-Sekr3t");
	snprintf(url, sizeof url, "postgresql://parley@127.0.0.1:%s/parley", port);
	refused(url, PL_PERMISSION_DENIED, "wants a password", NULL);
	char base[300];
	pgt_url_with_db(getenv("DATABASE_URL"), "nosuchdb", base, sizeof base);
	refused(base, PL_NOT_FOUND, "no such database", NULL);
}

static void test_schema(void)
{
	char url[300];
	pgt_fresh_db("t_schema", url, sizeof url);
	PGconn *c = NULL;
	pl_error err = {0};
	CHECK(pl_pg_open(url, &c, &err) == PL_OK);
	if (!c) {
		fprintf(stderr, "open: %s\n", err.message);
		return;
	}
	int v = -1;
	CHECK(pl_pg_read_version(c, &v, &err) == PL_OK && v == pl_pg_schema_version());
	CHECK(one_int(c, "SELECT count(*) FROM schema_version") == pl_pg_schema_version());
	CHECK(one_int(c, "SELECT count(*) FROM rooms WHERE id = 'general'") == 1);
	/* Every table of SQLite's schema is there. */
	CHECK(one_int(c, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND "
			 "tablename IN ('users','rooms','members','messages','events','presence',"
			 "'webhook_outbox','webhook_state','schema_version')") == 9);
	CHECK(one_int(c, "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
			 "current_schema() AND table_name = 'events' AND column_name IN "
			 "('sender', 'message_id')") == 2);
	/* Again: nothing to do, nothing done twice. */
	CHECK(pl_pg_migrate(c, &v, &err) == PL_OK && v == pl_pg_schema_version());
	CHECK(one_int(c, "SELECT count(*) FROM schema_version") == pl_pg_schema_version());
	CHECK(one_int(c, "SELECT count(*) FROM rooms") == 1);

	/* A database of an older Parley (here: made to look like version 1)
	 * gets the files it lacks, and only those. */
	if (pl_pg_schema_version() >= 2) {
		PQclear(PQexec(c, "ALTER TABLE events DROP COLUMN sender, DROP COLUMN message_id;"
				  "DELETE FROM schema_version WHERE version >= 2"));
		CHECK(pl_pg_read_version(c, &v, &err) == PL_OK && v == 1);
		CHECK(pl_pg_migrate(c, &v, &err) == PL_OK && v == pl_pg_schema_version());
		CHECK(one_int(c, "SELECT count(*) FROM schema_version") == pl_pg_schema_version());
		CHECK(one_int(c, "SELECT count(*) FROM information_schema.columns WHERE "
				 "table_name = 'events' AND column_name = 'message_id'") == 1);
		CHECK(one_int(c, "SELECT count(*) FROM rooms") == 1);
	}

	/* A newer Parley's database: refused, with both versions named. */
	PQclear(PQexec(c, "INSERT INTO schema_version(version) VALUES(99)"));
	CHECK(pl_pg_migrate(c, &v, &err) == PL_CONFLICT);
	CHECK(strstr(err.message, "99") && strstr(err.message, "newer"));
	printf("  newer schema -> %s\n", err.message);
	PQfinish(c);
	c = NULL;
	CHECK(pl_pg_open(url, &c, &err) == PL_CONFLICT && c == NULL);

	/* Somebody else's database: refused, and left as it was. */
	pgt_fresh_db("t_foreign", url, sizeof url);
	CHECK(pl_pg_connect(url, &c, &err) == PL_OK);
	if (!c)
		return;
	PQclear(PQexec(c, "CREATE TABLE invoices(id int)"));
	CHECK(pl_pg_migrate(c, &v, &err) == PL_CONFLICT);
	CHECK(strstr(err.message, "no Parley schema") != NULL);
	printf("  foreign database -> %s\n", err.message);
	CHECK(one_int(c, "SELECT (to_regclass('schema_version') IS NULL)::int") == 1);
	CHECK(pl_pg_read_version(c, &v, &err) == PL_CONFLICT);
	PQfinish(c);
}

/* The PostgreSQL schema mirrors SQLite's, table for table and column for
 * column in the same order (so a copy moves rows as they are).  A SQLite
 * migration without its db/schema/pg file fails here. */
static void test_mirrors_sqlite(void)
{
	char dir[] = "/tmp/pgt-sqlite-XXXXXX", path[64];
	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof path, "%s/parley.db", dir);
	pl_store *st = NULL;
	pl_error err = {0};
	CHECK(pl_store_open(path, &st, &err) == PL_OK);
	char url[300];
	pgt_fresh_db("t_mirror", url, sizeof url);
	PGconn *c = NULL;
	CHECK(pl_pg_open(url, &c, &err) == PL_OK);
	if (!st || !c) {
		pl_store_close(st);
		PQfinish(c);
		return;
	}
	sqlite3 *db = pl_store_sqlite(st);
	sqlite3_stmt *tables = NULL;
	sqlite3_prepare_v2(db,
			   "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
			   "'sqlite_%' ORDER BY name",
			   -1, &tables, NULL);
	int ntables = 0;
	while (tables && sqlite3_step(tables) == SQLITE_ROW) {
		const char *table = (const char *)sqlite3_column_text(tables, 0);
		char sqlite_cols[1024] = "", pg_cols[1024] = "", sql[256];
		sqlite3_stmt *cols = NULL;
		snprintf(sql, sizeof sql, "SELECT name FROM pragma_table_info('%s') ORDER BY cid", table);
		sqlite3_prepare_v2(db, sql, -1, &cols, NULL);
		while (cols && sqlite3_step(cols) == SQLITE_ROW) {
			strncat(sqlite_cols, (const char *)sqlite3_column_text(cols, 0),
				sizeof sqlite_cols - strlen(sqlite_cols) - 2);
			strcat(sqlite_cols, " ");
		}
		sqlite3_finalize(cols);
		const char *params[1] = {table};
		PGresult *r = PQexecParams(c,
					   "SELECT column_name FROM information_schema.columns WHERE "
					   "table_schema = current_schema() AND table_name = $1 "
					   "ORDER BY ordinal_position",
					   1, NULL, params, NULL, NULL, 0);
		for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
			strncat(pg_cols, PQgetvalue(r, i, 0), sizeof pg_cols - strlen(pg_cols) - 2);
			strcat(pg_cols, " ");
		}
		PQclear(r);
		/* SQLite's columns, in order, begin PostgreSQL's: PostgreSQL may
		 * be ahead by a SQLite migration on a branch not merged yet. */
		bool mirrored = strncmp(sqlite_cols, pg_cols, strlen(sqlite_cols)) == 0;
		if (!mirrored)
			fprintf(stderr, "  table %s: SQLite has (%s), PostgreSQL (%s): add a "
					"db/schema/pg file\n",
				table, sqlite_cols, pg_cols);
		else if (strcmp(sqlite_cols, pg_cols) != 0)
			printf("  table %s: PostgreSQL has more columns (%s) than SQLite (%s)\n", table,
			       pg_cols, sqlite_cols);
		CHECK(mirrored);
		ntables++;
	}
	sqlite3_finalize(tables);
	CHECK(ntables >= 8);
	printf("  %d SQLite tables mirrored column for column\n", ntables);
	pl_store_close(st);
	PQfinish(c);
	char f[96];
	const char *const leftovers[] = {"parley.db", "parley.db-wal", "parley.db-shm"};
	for (size_t i = 0; i < sizeof leftovers / sizeof leftovers[0]; i++) {
		snprintf(f, sizeof f, "%s/%s", dir, leftovers[i]);
		unlink(f);
	}
	rmdir(dir);
}

/* Nodes starting together on an empty database apply the schema once. */
struct opener {
	const char *url;
	enum pl_code code;
};
static void *open_one(void *arg)
{
	struct opener *o = arg;
	PGconn *c = NULL;
	pl_error err = {0};
	o->code = pl_pg_open(o->url, &c, &err);
	if (o->code != PL_OK)
		fprintf(stderr, "open: %s\n", err.message);
	PQfinish(c);
	return NULL;
}

static void test_concurrent_migrate(void)
{
	char url[300];
	pgt_fresh_db("t_together", url, sizeof url);
	enum { N = 4 };
	pthread_t th[N];
	struct opener o[N];
	for (int i = 0; i < N; i++) {
		o[i] = (struct opener){url, PL_INTERNAL};
		pthread_create(&th[i], NULL, open_one, &o[i]);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		CHECK(o[i].code == PL_OK);
	}
	PGconn *c = NULL;
	pl_error err = {0};
	if (pl_pg_connect(url, &c, &err) == PL_OK) {
		CHECK(one_int(c, "SELECT count(*) FROM schema_version") == pl_pg_schema_version());
		CHECK(one_int(c, "SELECT count(*) FROM rooms") == 1);
		PQfinish(c);
	}
}

struct seen {
	int n;
	int64_t ids[16];
	char data[16][64];
	int null_target[16];
	char sender[16][16];
	int64_t message_id[16];
};
static int collect(void *ud, const pl_pgevent *e)
{
	struct seen *s = ud;
	if (s->n < 16) {
		s->ids[s->n] = e->id;
		snprintf(s->data[s->n], sizeof s->data[0], "%s", e->data);
		s->null_target[s->n] = e->target == NULL;
		snprintf(s->sender[s->n], sizeof s->sender[0], "%s", e->sender ? e->sender : "(null)");
		s->message_id[s->n] = e->message_id;
		s->n++;
	}
	return 0;
}

static void test_log(void)
{
	char url[300];
	pgt_fresh_db("t_log", url, sizeof url);
	PGconn *c = NULL;
	pl_error err = {0};
	CHECK(pl_pg_open(url, &c, &err) == PL_OK);
	if (!c)
		return;
	CHECK(pl_pglog_prepare(c, &err) == PL_OK);
	/* Data an array literal must escape, and an event per target kind. */
	const char *data[] = {"{\"a\":\"q\\\"uote\"}", "back\\slash", "{,}", "NULL", "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80",
			      "6", "7", "8"};
	pl_pgevent ev[8];
	for (int i = 0; i < 8; i++)
		ev[i] = (pl_pgevent){.room = "general",
				     .type = "message.created",
				     .ts = 1000 + i,
				     .target = i % 2 ? "alice" : NULL,
				     .data = data[i],
				     .sender = i < 4 ? "bob" : NULL,
				     .message_id = i < 4 ? 100 + i : 0};
	CHECK(pl_pg_exec(c, "BEGIN", &err) == PL_OK);
	CHECK(pl_pglog_append(c, ev, 8, &err) == PL_OK);
	CHECK(pl_pg_exec(c, "COMMIT", &err) == PL_OK);
	struct seen s = {0};
	int count = 0;
	CHECK(pl_pglog_read(c, 0, 100, collect, &s, &count, &err) == PL_OK);
	CHECK(count == 8 && s.n == 8);
	for (int i = 0; i < s.n; i++) {
		/* in array order, ids increasing, as the append reported them */
		CHECK_STR(s.data[i], data[i]);
		CHECK(s.ids[i] == ev[i].id);
		CHECK(i == 0 || s.ids[i] > s.ids[i - 1]);
		CHECK(s.null_target[i] == (i % 2 == 0));
		/* a message's sender and id, NULL (0) for the others */
		CHECK_STR(s.sender[i], i < 4 ? "bob" : "(null)");
		CHECK(s.message_id[i] == (i < 4 ? 100 + i : 0));
	}
	int64_t last = 0;
	CHECK(pl_pglog_last(c, &last, &err) == PL_OK && last == ev[7].id);
	/* After N gives what is after N only; a limit cuts. */
	s.n = 0;
	CHECK(pl_pglog_read(c, ev[5].id, 100, collect, &s, &count, &err) == PL_OK && count == 2);
	s.n = 0;
	CHECK(pl_pglog_read(c, 0, 3, collect, &s, &count, &err) == PL_OK && count == 3);
	/* The pipelined append: ids in order, after the others, committed. */
	pl_pgevent more[3];
	for (int i = 0; i < 3; i++)
		more[i] = (pl_pgevent){.room = "general", .type = "message.updated", .ts = 2000 + i, .data = data[i]};
	CHECK(pl_pg_exec(c, "BEGIN", &err) == PL_OK);
	CHECK(pl_pglog_append_commit(c, more, 3, &err) == PL_OK);
	CHECK(more[0].id > ev[7].id && more[1].id > more[0].id && more[2].id > more[1].id);
	s.n = 0;
	CHECK(pl_pglog_read(c, ev[7].id, 100, collect, &s, &count, &err) == PL_OK && count == 3);
	CHECK(s.n == 3 && s.ids[0] == more[0].id && s.ids[2] == more[2].id);
	CHECK_STR(s.data[1], data[1]);
	/* A batch that fails (a NULL room) is rolled back whole, says why,
	 * and leaves the connection ready for the next one. */
	more[1].room = NULL;
	CHECK(pl_pg_exec(c, "BEGIN", &err) == PL_OK);
	PQclear(PQexec(c, "INSERT INTO users(id, created_at) VALUES('bob', 1)"));
	CHECK(pl_pglog_append_commit(c, more, 3, &err) == PL_INTERNAL);
	printf("  failed batch -> %s\n", err.message);
	CHECK(PQtransactionStatus(c) == PQTRANS_IDLE);
	CHECK(PQpipelineStatus(c) == PQ_PIPELINE_OFF);
	CHECK(one_int(c, "SELECT count(*) FROM users WHERE id = 'bob'") == 0);
	more[1].room = "general";
	CHECK(pl_pg_exec(c, "BEGIN", &err) == PL_OK);
	CHECK(pl_pglog_append_commit(c, more, 3, &err) == PL_OK);
	CHECK(pl_pglog_last(c, &last, &err) == PL_OK && last == more[2].id);
	CHECK(one_int(c, "SELECT count(*) FROM events") == 14);

	/* An insert that does not go through the log (and its lock) fails. */
	PGresult *r = PQexec(c, "INSERT INTO events(room, type, ts, data) VALUES('general','x',1,'{}')");
	CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
	PQclear(r);

	/* A connection the server ended is "unavailable" (503), not 500. */
	PGconn *admin = PQconnectdb(getenv("DATABASE_URL"));
	char sql[80];
	snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", PQbackendPID(c));
	PQclear(PQexec(admin, sql));
	PQfinish(admin);
	CHECK(pl_pglog_read(c, 0, 10, collect, &s, &count, &err) == PL_UNAVAILABLE);
	printf("  connection ended -> %s\n", err.message);
	PQfinish(c);
}

int main(void)
{
	if (!getenv("DATABASE_URL") || !getenv("PGSCRATCH_PORT")) {
		fprintf(stderr, "run me under tests/pg/pgscratch.sh\n");
		return 2;
	}
	unsetenv("PGPASSWORD");
	setenv("PGPASSFILE", "/nonexistent", 1);
	test_urls();
	test_connect_errors();
	test_schema();
	test_mirrors_sqlite();
	test_concurrent_migrate();
	test_log();
	return T_DONE();
}
