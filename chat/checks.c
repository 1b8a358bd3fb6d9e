/* chat/checks: what every operation checks first: its arguments, the
 * user's rate limits, and membership of the room. */
#include "chat/chatint.h"

#include <string.h>

#include "base/ids.h"
#include "base/ratelimit.h"
#include "base/utf8.h"

enum pl_code pl_check_id(const char *field, const char *v, pl_error *err)
{
	if (!v)
		return pl_fail(err, PL_INVALID_ARGUMENT, "%s is required", field);
	if (!pl_valid_id(v))
		return pl_fail(err, PL_INVALID_ARGUMENT,
			       "%s must be 1 to 64 characters of A-Z a-z 0-9 _ . : -", field);
	return PL_OK;
}

enum pl_code pl_check_text(const char *field, const char *v, size_t maxchars, pl_error *err)
{
	if (!v)
		return pl_fail(err, PL_INVALID_ARGUMENT, "%s is required", field);
	size_t len = strlen(v);
	if (!pl_utf8_valid(v, len))
		return pl_fail(err, PL_INVALID_ARGUMENT, "%s must be valid UTF-8", field);
	size_t n = pl_utf8_count(v, len);
	if (n < 1 || n > maxchars)
		return pl_fail(err, PL_INVALID_ARGUMENT, "%s must be 1 to %zu characters", field,
			       maxchars);
	return PL_OK;
}

enum pl_code pl_chat_limit(struct pl_ctx *ctx, enum pl_limit kind, const char *user,
			   pl_error *err)
{
	static const char *const what[PL_LIMIT_COUNT] = {
		[PL_LIMIT_EDIT] = "edits and deletes",
		[PL_LIMIT_ROOM] = "rooms opened",
		[PL_LIMIT_MEMBER] = "member changes",
		[PL_LIMIT_STATUS] = "status changes",
		[PL_LIMIT_TYPING] = "typing notices",
		[PL_LIMIT_READ] = "read marks",
	};
	int retry = 1;
	if ((unsigned)kind >= PL_LIMIT_COUNT ||
	    pl_ratelimit_take(ctx->limits[kind], user, &retry))
		return PL_OK;
	pl_fail(err, PL_RATE_LIMITED, "rate: too many %s, retry in %d s", what[kind], retry);
	err->retry_after = retry;
	return err->code;
}

/* Members only: 403 for others, 404 when the room does not exist. */
enum pl_code pl_need_member(pl_store *s, const char *room, const char *user, pl_error *err)
{
	if (pl_check_id("room", room, err) != PL_OK)
		return err->code;
	if (pl_store_is_member(s, room, user))
		return PL_OK;
	bool priv;
	if (!pl_store_room_private(s, room, &priv))
		return pl_fail(err, PL_NOT_FOUND, "room: no room %s", room);
	return pl_fail(err, PL_PERMISSION_DENIED, "room: you are not a member of %s", room);
}
