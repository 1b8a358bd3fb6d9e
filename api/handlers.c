/* api/handlers: see handlers.h. */
#include "api/handlers.h"

#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chat/chat.h"
#include "chat/webhook.h"
#include "base/clock.h"
#include "db/presence.h"


void pl_reply(struct pl_call *c, enum pl_code rc, int status, json_t *out, const pl_error *err)
{
	if (rc != PL_OK) {
		json_decref(out);
		pl_resp_error(c->resp, err);
	} else if (status == 204) {
		json_decref(out);
		pl_resp_text(c->resp, 204, "application/json", NULL, 0);
	} else {
		pl_resp_json(c->resp, status, out);
	}
}

static void reply_text(struct pl_resp *r, enum pl_code rc, int status, char *text, size_t len,
		       const pl_error *err)
{
	if (rc != PL_OK) {
		free(text);
		pl_resp_error(r, err);
	} else if (text) {
		pl_resp_text(r, status, "application/json", text, len);
	} else {
		pl_resp_json(r, status, NULL); /* out of memory: the 500 */
	}
}

void pl_reply_text(struct pl_call *c, enum pl_code rc, int status, char *text, size_t len,
		   const pl_error *err)
{
	reply_text(c->resp, rc, status, text, len, err);
}

static const char *param(struct pl_call *c, int i) { return c->m.params[i]; }

static const char *body_str(struct pl_call *c, const char *key)
{
	return json_string_value(json_object_get(c->body, key));
}

/* Fails unless key is absent or a string. */
static bool body_opt_str(struct pl_call *c, const char *key, const char **out, pl_error *err)
{
	json_t *v = json_object_get(c->body, key);
	*out = json_string_value(v);
	if (v && !json_is_string(v) && !json_is_null(v)) {
		pl_fail(err, PL_INVALID_ARGUMENT, "%s must be a string", key);
		return false;
	}
	return true;
}

/* Parses a positive message id from a path or query. */
static bool parse_id(const char *s, int64_t *out)
{
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end || errno || v < 1)
		return false;
	*out = v;
	return true;
}

/* ---- service endpoints ---- */

static void h_health(struct pl_call *c)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b}", "status", "ok", "version", PACKAGE_VERSION,
			      "store", "sqlite", "presence",
			      c->ctx->cfg->redis_url[0] ? "redis" : "local", "dev", c->ctx->cfg->dev);
	pl_resp_json(c->resp, 200, o);
}

static void h_dev_login(struct pl_call *c)
{
	pl_error err;
	const char *user = body_str(c, "user");
	if (!c->ctx->cfg->dev) {
		pl_fail(&err, PL_NOT_FOUND, "not found: dev login exists in --dev mode only");
		pl_resp_error(c->resp, &err);
		return;
	}
	if (pl_check_id("user", user, &err) != PL_OK) {
		pl_resp_error(c->resp, &err);
		return;
	}
	const char *name = body_str(c, "name");
	char *token = pl_jwt_sign(c->ctx->cfg->jwt_secret, c->ctx->cfg->jwt_secret_len, user,
				  name ? name : user, pl_now_ms() / 1000 + 7 * 24 * 3600);
	if (!token) {
		pl_fail(&err, PL_INTERNAL, "cannot sign a token");
		pl_resp_error(c->resp, &err);
		return;
	}
	pl_resp_json(c->resp, 200, json_pack("{s:s, s:s}", "token", token, "user", user));
	free(token);
}

/* ---- rooms ---- */

static void h_room_create(struct pl_call *c)
{
	pl_error err;
	json_t *room = NULL, *priv = json_object_get(c->body, "private");
	const char *id, *name;
	enum pl_code rc = PL_INVALID_ARGUMENT;
	if (priv && !json_is_boolean(priv))
		pl_fail(&err, PL_INVALID_ARGUMENT, "private must be true or false");
	else if (body_opt_str(c, "id", &id, &err) && body_opt_str(c, "name", &name, &err))
		rc = pl_chat_room_create(c->ctx, c->who.sub, id, name, json_is_true(priv), &room,
					 &err);
	pl_reply(c, rc, 201, room, &err);
}

static void h_rooms(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL;
	const char *v = pl_req_query(c->req, "limit");
	int64_t limit = 100;
	enum pl_code rc = PL_OK;
	if (v && (!parse_id(v, &limit) || limit > PL_ROOMS_PAGE_MAX))
		rc = pl_fail(&err, PL_INVALID_ARGUMENT, "limit must be 1 to %d", PL_ROOMS_PAGE_MAX);
	if (rc == PL_OK)
		rc = pl_chat_rooms(c->ctx, c->who.sub, pl_req_query(c->req, "after"),
				   pl_req_query(c->req, "q"), (int)limit, &out, &err);
	pl_reply(c, rc, 200, out, &err);
}

