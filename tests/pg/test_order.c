/* tests/pg/test_order: event ids are committed in id order on PostgreSQL,
 * so no reader of "after N" ever skips an event (issue 12's trap).
 *
 * Several writers ("nodes": each a thread with its own connection) append
 * batches of events through db/pglog, sleeping at random inside their
 * transactions, after taking the lock and again after the insert, before
 * the commit (and rolling some batches back).  Readers, on connections of
 * their own, poll "after cursor" as the hub does and move the cursor to the
 * last id they got.  At the end every committed id must have been seen by
 * every reader: an id a reader moved past without seeing is a skip, which
 * is exactly what a sequence without the lock produces (an id drawn early
 * and committed late).  Also checked: ids come in increasing order, and a
 * batch's events get increasing ids in its own order, without another
 * batch's in between.
 *
 *   test_order                        the check (under tests/pg/pgscratch.sh),
 *                                     twice: with the lock, insert and commit
 *                                     as separate steps (sleeps between), then
 *                                     with pl_pglog_append_commit (one pipeline)
 *   PL_TEST_NO_LOCK=1 test_order      the same without the lock: must fail
 *   test_order --bench W SECONDS N    W writers appending batches of N events
 *                                     as fast as they can: batches/s (a
 *                                     measurement, never asserted)
 * Env: ORDER_WRITERS (4), ORDER_READERS (2), ORDER_BATCHES per writer (60),
 * ORDER_SEED (the time). */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/pgconn.h"
#include "db/pglog.h"
#include "tests/pg/pgt.h"
#include "tests/unit/t.h"

#define MAX_BATCH 8

static char url[300];
static bool use_lock = true;
static int writers = 4, readers = 2, batches = 60;
/* Round 2: pl_pglog_append_commit (lock, insert and commit pipelined). */
static bool pipelined;
static unsigned seed;
static atomic_bool writers_done;
static atomic_long committed_events, rolled_back;
static atomic_int thread_errors; /* CHECK is not thread-safe: main checks this */

static PGconn *connect_or_die(void)
{
	PGconn *c = NULL;
	pl_error err = {0};
	if (pl_pg_connect(url, &c, &err) != PL_OK || pl_pglog_prepare(c, &err) != PL_OK) {
		fprintf(stderr, "connect: %s\n", err.message);
		exit(2);
	}
	return c;
}

static void sleep_us(unsigned us)
{
	struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *writer(void *arg)
{
	int w = (int)(intptr_t)arg;
	unsigned rs = seed + (unsigned)w * 7919u;
	PGconn *c = connect_or_die();
	pl_error err = {0};
	char data[MAX_BATCH][48];
	pl_pgevent ev[MAX_BATCH];
	for (int b = 0; b < batches; b++) {
		int n = 1 + rand_r(&rs) % MAX_BATCH;
		for (int k = 0; k < n; k++) {
			snprintf(data[k], sizeof data[k], "%d:%d:%d", w, b, k);
			ev[k] = (pl_pgevent){.room = "general", .type = "message.created", .ts = b, .data = data[k]};
		}
		bool ok = pl_pg_exec(c, "BEGIN", &err) == PL_OK;
		if (pipelined) {
			/* The batch's other statements would run here, before the
			 * lock; then lock, insert and COMMIT go in one round trip. */
			sleep_us((unsigned)rand_r(&rs) % 3000);
			ok = ok && (use_lock ? pl_pglog_append_commit(c, ev, (size_t)n, &err)
					     : pl_pglog_unlocked_commit_for_tests(c, ev, (size_t)n, &err)) == PL_OK;
			if (ok)
				atomic_fetch_add(&committed_events, n);
			else
				fprintf(stderr, "writer %d: %s\n", w, err.message);
			if (!ok) {
				atomic_fetch_add(&thread_errors, 1);
				break;
			}
			continue;
		}
		if (ok && use_lock)
			ok = pl_pglog_lock(c, &err) == PL_OK;
		sleep_us((unsigned)rand_r(&rs) % 2000);
		ok = ok && pl_pglog_insert(c, ev, (size_t)n, &err) == PL_OK;
		/* The window of the trap: ids drawn, not yet committed. */
		sleep_us((unsigned)rand_r(&rs) % 3000);
		if (ok && rand_r(&rs) % 10 == 0) {
			ok = pl_pg_exec(c, "ROLLBACK", &err) == PL_OK;
			atomic_fetch_add(&rolled_back, 1);
		} else if (ok && pl_pg_exec(c, "COMMIT", &err) == PL_OK) {
			atomic_fetch_add(&committed_events, n);
		} else {
			ok = false;
		}
		if (!ok) {
			fprintf(stderr, "writer %d: %s\n", w, err.message);
			atomic_fetch_add(&thread_errors, 1);
			break;
		}
	}
	PQfinish(c);
	return NULL;
}

struct reader {
	int64_t cursor;
	int64_t *ids;
	size_t n, cap;
	long out_of_order, polls;
};

static int take(void *ud, const pl_pgevent *e)
{
	struct reader *r = ud;
	if (e->id <= r->cursor)
		r->out_of_order++;
	r->cursor = e->id;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 1024;
		int64_t *ids = realloc(r->ids, r->cap * sizeof *ids);
		if (!ids)
			abort();
		r->ids = ids;
	}
	r->ids[r->n++] = e->id;
	return 0;
}

