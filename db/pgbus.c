/* db/pgbus: LISTEN/NOTIFY wake-ups between nodes (see db/pgbus.h). */
#include "db/pgbus.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "db/pgconn.h"

struct pl_pgbus {
	PGconn *c;
	char *url;
};

static enum pl_code listen_on(pl_pgbus *b, pl_error *err)
{
	if (pl_pg_connect(b->url, &b->c, err) != PL_OK)
		return err->code;
	if (pl_pg_exec(b->c, "LISTEN " PL_PGBUS_CHANNEL, err) != PL_OK ||
	    PQsetnonblocking(b->c, 1) != 0) {
		if (err->code == PL_OK)
			pl_fail(err, PL_UNAVAILABLE, "bus: cannot make the listening socket non-blocking");
		PQfinish(b->c);
		b->c = NULL;
		return err->code;
	}
	return PL_OK;
}

enum pl_code pl_pgbus_open(const char *url, pl_pgbus **out, pl_error *err)
{
	*out = NULL;
	pl_pgbus *b = calloc(1, sizeof *b);
	if (!b || !(b->url = strdup(url))) {
		free(b);
		return pl_fail(err, PL_INTERNAL, "bus: out of memory");
	}
	if (listen_on(b, err) != PL_OK) {
		pl_pgbus_close(b);
		return err->code;
	}
	*out = b;
	return PL_OK;
}

void pl_pgbus_close(pl_pgbus *b)
{
	if (!b)
		return;
	PQfinish(b->c);
	/* The URL holds the password: not left behind in freed memory. */
	if (b->url)
		explicit_bzero(b->url, strlen(b->url));
	free(b->url);
	free(b);
}

int pl_pgbus_fd(const pl_pgbus *b)
{
	return b->c && PQstatus(b->c) == CONNECTION_OK ? PQsocket(b->c) : -1;
}

enum pl_code pl_pgbus_reopen(pl_pgbus *b, pl_error *err)
{
	PQfinish(b->c);
	b->c = NULL;
	return listen_on(b, err);
}

int pl_pgbus_drain(pl_pgbus *b, pl_error *err)
{
	if (!b->c || PQstatus(b->c) != CONNECTION_OK || PQconsumeInput(b->c) != 1) {
		pl_fail(err, PL_UNAVAILABLE, "bus: the listening connection to PostgreSQL is lost");
		return -1;
	}
	int n = 0;
	PGnotify *note;
	while ((note = PQnotifies(b->c)) != NULL) {
		n++;
		PQfreemem(note);
	}
	/* A server that ended the connection says so as an error result. */
	PGresult *r;
	while (!PQisBusy(b->c) && (r = PQgetResult(b->c)) != NULL)
		PQclear(r);
	if (PQstatus(b->c) != CONNECTION_OK) {
		pl_fail(err, PL_UNAVAILABLE, "bus: the listening connection to PostgreSQL is lost");
		return -1;
	}
	return n;
}

int pl_pgbus_wait(pl_pgbus *b, int timeout_ms, pl_error *err)
{
	int n = pl_pgbus_drain(b, err);
	if (n != 0)
		return n;
	struct pollfd p = {.fd = pl_pgbus_fd(b), .events = POLLIN};
	int rc;
	do
		rc = poll(&p, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	return rc > 0 ? pl_pgbus_drain(b, err) : 0;
}

enum pl_code pl_pgbus_notify(PGconn *c, pl_error *err)
{
	return pl_pg_exec(c, "NOTIFY " PL_PGBUS_CHANNEL, err);
}