static void h_room_get(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL;
	enum pl_code rc = pl_chat_room_get(c->ctx, c->who.sub, param(c, 0), &out, &err);
	pl_reply(c, rc, 200, out, &err);
}

static void h_join(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL;
	enum pl_code rc = pl_chat_join(c->ctx, c->who.sub, param(c, 0), &out, &err);
	pl_reply(c, rc, 200, out, &err);
}

static void h_leave(struct pl_call *c)
{
	pl_error err;
	enum pl_code rc = pl_chat_leave(c->ctx, c->who.sub, param(c, 0), &err);
	pl_reply(c, rc, 200, json_pack("{s:s, s:b}", "room", param(c, 0), "left", 1), &err);
}

static void h_members(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL;
	enum pl_code rc = pl_chat_members(c->ctx, c->who.sub, param(c, 0), &out, &err);
	pl_reply(c, rc, 200, out, &err);
}

static void h_member_add(struct pl_call *c)
{
	pl_error err;
	const char *user = body_str(c, "user");
	enum pl_code rc = pl_chat_member_add(c->ctx, c->who.sub, param(c, 0), user, &err);
	json_t *out = NULL;
	if (rc == PL_OK)
		rc = pl_chat_room_get(c->ctx, c->who.sub, param(c, 0), &out, &err);
	pl_reply(c, rc, 200, out, &err);
}

static void h_dm(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL;
	enum pl_code rc = pl_chat_dm(c->ctx, c->who.sub, body_str(c, "user"), &out, &err);
	pl_reply(c, rc, 200, out, &err);
}

/* ---- messages ---- */

/* A body field naming another user as the sender is refused: the sender
 * is always the token's user. */
bool pl_sender_is_caller(struct pl_call *c, const char *field, pl_error *err)
{
	json_t *v = json_object_get(c->body, field);
	if (v && !(json_is_string(v) && strcmp(json_string_value(v), c->who.sub) == 0)) {
		pl_fail(err, PL_PERMISSION_DENIED, "%s: you can only send as yourself", field);
		return false;
	}
	return true;
}

static void h_post(struct pl_call *c)
{
	pl_error err;
	char *msg = NULL;
	size_t len = 0;
	bool created = false;
	const char *text, *client_id;
	enum pl_code rc = PL_INVALID_ARGUMENT;
	if (pl_sender_is_caller(c, "sender", &err) && body_opt_str(c, "text", &text, &err) &&
	    body_opt_str(c, "client_id", &client_id, &err))
		rc = pl_chat_post(c->ctx, c->who.sub, param(c, 0), text, client_id, &msg, &len,
				  &created, &err);
	pl_reply_text(c, rc, created ? 201 : 200, msg, len, &err);
}

struct async_post {
	pl_api_done done;
	void *ud;
};

static void async_post_done(void *ud, const char *msg, size_t len, bool created,
			    const pl_error *err)
{
	struct async_post *a = ud;
	struct pl_resp resp = {0};
	char *body = msg ? malloc(len + 1) : NULL; /* msg is the writer's */
	if (body)
		memcpy(body, msg, len + 1);
	reply_text(&resp, msg ? PL_OK : err->code, created ? 201 : 200, body, len, err);
	a->done(a->ud, &resp);
	free(a);
}

void pl_api_post_async(struct pl_call *c, pl_api_done done, void *ud)
{
	pl_error err;
	const char *text, *client_id;
	struct async_post *a = malloc(sizeof *a);
	if (!a || !pl_sender_is_caller(c, "sender", &err) || !body_opt_str(c, "text", &text, &err) ||
	    !body_opt_str(c, "client_id", &client_id, &err)) {
		struct pl_resp resp = {0};
		if (!a)
			pl_fail(&err, PL_UNAVAILABLE, "out of memory");
		pl_resp_error(&resp, &err);
		free(a);
		done(ud, &resp);
		return;
	}
	*a = (struct async_post){done, ud};
	pl_chat_post_async(c->ctx, c->who.sub, param(c, 0), text, client_id, async_post_done, a);
}

