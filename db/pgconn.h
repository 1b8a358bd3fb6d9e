/* db/pgconn: a connection to the PostgreSQL store, by URL, with its schema.
 *
 * `--database URL` / `DATABASE_URL` names a PostgreSQL database as a libpq
 * URI (postgresql://user:pass@host:port/db?param=..).  Opening one is:
 * check the URL, connect, check the server (12 or newer), then bring the
 * schema to this build's version (db/schema/pg/NNN_*.sql, embedded at build
 * time) in one transaction, or refuse a database this build cannot use.
 *
 * Every failure is a clear pl_error, worded for an operator at start-up:
 *   PL_INVALID_ARGUMENT   the URL is not a PostgreSQL URL or does not parse
 *   PL_UNAVAILABLE        the server cannot be reached (or went away)
 *   PL_PERMISSION_DENIED  the server refused the login (password, role, hba)
 *   PL_NOT_FOUND          the database does not exist
 *   PL_CONFLICT           the database has another schema: a newer Parley's,
 *                         or tables that are not Parley's
 * No message and no log line ever holds the password: URLs are shown
 * through pl_pg_redact and libpq's own messages are scrubbed of it.
 *
 * A PGconn is used by one thread at a time; the caller closes it (PQfinish). */
#ifndef PL_PGCONN_H
#define PL_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* The schema version this build writes (the number of schema files). */
int pl_pg_schema_version(void);

/* True for "postgres://..." and "postgresql://..." (libpq's URI forms). */
bool pl_pg_is_url(const char *s);

/* url with its password, in the user part or a password= parameter,
 * replaced by "***", cut to fit n bytes (always terminated). */
void pl_pg_redact(const char *url, char *out, size_t n);

/* Connects to url (connect_timeout 10 s unless the URL says otherwise).
 * The schema is not looked at. */
enum pl_code pl_pg_connect(const char *url, PGconn **out, pl_error *err);

/* Applies the schema files this database lacks, all in one transaction
 * under an advisory lock (nodes starting together apply them once), and
 * records each in schema_version.  *version (may be NULL) gets the version
 * now in force.  Refuses (PL_CONFLICT, nothing changed) a database of a
 * newer schema and a non-empty database without Parley's schema. */
enum pl_code pl_pg_migrate(PGconn *c, int *version, pl_error *err);

/* Reads the schema version without changing anything: 0 for a database
 * without Parley's schema. */
enum pl_code pl_pg_read_version(PGconn *c, int *version, pl_error *err);

/* connect + migrate: what a node does at start. */
enum pl_code pl_pg_open(const char *url, PGconn **out, pl_error *err);

/* A failed statement as a pl_error: a lost connection, a server shutting
 * down or out of connections is PL_UNAVAILABLE (the client's 503, retried),
 * anything else PL_INTERNAL.  what names the statement. */
enum pl_code pl_pg_fail(PGconn *c, const PGresult *r, const char *what, pl_error *err);

/* Runs sql (no parameters, no rows expected) and fails as pl_pg_fail. */
enum pl_code pl_pg_exec(PGconn *c, const char *sql, pl_error *err);

#endif
