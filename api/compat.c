/* api/compat: the endpoints of the older chat and status servers Parley
 * replaces, mapped onto the same chat operations (see API.md,
 * "Compatibility endpoints").  Same auth rules as everything else. */
#include <string.h>

#include "api/handlers.h"
#include "chat/chat.h"

enum pl_code pl_parse_since(const char *v, struct pl_page *page, pl_error *err);
enum pl_code pl_parse_limit(const char *v, int *out, pl_error *err);

static const char *str(struct pl_call *c, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(c->body, key));
	return v ? v : dflt;
}

/* senderId/userId must be the caller: the user comes from the token. */
static bool is_caller(struct pl_call *c, const char *key, pl_error *err)
{
	const char *v = str(c, key, NULL);
	if (v && strcmp(v, c->who.sub) == 0)
		return true;
	pl_fail(err, v ? PL_PERMISSION_DENIED : PL_INVALID_ARGUMENT,
		v ? "%s: you can only act as yourself" : "%s is required", key);
	return false;
}

void pl_compat_send(struct pl_call *c)
{
	pl_error err;
	char *msg = NULL;
	size_t len = 0;
	bool created = false;
	enum pl_code rc = PL_INVALID_ARGUMENT;
	if (is_caller(c, "senderId", &err) && pl_sender_is_caller(c, "sender", &err))
		rc = pl_chat_post(c->ctx, c->who.sub, str(c, "roomId", "general"),
				  str(c, "message", NULL), str(c, "clientId", NULL), &msg, &len,
				  &created, &err);
	pl_reply_text(c, rc, created ? 201 : 200, msg, len, &err);
}

void pl_compat_get_messages(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL;
	struct pl_page page = {0};
	const char *room = pl_req_query(c->req, "roomId");
	enum pl_code rc = pl_parse_limit(pl_req_query(c->req, "limit"), &page.limit, &err);
	if (rc == PL_OK)
		rc = pl_parse_since(pl_req_query(c->req, "since"), &page, &err);
	if (rc == PL_OK)
		rc = pl_chat_messages(c->ctx, c->who.sub, room ? room : "general", &page, &out,
				      &err);
	pl_reply(c, rc, 200, out, &err);
}

void pl_compat_update_status(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL;
	enum pl_code rc = PL_INVALID_ARGUMENT;
	const char *status = str(c, "status", NULL);
	if (!is_caller(c, "userId", &err)) {
		/* err is set */
	} else if (status && strcmp(status, "typing") == 0) {
		rc = pl_chat_typing(c->ctx, c->who.sub, str(c, "roomId", "general"), true, &err);
		if (rc == PL_OK)
			out = pl_chat_status(c->ctx, c->who.sub, c->who.sub);
	} else {
		/* The old server knew "offline"; the nearest today is invisible. */
		if (status && strcmp(status, "offline") == 0)
			status = "invisible";
		rc = pl_chat_set_status(c->ctx, c->who.sub, status, &out, &err);
	}
	pl_reply(c, rc, 200, out, &err);
}

void pl_compat_get_status(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL;
	const char *user = pl_req_query(c->req, "userId");
	enum pl_code rc = pl_check_id("userId", user, &err);
	if (rc == PL_OK && !(out = pl_chat_status(c->ctx, c->who.sub, user)))
		rc = pl_fail(&err, PL_UNAVAILABLE, "store unavailable");
	pl_reply(c, rc, 200, out, &err);
}

void pl_compat_create_room(struct pl_call *c)
{
	pl_error err;
	json_t *room = NULL;
	const char *name = str(c, "name", str(c, "roomName", "New room"));
	enum pl_code rc = pl_chat_room_create(c->ctx, c->who.sub, NULL, name,
					      json_is_true(json_object_get(c->body, "private")),
					      &room, &err);
	json_t *out = NULL;
	if (rc == PL_OK)
		out = json_pack("{s:O, s:o}", "roomId", json_object_get(room, "id"), "room", room);
	pl_reply(c, rc, 201, out, &err);
}

void pl_compat_join_room(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL;
	enum pl_code rc = pl_chat_join(c->ctx, c->who.sub, c->m.params[0], &out, &err);
	pl_reply(c, rc, 200, out, &err);
}
