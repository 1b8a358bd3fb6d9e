/* tests/unit/test_writer: db/writer's batches against a scratch database.
 *
 * A gate job holds the writer while the next jobs queue, so they run as one
 * batch.  In it, a job refused before writing costs nobody anything (every
 * job runs once, the rest commit), and a job that fails after writing makes
 * the writer roll back and run the batch again in savepoints: the good jobs
 * commit once, the bad one's write is gone, and each job is reported once,
 * after the commit.  When SQLite ends the transaction itself, the batch
 * stops and fails as a whole.  Checkpoints run off the writer's thread yet keep the
 * WAL small.  Last, fault injection (tests/unit/fault.h): starting the
 * writer and running a post with the n-th allocation or I/O call failing,
 * for every n: a clean error and nothing stored, or the post stored once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/log.h"
#include "db/store.h"
#include "db/writer.h"
#include "tests/unit/fault.h"
#include "tests/unit/t.h"

static char dir[64], path[128];
static pl_store *observer; /* another connection, as another process */

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
};

static enum pl_code gate_fn(pl_store *s, void *arg, pl_error *err)
{
	(void)s, (void)err;
	struct gate *g = arg;
	pthread_mutex_lock(&g->lock);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	return PL_OK;
}

enum how { WRITE, REFUSE, WRITE_THEN_FAIL, LOSE_TRANSACTION };

struct probe {
	const char *user;
	enum how how;
	int runs, dones;
	bool visible_at_done; /* committed when done ran */
	pl_error err;
};

static enum pl_code probe_fn(pl_store *s, void *arg, pl_error *err)
{
	struct probe *p = arg;
	p->runs++;
	if (p->how == REFUSE)
		return pl_fail(err, PL_PERMISSION_DENIED, "refused");
	if (p->how == LOSE_TRANSACTION) { /* as SQLite does on a full disk */
		pl_store_rollback(s);
		return pl_fail(err, PL_UNAVAILABLE, "disk full");
	}
	bool created;
	if (pl_store_user_ensure(s, p->user, NULL, 1, &created, err) != PL_OK)
		return err->code;
	if (p->how == WRITE_THEN_FAIL)
		return pl_fail(err, PL_INTERNAL, "failed after writing");
	return PL_OK;
}

static void probe_done(void *arg, const pl_error *err)
{
	struct probe *p = arg;
	p->dones++;
	p->err = *err;
	p->visible_at_done = pl_store_user_exists(observer, p->user);
}

/* Runs the probes as one batch behind a gate; returns after all are done. */
static void run_batch(pl_writer *w, struct probe *probes, int n)
{
	struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
	pl_writer_submit(w, gate_fn, NULL, &g);
	usleep(20000); /* the gate's batch has started: the probes queue behind it */
	for (int i = 0; i < n; i++)
		pl_writer_submit(w, probe_fn, probe_done, &probes[i]);
	pthread_mutex_lock(&g.lock);
	g.open = true;
	pthread_cond_signal(&g.cond);
	pthread_mutex_unlock(&g.lock);
	/* A job queued last returns after every probe's done (it may share
	 * the probes' batch, and its fate). */
	struct gate after = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, true};
	pl_error err;
	pl_writer_run(w, gate_fn, &after, &err);
}

static void test_refusal(pl_writer *w)
{
	struct probe p[3] = {{.user = "r-a", .how = WRITE},
			      {.user = "r-b", .how = REFUSE},
			      {.user = "r-c", .how = WRITE}};
	run_batch(w, p, 3);
	for (int i = 0; i < 3; i++)
		CHECK(p[i].runs == 1 && p[i].dones == 1);
	CHECK(p[0].err.code == PL_OK && p[0].visible_at_done);
	CHECK(p[1].err.code == PL_PERMISSION_DENIED && !p[1].visible_at_done);
	CHECK(p[2].err.code == PL_OK && p[2].visible_at_done);
}

