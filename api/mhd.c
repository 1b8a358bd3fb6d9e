/* api/mhd: see mhd.h. */
#include "api/mhd.h"
#include "api/takeover.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/cors.h"
#include "api/guard.h"
#include "api/handlers.h"
#include "api/poll.h"
#include "api/pushargs.h"
#include "api/sio_http.h"
#include "base/clock.h"
#include "base/log.h"
#include "push/ws.h"

/* Per-connection memory pool: enough for a browser's request headers,
 * small enough that 19,000 idle SSE streams stay within a few KiB each. */
#define MHD_POOL_BYTES (8 * 1024)

struct pl_http {
	struct MHD_Daemon *d;
	struct pl_ctx *ctx;
	struct pl_hub *hub;
	atomic_bool stopping;
	atomic_int posting;        /* posts waiting for their commit */
	/* From the quiesce on, every request is answered 503 with
	 * "Connection: close"; the stop waits (a little) for the requests
	 * begun to be answered, so no client has its request reset. */
	atomic_bool quiet;
	atomic_int requests;       /* begun and not completed (push streams not counted) */
	struct pl_guard *guard;    /* connection caps, the request deadline */
	struct pl_takeover *takeover; /* how push sockets reach the hub (api/takeover.h) */
	MHD_socket listen_fd;      /* handed back by the quiesce, closed at the stop */
};

/* What one request accumulates between MHD's calls. */
struct req_state {
	char *body;
	size_t len;
	bool too_large;
	struct pl_conn *poll;      /* a suspended long-poll */
	struct MHD_Connection *mc; /* a suspended post: its connection, */
	struct pl_http *s;         /* its server, */
	struct pl_resp answer;     /* and its answer once committed */
	bool answered;
	bool started;              /* the first call (head checks) is done */
	bool nul;                  /* the raw URI holds %00 */
	bool counted;              /* in s->requests */
	struct pl_eio_req *sio;    /* a suspended Engine.IO polling request */
};

static const char *query(void *adapter, const char *name)
{
	return MHD_lookup_connection_value(adapter, MHD_GET_ARGUMENT_KIND, name);
}

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* ---- what every answer carries: CORS (api/cors.h) ---- */

/* MHD's socket context of a connection: its place under the caps
 * (api/guard.h) and its server, whose CORS list every answer consults. */
struct conn_ctx {
	struct pl_guard_slot *slot;
	const struct pl_http *s;
};

static struct conn_ctx *ctx_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static const char *cors_list(struct MHD_Connection *mc)
{
	const struct conn_ctx *x = ctx_of(mc);
	return x ? x->s->ctx->cfg->cors_origin : "";
}

static void add_header(void *resp, const char *name, const char *value)
{
	MHD_add_response_header(resp, name, value);
}

void pl_http_cors(struct MHD_Connection *mc, struct MHD_Response *resp)
{
	pl_cors_headers(cors_list(mc), header(mc, "Origin"), add_header, resp);
}

/* A preflight from an allowed origin: 204 with what it may do.  Others
 * (no --cors-origin, an origin not listed) are answered as before: the
 * route's own answer to OPTIONS, without CORS headers. */
static bool answer_preflight(struct MHD_Connection *mc, const char *method, enum MHD_Result *ret)
{
	if (!pl_cors_is_preflight(method, header(mc, "Access-Control-Request-Method")) ||
	    !pl_cors_allow(cors_list(mc), header(mc, "Origin")))
		return false;
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		*ret = MHD_NO;
		return true;
	}
	pl_cors_preflight(cors_list(mc), header(mc, "Origin"), add_header, resp);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	*ret = MHD_queue_response(mc, MHD_HTTP_NO_CONTENT, resp);
	MHD_destroy_response(resp);
	return true;
}

/* close: "Connection: close", for answers after which the rest of what
 * the client sent cannot be trusted to frame a next request. */
