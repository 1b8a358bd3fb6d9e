/* db/json: see json.h. */
#include "db/json.h"

#include <stdlib.h>
#include <string.h>

static bool jstr(struct pl_jbuf *b, struct pl_jstr s)
{
	if (!s.p) {
		PL_JB_LIT(b, "null");
		return true;
	}
	return pl_jb_str(b, s.p, s.n);
}

bool pl_json_message(struct pl_jbuf *b, const struct pl_msg_view *m, struct pl_jb_day *memo)
{
	struct pl_jb_day own = PL_JB_DAY_INIT;
	if (!memo)
		memo = &own;
	size_t start = b->len;
	PL_JB_LIT(b, "{\"id\":");
	pl_jb_int(b, m->id);
	PL_JB_LIT(b, ",\"room\":");
	bool ok = jstr(b, m->room);
	PL_JB_LIT(b, ",\"sender\":");
	ok = ok && jstr(b, m->sender);
	PL_JB_LIT(b, ",\"text\":");
	ok = ok && jstr(b, m->text);
	PL_JB_LIT(b, ",\"client_id\":");
	ok = ok && jstr(b, m->client_id);
	if (!ok) {
		b->len = start;
		return false;
	}
	PL_JB_LIT(b, ",\"created_at\":");
	pl_jb_time(b, m->created_at, memo);
	PL_JB_LIT(b, ",\"edited_at\":");
	if (m->edited)
		pl_jb_time(b, m->edited_at, memo);
	else
		PL_JB_LIT(b, "null");
	if (m->deleted)
		PL_JB_LIT(b, ",\"deleted\":true}");
	else
		PL_JB_LIT(b, ",\"deleted\":false}");
	return true;
}

/* The object of a text the writers above made. */
static json_t *parse(struct pl_jbuf *b, bool ok)
{
	json_t *o = ok && !b->oom ? json_loadb(b->p, b->len, JSON_ALLOW_NUL, NULL) : NULL;
	pl_jb_free(b);
	return o;
}

json_t *pl_json_message_obj(const struct pl_msg_view *m)
{
	struct pl_jbuf b = {0};
	return parse(&b, pl_json_message(&b, m, NULL));
}

bool pl_json_event(struct pl_jbuf *b, int64_t id, const char *type, const char *room,
		   int64_t ts, const char *data, size_t data_len)
{
	struct pl_jb_day memo = PL_JB_DAY_INIT;
	size_t start = b->len;
	PL_JB_LIT(b, "{");
	if (id > 0) {
		PL_JB_LIT(b, "\"id\":");
		pl_jb_int(b, id);
		PL_JB_LIT(b, ",");
	}
	PL_JB_LIT(b, "\"type\":");
	bool ok = pl_jb_str(b, type, strlen(type));
	if (room && *room) { /* presence belongs to no room */
		PL_JB_LIT(b, ",\"room\":");
		ok = ok && pl_jb_str(b, room, strlen(room));
	}
	if (!ok) {
		b->len = start;
		return false;
	}
	PL_JB_LIT(b, ",\"ts\":");
	pl_jb_time(b, ts, &memo);
	PL_JB_LIT(b, ",\"data\":");
	if (data)
		pl_jb_put(b, data, data_len);
	else
		PL_JB_LIT(b, "{}");
	PL_JB_LIT(b, "}");
	return true;
}

json_t *pl_event_json(int64_t id, const char *type, const char *room, int64_t ts, json_t *data)
{
	char *text = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	struct pl_jbuf b = {0};
	json_t *ev = NULL;
	if (text || !data)
		ev = parse(&b, pl_json_event(&b, id, type, room, ts, text, text ? strlen(text) : 0));
	free(text);
	return ev;
}

json_t *pl_json_receipt(const char *user, int64_t delivered, int64_t read)
{
	return json_pack("{s:s, s:I, s:I}", "user", user, "delivered_up_to", (json_int_t)delivered,
			 "read_up_to", (json_int_t)read);
}