static enum pl_code page_arg(struct pl_call *c, const char *name, int64_t *out, bool *has_zero,
			     pl_error *err)
{
	const char *v = pl_req_query(c->req, name);
	*out = 0;
	/* after=0: from the beginning (every id is above it); before=0 would
	 * be a page that is always empty, and stays refused. */
	if (v && strcmp(v, "0") == 0 && has_zero) {
		*has_zero = true;
		return PL_OK;
	}
	if (v && !parse_id(v, out))
		return pl_fail(err, PL_INVALID_ARGUMENT, "%s must be a message id", name);
	return PL_OK;
}

/* since: RFC 3339 time, or milliseconds since the epoch. */
enum pl_code pl_parse_since(const char *v, struct pl_page *page, pl_error *err);
enum pl_code pl_parse_since(const char *v, struct pl_page *page, pl_error *err)
{
	page->since = 0;
	page->has_since = v != NULL;
	if (!v || pl_time_parse(v, &page->since) || parse_id(v, &page->since) ||
	    strcmp(v, "0") == 0)
		return PL_OK;
	return pl_fail(err, PL_INVALID_ARGUMENT,
		       "since must be an RFC 3339 time such as 2026-11-24T08:15:30.123Z");
}

enum pl_code pl_parse_limit(const char *v, int *out, pl_error *err);
enum pl_code pl_parse_limit(const char *v, int *out, pl_error *err)
{
	int64_t n = 50;
	if (v && (!parse_id(v, &n) || n > 200))
		return pl_fail(err, PL_INVALID_ARGUMENT, "limit must be 1 to 200");
	*out = (int)n;
	return PL_OK;
}

/* The page's JSON text comes from the store as it is sent: no tree. */
static void h_messages(struct pl_call *c)
{
	pl_error err;
	char *text = NULL;
	size_t len = 0;
	struct pl_page page = {0};
	enum pl_code rc = pl_parse_limit(pl_req_query(c->req, "limit"), &page.limit, &err);
	if (rc == PL_OK)
		rc = page_arg(c, "before", &page.before, NULL, &err);
	if (rc == PL_OK)
		rc = page_arg(c, "after", &page.after, &page.from_start, &err);
	if (rc == PL_OK)
		rc = pl_parse_since(pl_req_query(c->req, "since"), &page, &err);
	if (rc == PL_OK)
		rc = pl_chat_messages_text(c->ctx, c->who.sub, param(c, 0), &page, &text, &len,
					   &err);
	pl_reply_text(c, rc, 200, text, len, &err);
}

static bool message_id(struct pl_call *c, int64_t *id, pl_error *err)
{
	if (parse_id(param(c, 1), id))
		return true;
	pl_fail(err, PL_INVALID_ARGUMENT, "id must be a message id");
	return false;
}

static void h_edit(struct pl_call *c)
{
	pl_error err;
	json_t *msg = NULL;
	int64_t id;
	const char *text;
	enum pl_code rc = PL_INVALID_ARGUMENT;
	if (message_id(c, &id, &err) && pl_sender_is_caller(c, "sender", &err) &&
	    body_opt_str(c, "text", &text, &err))
		rc = pl_chat_edit(c->ctx, c->who.sub, param(c, 0), id, text, &msg, &err);
	pl_reply(c, rc, 200, msg, &err);
}

static void h_delete(struct pl_call *c)
{
	pl_error err;
	json_t *msg = NULL;
	int64_t id;
	enum pl_code rc = PL_INVALID_ARGUMENT;
	if (message_id(c, &id, &err))
		rc = pl_chat_delete(c->ctx, c->who.sub, param(c, 0), id, &msg, &err);
	pl_reply(c, rc, 200, msg, &err);
}

static void h_typing(struct pl_call *c)
{
	pl_error err;
	json_t *v = json_object_get(c->body, "typing");
	enum pl_code rc = json_is_boolean(v)
				  ? pl_chat_typing(c->ctx, c->who.sub, param(c, 0), json_is_true(v),
						   &err)
				  : pl_fail(&err, PL_INVALID_ARGUMENT, "typing must be true or false");
	pl_reply(c, rc, 204, NULL, &err);
}

static void h_read(struct pl_call *c)
{
	pl_error err;
	json_t *v = json_object_get(c->body, "up_to");
	enum pl_code rc = json_is_integer(v)
				  ? pl_chat_read(c->ctx, c->who.sub, param(c, 0),
						 json_integer_value(v), &err)
				  : pl_fail(&err, PL_INVALID_ARGUMENT, "up_to must be a message id");
	pl_reply(c, rc, 204, NULL, &err);
}