static void *reader(void *arg)
{
	struct reader *r = arg;
	PGconn *c = connect_or_die();
	pl_error err = {0};
	for (;;) {
		bool done = atomic_load(&writers_done);
		int got = 0;
		if (pl_pglog_read(c, r->cursor, 1000, take, r, &got, &err) != PL_OK) {
			fprintf(stderr, "reader: %s\n", err.message);
			atomic_fetch_add(&thread_errors, 1);
			break;
		}
		r->polls++;
		/* The writers had finished before this read began: it saw all. */
		if (done && got == 0)
			break;
		if (got == 0)
			sleep_us(300);
	}
	PQfinish(c);
	return NULL;
}

static int check_order(void)
{
	atomic_store(&writers_done, false);
	atomic_store(&committed_events, 0);
	atomic_store(&rolled_back, 0);
	pgt_fresh_db(pipelined ? "t_order_pipelined" : "t_order", url, sizeof url);
	PGconn *main_c = NULL;
	pl_error err = {0};
	if (pl_pg_open(url, &main_c, &err) != PL_OK) {
		fprintf(stderr, "open: %s\n", err.message);
		return 2;
	}
	printf("order%s: %d writers x %d batches (1-%d events, random sleeps inside the "
	       "transaction), %d readers, lock %s, seed %u\n",
	       pipelined ? " (pipelined append_commit)" : " (lock; sleep; insert; sleep; commit)",
	       writers, batches, MAX_BATCH, readers, use_lock ? "on" : "OFF", seed);
	pthread_t wt[64], rt[16];
	struct reader rd[16];
	memset(rd, 0, sizeof rd);
	for (int i = 0; i < readers; i++)
		pthread_create(&rt[i], NULL, reader, &rd[i]);
	double t0 = now_s();
	for (int i = 0; i < writers; i++)
		pthread_create(&wt[i], NULL, writer, (void *)(intptr_t)i);
	for (int i = 0; i < writers; i++)
		pthread_join(wt[i], NULL);
	double t1 = now_s();
	atomic_store(&writers_done, true);
	for (int i = 0; i < readers; i++)
		pthread_join(rt[i], NULL);
	CHECK(atomic_load(&thread_errors) == 0);

	/* Every committed event, in id order. */
	PGresult *res = PQexec(main_c, "SELECT id, data FROM events ORDER BY id");
	int rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
	CHECK(rows == atomic_load(&committed_events));
	/* A batch's events: increasing in its order, none of another batch
	 * in between (the lock is held from the insert to the commit). */
	int *last_k = malloc(sizeof(int) * (size_t)(writers * batches));
	bool *closed = calloc((size_t)(writers * batches), 1);
	for (int i = 0; i < writers * batches; i++)
		last_k[i] = -1;
	int prev = -1;
	long bad_batch_order = 0, interleaved = 0;
	for (int i = 0; i < rows; i++) {
		int w, b, k;
		if (sscanf(PQgetvalue(res, i, 1), "%d:%d:%d", &w, &b, &k) != 3)
			continue;
		int key = w * batches + b;
		if (key != prev) {
			if (prev >= 0)
				closed[prev] = true;
			if (closed[key])
				interleaved++;
			prev = key;
		}
		if (k <= last_k[key])
			bad_batch_order++;
		last_k[key] = k;
	}
	CHECK(bad_batch_order == 0);
	if (use_lock)
		CHECK(interleaved == 0);
	/* Each reader: every committed id seen, in increasing order. */
	long total_skipped = 0;
	for (int i = 0; i < readers; i++) {
		long skipped = 0;
		size_t j = 0;
		for (int row = 0; row < rows; row++) {
			int64_t id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
			while (j < rd[i].n && rd[i].ids[j] < id)
				j++;
			if (j < rd[i].n && rd[i].ids[j] == id)
				j++;
			else
				skipped++;
		}
		printf("  reader %d: %zu events seen in %ld polls, %ld skipped, %ld out of order\n", i,
		       rd[i].n, rd[i].polls, skipped, rd[i].out_of_order);
		CHECK(skipped == 0);
		CHECK(rd[i].out_of_order == 0);
		CHECK(rd[i].n == (size_t)rows);
		total_skipped += skipped;
		free(rd[i].ids);
	}
	printf("order: %d events committed, %ld batches rolled back (their ids are "
	       "gaps, never skips), %ld batch-order errors, %ld interleaved batches, %ld "
	       "skipped by readers, %.2f s\n",
	       rows, atomic_load(&rolled_back), bad_batch_order, interleaved, total_skipped, t1 - t0);
	free(last_k);
	free(closed);
	PQclear(res);
	PQfinish(main_c);
	return 0;
}