static enum MHD_Result send_resp_close(struct MHD_Connection *mc, struct pl_resp *r, bool close)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		r->len, r->body ? r->body : (char *)"", r->body ? MHD_RESPMEM_MUST_FREE
								: MHD_RESPMEM_PERSISTENT);
	r->body = NULL;
	if (!resp)
		return MHD_NO;
	if (r->content_type && r->status != 204)
		MHD_add_response_header(resp, "Content-Type", r->content_type);
	if (r->retry_after > 0) {
		char v[16];
		snprintf(v, sizeof v, "%d", r->retry_after);
		MHD_add_response_header(resp, "Retry-After", v);
	}
	if (r->allow)
		MHD_add_response_header(resp, "Allow", r->allow);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	pl_http_cors(mc, resp);
	if (close)
		MHD_add_response_header(resp, "Connection", "close");
	enum MHD_Result ok = MHD_queue_response(mc, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static enum MHD_Result send_resp(struct MHD_Connection *mc, struct pl_resp *r)
{
	return send_resp_close(mc, r, false);
}

static enum MHD_Result send_error(struct MHD_Connection *mc, const pl_error *err)
{
	struct pl_resp r = {0};
	pl_resp_error(&r, err);
	return send_resp(mc, &r);
}

static enum MHD_Result send_error_close(struct MHD_Connection *mc, const pl_error *err)
{
	struct pl_resp r = {0};
	pl_resp_error(&r, err);
	return send_resp_close(mc, &r, true);
}

/* ---- connection caps ---- */

static struct pl_guard_slot *slot_of(struct MHD_Connection *mc)
{
	const struct conn_ctx *x = ctx_of(mc);
	return x ? x->slot : NULL;
}

/* A push connection's place under --max-user-connections (and, for the
 * sockets the hub takes over, under its address's cap), given back when
 * the last reference to c goes.  False (429 to send) over the cap. */
static bool take_place(struct pl_http *s, struct MHD_Connection *mc, struct pl_conn *c,
		       pl_error *err)
{
	bool over;
	struct pl_guard_lease *l = pl_guard_lease(s->guard, slot_of(mc), c->user,
						  c->kind != PL_CONN_POLL, &over);
	if (!l) {
		if (over) {
			pl_fail(err, PL_RATE_LIMITED,
				"connections: at most %d push connections per user; close one",
				s->ctx->cfg->max_user_connections);
			err->retry_after = 5;
		} else {
			pl_fail(err, PL_UNAVAILABLE, "out of memory");
		}
		return false;
	}
	c->released = pl_guard_release;
	c->released_ud = l;
	return true;
}

/* ---- the web client ---- */

static const char *mime_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"},
		{".json", "application/json"}, {".webmanifest", "application/manifest+json"},
		{".md", "text/markdown; charset=utf-8"},
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

#define PL_WWW_CSP                                                                        \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "  \
	"connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; "          \
	"form-action 'self'; object-src 'none'"

/* Serves a file under www/ for GET; false when there is none (the API's
 * 404 follows).  Paths with ".." or hidden parts never leave www/. */
static bool serve_static(struct pl_http *s, struct MHD_Connection *mc, const char *path,
			 enum MHD_Result *ret)
{
	if (strncmp(path, "/v1/", 4) == 0 || strstr(path, "..") || strstr(path, "/.") ||
	    strlen(path) > 256)
		return false;
	char file[4500];
	if (strcmp(path, "/admin") == 0)
		path = "/admin.html"; /* the operators' page (www/admin.html) */
	snprintf(file, sizeof file, "%s%s%s", s->ctx->cfg->www_dir, path,
		 path[strlen(path) - 1] == '/' ? "index.html" : "");
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return false;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return false;
	}
	struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		return false;
	}
	MHD_add_response_header(resp, "Content-Type", mime_type(file));
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* The web client loads nothing but its own files and talks only to
	 * its server (and push streams on ws:/wss:); no page may frame it. */
	MHD_add_response_header(resp, "Content-Security-Policy", PL_WWW_CSP);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	*ret = MHD_queue_response(mc, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return true;
}

/* ---- push ---- */

static void wake(struct pl_conn *c) { MHD_resume_connection(c->front); }

/* The attach options common to every transport, checked against the
 * caller's rights (403 for a room they are not in). */
static enum pl_code push_options(struct pl_http *s, const struct pl_call *call,
				 const char *resume, struct pl_attach *a, pl_error *err)
{
	memset(a, 0, sizeof *a);
	a->exp = call->who.exp; /* the stream ends with the token */
	if (!pl_parse_event_id(resume, &a->last_event_id))
		return pl_fail(err, PL_INVALID_ARGUMENT, "last_event_id must be an event id");
	if (pl_push_parse_rooms(s->ctx, call->who.sub, pl_req_query(call->req, "rooms"),
				&a->rooms, err) != PL_OK)
		return err->code;
	if (pl_push_parse_users(pl_req_query(call->req, "presence"), &a->presence, err) != PL_OK) {
		json_decref(a->rooms);
		return err->code;
	}
	return PL_OK;
}

