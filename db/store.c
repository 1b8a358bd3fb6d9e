/* db/store: what every engine shares, built on the functions an engine
 * provides (see store.h): the jansson forms of results the engines write
 * as text, and the API's event objects. */
#include "db/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

json_t *pl_event_json(int64_t id, const char *type, const char *room, int64_t ts, json_t *data)
{
	char t[PL_TIME_LEN];
	pl_time_format(ts, t);
	json_t *ev = json_pack("{s:s, s:s, s:O}", "type", type, "ts", t, "data", data);
	if (ev && room && *room) /* presence belongs to no room */
		json_object_set_new(ev, "room", json_string(room));
	if (ev && id > 0)
		json_object_set_new(ev, "id", json_integer(id));
	return ev;
}

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
	enum pl_code rc =
		pl_store_event_append_text(s, room, type, target, text, strlen(text), now, id, err);
	free(text);
	return rc;
}

char *pl_event_row_json(const struct pl_event_row *row, size_t *len)
{
	char ts[PL_TIME_LEN];
	pl_time_format(row->ts, ts);
	char *out = NULL;
	int n = asprintf(&out, "{\"id\":%lld,\"type\":\"%s\",\"room\":\"%s\",\"ts\":\"%s\",\"data\":%s}",
			 (long long)row->id, row->type, row->room, ts, row->data ? row->data : "{}");
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return out;
}
