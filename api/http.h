/* api/http: the request and response that handlers see.
 *
 * Transport-neutral on purpose: the libmicrohttpd adapter (api/mhd.c) and
 * the FastCGI adapter (api/fcgi.c) each fill a pl_req from their own world
 * and send back the pl_resp, so every REST endpoint is written once. */
#ifndef PL_HTTP_H
#define PL_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define PL_BODY_MAX (64 * 1024)

struct pl_req {
	const char *method;
	const char *path;            /* without the query string, percent-decoded */
	const char *content_type;    /* NULL when absent */
	const char *authorization;   /* NULL when absent */
	const char *last_event_id;   /* the Last-Event-ID header, NULL when absent */
	const char *body;
	size_t body_len;
	bool body_too_large;         /* the adapter stopped reading at PL_BODY_MAX */
	bool async_ok;               /* the adapter can finish a post later (PL_ROUTE_POST) */
	/* Query parameter lookup (decoded), NULL when absent. */
	const char *(*query)(void *adapter, const char *name);
	void *adapter;
};

struct pl_resp {
	int status;
	char *body;                  /* malloc'd, may be NULL */
	size_t len;
	const char *content_type;    /* static string */
	int retry_after;             /* seconds, 0 = no header */
	const char *allow;           /* Allow header for 405, static */
};

const char *pl_req_query(const struct pl_req *r, const char *name);
/* A resume point (last_event_id, Last-Event-ID, cursor): *out is the id,
 * or -1 for "from now" when v is NULL or empty; false when malformed. */
bool pl_parse_event_id(const char *v, int64_t *out);
/* Takes ownership of body. */
void pl_resp_json(struct pl_resp *r, int status, json_t *body);
void pl_resp_error(struct pl_resp *r, const pl_error *err);
void pl_resp_text(struct pl_resp *r, int status, const char *type, char *body, size_t len);
void pl_resp_free(struct pl_resp *r);
/* {"error":{"code":..,"message":..}} */
json_t *pl_error_json(const pl_error *err);

#endif