static void test_failure_after_writing(pl_writer *w)
{
	struct probe p[3] = {{.user = "f-a", .how = WRITE},
			      {.user = "f-b", .how = WRITE_THEN_FAIL},
			      {.user = "f-c", .how = WRITE}};
	run_batch(w, p, 3);
	/* The batch ran again: the good jobs twice (once undone), each
	 * reported once. */
	CHECK(p[0].runs == 2 && p[1].runs == 2 && p[2].runs == 1);
	for (int i = 0; i < 3; i++)
		CHECK(p[i].dones == 1);
	CHECK(p[0].err.code == PL_OK && p[0].visible_at_done);
	CHECK(p[1].err.code == PL_INTERNAL && !pl_store_user_exists(observer, "f-b"));
	CHECK(p[2].err.code == PL_OK && p[2].visible_at_done);
	/* The next batch runs without savepoints again, and commits. */
	struct probe q = {.user = "f-d", .how = WRITE};
	run_batch(w, &q, 1);
	CHECK(q.runs == 1 && q.err.code == PL_OK && q.visible_at_done);
}

/* 60 MB through the writer in 600 commits: with nobody checkpointing, the
 * WAL would hold all of it. */
static enum pl_code big_fn(pl_store *s, void *arg, pl_error *err)
{
	static char name[100 * 1024];
	int *n = arg;
	char user[32];
	bool created;
	memset(name, 'x', sizeof name - 1);
	snprintf(user, sizeof user, "big-%d", *n);
	return pl_store_user_ensure(s, user, name, 1, &created, err);
}

static void test_checkpoints(pl_writer *w)
{
	char wal[160];
	struct stat st;
	snprintf(wal, sizeof wal, "%s-wal", path);
	off_t most = 0;
	int failed = 0;
	for (int i = 0; i < 600; i++) {
		pl_error err;
		failed += pl_writer_run(w, big_fn, &i, &err) != PL_OK;
		if (stat(wal, &st) == 0 && st.st_size > most)
			most = st.st_size;
	}
	CHECK(failed == 0);
	printf("  WAL at most %lld KiB for 60 MB written\n", (long long)most / 1024);
	CHECK(most > 0 && most < 24 * 1024 * 1024);
}

/* SQLite may end the transaction itself on an error: no job may run after
 * that (it would write outside any transaction, and its write would stay
 * though the batch fails), and nobody is acknowledged. */
static void test_lost_transaction(pl_writer *w)
{
	struct probe p[3] = {{.user = "l-a", .how = WRITE},
			      {.user = "l-b", .how = LOSE_TRANSACTION},
			      {.user = "l-c", .how = WRITE}};
	run_batch(w, p, 3);
	CHECK(p[2].runs == 0);
	for (int i = 0; i < 3; i++) {
		CHECK(p[i].dones == 1 && p[i].err.code != PL_OK);
		CHECK(!pl_store_user_exists(observer, p[i].user));
	}
	/* The writer goes on. */
	struct probe q = {.user = "l-d", .how = WRITE};
	run_batch(w, &q, 1);
	CHECK(q.err.code == PL_OK && q.visible_at_done);
}

/* ---- faults ---- */

static char fpath[160];

static bool clean_error(enum pl_code rc, const pl_error *err)
{
	return rc != PL_OK && err->code == rc && err->message[0] != 0;
}

static const char *const kind_name[] = {"", "malloc", "I/O"};
#define FAULT_MAX 20000

static void fault_start(enum fault_kind kind)
{
	long n, failures = 0;
	for (n = 1; n < FAULT_MAX; n++) {
		pl_writer *w = NULL;
		pl_error err = {0};
		fault_arm(kind, n, false);
		enum pl_code rc = pl_writer_start(fpath, NULL, NULL, &w, &err);
		long hits = fault_disarm();
		if (rc == PL_OK) {
			pl_writer_stop(w);
			if (!hits)
				break;
		} else {
			failures++;
			CHECK(clean_error(rc, &err) && w == NULL);
		}
	}
	CHECK(n < FAULT_MAX);
	printf("  start, %s faults: %ld calls, %ld failed cleanly\n", kind_name[kind], n - 1,
	       failures);
}

struct post_job {
	int64_t i;
	bool created;
};

static enum pl_code post_job_fn(pl_store *s, void *arg, pl_error *err)
{
	struct post_job *j = arg;
	char text[64], *json = NULL;
	snprintf(text, sizeof text, "writer fault %lld", (long long)j->i);
	struct pl_new_msg m = {"f", "fay", text, NULL, 1795508130000LL + j->i};
	size_t len;
	j->created = false;
	enum pl_code rc = pl_store_message_post(s, &m, &json, &len, &j->created, err);
	free(json);
	return rc;
}

