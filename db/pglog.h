/* db/pglog: the event log on PostgreSQL, with ids in commit order.
 *
 * The store is the log (docs/ARCHITECTURE.md): readers on every node ask
 * for "events after N" and move their cursor to the last id they got.
 * That is gap-free only if no event can commit with an id below one that
 * a reader has already seen.  A PostgreSQL sequence alone does not give
 * that: nextval is taken at insert time, and a transaction that took 11
 * may commit after one that took 12.  So every append takes one
 * transaction-level advisory lock (PL_PGLOG_LOCK) just before inserting
 * its events and keeps it until its commit: ids are handed out and
 * committed in one order, and the lock is released only after the commit
 * is visible to every new snapshot.  See "Ordering on PostgreSQL" in
 * docs/ARCHITECTURE.md for the proof, the alternatives and the cost.
 *
 * The writer calls pl_pglog_append inside its transaction, as late as it
 * can (after the batch's other statements, just before COMMIT), so the
 * lock is held for the insert and the commit only; one lock per batch.
 * Every insert into events goes through here: the table's id has no
 * default, so an insert that bypasses the lock fails. */
#ifndef PL_PGLOG_H
#define PL_PGLOG_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* The advisory lock key: "parley" in ASCII, then 2. */
#define PL_PGLOG_LOCK INT64_C(0x7061726c65790002)

/* One event.  For an append, id is an output; target and sender may be
 * NULL, message_id 0 (both: a message's event names them, others not). */
typedef struct pl_pgevent {
	int64_t id;
	const char *room;
	const char *type;
	int64_t ts;
	const char *target;
	const char *data;
	const char *sender;
	int64_t message_id;
} pl_pgevent;

/* Prepares this module's statements on c (once per connection, before
 * the other calls). */
enum pl_code pl_pglog_prepare(PGconn *c, pl_error *err);

/* Inside an open transaction: takes the event-log lock (waits for the
 * appender holding it to commit or roll back). */
enum pl_code pl_pglog_lock(PGconn *c, pl_error *err);

/* Inside an open transaction, holding the lock: inserts ev[0..n) with
 * increasing ids, in array order, and sets each ev[i].id. */
enum pl_code pl_pglog_insert(PGconn *c, pl_pgevent *ev, size_t n, pl_error *err);

/* lock + insert: what a writer's batch does just before COMMIT. */
enum pl_code pl_pglog_append(PGconn *c, pl_pgevent *ev, size_t n, pl_error *err);

/* lock + insert + COMMIT of the open transaction, sent as one pipeline
 * (one round trip): the lock is then held for the server's insert and
 * commit only, never for a network round trip.  What a writer's batch
 * does last.  On failure the transaction is rolled back; PL_UNAVAILABLE
 * when the connection failed (then, as for any COMMIT whose answer was
 * lost, the batch may or may not be stored). */
enum pl_code pl_pglog_append_commit(PGconn *c, pl_pgevent *ev, size_t n, pl_error *err);

/* The same without the lock: WRONG for the store (ids may then commit
 * out of order); only for tests/pg/test_order, to show what the lock
 * prevents and what it costs. */
enum pl_code pl_pglog_unlocked_commit_for_tests(PGconn *c, pl_pgevent *ev, size_t n,
						pl_error *err);

/* Reads at most limit events with id > after, in id order, calling fn for
 * each (strings valid during the call only); fn returning non-zero stops
 * the read.  *count (may be NULL) gets the number of rows passed to fn. */
typedef int (*pl_pglog_fn)(void *ud, const pl_pgevent *ev);
enum pl_code pl_pglog_read(PGconn *c, int64_t after, int limit, pl_pglog_fn fn, void *ud,
			   int *count, pl_error *err);

/* The highest committed id (0 for an empty log). */
enum pl_code pl_pglog_last(PGconn *c, int64_t *last, pl_error *err);

#endif
