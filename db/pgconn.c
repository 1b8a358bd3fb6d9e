/* db/pgconn: a connection to the PostgreSQL store (see db/pgconn.h). */
#include "db/pgconn.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pgschema.h"

/* pg_advisory_xact_lock key of schema changes: "parley" in ASCII, then 1.
 * (db/pglog.c's event-log lock is the same with 2.) */
#define PL_PG_LOCK_SCHEMA INT64_C(0x7061726c65790001)

int pl_pg_schema_version(void) { return PL_PG_SCHEMA_VERSION; }

bool pl_pg_is_url(const char *s)
{
	return s && (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0);
}

/* Where the secrets of a URL are: the password of the user part and the
 * value of a password= parameter, as [start, end) offsets (0, 0: none). */
struct secrets {
	size_t user_pw[2];
	size_t param_pw[2];
};

static void find_secrets(const char *url, struct secrets *s)
{
	memset(s, 0, sizeof *s);
	const char *p = strstr(url, "://");
	if (!p)
		return;
	p += 3;
	/* libpq's own rule: the user part ends at the first '@' before a '/'. */
	const char *at = p;
	while (*at && *at != '@' && *at != '/')
		at++;
	if (*at == '@') {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (colon) {
			s->user_pw[0] = (size_t)(colon + 1 - url);
			s->user_pw[1] = (size_t)(at - url);
		}
	}
	const char *q = strchr(p, '?');
	while (q) {
		q++;
		if (strncmp(q, "password=", 9) == 0) {
			const char *v = q + 9, *e = strchr(v, '&');
			s->param_pw[0] = (size_t)(v - url);
			s->param_pw[1] = e ? (size_t)(e - url) : strlen(url);
		}
		q = strchr(q, '&');
	}
}

