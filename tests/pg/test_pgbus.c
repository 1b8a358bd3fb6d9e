/* tests/pg/test_pgbus: LISTEN/NOTIFY wakes every node after a commit, never
 * for a rollback, and a node whose listening connection was cut loses no
 * event (it reads the log after its cursor once it is back).  Waits are
 * upper bounds, never asserted timings: a wake-up that should come gets
 * 10 s, a check that none came gives one 300 ms to show up. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "db/pgbus.h"
#include "db/pgconn.h"
#include "db/pglog.h"
#include "tests/pg/pgt.h"
#include "tests/unit/t.h"

struct cursor {
	int64_t at;
	int got;
};

static int take(void *ud, const pl_pgevent *e)
{
	struct cursor *k = ud;
	k->at = e->id;
	k->got++;
	return 0;
}

/* What a woken node does: read the log after its cursor, to the end. */
static int catch_up(PGconn *c, struct cursor *k)
{
	pl_error err = {0};
	k->got = 0;
	for (;;) {
		int n = 0;
		if (pl_pglog_read(c, k->at, 100, take, k, &n, &err) != PL_OK) {
			fprintf(stderr, "read: %s\n", err.message);
			return -1;
		}
		if (n == 0)
			return k->got;
	}
}

/* One batch of n events, said on the bus, committed (or rolled back). */
static void post(PGconn *w, int n, bool commit)
{
	pl_error err = {0};
	pl_pgevent ev[8];
	for (int i = 0; i < n && i < 8; i++)
		ev[i] = (pl_pgevent){.room = "general", .type = "message.created", .ts = i, .data = "{}"};
	CHECK(pl_pg_exec(w, "BEGIN", &err) == PL_OK);
	CHECK(pl_pgbus_notify(w, &err) == PL_OK);
	if (commit) {
		CHECK(pl_pglog_append_commit(w, ev, (size_t)n, &err) == PL_OK);
	} else {
		CHECK(pl_pglog_append(w, ev, (size_t)n, &err) == PL_OK);
		CHECK(pl_pg_exec(w, "ROLLBACK", &err) == PL_OK);
	}
}

int main(void)
{
	if (!getenv("DATABASE_URL")) {
		fprintf(stderr, "run me under tests/pg/pgscratch.sh\n");
		return 2;
	}
	char url[300];
	pgt_fresh_db("t_bus", url, sizeof url);
	pl_error err = {0};
	PGconn *w = NULL, *rd = NULL;
	if (pl_pg_open(url, &w, &err) != PL_OK || pl_pglog_prepare(w, &err) != PL_OK ||
	    pl_pg_connect(url, &rd, &err) != PL_OK || pl_pglog_prepare(rd, &err) != PL_OK) {
		fprintf(stderr, "open: %s\n", err.message);
		return 2;
	}
	/* Two nodes listening. */
	pl_pgbus *a = NULL, *b = NULL;
	CHECK(pl_pgbus_open(url, &a, &err) == PL_OK);
	CHECK(pl_pgbus_open(url, &b, &err) == PL_OK);
	if (!a || !b)
		return T_DONE();
	CHECK(pl_pgbus_fd(a) >= 0);
	struct cursor ka = {0, 0}, kb = {0, 0};

	/* Nothing said yet: nothing heard. */
	CHECK(pl_pgbus_wait(a, 300, &err) == 0);

	/* A commit wakes both; each finds the batch after its cursor. */
	post(w, 3, true);
	CHECK(pl_pgbus_wait(a, 10000, &err) >= 1);
	CHECK(pl_pgbus_wait(b, 10000, &err) >= 1);
	CHECK(catch_up(rd, &ka) == 3);
	CHECK(catch_up(rd, &kb) == 3);

	/* A rollback says nothing (and stores nothing). */
	post(w, 2, false);
	CHECK(pl_pgbus_wait(a, 300, &err) == 0);
	CHECK(catch_up(rd, &ka) == 0);

	/* Many commits while a node is busy: one wake-up covers them all. */
	for (int i = 0; i < 20; i++)
		post(w, 1, true);
	int heard = pl_pgbus_wait(a, 10000, &err), more;
	while ((more = pl_pgbus_wait(a, 300, &err)) > 0)
		heard += more;
	printf("  20 commits -> %d notifications heard by a\n", heard);
	CHECK(heard >= 1 && heard <= 20);
	CHECK(catch_up(rd, &ka) == 20);

	/* b's listening connection (now the only one) is cut while commits
	 * go on: it learns of the loss, reconnects, and the log gives it
	 * everything it missed. */
	pl_pgbus_close(a);
	PGconn *admin = PQconnectdb(getenv("DATABASE_URL"));
	PQclear(PQexec(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
			      "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"));
	PQfinish(admin);
	post(w, 4, true);
	int lost = pl_pgbus_wait(b, 10000, &err);
	/* b hears the loss (-1); had the cut come after the notification
	 * was queued to it, it hears that first and the loss next. */
	if (lost > 0)
		lost = pl_pgbus_wait(b, 10000, &err);
	CHECK(lost == -1);
	printf("  cut -> %s\n", err.message);
	CHECK(pl_pgbus_fd(b) == -1);
	CHECK(pl_pgbus_reopen(b, &err) == PL_OK);
	CHECK(catch_up(rd, &kb) == 20 + 4);
	post(w, 1, true);
	CHECK(pl_pgbus_wait(b, 10000, &err) >= 1);
	CHECK(catch_up(rd, &kb) == 1);
	CHECK(ka.at < kb.at);

	pl_pgbus_close(b);
	PQfinish(w);
	PQfinish(rd);
	return T_DONE();
}
