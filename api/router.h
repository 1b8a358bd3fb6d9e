/* api/router: the routing table, matched segment by segment.
 *
 * Patterns are paths whose ":" segments capture an id.  A path that
 * matches a pattern under another method answers 405 with an Allow header;
 * one that matches nothing, 404.  Push routes are listed too so every
 * front end agrees on them, but only front ends with a hub serve them. */
#ifndef PL_ROUTER_H
#define PL_ROUTER_H

#include <stdbool.h>

#include "api/http.h"

struct pl_call;
typedef void (*pl_handler)(struct pl_call *c);

enum pl_route_kind {
	PL_ROUTE_REST,       /* a handler answers at once */
	PL_ROUTE_SSE,        /* /v1/events */
	PL_ROUTE_WS,         /* /v1/ws */
	PL_ROUTE_POLL,       /* /v1/poll */
	PL_ROUTE_ONLINE_WS,  /* /ws-online-status */
	PL_ROUTE_POST,       /* posting a message, finished by pl_api_post_async */
	PL_ROUTE_ADMIN,      /* /v1/admin/stats: an SSE stream of figures, admins only */
};

enum { PL_ROUTE_PUBLIC = 1, PL_ROUTE_BODY = 2, PL_ROUTE_BODY_OPT = 4 };

struct pl_route {
	const char *method;
	const char *pattern;
	enum pl_route_kind kind;
	pl_handler fn;
	unsigned flags;      /* PL_ROUTE_PUBLIC: no token; PL_ROUTE_BODY: JSON body;
			      * PL_ROUTE_BODY_OPT: a JSON body if any (none: {}) */
};

#define PL_MAX_PARAMS 3
#define PL_PARAM_MAX 128

struct pl_match {
	const struct pl_route *route;
	char params[PL_MAX_PARAMS][PL_PARAM_MAX + 1];
	char allow[64];      /* methods for 405 */
};

/* PL_OK, PL_NOT_FOUND or PL_METHOD_NOT_ALLOWED (m->allow filled). */
enum pl_code pl_route_match(const struct pl_route *table, const char *method, const char *path,
			    struct pl_match *m);

#endif
