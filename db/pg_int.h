/* db/pg_int: what the PostgreSQL engine's files share (db/pg_*.c).
 *
 * Not a public header.  A pl_store of this engine is one libpq connection
 * (db/pgconn.c opened and migrated it) and the names of the statements
 * prepared on it: each file keeps its statements' text in a table indexed
 * by enum pg_stmt, and pl_pgq prepares one on first use (PQprepare, named
 * "pl_s<N>") and runs it (PQexecPrepared), so a statement is parsed and
 * planned once per connection.  Parameters and results are text. */
#ifndef PL_PG_INT_H
#define PL_PG_INT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "db/engine.h"
#include "db/pglog.h"

enum pg_stmt {
	/* db/pg_store.c */
	P_USER_INSERT, P_USER_EXISTS, P_USER_STATUS, P_USER_SET_STATUS, P_USER_SET_SEEN,
	P_PRESENCE_SET, P_PRESENCE_DEL, P_PRESENCE_GET, P_PRESENCE_CLEAR,
	P_ROOM_INSERT, P_ROOM_GET, P_ROOMS_VISIBLE, P_ROOM_COUNT, P_MEMBER_IS,
	P_MEMBER_INSERT, P_MEMBER_DELETE, P_MEMBER_COUNT_ADD, P_USER_ROOMS, P_MEMBER_IDS,
	P_RECEIPT_UPDATE, P_RECEIPTS, P_RECEIPT_GET,
	/* db/pg_messages.c */
	P_MSG_INSERT, P_MSG_BY_CLIENT, P_MSG_GET, P_MSG_EDIT, P_MSG_DELETE,
	P_MSGS_BEFORE, P_MSGS_AFTER, P_MSGS_SINCE,
	P_MSGS_BEFORE_M, P_MSGS_AFTER_M, P_MSGS_SINCE_M,
	P_EVENTS_USER,
	/* db/pg_outbox.c */
	P_OB_ADD, P_OB_CURSOR, P_OB_CURSOR_LOCK, P_OB_SET_CURSOR, P_OB_FEED, P_OB_CLAIM,
	P_OB_REMOVE, P_OB_RETRY, P_OB_DEPTH,
	P_COUNT
};

struct pl_pgstore {
	int engine;        /* PL_ENGINE_PG, first (db/engine.h) */
	PGconn *c;
	bool prepared[P_COUNT];
	int64_t changes;   /* rows written so far (pl_store_changes) */
	/* The transaction's events, appended at its commit (db/pg_messages.c):
	 * ev[0..nev), strings owned; sp_nev: how many there were at the
	 * savepoint, so its rollback drops the ones after. */
	pl_pgevent *ev;
	size_t nev, cap, sp_nev;
};

/* db/pg_messages.c: drops the buffered events from index from on. */
void pl_pgs_events_drop(struct pl_pgstore *s, size_t from);
/* db/pg_messages.c: COMMIT of the open transaction, with its buffered
 * events appended under the event-log lock and NOTIFY said (one round
 * trip, db/pglog.h's pl_pglog_append_commit). */
enum pl_code pl_pgs_commit_events(struct pl_pgstore *s, pl_error *err);

static inline struct pl_pgstore *PG(pl_store *s) { return (struct pl_pgstore *)(void *)s; }

/* Runs statement id (text sql, prepared on first use) with n text
 * parameters (NULL: SQL NULL).  Returns the result, or NULL with err
 * filled when it failed (then nothing to clear).  Rows written are added
 * to the store's change count. */
PGresult *pl_pgq(struct pl_pgstore *s, enum pg_stmt id, const char *sql, int n,
		 const char *const *vals, pl_error *err);

/* A text form of v in buf (for parameters). */
static inline const char *pl_pgi(char buf[24], int64_t v)
{
	snprintf(buf, 24, "%lld", (long long)v);
	return buf;
}

static inline int64_t pl_pgv(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), 0, 10);
}

#endif
