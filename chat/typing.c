/* chat/typing: typing notices: ephemeral, never stored, throttled per user
 * and room. */
#include "chat/chatint.h"

#include <stdio.h>

#include "base/ratelimit.h"

enum pl_code pl_chat_typing(struct pl_ctx *ctx, const char *user, const char *room, bool typing,
			    pl_error *err)
{
	if (pl_check_id("room", room, err) != PL_OK ||
	    pl_chat_limit(ctx, PL_LIMIT_TYPING, user, err) != PL_OK)
		return err->code;
	WITH_READER(ctx, s);
	READER_OR_FAIL(s, err);
	enum pl_code rc = pl_need_member(s, room, user, err);
	pl_ctx_reader_put(ctx, s);
	if (rc != PL_OK)
		return rc;
	/* At most one "typing" per user and room every 3 s reaches the room;
	 * the hub sends the stop itself when a start lapses after 5 s.  A
	 * start held back still counts for the lapse: the hubs hear of it as
	 * "typing.renew" (delivered to no one), at most once a second, so the
	 * stop comes 5 s after the last start, never while the user types. */
	char key[2 * PL_ID_MAX + 2];
	snprintf(key, sizeof key, "%s\x1f%s", room, user);
	int retry;
	if (typing && !pl_ratelimit_take(ctx->typing, key, &retry)) {
		if (pl_ratelimit_take(ctx->typing_renew, key, &retry))
			pl_chat_publish(ctx, "typing.renew", room, json_pack("{s:s}", "user", user));
		return PL_OK;
	}
	pl_chat_publish(ctx, "typing", room,
			json_pack("{s:s, s:b}", "user", user, "typing", typing));
	return PL_OK;
}
