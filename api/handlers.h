/* api/handlers: the REST endpoints, written once for every front end.
 *
 * pl_api_handle routes a request, applies the common checks in a fixed
 * order (404/405, 413, 401, 415, 400), and runs the handler.  Push routes
 * come back to the adapter with the caller authenticated, for the adapter
 * to hand to its hub (or to answer 404 where it has none). */
#ifndef PL_HANDLERS_H
#define PL_HANDLERS_H

#include "api/http.h"
#include "api/router.h"
#include "chat/ctx.h"
#include "base/jwt.h"

struct pl_call {
	struct pl_ctx *ctx;
	const struct pl_req *req;
	struct pl_resp *resp;
	struct pl_match m;
	struct pl_claims who;
	json_t *body;                /* the JSON body of PL_ROUTE_BODY routes */
};

/* Fills resp and returns PL_ROUTE_REST, or returns a push kind with
 * call->who and call->m filled and resp untouched. */
enum pl_route_kind pl_api_handle(struct pl_ctx *ctx, const struct pl_req *req,
				 struct pl_resp *resp, struct pl_call *call);
void pl_call_done(struct pl_call *call);

/* Posting without holding a thread: for PL_ROUTE_POST (given to adapters
 * that set async_ok), queues the post and returns; done(ud, resp) follows
 * the commit on the writer thread, or comes at once on this thread when
 * the request is refused.  done takes over resp's body (it sends and frees
 * it). */
typedef void (*pl_api_done)(void *ud, const struct pl_resp *resp);
void pl_api_post_async(struct pl_call *call, pl_api_done done, void *ud);

/* The token of a request: "Authorization: Bearer X" or ?token=X. */
const char *pl_req_token(const struct pl_req *req);

/* The compatibility endpoints (api/compat.c). */
void pl_compat_send(struct pl_call *c);
void pl_compat_get_messages(struct pl_call *c);
void pl_compat_update_status(struct pl_call *c);
void pl_compat_get_status(struct pl_call *c);
void pl_compat_create_room(struct pl_call *c);
void pl_compat_join_room(struct pl_call *c);
/* A body field naming someone other than the caller is refused (403): the
 * sender is always the token's user. */
bool pl_sender_is_caller(struct pl_call *c, const char *field, pl_error *err);
/* Shared by handlers and compat: answer a result or an error. */
/* The same with the answer as JSON text, which the response takes over
 * (NULL text: out of memory, the 500). */
void pl_reply_text(struct pl_call *c, enum pl_code rc, int status, char *text, size_t len,
		   const pl_error *err);
void pl_reply(struct pl_call *c, enum pl_code rc, int status, json_t *out,
	      const pl_error *err);

#endif
