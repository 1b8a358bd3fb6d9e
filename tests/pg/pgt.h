/* tests/pg/pgt.h: what the PostgreSQL tests share.
 *
 * They run under tests/pg/pgscratch.sh, which gives DATABASE_URL (role
 * parley, password login, CREATEDB).  Each test makes databases of its own
 * from it (pgt_fresh_db), so tests never see each other's rows. */
#ifndef PL_PGT_H
#define PL_PGT_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* base with its database (the path after host[:port]) replaced by name. */
static inline void pgt_url_with_db(const char *base, const char *name, char *out, size_t n)
{
	const char *host = strstr(base, "://");
	host = host ? host + 3 : base;
	const char *slash = strchr(host, '/');
	const char *query = strchr(host, '?');
	size_t head = slash ? (size_t)(slash - base) : query ? (size_t)(query - base) : strlen(base);
	snprintf(out, n, "%.*s/%s%s", (int)head, base, name, query ? query : "");
}

/* Drops and creates database name; its URL in out.  Exits on failure. */
static inline void pgt_fresh_db(const char *name, char *out, size_t n)
{
	const char *base = getenv("DATABASE_URL");
	if (!base) {
		fprintf(stderr, "DATABASE_URL is not set: run me under tests/pg/pgscratch.sh\n");
		exit(2);
	}
	PGconn *c = PQconnectdb(base);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pgt: connect: %s", PQerrorMessage(c));
		exit(2);
	}
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	char sql[256];
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	PQclear(PQexec(c, sql));
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "pgt: %s: %s", sql, PQerrorMessage(c));
		exit(2);
	}
	PQclear(r);
	PQfinish(c);
	pgt_url_with_db(base, name, out, n);
}

#endif
