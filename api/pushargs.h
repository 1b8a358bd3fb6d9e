/* api/pushargs: the query arguments every push request may carry, on
 * every transport of both front ends (SSE, WebSocket, long-poll; parleyd
 * and parley.fcgi): rooms=a,b (checked against the caller's membership)
 * and presence=a,b (users to hear presence of). */
#ifndef PL_PUSHARGS_H
#define PL_PUSHARGS_H

#include <jansson.h>

#include "base/err.h"

struct pl_ctx;

/* Checks a rooms=a,b list against the user's membership: 403 for a room
 * they are not in.  *out is the array (NULL when rooms is NULL or empty). */
enum pl_code pl_push_parse_rooms(struct pl_ctx *ctx, const char *user, const char *rooms,
				 json_t **out, pl_error *err);
/* Parses presence=a,b (at most 500 valid ids). */
enum pl_code pl_push_parse_users(const char *users, json_t **out, pl_error *err);

#endif
