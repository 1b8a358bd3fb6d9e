/* db/writer: the one writer of a process, with group commit.
 *
 * Every write is a job: a function run inside a transaction on the writer's
 * own connection.  The writer takes every job queued so far, runs them in
 * one transaction, commits once, and only then reports each job's result:
 * an acknowledgement always follows the commit.  Many messages share one
 * fsync-free WAL commit, which is what lets one process ingest tens of
 * thousands of messages per second.
 *
 * A failing job must leave the store as it found it.  A job that fails
 * before writing anything (a refusal: not a member, no such room) costs
 * nothing; one that fails after writing (an I/O error, in practice) spoils
 * the transaction, which is rolled back and run again with each job in its
 * own savepoint.  So a job may run more than once: it must start afresh
 * each time, resetting what it hands back, and write only to the store and
 * its own argument.  Writes are seen through SQLite's count of changed
 * rows, which misses trigger and cascade changes: the schema has neither.
 *
 * After every commit, on_commit(ud, commit) runs on the writer thread with
 * the events it appended (if any) and its timing: the caller wakes its hub
 * and other processes there, and keeps the commit latency. */
#ifndef PL_WRITER_H
#define PL_WRITER_H

#include <stdint.h>

#include "base/err.h"
#include "db/store.h"

typedef struct pl_writer pl_writer;

/* Runs inside the transaction, perhaps more than once (see above); fills
 * err and returns its code to undo its writes. */
typedef enum pl_code (*pl_write_fn)(pl_store *s, void *arg, pl_error *err);
/* Runs on the writer thread after the commit (or the failure). */
typedef void (*pl_write_done)(void *arg, const pl_error *err);
/* One commit as on_commit sees it. */
struct pl_commit {
	int64_t first_event_id;   /* the first event it appended ... */
	int64_t last_event_id;    /* ... and the last; both 0 when it appended none */
	int64_t at_us;            /* when COMMIT returned (pl_mono_us) */
	int64_t took_us;          /* from BEGIN (waits for the lock included) to then */
};
typedef void (*pl_commit_fn)(void *ud, const struct pl_commit *c);

enum pl_code pl_writer_start(const char *db_path, pl_commit_fn on_commit, void *ud,
			     pl_writer **out, pl_error *err);
/* Runs fn and waits for its commit.  Returns PL_OK or the job's error. */
enum pl_code pl_writer_run(pl_writer *w, pl_write_fn fn, void *arg, pl_error *err);
/* Queues fn; done(arg, err) follows the commit.  err->code is PL_OK on success. */
void pl_writer_submit(pl_writer *w, pl_write_fn fn, pl_write_done done, void *arg);
/* Finishes every queued job, then stops the thread and frees w. */
void pl_writer_stop(pl_writer *w);

#endif