void pl_pg_redact(const char *url, char *out, size_t n)
{
	if (n == 0)
		return;
	struct secrets s;
	find_secrets(url, &s);
	size_t len = strlen(url), o = 0;
	for (size_t i = 0; i < len && o + 1 < n;) {
		const size_t *span = NULL;
		if (s.user_pw[1] > s.user_pw[0] && i == s.user_pw[0])
			span = s.user_pw;
		else if (s.param_pw[1] > s.param_pw[0] && i == s.param_pw[0])
			span = s.param_pw;
		if (span) {
			for (const char *m = "***"; *m && o + 1 < n; m++)
				out[o++] = *m;
			i = span[1];
		} else {
			out[o++] = url[i++];
		}
	}
	out[o] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copies [b, e) of url into out, percent-decoded when decode. */
static void copy_span(const char *url, const size_t span[2], bool decode, char *out, size_t n)
{
	size_t o = 0;
	for (size_t i = span[0]; i < span[1] && o + 1 < n; i++) {
		if (decode && url[i] == '%' && i + 2 < span[1] && hexval(url[i + 1]) >= 0 &&
		    hexval(url[i + 2]) >= 0) {
			out[o++] = (char)(hexval(url[i + 1]) * 16 + hexval(url[i + 2]));
			i += 2;
		} else {
			out[o++] = url[i];
		}
	}
	out[o] = '\0';
}

/* Replaces every occurrence of secret in buf (size n) by "***". */
static void scrub_one(char *buf, size_t n, const char *secret)
{
	size_t sl = strlen(secret);
	if (sl == 0)
		return;
	char tmp[1024];
	size_t o = 0;
	for (const char *p = buf; *p && o + 1 < sizeof tmp;) {
		if (strncmp(p, secret, sl) == 0) {
			for (const char *m = "***"; *m && o + 1 < sizeof tmp; m++)
				tmp[o++] = *m;
			p += sl;
		} else {
			tmp[o++] = *p++;
		}
	}
	tmp[o] = '\0';
	size_t tl = o < n - 1 ? o : n - 1;
	memcpy(buf, tmp, tl);
	buf[tl] = '\0';
}

/* libpq's message about url, on one line, without url's secrets. */
static void clean_message(const char *url, const char *msg, char *out, size_t n)
{
	size_t o = 0;
	bool space = false;
	for (const char *p = msg ? msg : ""; *p && o + 1 < n; p++) {
		if (isspace((unsigned char)*p)) {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < n)
			out[o++] = ' ';
		space = false;
		out[o++] = *p;
	}
	out[o] = '\0';
	struct secrets s;
	find_secrets(url, &s);
	const size_t *spans[2] = {s.user_pw, s.param_pw};
	for (int i = 0; i < 2; i++) {
		if (spans[i][1] <= spans[i][0])
			continue;
		char secret[256];
		copy_span(url, spans[i], false, secret, sizeof secret);
		scrub_one(out, n, secret);
		copy_span(url, spans[i], true, secret, sizeof secret);
		scrub_one(out, n, secret);
	}
}

static bool has(const char *msg, const char *part) { return strstr(msg, part) != NULL; }

enum pl_code pl_pg_connect(const char *url, PGconn **out, pl_error *err)
{
	*out = NULL;
	char shown[160], why[512];
	pl_pg_redact(url ? url : "", shown, sizeof shown);
	if (!pl_pg_is_url(url)) {
		/* Not echoed: a "host=.. password=.." string is not a URL and
		 * its secret would not be found to hide.  Its scheme, if any,
		 * says enough. */
		const char *sep = url ? strstr(url, "://") : NULL;
		int scheme = sep && sep - url <= 20 ? (int)(sep - url) : 0;
		return pl_fail(err, PL_INVALID_ARGUMENT,
			       "database: the URL%s%.*s%s is not a PostgreSQL URL "
			       "(postgresql://user:password@host:port/database)",
			       scheme ? " (scheme " : "", scheme, scheme ? url : "", scheme ? ")" : "");
	}
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &perr);
	if (!opts) {
		clean_message(url, perr ? perr : "out of memory", why, sizeof why);
		PQfreemem(perr);
		return pl_fail(err, PL_INVALID_ARGUMENT, "database: URL %s does not parse: %s", shown,
			       why);
	}
	PQconninfoFree(opts);

	/* Defaults before the URL (which may override them), the encoding
	 * after it (the store speaks UTF-8 only). */
	const char *const keys[] = {"connect_timeout", "application_name", "dbname",
				    "client_encoding", NULL};
	const char *const vals[] = {"10", "parley", url, "UTF8", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c)
		return pl_fail(err, PL_INTERNAL, "database: out of memory");
	if (PQstatus(c) != CONNECTION_OK) {
		clean_message(url, PQerrorMessage(c), why, sizeof why);
		enum pl_code code = PL_UNAVAILABLE;
		const char *kind = "cannot reach PostgreSQL";
		if (PQconnectionNeedsPassword(c)) {
			code = PL_PERMISSION_DENIED;
			kind = "PostgreSQL wants a password and the URL has none";
		} else if (has(why, "authentication failed") || has(why, "pg_hba.conf") ||
			   has(why, "password") || (has(why, "role \"") && has(why, "does not exist")) ||
			   has(why, "permission denied")) {
			code = PL_PERMISSION_DENIED;
			kind = "PostgreSQL refused the login";
		} else if (has(why, "database \"") && has(why, "does not exist")) {
			code = PL_NOT_FOUND;
			kind = "no such database";
		}
		PQfinish(c);
		return pl_fail(err, code, "database: %s: %s", kind, why);
	}
	int v = PQserverVersion(c);
	if (v < 120000) {
		PQfinish(c);
		return pl_fail(err, PL_CONFLICT,
			       "database: PostgreSQL %d.%d is too old: Parley needs 12 or newer",
			       v / 10000, v / 100 % 100);
	}
	*out = c;
	return PL_OK;
}

enum pl_code pl_pg_fail(PGconn *c, const PGresult *r, const char *what, pl_error *err)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char why[256];
	clean_message("", msg ? msg : PQerrorMessage(c), why, sizeof why);
	/* class 08: connection exceptions; 57P01-03: the server is shutting
	 * down or starting; 53300: too many connections. */
	bool gone = PQstatus(c) != CONNECTION_OK || !state || strncmp(state, "08", 2) == 0 ||
		    strncmp(state, "57P0", 4) == 0 || strcmp(state, "53300") == 0;
	return pl_fail(err, gone ? PL_UNAVAILABLE : PL_INTERNAL, "database: %s: %s%s%s%s", what,
		       why, state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
}

