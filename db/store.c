/* db/store: what every engine shares, built on the functions an engine
 * provides (see store.h): the jansson forms of results the engines write
 * as text, and the API's event objects. */
#include "config.h"

#include "db/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jbuf.h"
#include "db/engine.h"

#ifndef PL_HAVE_PG
/* Built without libpq: no store is ever of the PostgreSQL engine, and a
 * PostgreSQL URL is refused at open with a message that says why. */
#define PL_ENGINE_NO_PG_X(ret, name, params, args) \
	ret pl_pgs_##name params { abort(); }
#define PL_ENGINE_NO_PG_V(name, params, args) \
	void pl_pgs_##name params { abort(); }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
PL_ENGINE_FNS(PL_ENGINE_NO_PG_X, PL_ENGINE_NO_PG_V)
#pragma GCC diagnostic pop
void pl_pgs_close(pl_store *s) { (void)s; abort(); }
static bool pl_pg_is_url(const char *s)
{
	return !strncmp(s, "postgres://", 11) || !strncmp(s, "postgresql://", 13);
}
enum pl_code pl_pgs_open(const char *url, pl_store **out, pl_error *err)
{
	(void)url, (void)out;
	return pl_fail(err, PL_INVALID_ARGUMENT,
		       "this parleyd was built without PostgreSQL (libpq-dev missing at build time)");
}
#else
#include "db/pgconn.h"
#endif

/* ---- the engine seam (db/engine.h) ---- */

enum pl_code pl_store_open(const char *path, pl_store **out, pl_error *err)
{
	if (pl_pg_is_url(path))
		return pl_pgs_open(path, out, err);
	return pl_sqs_open(path, out, err);
}

void pl_store_close(pl_store *s)
{
	if (!s)
		return;
	if (pl_engine_of(s) == PL_ENGINE_PG)
		pl_pgs_close(s);
	else
		pl_sqs_close(s);
}

#define DISPATCH_X(ret, name, params, args) \
	ret pl_store_##name params \
	{ \
		if (pl_engine_of(s) == PL_ENGINE_PG) \
			return pl_pgs_##name args; \
		return pl_sqs_##name args; \
	}
#define DISPATCH_V(name, params, args) \
	void pl_store_##name params \
	{ \
		if (pl_engine_of(s) == PL_ENGINE_PG) \
			pl_pgs_##name args; \
		else \
			pl_sqs_##name args; \
	}
PL_ENGINE_FNS(DISPATCH_X, DISPATCH_V)

/* ---- shared ---- */

json_t *pl_store_rooms_visible(pl_store *s, const char *user)
{
	return pl_store_rooms_page(s, user, NULL, NULL, -1);
}

json_t *pl_store_message_by_client(pl_store *s, const char *sender, const char *client_id)
{
	size_t len;
	char *text = pl_store_message_by_client_text(s, sender, client_id, &len);
	json_t *msg = text ? json_loadb(text, len, 0, NULL) : NULL;
	free(text);
	return msg;
}

json_t *pl_store_messages(pl_store *s, const char *room, const struct pl_page *p)
{
	size_t len;
	bool any;
	char *text = pl_store_messages_text(s, room, NULL, p, &len, &any);
	json_t *out = text ? json_loadb(text, len, JSON_ALLOW_NUL, NULL) : NULL;
	free(text);
	return out;
}

enum pl_code pl_store_event_append(pl_store *s, const char *room, const char *type,
				   const char *target, json_t *data, int64_t now, int64_t *id,
				   pl_error *err)
{
	char *text = json_dumps(data, JSON_COMPACT);
	if (!text)
		return pl_fail(err, PL_INTERNAL, "out of memory");
	struct pl_new_event e = {room, type, target, text, strlen(text), now, NULL, 0};
	enum pl_code rc = pl_store_event_add(s, &e, id, err);
	free(text);
	return rc;
}

char *pl_event_row_json(const struct pl_event_row *row, size_t *len)
{
	struct pl_jbuf b = {0};
	const char *data = row->data ? row->data : "{}";
	if (!pl_json_event(&b, row->id, row->type, row->room, row->ts, data, strlen(data))) {
		pl_jb_free(&b);
		return NULL;
	}
	return pl_jb_take(&b, len);
}
