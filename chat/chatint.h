/* chat/chatint: what the chat operations' files share (chat/auth.c,
 * rooms.c, messages.c, typing.c, receipts.c, status.c, checks.c).
 *
 * Not a public header: front ends include chat/chat.h. */
#ifndef PL_CHATINT_H
#define PL_CHATINT_H

#include <jansson.h>
#include <stdbool.h>

#include "base/clock.h"
#include "base/err.h"
#include "chat/chat.h"
#include "chat/ctx.h"
#include "db/store.h"

/* A read connection for the duration of one operation. */
#define WITH_READER(ctx, s) pl_store *s = pl_ctx_reader(ctx)
#define READER_OR_FAIL(s, err)                                                  \
	do {                                                                    \
		if (!(s))                                                       \
			return pl_fail(err, PL_UNAVAILABLE, "store unavailable"); \
	} while (0)

/* chat/checks.c: members only: 403 for others, 404 when the room does not
 * exist. */
enum pl_code pl_need_member(pl_store *s, const char *room, const char *user, pl_error *err);

/* chat/auth.c: makes sure user exists; a new user joins general silently
 * (no event at all), as every user is a member of it.  Inside a job. */
enum pl_code pl_sign_up(pl_store *s, const char *user, const char *name, pl_error *err);

/* chat/rooms.c: adds user to room with its member.joined event (inside a
 * job); nothing when user is a member already. */
enum pl_code pl_add_member(struct pl_ctx *ctx, pl_store *s, const char *room,
			   const char *user, pl_error *err);

/* chat/status.c: the status objects of the users in the array ids. */
json_t *pl_member_status(struct pl_ctx *ctx, pl_store *s, const char *viewer, json_t *ids);

/* Publishes an ephemeral event (typing, receipt, presence) of this
 * process; takes the reference to data. */
static inline void pl_chat_publish(struct pl_ctx *ctx, const char *type, const char *room,
				   json_t *data)
{
	json_t *ev = pl_event_json(0, type, room ? room : "", pl_now_ms(), data);
	json_decref(data);
	if (ev)
		pl_ctx_ephemeral(ctx, ev);
}

#endif
