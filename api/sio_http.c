/* api/sio_http: see sio_http.h. */
#include "api/sio_http.h"
#include "api/mhd.h"
#include "api/takeover.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/config.h"
#include "push/ws.h"

bool pl_sio_http_path(const struct pl_config *cfg, const char *url, bool *engine_only)
{
	*engine_only = false;
	if (strcmp(url, "/socket.io/") == 0)
		return true;
	if (cfg->socketio_conformance && strcmp(url, "/engine.io/") == 0) {
		*engine_only = true;
		return true;
	}
	return false;
}

static const char *arg(struct MHD_Connection *mc, const char *name)
{
	return MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result answer(struct MHD_Connection *mc, unsigned status, const char *ctype,
			      const char *body, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	pl_http_cors(mc, resp);
	enum MHD_Result ok = MHD_queue_response(mc, status, resp);
	MHD_destroy_response(resp);
	return ok;
}

/* The reference server's refusals. */
enum { E_TRANSPORT, E_SID, E_METHOD, E_BAD, E_FORBIDDEN, E_PROTOCOL };

static enum MHD_Result refuse(struct MHD_Connection *mc, int code)
{
	static const char *const msgs[] = {"Transport unknown", "Session ID unknown",
					   "Bad handshake method", "Bad request", "Forbidden",
					   "Unsupported protocol version"};
	char body[96];
	int n = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code, msgs[code]);
	return answer(mc, 400, "application/json", body, (size_t)n);
}

static void wake(struct pl_eio_req *r) { MHD_resume_connection(r->front); }

/* ---- WebSocket ---- */

struct pending {
	struct pl_hub *hub;
	struct pl_takeover *tk;
	char sid[EIO_SID_LEN + 1];
	char *token;
	bool engine_only;
};

static void upgraded(void *cls, struct MHD_Connection *mc, void *con_cls, const char *extra,
		     size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	(void)mc, (void)con_cls;
	struct pending *p = cls;
	int fd = pl_upgrade_take(p->tk, sock, urh); /* api/takeover.h, as for native WebSockets */
	if (fd >= 0)
		pl_eio_adopt_ws(p->hub, fd, extra, extra_len, p->sid[0] ? p->sid : NULL, p->token,
				p->engine_only);
	free(p->token);
	free(p);
}

static enum MHD_Result start_ws(struct pl_hub *hub, struct pl_takeover *tk,
				struct MHD_Connection *mc, const char *sid, bool engine_only)
{
	char accept[29];
	if (!pl_upgrade_handshake(mc, accept))
		return refuse(mc, E_BAD);
	struct pending *p = calloc(1, sizeof *p);
	if (!p)
		return MHD_NO;
	p->hub = hub;
	p->tk = tk;
	p->engine_only = engine_only;
	snprintf(p->sid, sizeof p->sid, "%s", sid ? sid : "");
	const char *token = arg(mc, "token");
	p->token = token ? strdup(token) : NULL;
	bool made = false;
	enum MHD_Result ok = pl_upgrade_answer(mc, accept, upgraded, p, &made);
	if (!made) {
		free(p->token);
		free(p);
	}
	return ok;
}

/* ---- polling ---- */

enum MHD_Result pl_sio_http_start(struct pl_hub *hub, struct pl_takeover *tk,
				  struct MHD_Connection *mc, const char *method, bool engine_only,
				  char **body, size_t len, bool too_large, struct pl_eio_req **slot)
{
	const char *eio = arg(mc, "EIO");
	const char *transport = arg(mc, "transport");
	const char *sid = arg(mc, "sid");
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
	if (!transport || (strcmp(transport, "polling") != 0 && strcmp(transport, "websocket") != 0))
		return refuse(mc, E_TRANSPORT);
	if (!eio || strcmp(eio, "4") != 0)
		return refuse(mc, E_PROTOCOL);
	if (sid && !pl_eio_sid_ok(sid))
		return refuse(mc, E_SID);
	if (!sid && !get)
		return refuse(mc, E_METHOD);
	if (strcmp(transport, "websocket") == 0)
		return get ? start_ws(hub, tk, mc, sid, engine_only) : refuse(mc, E_BAD);
	if (!get && !post)
		return refuse(mc, E_BAD);
	struct pl_eio_req *r = pl_eio_req_new();
	if (!r)
		return MHD_NO;
	r->post = post;
	r->engine_only = engine_only;
	snprintf(r->sid, sizeof r->sid, "%s", sid ? sid : "");
	const char *token = arg(mc, "token");
	r->token = token && !sid ? strdup(token) : NULL;
	if (post) {
		r->body = *body;
		*body = NULL;
		r->len = len;
		r->too_large = too_large;
	}
	r->wake = wake;
	r->front = mc;
	/* Suspended before the hub sees it, so its resume finds it so. */
	MHD_suspend_connection(mc);
	*slot = r;
	pl_eio_submit(hub, r);
	return MHD_YES;
}

enum MHD_Result pl_sio_http_answer(struct MHD_Connection *mc, struct pl_eio_req *r)
{
	if (!r->status) /* not answered yet: MHD asked early */
		return MHD_YES;
	return answer(mc, (unsigned)r->status, r->ctype ? r->ctype : "text/plain",
		      r->out ? r->out : "", r->out ? r->out_len : 0);
}