static void free_options(struct pl_attach *a)
{
	json_decref(a->rooms);
	json_decref(a->presence);
}

static struct pl_conn *new_conn(struct pl_http *s, enum pl_conn_kind kind, const char *user,
				struct MHD_Connection *mc)
{
	struct pl_conn *c = pl_conn_new(kind, user);
	if (c) {
		c->front = mc;
		c->front_ud = s;
		c->wake = wake;
	}
	return c;
}

/* An SSE stream's socket for the hub (api/takeover.h), and its
 * connection, with its place under the connection caps taken.  NULL with
 * err (nothing left open) when it cannot be had. */
static struct pl_conn *sse_take(struct pl_http *s, struct MHD_Connection *mc, const char *user,
				int *fd, struct pl_sse_take **st, pl_error *err)
{
	*fd = pl_sse_take(s->takeover, mc, st);
	struct pl_conn *c = *fd >= 0 ? pl_conn_new(PL_CONN_SSE, user) : NULL;
	if (!c)
		pl_fail(err, PL_UNAVAILABLE, "cannot open the stream now");
	if (!c || !take_place(s, mc, c, err)) {
		if (*fd >= 0)
			close(*fd);
		pl_sse_cancel(*st);
		pl_conn_unref(c);
		return NULL;
	}
	c->cors_head = pl_cors_lines(cors_list(mc), header(mc, "Origin")); /* NULL: none */
	return c;
}

/* SSE: the hub answers on a socket of its own and writes the stream
 * (push/stream.c): MHD's, taken over, or the fallback's relay
 * (api/takeover.h says which and what each relies on).  An idle stream
 * taken over costs what a WebSocket does. */
static enum MHD_Result start_sse(struct pl_http *s, struct MHD_Connection *mc,
				 struct pl_call *call)
{
	pl_error err;
	struct pl_attach a;
	const char *resume = pl_req_query(call->req, "last_event_id");
	if (!resume)
		resume = call->req->last_event_id;
	if (push_options(s, call, resume, &a, &err) != PL_OK)
		return send_error(mc, &err);
	int fd;
	struct pl_sse_take *st;
	struct pl_conn *c = sse_take(s, mc, call->who.sub, &fd, &st, &err);
	if (!c) {
		free_options(&a);
		return send_error(mc, &err);
	}
	pl_hub_adopt_sse(s->hub, c, fd, &a);
	free_options(&a);
	pl_conn_unref(c);
	return pl_sse_answer(mc, st);
}

/* The admin stream (push/admin.h): an SSE socket the hub takes over as
 * start_sse's, with no rooms, resume or presence to ask for. */
static enum MHD_Result start_admin(struct pl_http *s, struct MHD_Connection *mc,
				   struct pl_call *call)
{
	pl_error err;
	struct pl_attach a = {.last_event_id = -1, .exp = call->who.exp};
	int fd;
	struct pl_sse_take *st;
	struct pl_conn *c = sse_take(s, mc, call->who.sub, &fd, &st, &err);
	if (!c)
		return send_error(mc, &err);
	c->admin = true;
	pl_hub_adopt_sse(s->hub, c, fd, &a);
	pl_conn_unref(c);
	return pl_sse_answer(mc, st);
}

/* Long-poll (api/poll.h): suspend until the hub has events or the
 * deadline passes; MHD then calls the access handler again and
 * answer_poll replies. */