static void h_receipts(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL;
	enum pl_code rc = pl_chat_receipts(c->ctx, c->who.sub, param(c, 0), &out, &err);
	pl_reply(c, rc, 200, out, &err);
}

/* ---- status ---- */

static void h_user_status(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL;
	enum pl_code rc = pl_check_id("user", param(c, 0), &err);
	if (rc == PL_OK && !(out = pl_chat_status(c->ctx, c->who.sub, param(c, 0))))
		rc = pl_fail(&err, PL_UNAVAILABLE, "store unavailable");
	pl_reply(c, rc, 200, out, &err);
}

static void h_presence(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL;
	enum pl_code rc =
		pl_chat_presence(c->ctx, c->who.sub, pl_req_query(c->req, "users"), &out, &err);
	pl_reply(c, rc, 200, out, &err);
}

/* POST /v1/presence {"users":[..]}: the same as GET for lists too long
 * for a URL (500 ids of 64 characters are 32 KB). */
static void h_presence_post(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL, *users = json_object_get(c->body, "users");
	enum pl_code rc = PL_OK;
	size_t i, n = json_array_size(users);
	char *list = json_is_array(users) && n ? calloc(n, PL_ID_MAX + 2) : NULL;
	if (!list)
		rc = pl_fail(&err, PL_INVALID_ARGUMENT, "users must be a non-empty array of user ids");
	for (i = 0; rc == PL_OK && i < n; i++) {
		const char *u = json_string_value(json_array_get(users, i));
		if (pl_check_id("users", u, &err) != PL_OK)
			rc = err.code;
		else
			strcat(strcat(list, i ? "," : ""), u);
	}
	if (rc == PL_OK)
		rc = pl_chat_presence(c->ctx, c->who.sub, list, &out, &err);
	free(list);
	pl_reply(c, rc, 200, out, &err);
}

static void h_set_status(struct pl_call *c)
{
	pl_error err;
	json_t *out = NULL;
	enum pl_code rc =
		pl_chat_set_status(c->ctx, c->who.sub, body_str(c, "status"), &out, &err);
	pl_reply(c, rc, 200, out, &err);
}

void pl_metrics(struct pl_call *c);

#define R(m, p, f, fl) {m, p, PL_ROUTE_REST, f, fl}
#define PUBLIC PL_ROUTE_PUBLIC
#define BODY PL_ROUTE_BODY
static const struct pl_route routes[] = {
	R("GET", "/v1/health", h_health, PUBLIC),
	R("GET", "/metrics", pl_metrics, PUBLIC),
	R("POST", "/v1/dev/login", h_dev_login, PUBLIC | BODY),
	R("POST", "/v1/rooms", h_room_create, BODY),
	R("GET", "/v1/rooms", h_rooms, 0),
	R("GET", "/v1/rooms/:", h_room_get, 0),
	R("POST", "/v1/rooms/:/join", h_join, 0),
	R("POST", "/v1/rooms/:/leave", h_leave, 0),
	R("GET", "/v1/rooms/:/members", h_members, 0),
	R("POST", "/v1/rooms/:/members", h_member_add, BODY),
	R("POST", "/v1/dms", h_dm, BODY),
	R("POST", "/v1/rooms/:/messages", h_post, BODY),
	R("GET", "/v1/rooms/:/messages", h_messages, 0),
	R("PATCH", "/v1/rooms/:/messages/:", h_edit, BODY),
	R("DELETE", "/v1/rooms/:/messages/:", h_delete, 0),
	R("POST", "/v1/rooms/:/typing", h_typing, BODY),
	R("POST", "/v1/rooms/:/read", h_read, BODY),
	R("GET", "/v1/rooms/:/receipts", h_receipts, 0),
	R("GET", "/v1/users/:/status", h_user_status, 0),
	R("GET", "/v1/presence", h_presence, 0),
	R("POST", "/v1/presence", h_presence_post, BODY),
	R("POST", "/v1/me/status", h_set_status, BODY),
	{"GET", "/v1/events", PL_ROUTE_SSE, NULL, 0},
	{"GET", "/v1/ws", PL_ROUTE_WS, NULL, 0},
	{"GET", "/v1/poll", PL_ROUTE_POLL, NULL, 0},
	{"GET", "/ws-online-status", PL_ROUTE_ONLINE_WS, NULL, 0},
	{"GET", "/v1/admin/stats", PL_ROUTE_ADMIN, NULL, 0},
	R("POST", "/sendMessage", pl_compat_send, BODY),
	R("GET", "/getMessages", pl_compat_get_messages, 0),
	R("POST", "/updateStatus", pl_compat_update_status, BODY),
	R("GET", "/getStatus", pl_compat_get_status, 0),
	R("POST", "/create-room", pl_compat_create_room, PL_ROUTE_BODY_OPT),
	R("POST", "/join-room/:", pl_compat_join_room, 0),
	{NULL, NULL, PL_ROUTE_REST, NULL, 0},
};