static void fault_post(pl_writer *w, enum fault_kind kind, bool sticky)
{
	long n, failures = 0;
	for (n = 1; n < FAULT_MAX; n++) {
		long long msgs = fault_sql_int(fpath, "SELECT COUNT(*) FROM messages");
		long long evs = fault_sql_int(fpath, "SELECT COUNT(*) FROM events");
		struct post_job j = {n, false};
		pl_error err = {0};
		fault_arm(kind, n, sticky);
		enum pl_code rc = pl_writer_run(w, post_job_fn, &j, &err);
		long hits = fault_disarm();
		long long msgs_after = fault_sql_int(fpath, "SELECT COUNT(*) FROM messages");
		long long evs_after = fault_sql_int(fpath, "SELECT COUNT(*) FROM events");
		if (rc == PL_OK) {
			/* Stored once, with its event, even when run twice. */
			CHECK(j.created && msgs_after == msgs + 1 && evs_after == evs + 1);
			if (!hits)
				break;
		} else {
			failures++;
			CHECK(clean_error(rc, &err));
			CHECK(msgs_after == msgs && evs_after == evs);
			if (msgs_after != msgs || evs_after != evs)
				fprintf(stderr, "  post, %s%s n=%ld: \"%s\" yet %lld stored\n",
					kind_name[kind], sticky ? " (sticky)" : "", n, err.message,
					msgs_after - msgs);
		}
	}
	CHECK(n < FAULT_MAX);
	/* And the writer goes on working. */
	struct post_job j = {0, false};
	pl_error err = {0};
	CHECK(pl_writer_run(w, post_job_fn, &j, &err) == PL_OK && j.created);
	printf("  post, %s faults%s: %ld calls, %ld failed cleanly\n", kind_name[kind],
	       sticky ? " (sticky)" : "", n - 1, failures);
}

static void test_faults(void)
{
	char fdir[64];
	snprintf(fdir, sizeof fdir, "/dev/shm/parley-wfaults-XXXXXX");
	if (!mkdtemp(fdir))
		snprintf(fdir, sizeof fdir, "%s", dir);
	snprintf(fpath, sizeof fpath, "%s/faults.db", fdir);
	pl_log_set_level((enum pl_log_level)(PL_LOG_ERROR + 1));
	pl_store *s = NULL;
	pl_error err = {0};
	bool changed;
	CHECK(pl_store_open(fpath, &s, &err) == PL_OK);
	if (!s)
		return;
	CHECK(pl_store_room_create(s, "f", "Faults", false, "fay", 0, &err) == PL_OK);
	CHECK(pl_store_member_add(s, "f", "fay", 0, &changed, &err) == PL_OK);
	pl_store_close(s);
	for (int k = FAULT_MALLOC; k <= FAULT_IO; k++)
		fault_start((enum fault_kind)k);
	/* No error wanted: a failure is still only a code. */
	pl_writer *none = NULL;
	CHECK(pl_writer_start("/nonexistent-folder/parley.db", NULL, NULL, &none, NULL) != PL_OK &&
	      none == NULL);
	pl_writer *w = NULL;
	CHECK(pl_writer_start(fpath, NULL, NULL, &w, &err) == PL_OK);
	for (int k = FAULT_MALLOC; w && k <= FAULT_IO; k++)
		for (int sticky = 0; sticky < 2; sticky++)
			fault_post(w, (enum fault_kind)k, sticky);
	pl_writer_stop(w);
	pl_log_set_level(PL_LOG_INFO);
	if (strcmp(fdir, dir) != 0) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", fdir);
		if (system(cmd) != 0)
			fprintf(stderr, "note: could not remove %s\n", fdir);
	}
}

int main(void)
{
	fault_setup();
	snprintf(dir, sizeof dir, "/tmp/parley-writer-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof path, "%s/parley.db", dir);
	pl_writer *w = NULL;
	pl_error err = {0};
	CHECK(pl_writer_start(path, NULL, NULL, &w, &err) == PL_OK);
	CHECK(pl_store_open(path, &observer, &err) == PL_OK);
	if (!w || !observer) {
		printf("cannot continue: %s\n", err.message);
		return 1;
	}
	test_refusal(w);
	test_failure_after_writing(w);
	test_lost_transaction(w);
	test_checkpoints(w);
	pl_writer_stop(w);
	pl_store_close(observer);
	test_faults();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "note: could not remove %s\n", dir);
	return T_DONE();
}