static enum MHD_Result start_poll(struct pl_http *s, struct MHD_Connection *mc,
				  struct pl_call *call, struct req_state *st)
{
	pl_error err;
	struct pl_poll_req p;
	if (pl_poll_parse(s->ctx, call, &p, &err) != PL_OK)
		return send_error(mc, &err);
	if (!p.session[0] && !pl_poll_new_session(p.session)) {
		pl_poll_req_free(&p);
		pl_fail(&err, PL_UNAVAILABLE, "cannot start a session now");
		return send_error(mc, &err);
	}
	struct pl_conn *c = new_conn(s, PL_CONN_POLL, call->who.sub, mc);
	if (!c)
		pl_fail(&err, PL_UNAVAILABLE, "out of memory");
	if (!c || !take_place(s, mc, c, &err)) {
		pl_conn_unref(c);
		pl_poll_req_free(&p);
		return send_error(mc, &err);
	}
	c->poll_deadline_ms = pl_poll_deadline(p.timeout, call->who.exp);
	memcpy(c->session, p.session, sizeof p.session);
	struct pl_attach a = {.rooms = p.rooms, .presence = p.presence,
			      .last_event_id = p.cursor, .exp = call->who.exp};
	/* Suspended before the hub knows of it, so the hub's resume always
	 * finds a suspended connection. */
	MHD_suspend_connection(mc);
	c->suspended = true;
	st->poll = c;
	pl_hub_attach(s->hub, c, &a); /* takes p's rooms and presence */
	return MHD_YES;
}

static enum MHD_Result answer_poll(struct MHD_Connection *mc, struct req_state *st)
{
	struct pl_resp r = {0};
	size_t len;
	int64_t cursor;
	char session[33];
	char *events = pl_poll_take(st->poll, &len, &cursor, session);
	char *body = events ? pl_poll_answer(events, len, cursor, session, &r.len) : NULL;
	free(events);
	if (!body) {
		pl_error err;
		pl_fail(&err, PL_UNAVAILABLE, "out of memory");
		return send_error(mc, &err);
	}
	pl_resp_text(&r, 200, "application/json", body, r.len);
	return send_resp(mc, &r);
}

/* ---- WebSocket ---- */

struct ws_pending {
	struct pl_http *s;
	struct pl_conn *c;
	struct pl_attach a;
};

static void ws_upgraded(void *cls, struct MHD_Connection *mc, void *con_cls,
			const char *extra, size_t extra_len, MHD_socket sock,
			struct MHD_UpgradeResponseHandle *urh)
{
	(void)mc;
	(void)con_cls;
	struct ws_pending *p = cls;
	int fd = pl_upgrade_take(p->s->takeover, sock, urh); /* api/takeover.h */
	if (fd >= 0)
		pl_hub_adopt_ws(p->s->hub, p->c, fd, extra, extra_len, &p->a);
	free_options(&p->a);
	pl_conn_unref(p->c);
	free(p);
}

static enum MHD_Result start_ws(struct pl_http *s, struct MHD_Connection *mc,
				struct pl_call *call, enum pl_conn_kind kind)
{
	pl_error err;
	char accept[29];
	if (!pl_upgrade_handshake(mc, accept)) {
		pl_fail(&err, PL_INVALID_ARGUMENT,
			"Upgrade: a WebSocket handshake (version 13) is required here");
		return send_error(mc, &err);
	}
	struct ws_pending *p = calloc(1, sizeof *p);
	if (!p)
		return MHD_NO;
	p->s = s;
	if (push_options(s, call, pl_req_query(call->req, "last_event_id"), &p->a, &err) != PL_OK) {
		free(p);
		return send_error(mc, &err);
	}
	p->c = pl_conn_new(kind, call->who.sub);
	if (p->c && !take_place(s, mc, p->c, &err)) { /* 429 before the upgrade */
		pl_conn_unref(p->c);
		free_options(&p->a);
		free(p);
		return send_error(mc, &err);
	}
	bool made = false;
	enum MHD_Result ok = p->c ? pl_upgrade_answer(mc, accept, ws_upgraded, p, &made) : MHD_NO;
	if (!made) {
		pl_conn_unref(p->c);
		free_options(&p->a);
		free(p);
	}
	return ok;
}

/* ---- posting without holding a thread ---- */

/* A post waits for its commit with its connection suspended, not with an
 * HTTP thread blocked: many posts in flight share one commit. */
static void post_finished(void *ud, const struct pl_resp *resp)
{
	struct req_state *st = ud;
	struct pl_http *s = st->s;
	st->answer = *resp;
	st->answered = true;
	MHD_resume_connection(st->mc);
	atomic_fetch_sub(&s->posting, 1);
}

static enum MHD_Result start_post(struct pl_http *s, struct MHD_Connection *mc,
				  struct pl_call *call, struct req_state *st)
{
	st->mc = mc;
	st->s = s;
	atomic_fetch_add(&s->posting, 1);
	MHD_suspend_connection(mc);
	pl_api_post_async(call, post_finished, st);
	return MHD_YES;
}

/* ---- requests ---- */

