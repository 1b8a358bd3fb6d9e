/* db/sqlite: the SQLite engine's connection: opening (pragmas, then the
 * migrations of db/sqlite_schema.c), the statement cache, transactions and
 * savepoints for db/writer (with the guard that lets its writes commit only
 * at its COMMIT), and the WAL hooks for db/checkpoint. */
#include "db/sqlite_int.h"

#include <stdlib.h>

#include "base/log.h"

static const char *const sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT job",
	[S_RELEASE] = "RELEASE job",
	[S_ROLLBACK_TO] = "ROLLBACK TO job",
};

static sqlite3_stmt *stmt(pl_store *s, enum stmt_id id)
{
	return pl_sq_stmt(s, id, sql[id]);
}

/* Prepares on first use; returns a reset statement with cleared bindings,
 * or NULL (logged by the caller through the error path). */
sqlite3_stmt *pl_sq_stmt(pl_store *s, enum stmt_id id, const char *sql)
{
	if (!s->st[id] &&
	    sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL) !=
		    SQLITE_OK)
		return NULL;
	sqlite3_reset(s->st[id]);
	sqlite3_clear_bindings(s->st[id]);
	return s->st[id];
}

enum pl_code db_fail(pl_store *s, pl_error *err)
{
	int rc = sqlite3_errcode(s->db);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return pl_fail(err, PL_UNAVAILABLE, "store busy, try again");
	return pl_fail(err, PL_INTERNAL, "store error: %s", sqlite3_errmsg(s->db));
}

static enum pl_code simple(pl_store *s, enum stmt_id id, pl_error *err)
{
	return exec_done(s, stmt(s, id), err);
}

enum pl_code pl_store_open(const char *path, pl_store **out, pl_error *err)
{
	pl_store *s = calloc(1, sizeof *s);
	if (!s)
		return pl_fail(err, PL_INTERNAL, "out of memory");
	s->engine = PL_ENGINE_SQLITE;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		enum pl_code rc = pl_fail(err, PL_INTERNAL, "cannot open %s: %s", path,
					  s->db ? sqlite3_errmsg(s->db) : "out of memory");
		pl_store_close(s);
		return rc;
	}
	/* busy_timeout first: the journal_mode switch itself may wait for
	 * another process.  synchronous=NORMAL in WAL mode survives a crash
	 * of the process (kill -9) with every commit; only a power cut may
	 * lose the last transactions. */
	sqlite3_busy_timeout(s->db, 10000);
	char *msg = NULL;
	if (sqlite3_exec(s->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
			 NULL, NULL, &msg) != SQLITE_OK) {
		enum pl_code rc =
			pl_fail(err, PL_INTERNAL, "cannot set up %s: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		pl_store_close(s);
		return rc;
	}
	enum pl_code rc = pl_schema_migrate(s->db, err);
	/* Transaction control prepared now: a rollback must never need
	 * memory it may not get (out of memory is when rollbacks happen). */
	for (int id = S_BEGIN; rc == PL_OK && id <= S_ROLLBACK_TO; id++)
		if (!pl_sq_stmt(s, (enum stmt_id)id, sql[id]))
			rc = db_fail(s, err);
	if (rc != PL_OK) {
		pl_store_close(s);
		return rc;
	}
	*out = s;
	return PL_OK;
}

void pl_store_close(pl_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close_v2(s->db);
	free(s);
}

struct sqlite3 *pl_store_sqlite(pl_store *s)
{
	return s->engine == PL_ENGINE_SQLITE ? s->db : NULL;
}

enum pl_code pl_store_begin(pl_store *s, pl_error *err) { return simple(s, S_BEGIN, err); }
enum pl_code pl_store_commit(pl_store *s, pl_error *err)
{
	s->committing = true;
	enum pl_code rc = simple(s, S_COMMIT, err);
	s->committing = false;
	return rc;
}

/* Non-zero turns the commit into a rollback (and the statement fails). */
static int commit_hook(void *ud)
{
	pl_store *s = ud;
	return !s->committing;
}

void pl_store_guard_commits(pl_store *s)
{
	sqlite3_commit_hook(s->db, commit_hook, s);
}

void pl_store_rollback(pl_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		simple(s, S_ROLLBACK, NULL);
}

enum pl_code pl_store_savepoint(pl_store *s, bool release, bool rollback)
{
	if (!release)
		return simple(s, S_SAVEPOINT, NULL);
	if (rollback && simple(s, S_ROLLBACK_TO, NULL) != PL_OK)
		return PL_INTERNAL;
	return simple(s, S_RELEASE, NULL);
}

static int wal_hook(void *ud, sqlite3 *db, const char *name, int pages)
{
	(void)db, (void)name;
	pl_store *s = ud;
	s->on_wal(s->wal_ud, pages);
	return SQLITE_OK;
}

void pl_store_on_wal(pl_store *s, pl_wal_fn fn, void *ud)
{
	s->on_wal = fn;
	s->wal_ud = ud;
	if (fn)
		sqlite3_wal_hook(s->db, wal_hook, s);
	else
		sqlite3_wal_autocheckpoint(s->db, 1000);
}

void pl_store_checkpoint(pl_store *s)
{
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
		log_warn("store: checkpoint failed: %s", sqlite3_errmsg(s->db));
}

int64_t pl_store_changes(pl_store *s)
{
	return sqlite3_total_changes64(s->db);
}

bool pl_store_in_transaction(pl_store *s)
{
	return !sqlite3_get_autocommit(s->db);
}
