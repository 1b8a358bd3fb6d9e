/* chat/tokens: the cache of verified tokens and their claims.
 *
 * A client sends the same token with every request, and checking its HMAC
 * cost a tenth of a history read, so pl_chat_auth (chat/auth.c) remembers
 * each token it verified, with its claims, until the token expires.  Only
 * verified tokens get in, and the cache starts afresh when full, so it
 * stays bounded whatever clients send.  The context owns one (ctx->tokens);
 * it has its own lock, so any thread may use it. */
#ifndef PL_TOKENS_H
#define PL_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/jwt.h"

struct pl_tokens;

/* NULL when out of memory. */
struct pl_tokens *pl_tokens_new(void);
void pl_tokens_free(struct pl_tokens *t);
/* True, with *who filled, when token was verified before and its exp is
 * after now_s (seconds since the epoch). */
bool pl_tokens_get(struct pl_tokens *t, const char *token, int64_t now_s, struct pl_claims *who);
/* Remembers a token just verified (nothing when out of memory). */
void pl_tokens_put(struct pl_tokens *t, const char *token, const struct pl_claims *who);

#endif
