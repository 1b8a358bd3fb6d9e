/* chat/chat: the chat operations, one set for every front end.
 *
 * REST handlers (parleyd and parley.fcgi alike), WebSocket frames and the
 * compatibility endpoints all call these.  Each validates its arguments,
 * checks the caller's rights and performs the write as one writer job, so
 * checks and writes share a transaction.  The caller's user id always comes
 * from a verified token (pl_chat_auth), never from a request body.
 * Results are new JSON references the caller owns.
 *
 * One file per concept: chat/checks.c (argument checks, rate limits,
 * membership), auth.c (tokens, sign-up; the token cache is chat/tokens.c),
 * rooms.c (rooms and members), messages.c (post, history, edit, delete),
 * typing.c, receipts.c, status.c (status and presence); chat/chatint.h is
 * what they share. */
#ifndef PL_CHAT_H
#define PL_CHAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "chat/ctx.h"
#include "base/err.h"
#include "base/jwt.h"

#define PL_TEXT_MAX 4000
#define PL_NAME_MAX 200
#define PL_CLIENT_ID_MAX 128

/* Verifies a token and signs the user up on first sight (a member of
 * general, silently). */
enum pl_code pl_chat_auth(struct pl_ctx *ctx, const char *token, struct pl_claims *who,
			  pl_error *err);

enum pl_code pl_chat_room_create(struct pl_ctx *ctx, const char *user, const char *id,
				 const char *name, bool priv, json_t **room, pl_error *err);
/* A page of the rooms user can see, in id order: {"rooms":[..],"has_more":b}.
 * after: the last id of the page before (NULL: the first page); q: a part
 * of the name, any ASCII case (NULL or "": all); limit 1 to 500. */
#define PL_ROOMS_PAGE_MAX 500
enum pl_code pl_chat_rooms(struct pl_ctx *ctx, const char *user, const char *after,
			   const char *q, int limit, json_t **out, pl_error *err);
enum pl_code pl_chat_room_get(struct pl_ctx *ctx, const char *user, const char *room,
			      json_t **out, pl_error *err);
enum pl_code pl_chat_join(struct pl_ctx *ctx, const char *user, const char *room,
			  json_t **out, pl_error *err);
enum pl_code pl_chat_leave(struct pl_ctx *ctx, const char *user, const char *room,
			   pl_error *err);
enum pl_code pl_chat_members(struct pl_ctx *ctx, const char *user, const char *room,
			     json_t **out, pl_error *err);
enum pl_code pl_chat_member_add(struct pl_ctx *ctx, const char *user, const char *room,
				const char *other, pl_error *err);
enum pl_code pl_chat_dm(struct pl_ctx *ctx, const char *user, const char *other, json_t **out,
			pl_error *err);

/* *msg is the message's JSON text (malloc'd, *len bytes; NULL when out of
 * memory).  *created is false when client_id repeated an earlier message
 * (answer 200 with that message, store nothing). */
enum pl_code pl_chat_post(struct pl_ctx *ctx, const char *user, const char *room,
			  const char *text, const char *client_id, char **msg, size_t *len,
			  bool *created, pl_error *err);
/* The same without waiting: done(ud, msg, len, created, err) runs on the
 * writer thread after the commit (or at once, on the caller's thread, when
 * the arguments are refused); msg is the message's JSON text, borrowed
 * (NULL on error). */
typedef void (*pl_post_done)(void *ud, const char *msg, size_t len, bool created,
			     const pl_error *err);
void pl_chat_post_async(struct pl_ctx *ctx, const char *user, const char *room,
			const char *text, const char *client_id, pl_post_done done, void *ud);
enum pl_code pl_chat_messages(struct pl_ctx *ctx, const char *user, const char *room,
			      const struct pl_page *page, json_t **out, pl_error *err);
/* The same page as JSON text (pl_store_messages_text): on PL_OK *text is
 * malloc'd; a store that fails part way is PL_UNAVAILABLE (503). */
enum pl_code pl_chat_messages_text(struct pl_ctx *ctx, const char *user, const char *room,
				   const struct pl_page *page, char **text, size_t *len,
				   pl_error *err);
enum pl_code pl_chat_edit(struct pl_ctx *ctx, const char *user, const char *room, int64_t id,
			  const char *text, json_t **msg, pl_error *err);
enum pl_code pl_chat_delete(struct pl_ctx *ctx, const char *user, const char *room, int64_t id,
			    json_t **msg, pl_error *err);

enum pl_code pl_chat_typing(struct pl_ctx *ctx, const char *user, const char *room, bool typing,
			    pl_error *err);
enum pl_code pl_chat_read(struct pl_ctx *ctx, const char *user, const char *room, int64_t up_to,
			  pl_error *err);
/* The same without waiting (WebSocket read frames): done(ud, err) runs on
 * the writer thread after the commit, the receipt event published (or at
 * once, on the caller's thread, when the arguments are refused). */
typedef void (*pl_read_done)(void *ud, const pl_error *err);
void pl_chat_read_async(struct pl_ctx *ctx, const char *user, const char *room, int64_t up_to,
			pl_read_done done, void *ud);
enum pl_code pl_chat_receipts(struct pl_ctx *ctx, const char *user, const char *room,
			      json_t **out, pl_error *err);

/* Status objects as others see them. */
json_t *pl_chat_status(struct pl_ctx *ctx, const char *viewer, const char *user);
enum pl_code pl_chat_set_status(struct pl_ctx *ctx, const char *user, const char *status,
				json_t **out, pl_error *err);
/* users: comma-separated ids, at most 500. */
enum pl_code pl_chat_presence(struct pl_ctx *ctx, const char *viewer, const char *users,
			      json_t **out, pl_error *err);

/* Presence transitions (from db/presence): stores last_seen and publishes
 * the presence event. */
void pl_chat_presence_changed(struct pl_ctx *ctx, const char *user, bool online);

/* Mirrors parleyd's count for user into the store (queued, not awaited),
 * where parley.fcgi reads presence; online false removes it. */
void pl_chat_presence_mirror(struct pl_ctx *ctx, const char *user, int connections, bool online);

/* Takes one of user's tokens for a kind of write (enum pl_limit): PL_OK,
 * or PL_RATE_LIMITED with err->retry_after, and the write must not happen.
 * The operations below call it themselves; it is here for front ends that
 * refuse before calling them. */
enum pl_code pl_chat_limit(struct pl_ctx *ctx, enum pl_limit kind, const char *user,
			   pl_error *err);

/* Argument checks shared with the front ends. */
enum pl_code pl_check_id(const char *field, const char *v, pl_error *err);
enum pl_code pl_check_text(const char *field, const char *v, size_t maxchars, pl_error *err);

#endif
