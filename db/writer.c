/* db/writer: see writer.h. */
#include "db/writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "db/checkpoint.h"

/* A batch larger than this waits for the next commit: it bounds how long
 * the write lock is held and how late the first ack of a batch comes. */
#define BATCH_MAX 512

struct job {
	pl_write_fn fn;
	pl_write_done done;
	void *arg;
	pl_error err;
	struct job *next;
};

struct pl_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job *head, *tail;
	bool stopping;
	pl_store *store;
	pl_checkpointer *checkpoints;
	pl_commit_fn on_commit;
	void *ud;
};

/* What a synchronous caller waits on. */
struct sync_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	pl_write_fn fn;
	void *arg;
	pl_error err;
};

static struct job *take_batch(pl_writer *w)
{
	pthread_mutex_lock(&w->lock);
	while (!w->head && !w->stopping)
		pthread_cond_wait(&w->wake, &w->lock);
	struct job *batch = w->head, *last = batch;
	for (int n = 1; last && last->next && n < BATCH_MAX; n++)
		last = last->next;
	if (last) {
		w->head = last->next;
		if (!w->head)
			w->tail = NULL;
		last->next = NULL;
	}
	pthread_mutex_unlock(&w->lock);
	return batch;
}

/* Opens the transaction, retrying while another process holds the write
 * lock past busy_timeout, so "database is locked" never reaches a client
 * unless the store is stuck for a minute. */
static enum pl_code begin_retrying(pl_store *s, pl_error *err)
{
	for (int tries = 0; tries < 6; tries++) {
		if (pl_store_begin(s, err) == PL_OK)
			return PL_OK;
		if (err->code != PL_UNAVAILABLE)
			return err->code;
		log_warn("writer: store busy, still waiting");
	}
	return err->code;
}

/* Runs the jobs in the open transaction; false when one failed after
 * writing, which spoils the transaction.  Careful runs put each job in a
 * savepoint instead, so a failing job undoes only itself.  Some errors (a
 * full disk, I/O) make SQLite roll the whole transaction back: no job may
 * run after that, outside any transaction, so both runs stop there (and
 * the commit that follows fails every job of the batch). */
static bool run_jobs(pl_store *s, struct job *batch, bool careful)
{
	for (struct job *j = batch; j; j = j->next) {
		j->err.code = PL_OK;
		if (!careful) {
			int64_t before = pl_store_changes(s);
			if (j->fn(s, j->arg, &j->err) != PL_OK &&
			    (pl_store_changes(s) != before || !pl_store_in_transaction(s)))
				return false;
			continue;
		}
		if (pl_store_savepoint(s, false, false) != PL_OK) {
			pl_fail(&j->err, PL_UNAVAILABLE, "store busy, try again");
			continue;
		}
		bool failed = j->fn(s, j->arg, &j->err) != PL_OK;
		if (failed && !pl_store_in_transaction(s))
			break;
		pl_store_savepoint(s, true, failed);
	}
	return true;
}

static void run_batch(pl_writer *w, struct job *batch)
{
	pl_error err = {0};
	int64_t before = pl_store_last_event(w->store);
	int64_t began = pl_mono_us(), first = 0;
	for (bool careful = false;; careful = true) {
		if (begin_retrying(w->store, &err) != PL_OK)
			break;
		/* Read under the write lock: this commit's events are exactly
		 * the ids above it, whatever other processes wrote before. */
		first = pl_store_last_event(w->store) + 1;
		if (run_jobs(w->store, batch, careful)) {
			if (pl_store_commit(w->store, &err) != PL_OK)
				pl_store_rollback(w->store);
			break;
		}
		pl_store_rollback(w->store);
		log_warn("writer: a job failed after writing; running its batch again");
	}
	for (struct job *j = batch; j; j = j->next)
		if (err.code != PL_OK)
			j->err = err;
	int64_t after = err.code == PL_OK ? pl_store_last_event(w->store) : before;
	if (err.code != PL_OK)
		log_error("writer: commit failed: %s", err.message);
	if (err.code == PL_OK && w->on_commit) {
		bool appended = after > before && after >= first;
		struct pl_commit c = {
			.first_event_id = appended ? first : 0,
			.last_event_id = appended ? after : 0,
			.at_us = pl_mono_us(),
		};
		c.took_us = c.at_us - began;
		w->on_commit(w->ud, &c);
	}
	while (batch) {
		struct job *next = batch->next;
		if (batch->done)
			batch->done(batch->arg, &batch->err);
		free(batch);
		batch = next;
	}
}

static void *writer_main(void *arg)
{
	pl_writer *w = arg;
	for (;;) {
		struct job *batch = take_batch(w);
		if (!batch)
			break; /* stopping and drained */
		run_batch(w, batch);
	}
	return NULL;
}

enum pl_code pl_writer_start(const char *db_path, pl_commit_fn on_commit, void *ud,
			     pl_writer **out, pl_error *err)
{
	pl_writer *w = calloc(1, sizeof *w);
	if (!w)
		return pl_fail(err, PL_INTERNAL, "out of memory");
	enum pl_code rc = pl_store_open(db_path, &w->store, err);
	if (rc != PL_OK) {
		free(w);
		return rc;
	}
	pl_store_guard_commits(w->store);
	if ((rc = pl_checkpointer_start(db_path, w->store, &w->checkpoints, err)) != PL_OK) {
		pl_store_close(w->store);
		free(w);
		return rc;
	}
	w->on_commit = on_commit;
	w->ud = ud;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pl_checkpointer_stop(w->checkpoints);
		pl_store_close(w->store);
		free(w);
		return pl_fail(err, PL_INTERNAL, "cannot start the writer thread");
	}
	*out = w;
	return PL_OK;
}

void pl_writer_submit(pl_writer *w, pl_write_fn fn, pl_write_done done, void *arg)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		pl_error err;
		pl_fail(&err, PL_UNAVAILABLE, "out of memory");
		done(arg, &err);
		return;
	}
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

static enum pl_code sync_fn(pl_store *s, void *arg, pl_error *err)
{
	struct sync_wait *sw = arg;
	return sw->fn(s, sw->arg, err);
}

static void sync_done(void *arg, const pl_error *err)
{
	struct sync_wait *sw = arg;
	pthread_mutex_lock(&sw->lock);
	sw->err = *err;
	sw->done = true;
	pthread_cond_signal(&sw->cond);
	pthread_mutex_unlock(&sw->lock);
}

enum pl_code pl_writer_run(pl_writer *w, pl_write_fn fn, void *arg, pl_error *err)
{
	struct sync_wait sw = {.fn = fn, .arg = arg};
	pthread_mutex_init(&sw.lock, NULL);
	pthread_cond_init(&sw.cond, NULL);
	pl_writer_submit(w, sync_fn, sync_done, &sw);
	pthread_mutex_lock(&sw.lock);
	while (!sw.done)
		pthread_cond_wait(&sw.cond, &sw.lock);
	pthread_mutex_unlock(&sw.lock);
	pthread_mutex_destroy(&sw.lock);
	pthread_cond_destroy(&sw.cond);
	if (sw.err.code != PL_OK && err)
		*err = sw.err;
	return sw.err.code;
}

void pl_writer_stop(pl_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pl_checkpointer_stop(w->checkpoints);
	pl_store_close(w->store);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}