/* --bench: appenders as fast as they can, no sleeps; a measurement only. */
static int bench_batch;
static double bench_seconds;
static atomic_long bench_batches;

/* Each append's time (lock wait, insert and commit), per writer. */
#define BENCH_SAMPLES 100000
struct bench_lat {
	double *ms;
	size_t n;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void *bench_writer(void *arg)
{
	struct bench_lat *lat = arg;
	PGconn *c = connect_or_die();
	pl_error err = {0};
	pl_pgevent *ev = calloc((size_t)bench_batch, sizeof *ev);
	const char *data = "{\"id\":1,\"room\":\"general\",\"user\":\"alice\",\"text\":\"hello, world\"}";
	double end = now_s() + bench_seconds;
	while (now_s() < end) {
		for (int k = 0; k < bench_batch; k++)
			ev[k] = (pl_pgevent){.room = "general", .type = "message.created", .ts = 1, .data = data};
		if (pl_pg_exec(c, "BEGIN", &err) != PL_OK) {
			fprintf(stderr, "bench: %s\n", err.message);
			break;
		}
		double t0 = now_s();
		if ((use_lock ? pl_pglog_append_commit(c, ev, (size_t)bench_batch, &err)
			      : pl_pglog_unlocked_commit_for_tests(c, ev, (size_t)bench_batch, &err)) !=
			    PL_OK) {
			fprintf(stderr, "bench: %s\n", err.message);
			break;
		}
		if (lat->n < BENCH_SAMPLES)
			lat->ms[lat->n++] = (now_s() - t0) * 1000;
		atomic_fetch_add(&bench_batches, 1);
	}
	free(ev);
	PQfinish(c);
	return NULL;
}

static int bench(int w, double seconds, int batch)
{
	char name[32];
	snprintf(name, sizeof name, "t_bench_%d", w);
	pgt_fresh_db(name, url, sizeof url);
	PGconn *c = NULL;
	pl_error err = {0};
	if (pl_pg_open(url, &c, &err) != PL_OK) {
		fprintf(stderr, "open: %s\n", err.message);
		return 2;
	}
	PQfinish(c);
	bench_batch = batch;
	bench_seconds = seconds;
	pthread_t th[64];
	struct bench_lat lat[64];
	for (int i = 0; i < w; i++) {
		lat[i].n = 0;
		lat[i].ms = malloc(BENCH_SAMPLES * sizeof(double));
		if (!lat[i].ms)
			return 2;
	}
	double t0 = now_s();
	for (int i = 0; i < w; i++)
		pthread_create(&th[i], NULL, bench_writer, &lat[i]);
	for (int i = 0; i < w; i++)
		pthread_join(th[i], NULL);
	double dt = now_s() - t0;
	long nb = atomic_load(&bench_batches);
	/* All writers' samples together: the append's p50 and p99. */
	size_t total = 0;
	for (int i = 0; i < w; i++)
		total += lat[i].n;
	double *all = malloc((total ? total : 1) * sizeof(double));
	size_t k = 0;
	for (int i = 0; i < w; i++) {
		if (all)
			memcpy(all + k, lat[i].ms, lat[i].n * sizeof(double));
		k += lat[i].n;
		free(lat[i].ms);
	}
	double p50 = 0, p99 = 0;
	if (all && total) {
		qsort(all, total, sizeof(double), cmp_double);
		p50 = all[total / 2];
		p99 = all[total * 99 / 100];
	}
	free(all);
	printf("bench: writers=%d batch=%d lock=%s: %.0f batches/s, %.0f events/s, append+commit "
	       "p50 %.2f ms p99 %.2f ms (%ld batches in %.1f s)\n",
	       w, batch, use_lock ? "on" : "off", (double)nb / dt, (double)nb * batch / dt, p50, p99,
	       nb, dt);
	return 0;
}

static int env_int(const char *name, int def, int max)
{
	const char *v = getenv(name);
	int n = v ? atoi(v) : def;
	return n < 1 ? 1 : n > max ? max : n;
}

int main(int argc, char **argv)
{
	if (!getenv("DATABASE_URL")) {
		fprintf(stderr, "run me under tests/pg/pgscratch.sh\n");
		return 2;
	}
	/* Only this test can drop the lock: to show that the check fails
	 * without it.  The server's code has no such switch. */
	use_lock = !(getenv("PL_TEST_NO_LOCK") && strcmp(getenv("PL_TEST_NO_LOCK"), "1") == 0);
	if (argc == 5 && strcmp(argv[1], "--bench") == 0) {
		int w = atoi(argv[2]), n = atoi(argv[4]);
		double s = atof(argv[3]);
		if (w < 1 || w > 64 || n < 1 || n > 4096 || s <= 0) {
			fprintf(stderr, "usage: test_order --bench WRITERS(1-64) SECONDS BATCH(1-4096)\n");
			return 2;
		}
		return bench(w, s, n);
	}
	writers = env_int("ORDER_WRITERS", 4, 64);
	readers = env_int("ORDER_READERS", 2, 16);
	batches = env_int("ORDER_BATCHES", 60, 100000);
	seed = getenv("ORDER_SEED") ? (unsigned)strtoul(getenv("ORDER_SEED"), NULL, 10)
				    : (unsigned)time(NULL);
	if (check_order() != 0)
		return 2;
	pipelined = true;
	if (check_order() != 0)
		return 2;
	return T_DONE();
}