/* HEAD on a push route: the headers a GET would start with, and no stream,
 * poll or upgrade at all (MHD sends no body for HEAD). */
static enum pl_route_kind head_only(enum pl_route_kind kind, struct pl_resp *resp)
{
	pl_error err;
	if (kind == PL_ROUTE_SSE || kind == PL_ROUTE_ADMIN) {
		pl_resp_text(resp, 200, "text/event-stream", NULL, 0);
	} else if (kind == PL_ROUTE_POLL) {
		pl_resp_text(resp, 200, "application/json", NULL, 0);
	} else {
		pl_fail(&err, PL_INVALID_ARGUMENT,
			"method: a WebSocket handshake is a GET; HEAD opens nothing");
		pl_resp_error(resp, &err);
	}
	return PL_ROUTE_REST;
}

/* The request's framing headers, counted. */
struct framing {
	int content_length, transfer_encoding;
	const char *te;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	(void)kind;
	struct framing *f = cls;
	if (strcasecmp(key, "Content-Length") == 0) {
		f->content_length++;
	} else if (strcasecmp(key, "Transfer-Encoding") == 0) {
		f->transfer_encoding++;
		f->te = value;
	}
	return MHD_YES;
}

/* Checks made once the head is in, before any body is read.  A request
 * whose body length is ambiguous (two Content-Lengths, Content-Length
 * with Transfer-Encoding, an encoding other than chunked) would let what
 * follows be read as another request (request smuggling behind a proxy):
 * it is refused and the connection closed. */
static enum MHD_Result check_head(struct MHD_Connection *mc, struct req_state *st)
{
	pl_error err;
	struct framing f = {0};
	if (pl_guard_over_ip(slot_of(mc))) {
		pl_fail(&err, PL_RATE_LIMITED, "connections: too many from your address");
		err.retry_after = 5;
		return send_error_close(mc, &err);
	}
	if (st->nul) {
		pl_fail(&err, PL_INVALID_ARGUMENT, "path: %%00 (a NUL byte) is not allowed");
		return send_error_close(mc, &err);
	}
	MHD_get_connection_values(mc, MHD_HEADER_KIND, count_framing, &f);
	if (f.content_length > 1)
		pl_fail(&err, PL_INVALID_ARGUMENT, "Content-Length: given more than once");
	else if (f.transfer_encoding > 1)
		pl_fail(&err, PL_INVALID_ARGUMENT, "Transfer-Encoding: given more than once");
	else if (f.transfer_encoding && f.content_length)
		pl_fail(&err, PL_INVALID_ARGUMENT,
			"Transfer-Encoding: not allowed together with Content-Length");
	else if (f.transfer_encoding && strcasecmp(f.te, "chunked") != 0)
		pl_fail(&err, PL_INVALID_ARGUMENT, "Transfer-Encoding: only chunked is understood");
	else
		return MHD_YES;
	return send_error_close(mc, &err);
}