enum pl_code pl_pg_exec(PGconn *c, const char *sql, pl_error *err)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	enum pl_code code = PL_OK;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		code = pl_pg_fail(c, r, sql, err);
	PQclear(r);
	return code;
}

/* One integer from a one-row query, or -1 with err set. */
static long long query_int(PGconn *c, const char *sql, pl_error *err)
{
	PGresult *r = PQexec(c, sql);
	long long v = -1;
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else
		pl_pg_fail(c, r, sql, err);
	PQclear(r);
	return v;
}

/* The version in force, 0 for none; -1 for a database with tables that
 * are not Parley's (err says so) or a failed query. */
static int version_in(PGconn *c, pl_error *err)
{
	long long has_table = query_int(
		c, "SELECT (to_regclass('schema_version') IS NOT NULL)::int", err);
	if (has_table < 0)
		return -1;
	if (has_table)
		return (int)query_int(c, "SELECT coalesce(max(version), 0) FROM schema_version", err);
	long long others = query_int(c,
				     "SELECT count(*) FROM pg_catalog.pg_class c"
				     " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
				     " WHERE n.nspname = current_schema()"
				     " AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
				     err);
	if (others < 0)
		return -1;
	if (others > 0) {
		pl_fail(err, PL_CONFLICT,
			"database: it has %lld table%s but no Parley schema (no schema_version "
			"table): give Parley an empty database of its own",
			others, others == 1 ? "" : "s");
		return -1;
	}
	return 0;
}

enum pl_code pl_pg_read_version(PGconn *c, int *version, pl_error *err)
{
	int v = version_in(c, err);
	if (v < 0)
		return err->code;
	*version = v;
	return PL_OK;
}

enum pl_code pl_pg_migrate(PGconn *c, int *version, pl_error *err)
{
	const int want = PL_PG_SCHEMA_VERSION;
	char sql[128];
	if (pl_pg_exec(c, "BEGIN", err) != PL_OK)
		return err->code;
	snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)", (long long)PL_PG_LOCK_SCHEMA);
	if (pl_pg_exec(c, sql, err) != PL_OK)
		goto fail;
	/* Read under the lock: a node that waited sees what the first applied. */
	int have = version_in(c, err);
	if (have < 0)
		goto fail;
	if (have > want) {
		pl_fail(err, PL_CONFLICT,
			"database: its schema is version %d, newer than this build's %d: "
			"run the Parley that wrote it (or a newer one)",
			have, want);
		goto fail;
	}
	for (int i = have; i < want; i++) {
		const int v = i + 1; /* file NNN is pl_pg_schema[NNN - 1] */
		PGresult *r = PQexec(c, pl_pg_schema[i]);
		if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
			snprintf(sql, sizeof sql, "schema file %03d", v);
			pl_pg_fail(c, r, sql, err);
			PQclear(r);
			goto fail;
		}
		PQclear(r);
		snprintf(sql, sizeof sql, "INSERT INTO schema_version(version) VALUES(%d)", v);
		if (pl_pg_exec(c, sql, err) != PL_OK)
			goto fail;
	}
	if (pl_pg_exec(c, "COMMIT", err) != PL_OK)
		goto fail;
	if (version)
		*version = want;
	return PL_OK;
fail:;
	PGresult *r = PQexec(c, "ROLLBACK");
	PQclear(r);
	return err->code;
}

enum pl_code pl_pg_open(const char *url, PGconn **out, pl_error *err)
{
	if (pl_pg_connect(url, out, err) != PL_OK)
		return err->code;
	if (pl_pg_migrate(*out, NULL, err) != PL_OK) {
		PQfinish(*out);
		*out = NULL;
		return err->code;
	}
	return PL_OK;
}
