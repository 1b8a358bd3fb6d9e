/* db/store: what every engine shares, built on the functions an engine
 * provides (see store.h): the jansson forms of results the engines write
 * as text, and the API's event objects. */
#include "db/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jbuf.h"

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