static enum MHD_Result dispatch(struct pl_http *s, struct MHD_Connection *mc, const char *url,
				const char *method, struct req_state *st)
{
	enum MHD_Result ret;
	bool engine_only;
	if (answer_preflight(mc, method, &ret))
		return ret;
	if (pl_sio_http_path(s->ctx->cfg, url, &engine_only)) /* Socket.IO: api/sio_http.c */
		return pl_sio_http_start(s->hub, s->takeover, mc, method, engine_only, &st->body,
					 st->len, st->too_large, &st->sio);
	if ((strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
	    serve_static(s, mc, url, &ret))
		return ret;
	struct pl_req req = {
		.method = method, .path = url,
		.content_type = header(mc, "Content-Type"),
		.authorization = header(mc, "Authorization"),
		.last_event_id = header(mc, "Last-Event-ID"),
		.body = st->body, .body_len = st->len, .body_too_large = st->too_large,
		.query = query, .adapter = mc,
		.async_ok = !atomic_load(&s->stopping),
	};
	struct pl_resp resp = {0};
	struct pl_call call;
	atomic_fetch_add(&s->ctx->counters.http_requests, 1);
	enum pl_route_kind kind = pl_api_handle(s->ctx, &req, &resp, &call);
	if (kind != PL_ROUTE_REST && kind != PL_ROUTE_POST && strcmp(method, "HEAD") == 0)
		kind = head_only(kind, &resp);
	if ((kind == PL_ROUTE_SSE || kind == PL_ROUTE_WS || kind == PL_ROUTE_ONLINE_WS) &&
	    st->counted) {
		/* A stream, not a request to wait for at the stop: the hub
		 * ends it. */
		st->counted = false;
		atomic_fetch_sub(&s->requests, 1);
	}
	switch (kind) {
	case PL_ROUTE_REST: ret = send_resp(mc, &resp); break;
	case PL_ROUTE_SSE: ret = start_sse(s, mc, &call); break;
	case PL_ROUTE_ADMIN: ret = start_admin(s, mc, &call); break;
	case PL_ROUTE_POLL: ret = start_poll(s, mc, &call, st); break;
	case PL_ROUTE_WS: ret = start_ws(s, mc, &call, PL_CONN_WS); break;
	case PL_ROUTE_ONLINE_WS: ret = start_ws(s, mc, &call, PL_CONN_ONLINE_WS); break;
	case PL_ROUTE_POST: ret = start_post(s, mc, &call, st); break;
	default: ret = MHD_NO;
	}
	pl_resp_free(&resp);
	pl_call_done(&call);
	return ret;
}

/* Bodies are read up to PL_BODY_MAX; the rest is drained and dropped so
 * the 413 can still be answered on the same connection. */
static void take_body(struct req_state *st, const char *data, size_t n)
{
	if (st->too_large || st->len + n > PL_BODY_MAX) {
		st->too_large = true;
		return;
	}
	char *grown = realloc(st->body, st->len + n + 1);
	if (!grown) {
		st->too_large = true;
		return;
	}
	st->body = grown;
	memcpy(st->body + st->len, data, n);
	st->len += n;
	st->body[st->len] = 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	(void)version;
	struct pl_http *s = cls;
	struct req_state *st = *con_cls;
	if (!st) /* made by uri_seen; without memory, the request goes */
		return MHD_NO;
	if (!st->started) {
		st->started = true;
		return check_head(mc, st);
	}
	if (st->poll)
		return answer_poll(mc, st);
	if (st->sio)
		return pl_sio_http_answer(mc, st->sio);
	if (st->answered) {
		st->answered = false;
		return send_resp(mc, &st->answer);
	}
	if (*upload_size) {
		take_body(st, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	pl_guard_busy(s->guard, slot_of(mc), true); /* all in: the deadline is met */
	if (atomic_load(&s->quiet)) {
		/* The whole request is read: closing after the answer resets
		 * nothing. */
		pl_error err;
		pl_fail(&err, PL_UNAVAILABLE, "server: shutting down; retry in a moment");
		err.retry_after = 1;
		return send_error_close(mc, &err);
	}
	return dispatch(s, mc, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	(void)why;
	struct pl_http *s = cls;
	struct req_state *st = *con_cls;
	pl_guard_busy(s->guard, slot_of(mc), false); /* the next request's clock */
	if (!st)
		return;
	if (st->counted)
		atomic_fetch_sub(&s->requests, 1);
	if (st->poll) {
		pl_hub_detach(s->hub, st->poll);
		pl_conn_unref(st->poll);
	}
	pl_eio_req_unref(st->sio);
	pl_resp_free(&st->answer);
	free(st->body);
	free(st);
	*con_cls = NULL;
}

/* Called with the request line, the URI still raw: MHD decodes %00 into a
 * NUL that silently cuts the path ("/metrics%00.js" would be "/metrics"),
 * so it is looked for here.  The request's state starts here too. */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *mc)
{
	struct pl_http *s = cls;
	(void)mc;
	struct req_state *st = calloc(1, sizeof *st);
	if (st) {
		st->nul = strstr(uri, "%00") != NULL;
		st->counted = true;
		atomic_fetch_add(&s->requests, 1);
	}
	return st;
}

/* Every connection MHD accepts or closes, for the caps and the deadline. */
static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct pl_http *s = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd =
			MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *peer =
			MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		struct conn_ctx *x = calloc(1, sizeof *x);
		if (x) {
			x->s = s;
			x->slot = fd ? pl_guard_open(s->guard, fd->connect_fd,
						     peer ? peer->client_addr : NULL)
				     : NULL;
		}
		*socket_context = x;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct conn_ctx *x = *socket_context;
		pl_guard_close(s->guard, x ? x->slot : NULL);
		free(x);
		*socket_context = NULL;
	}
}

static bool listen_address(const struct pl_config *cfg, struct sockaddr_storage *ss,
			   pl_error *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *res = NULL;
	char port[16];
	snprintf(port, sizeof port, "%d", cfg->listen_port);
	int rc = getaddrinfo(cfg->listen_host[0] ? cfg->listen_host : NULL, port, &hints, &res);
	if (rc != 0 || !res) {
		pl_fail(err, PL_INVALID_ARGUMENT, "--listen: cannot resolve %s: %s",
			cfg->listen_host, gai_strerror(rc));
		return false;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return true;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[512];
	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = 0;
	log_debug("http: %s", line);
}

struct pl_http *pl_http_start(struct pl_ctx *ctx, struct pl_hub *hub, pl_error *err)
{
	struct pl_http *s = calloc(1, sizeof *s);
	struct sockaddr_storage ss;
	if (!s) {
		pl_fail(err, PL_INTERNAL, "out of memory");
		return NULL;
	}
	s->ctx = ctx;
	s->hub = hub;
	s->listen_fd = MHD_INVALID_SOCKET;
	const struct pl_config *cfg = ctx->cfg;
	s->guard = pl_guard_new(cfg->max_ip_connections, cfg->max_user_connections,
				cfg->request_timeout);
	s->takeover = pl_takeover_new(!cfg->no_takeover);
	if (!s->guard || !s->takeover) {
		pl_fail(err, PL_INTERNAL, "out of memory");
		pl_guard_free(s->guard);
		pl_takeover_free(s->takeover);
		free(s);
		return NULL;
	}
	if (!listen_address(ctx->cfg, &ss, err)) {
		pl_guard_free(s->guard);
		pl_takeover_free(s->takeover);
		free(s);
		return NULL;
	}
	/* Beyond twice the per-address cap, MHD closes at accept: no 429 can
	 * be afforded to a flood. */
	unsigned ip_wall = cfg->max_ip_connections > 0 ? 2u * (unsigned)cfg->max_ip_connections : 0;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG | MHD_USE_ITC |
			 pl_takeover_mhd_flags(s->takeover) | /* MHD_USE_TURBO: api/takeover.h */
			 (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	s->d = MHD_start_daemon(
		flags, (uint16_t)ctx->cfg->listen_port, NULL, NULL, on_request, s,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)ctx->cfg->http_threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)ctx->cfg->max_connections,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MHD_POOL_BYTES,
		MHD_OPTION_CONNECTION_TIMEOUT, 120u,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_URI_LOG_CALLBACK, uri_seen, s,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, ip_wall,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_END);
	if (!s->d) {
		pl_fail(err, PL_INTERNAL, "cannot listen on %s:%d: %s", ctx->cfg->listen_host,
			ctx->cfg->listen_port, errno ? strerror(errno) : "address in use?");
		pl_guard_free(s->guard);
		pl_takeover_free(s->takeover);
		free(s);
		return NULL;
	}
	return s;
}

void pl_http_quiesce(struct pl_http *s)
{
	if (s && s->d) {
		atomic_store(&s->quiet, true);
		/* Closed only once MHD has stopped: its worker threads may still
		 * be taking it out of their epoll sets. */
		s->listen_fd = MHD_quiesce_daemon(s->d);
	}
}

void pl_http_stop(struct pl_http *s)
{
	if (!s)
		return;
	/* Posts already queued are committed and answered before MHD goes:
	 * nothing acknowledged is lost, and no answer reaches a freed request. */
	atomic_store(&s->stopping, true);
	for (int i = 0; i < 1000 && atomic_load(&s->posting) > 0; i++)
		usleep(10 * 1000);
	/* Requests begun (a keep-alive client's next one, say) get their
	 * answer, 503 since the quiesce, before MHD closes their sockets: a
	 * close with a request unread would reach the client as a reset.
	 * Bounded: a client that never finishes its request is not waited for. */
	for (int i = 0; i < 200 && atomic_load(&s->requests) > 0; i++)
		usleep(10 * 1000);
	pl_takeover_drain(s->takeover); /* no relay touches MHD once it stopped */
	MHD_stop_daemon(s->d);
	if (s->listen_fd != MHD_INVALID_SOCKET)
		close(s->listen_fd);
	pl_guard_free(s->guard);
	pl_takeover_free(s->takeover);
	free(s);
}