const char *pl_req_token(const struct pl_req *req)
{
	const char *a = req->authorization;
	if (a && strncasecmp(a, "Bearer ", 7) == 0) {
		for (a += 7; *a == ' '; a++)
			;
		return a;
	}
	return pl_req_query(req, "token");
}

static bool is_json_type(const char *ct)
{
	if (!ct)
		return false;
	size_t n = strlen("application/json");
	return strncasecmp(ct, "application/json", n) == 0 &&
	       (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/* The body checks of BODY routes: 415 for another type, 400 for JSON that
 * is broken or not an object. */
static enum pl_code parse_body(struct pl_call *c, pl_error *err)
{
	/* Optional bodies (the old servers' bare POSTs): none is {}, and JSON
	 * sent without a Content-Type is still read. */
	if ((c->m.route->flags & PL_ROUTE_BODY_OPT) && c->req->body_len == 0) {
		c->body = json_object();
		return c->body ? PL_OK : pl_fail(err, PL_INTERNAL, "out of memory");
	}
	bool untyped_ok = (c->m.route->flags & PL_ROUTE_BODY_OPT) &&
			  (!c->req->content_type || !*c->req->content_type);
	if (!untyped_ok && !is_json_type(c->req->content_type))
		return pl_fail(err, PL_UNSUPPORTED_MEDIA,
			       "Content-Type must be application/json");
	json_error_t jerr;
	c->body = json_loadb(c->req->body ? c->req->body : "", c->req->body_len,
			     JSON_REJECT_DUPLICATES, &jerr);
	if (!c->body)
		return pl_fail(err, PL_INVALID_ARGUMENT, "body: invalid JSON at line %d: %s",
			       jerr.line, jerr.text);
	if (!json_is_object(c->body))
		return pl_fail(err, PL_INVALID_ARGUMENT, "body must be a JSON object");
	return PL_OK;
}

static enum pl_code authenticate(struct pl_call *c, pl_error *err)
{
	return pl_chat_auth(c->ctx, pl_req_token(c->req), &c->who, err);
}

enum pl_route_kind pl_api_handle(struct pl_ctx *ctx, const struct pl_req *req,
				 struct pl_resp *resp, struct pl_call *c)
{
	memset(c, 0, sizeof *c);
	c->ctx = ctx;
	c->req = req;
	c->resp = resp;
	pl_error err;
	enum pl_code rc = pl_route_match(routes, req->method, req->path, &c->m);
	if (rc == PL_NOT_FOUND)
		pl_fail(&err, rc, "path: no endpoint %s", req->path);
	else if (rc == PL_METHOD_NOT_ALLOWED)
		pl_fail(&err, rc, "method: %s is not allowed here (allowed: %s)", req->method,
			c->m.allow);
	else if (req->body_too_large)
		rc = pl_fail(&err, PL_PAYLOAD_TOO_LARGE, "body: at most %d bytes", PL_BODY_MAX);
	else if (!(c->m.route->flags & PL_ROUTE_PUBLIC))
		rc = authenticate(c, &err);
	if (rc == PL_OK && c->m.route->kind == PL_ROUTE_ADMIN && !c->who.admin)
		rc = pl_fail(&err, PL_PERMISSION_DENIED,
			     "token: this needs an admin token (the claim \"admin\": true)");
	if (rc == PL_OK && (c->m.route->flags & (PL_ROUTE_BODY | PL_ROUTE_BODY_OPT)))
		rc = parse_body(c, &err);
	if (rc != PL_OK) {
		pl_resp_error(resp, &err);
		if (rc == PL_METHOD_NOT_ALLOWED)
			resp->allow = c->m.allow;
		return PL_ROUTE_REST;
	}
	if (c->m.route->kind != PL_ROUTE_REST)
		return c->m.route->kind;
	if (c->m.route->fn == h_post && req->async_ok)
		return PL_ROUTE_POST;
	c->m.route->fn(c);
	return PL_ROUTE_REST;
}

void pl_call_done(struct pl_call *c)
{
	json_decref(c->body);
	c->body = NULL;
}

void pl_metrics(struct pl_call *c)
{
	pl_error err;
	if (!c->ctx->cfg->metrics) {
		pl_fail(&err, PL_NOT_FOUND, "path: metrics are switched off");
		pl_resp_error(c->resp, &err);
		return;
	}
	const struct pl_counters *k = &c->ctx->counters;
	const struct pl_webhook_stats *hook = pl_webhook_stats(c->ctx->webhook);
	char *out = NULL;
	int n = asprintf(&out,
			 "# TYPE parley_http_requests_total counter\n"
			 "parley_http_requests_total %lld\n"
			 "# TYPE parley_messages_stored_total counter\n"
			 "parley_messages_stored_total %lld\n"
			 "# TYPE parley_events_fanned_out_total counter\n"
			 "parley_events_fanned_out_total %lld\n"
			 "# TYPE parley_deliveries_total counter\n"
			 "parley_deliveries_total %lld\n"
			 "# TYPE parley_push_connections gauge\n"
			 "parley_push_connections %lld\n"
			 "# HELP parley_connections push connections open now, by transport\n"
			 "# TYPE parley_connections gauge\n"
			 "parley_connections{transport=\"ws\"} %lld\n"
			 "parley_connections{transport=\"sse\"} %lld\n"
			 "parley_connections{transport=\"poll\"} %lld\n"
			 "parley_connections{transport=\"online_ws\"} %lld\n"
			 "parley_connections{transport=\"socketio\"} %lld\n"
			 "# HELP parley_users_connected users with at least one push connection open\n"
			 "# TYPE parley_users_connected gauge\n"
			 "parley_users_connected %lld\n"
			 "# TYPE parley_push_connections_total counter\n"
			 "parley_push_connections_total %lld\n"
			 "# TYPE parley_slow_consumers_dropped_total counter\n"
			 "parley_slow_consumers_dropped_total %lld\n"
			 "# HELP parley_webhook_deliveries_total webhook deliveries answered 2xx\n"
			 "# TYPE parley_webhook_deliveries_total counter\n"
			 "parley_webhook_deliveries_total %lld\n"
			 "# HELP parley_webhook_failures_total webhook attempts that failed\n"
			 "# TYPE parley_webhook_failures_total counter\n"
			 "parley_webhook_failures_total %lld\n"
			 "# HELP parley_webhook_dropped_total webhook deliveries given up\n"
			 "# TYPE parley_webhook_dropped_total counter\n"
			 "parley_webhook_dropped_total %lld\n"
			 "# HELP parley_webhook_queue webhook deliveries waiting in the store\n"
			 "# TYPE parley_webhook_queue gauge\n"
			 "parley_webhook_queue %lld\n"
			 "# TYPE parley_uptime_seconds gauge\n"
			 "parley_uptime_seconds %lld\n",
			 (long long)k->http_requests, (long long)k->messages_stored,
			 (long long)k->events_fanned_out, (long long)k->deliveries,
			 (long long)k->push_open, (long long)k->open_ws, (long long)k->open_sse,
			 (long long)k->open_poll, (long long)k->open_feed, (long long)k->socketio_open,
			 (long long)k->users_connected, (long long)k->push_total,
			 (long long)k->slow_dropped, hook ? (long long)hook->delivered : 0LL,
			 hook ? (long long)hook->failed : 0LL, hook ? (long long)hook->dropped : 0LL,
			 hook ? (long long)hook->queued : 0LL,
			 (long long)((pl_now_ms() - c->ctx->started_ms) / 1000));
	size_t len = n < 0 ? 0 : (size_t)n;
	struct pl_histo_snap deliv, commit;
	pl_histo_snapshot(&c->ctx->counters.delivery_latency, &deliv);
	pl_histo_snapshot(&c->ctx->counters.commit_latency, &commit);
	if (n < 0 ||
	    !pl_histo_prom(&deliv, "parley_delivery_latency_seconds",
			   "stored events from their commit to the hub's write to a client "
			   "(this process's commits, live deliveries)",
			   &out, &len) ||
	    !pl_histo_prom(&commit, "parley_store_commit_seconds",
			   "writer transactions, BEGIN (waiting for the lock included) to COMMIT",
			   &out, &len)) {
		if (n >= 0)
			free(out);
		pl_fail(&err, PL_INTERNAL, "out of memory");
		pl_resp_error(c->resp, &err);
		return;
	}
	pl_resp_text(c->resp, 200, "text/plain; version=0.0.4", out, len);
}
