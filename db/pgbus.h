/* db/pgbus: "there is more" between nodes through PostgreSQL LISTEN/NOTIFY,
 * for clusters on PostgreSQL without Redis.
 *
 * The event log is the truth; a notification only wakes the nodes so they
 * read the log after their cursor (db/pglog.h), as the local eventfd does
 * on one node.  So it carries nothing ("there is more"), and nothing is lost
 * with one: a writer calls pl_pgbus_notify inside its batch's transaction
 * (PostgreSQL delivers it at the commit, after the rows are visible, and
 * never for a rollback, and folds a transaction's repeats into one); a
 * listener woken by any number of them reads the log once; a listener whose
 * connection dropped reconnects and reads the log after its cursor, which
 * covers whatever was said while it was away.
 *
 * A pl_pgbus is one listening connection, used by one thread (the hub's
 * loop polls pl_pgbus_fd).  It never runs queries for the store. */
#ifndef PL_PGBUS_H
#define PL_PGBUS_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "base/err.h"

/* The channel every node listens on. */
#define PL_PGBUS_CHANNEL "parley_log"

typedef struct pl_pgbus pl_pgbus;

/* Connects to url (db/pgconn.h's errors) and listens. */
enum pl_code pl_pgbus_open(const char *url, pl_pgbus **out, pl_error *err);
void pl_pgbus_close(pl_pgbus *b);

/* The socket to poll for reading (-1 after the connection is lost). */
int pl_pgbus_fd(const pl_pgbus *b);

/* Reads what arrived without blocking: the number of notifications taken
 * (0: nothing new), or -1 when the connection is lost (err says so; then
 * pl_pgbus_reopen, and read the log after the cursor anyway). */
int pl_pgbus_drain(pl_pgbus *b, pl_error *err);

/* Waits up to timeout_ms for notifications: as pl_pgbus_drain. */
int pl_pgbus_wait(pl_pgbus *b, int timeout_ms, pl_error *err);

/* Connects and listens again after a loss. */
enum pl_code pl_pgbus_reopen(pl_pgbus *b, pl_error *err);

/* On a writer's connection: says "there is more", at the commit of the
 * open transaction (or at once outside one). */
enum pl_code pl_pgbus_notify(PGconn *c, pl_error *err);

#endif
