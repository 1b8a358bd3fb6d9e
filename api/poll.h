/* api/poll: GET /v1/poll, the part both front ends share.  parleyd
 * (api/mhd.c) suspends the request and the hub fills the answer
 * (push/longpoll.c); parley.fcgi (api/fcgi.c) reads the store in place.
 * Both parse the request here (the same checks, order and errors), end a
 * poll at the same deadline and answer in the same shape; what an answer
 * holds and its cursor follow one rule (push/scan.h, PL_POLL_ANSWER_MAX
 * stored events). */
#ifndef PL_POLL_H
#define PL_POLL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct pl_ctx;
struct pl_call;

#define PL_POLL_TIMEOUT_DEFAULT 30 /* seconds */
#define PL_POLL_TIMEOUT_MAX 60

/* A poll's arguments: timeout=, session=, cursor=, rooms=, presence=. */
struct pl_poll_req {
	long timeout;             /* seconds */
	char session[33];         /* the session the client passed back, "" for none */
	int64_t cursor;           /* resume after this id; -1 = from now */
	json_t *rooms;            /* NULL: all the user's rooms (api/pushargs.h) */
	json_t *presence;         /* NULL: none */
};

/* Parses and checks call's query: 400 for a malformed argument, 403 for a
 * room the caller is not in.  On success p holds references to free with
 * pl_poll_req_free; on failure nothing is held. */
enum pl_code pl_poll_parse(struct pl_ctx *ctx, const struct pl_call *call,
			   struct pl_poll_req *p, pl_error *err);
void pl_poll_req_free(struct pl_poll_req *p);
/* A new random session id (32 hex digits); false if no randomness. */
bool pl_poll_new_session(char out[33]);
/* When a poll of timeout seconds answers at the latest (pl_mono_ms): at
 * the token's exp (seconds, 0 = none) if that comes first (API.md "Limits
 * and abuse"). */
int64_t pl_poll_deadline(long timeout, int64_t exp);
/* The answer, {"events":[<events>],"cursor":N} with ,"session":S when
 * session is not empty; events is the events' JSON texts joined by commas.
 * Malloc'd, NULL without memory. */
char *pl_poll_answer(const char *events, size_t len, int64_t cursor, const char *session,
		     size_t *out_len);

#endif
