/* chat/auth: tokens verified (chat/tokens.h keeps them) and their users
 * signed up on first sight. */
#include "chat/chatint.h"

#include "base/jwt.h"
#include "chat/tokens.h"

struct signup {
	const char *user, *name;
};

/* Makes sure user exists; a new user joins general silently (no event at
 * all), as every user is a member of it. */
enum pl_code pl_sign_up(pl_store *s, const char *user, const char *name, pl_error *err)
{
	bool created, joined;
	if (pl_store_user_ensure(s, user, name, pl_now_ms(), &created, err) != PL_OK)
		return err->code;
	return created ? pl_store_member_add(s, "general", user, pl_now_ms(), &joined, err) : PL_OK;
}

static enum pl_code signup_job(pl_store *s, void *arg, pl_error *err)
{
	struct signup *a = arg;
	return pl_sign_up(s, a->user, a->name, err);
}

enum pl_code pl_chat_auth(struct pl_ctx *ctx, const char *token, struct pl_claims *who,
			  pl_error *err)
{
	const char *why = "missing token";
	if (!token || !*token)
		return pl_fail(err, PL_UNAUTHENTICATED,
			       "authorization: a Bearer token or ?token= is required");
	if (pl_tokens_get(ctx->tokens, token, pl_now_ms() / 1000, who))
		return PL_OK; /* verified, and its user signed up, before */
	if (!ctx->cfg->jwt_secret ||
	    !pl_jwt_verify(ctx->cfg->jwt_secret, ctx->cfg->jwt_secret_len, token,
			   pl_now_ms() / 1000, who, &why))
		return pl_fail(err, PL_UNAUTHENTICATED, "token: %s", why);
	pthread_mutex_lock(&ctx->lock);
	bool known = pl_map_get(ctx->known_users, who->sub) != NULL;
	pthread_mutex_unlock(&ctx->lock);
	if (known) {
		pl_tokens_put(ctx->tokens, token, who);
		return PL_OK;
	}
	struct signup a = {who->sub, who->name};
	if (pl_writer_run(ctx->writer, signup_job, &a, err) != PL_OK)
		return err->code;
	pthread_mutex_lock(&ctx->lock);
	/* The set only saves writes; bounding it keeps a flood of new users
	 * from growing memory. */
	if (pl_map_len(ctx->known_users) < 200000)
		pl_map_put(ctx->known_users, who->sub, ctx);
	pthread_mutex_unlock(&ctx->lock);
	pl_tokens_put(ctx->tokens, token, who);
	return PL_OK;
}
