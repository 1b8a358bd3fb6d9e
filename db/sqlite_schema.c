/* db/sqlite_schema: the SQLite engine's schema, as migrations applied in
 * order at open (db/sqlite.c).
 *
 * PRAGMA user_version holds the number of migrations applied.  A migration
 * is never edited once released: a change is a new entry at the end. */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"
#include "db/store.h"

enum pl_code pl_schema_migrate(sqlite3 *db, pl_error *err);

static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE users("
	"  id TEXT PRIMARY KEY, name TEXT, created_at INTEGER NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'online', last_seen INTEGER NOT NULL DEFAULT 0"
	") WITHOUT ROWID;"
	"CREATE TABLE rooms("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL, private INTEGER NOT NULL,"
	"  created_by TEXT, created_at INTEGER NOT NULL,"
	"  member_count INTEGER NOT NULL DEFAULT 0"
	") WITHOUT ROWID;"
	"CREATE TABLE members("
	"  room TEXT NOT NULL REFERENCES rooms(id), user TEXT NOT NULL,"
	"  joined_at INTEGER NOT NULL,"
	"  delivered_up_to INTEGER NOT NULL DEFAULT 0,"
	"  read_up_to INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(room, user)"
	") WITHOUT ROWID;"
	"CREATE INDEX members_by_user ON members(user, room);"
	"CREATE TABLE messages("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  room TEXT NOT NULL REFERENCES rooms(id), sender TEXT NOT NULL,"
	"  text TEXT, client_id TEXT, created_at INTEGER NOT NULL,"
	"  edited_at INTEGER, deleted INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX messages_by_room ON messages(room, id);"
	"CREATE INDEX messages_by_time ON messages(room, created_at);"
	"CREATE UNIQUE INDEX messages_by_client ON messages(sender, client_id)"
	"  WHERE client_id IS NOT NULL;"
	"CREATE TABLE events("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  room TEXT NOT NULL, type TEXT NOT NULL, ts INTEGER NOT NULL,"
	"  target TEXT, data TEXT NOT NULL"
	");"
	"CREATE INDEX events_by_room ON events(room, id);"
	"INSERT INTO rooms(id, name, private, created_by, created_at)"
	"  VALUES('general', 'General', 0, NULL, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));",
	/* 2: who parleyd counts online, for the processes without a hub
	 * (parley.fcgi) to read */
	"CREATE TABLE presence("
	"  user TEXT PRIMARY KEY, connections INTEGER NOT NULL"
	") WITHOUT ROWID;",
	/* 3: webhook deliveries waiting (db/outbox.c), and how far the event
	 * log has been turned into them */
	"CREATE TABLE webhook_outbox("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user TEXT NOT NULL, type TEXT NOT NULL, ts INTEGER NOT NULL, data TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_at INTEGER NOT NULL, lease_owner TEXT, lease_until INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX webhook_outbox_by_user ON webhook_outbox(user, id);"
	"CREATE INDEX webhook_outbox_by_due ON webhook_outbox(next_at);"
	"CREATE TABLE webhook_state(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;",
	/* 4: a message's event names its sender and message id, so readers
	 * (the hub's delivered receipts) need not parse its data; NULL in
	 * other events and in the events stored before */
	"ALTER TABLE events ADD COLUMN sender TEXT;"
	"ALTER TABLE events ADD COLUMN message_id INTEGER;",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == PL_SCHEMA_VERSION,
	       "PL_SCHEMA_VERSION must count the migrations");

static int user_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Applies one migration if one is due.  The version is read inside the
 * write transaction, so two processes starting at once never apply the
 * same migration twice; the bump commits with the migration, so a crash
 * leaves either the old schema or the new one.  *done is set when the
 * schema is current. */
static enum pl_code migrate_step(sqlite3 *db, bool *done, pl_error *err)
{
	const int want = (int)(sizeof migrations / sizeof migrations[0]);
	char *msg = NULL;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	int have = user_version(db);
	if (have < 0 || have > want) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return pl_fail(err, PL_INTERNAL,
			       "store: database schema %d is not one this build knows (1..%d)",
			       have, want);
	}
	*done = have == want;
	if (!*done) {
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA user_version=%d", have + 1);
		if (sqlite3_exec(db, migrations[have], NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
			goto fail;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) == SQLITE_OK)
		return PL_OK;
fail:;
	enum pl_code rc = pl_fail(err, PL_INTERNAL, "store: migration failed: %s",
				  msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

enum pl_code pl_schema_migrate(sqlite3 *db, pl_error *err)
{
	bool done = false;
	while (!done) {
		enum pl_code rc = migrate_step(db, &done, err);
		if (rc != PL_OK)
			return rc;
	}
	return PL_OK;
}
