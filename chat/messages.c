/* chat/messages: posting (waited for, or queued with the ack after the
 * commit), pages of history, edits and deletes. */
#include "chat/chatint.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/ratelimit.h"

struct post_args {
	struct pl_ctx *ctx;
	char *user, *room, *text, *client_id;
	bool created;
	char *msg; /* the message's JSON text */
	size_t len;
	pl_post_done done;
	void *ud;
};

/* The writer may run a job again after a rollback: it starts afresh. */
static enum pl_code post_job(pl_store *s, void *arg, pl_error *err)
{
	struct post_args *a = arg;
	free(a->msg);
	a->msg = NULL;
	a->created = false;
	if (pl_need_member(s, a->room, a->user, err) != PL_OK) {
		/* A retry after leaving the room still gets its first answer. */
		if (a->client_id &&
		    (a->msg = pl_store_message_by_client_text(s, a->user, a->client_id, &a->len)))
			return PL_OK;
		return err->code;
	}
	struct pl_new_msg m = {a->room, a->user, a->text, a->client_id, pl_now_ms()};
	return pl_store_message_post(s, &m, &a->msg, &a->len, &a->created, err);
}

static void post_args_free(struct post_args *a)
{
	free(a->msg);
	free(a->user);
	free(a->room);
	free(a->text);
	free(a->client_id);
	free(a);
}

static enum pl_code post_check(struct pl_ctx *ctx, const char *user, const char *room,
			       const char *text, const char *client_id, pl_error *err)
{
	if (pl_check_id("room", room, err) != PL_OK ||
	    pl_check_text("text", text, PL_TEXT_MAX, err) != PL_OK)
		return err->code;
	if (client_id && pl_check_text("client_id", client_id, PL_CLIENT_ID_MAX, err) != PL_OK)
		return err->code;
	int retry = 1;
	if (!pl_ratelimit_take(ctx->posts, user, &retry)) {
		pl_fail(err, PL_RATE_LIMITED, "text: too many messages, slow down");
		err->retry_after = retry;
		return err->code;
	}
	return PL_OK;
}

static struct post_args *post_args_new(struct pl_ctx *ctx, const char *user, const char *room,
				       const char *text, const char *client_id)
{
	struct post_args *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->ctx = ctx;
	a->user = strdup(user);
	a->room = strdup(room);
	a->text = strdup(text);
	a->client_id = client_id ? strdup(client_id) : NULL;
	if (!a->user || !a->room || !a->text || (client_id && !a->client_id)) {
		post_args_free(a);
		return NULL;
	}
	return a;
}

/* Counted once committed (a job may run twice). */
static void post_count(struct pl_ctx *ctx, enum pl_code rc, bool created)
{
	if (rc == PL_OK && created)
		atomic_fetch_add(&ctx->counters.messages_stored, 1);
}

enum pl_code pl_chat_post(struct pl_ctx *ctx, const char *user, const char *room,
			  const char *text, const char *client_id, char **msg, size_t *len,
			  bool *created, pl_error *err)
{
	*msg = NULL;
	*len = 0;
	*created = false;
	if (post_check(ctx, user, room, text, client_id, err) != PL_OK)
		return err->code;
	struct post_args a = {.ctx = ctx, .user = (char *)user, .room = (char *)room,
			      .text = (char *)text, .client_id = (char *)client_id};
	enum pl_code rc = pl_writer_run(ctx->writer, post_job, &a, err);
	post_count(ctx, rc, a.created);
	*msg = rc == PL_OK ? a.msg : NULL;
	*len = rc == PL_OK ? a.len : 0;
	*created = rc == PL_OK && a.created;
	if (rc != PL_OK)
		free(a.msg);
	return rc;
}

static void post_async_done(void *arg, const pl_error *err)
{
	struct post_args *a = arg;
	bool ok = err->code == PL_OK;
	post_count(a->ctx, err->code, a->created);
	a->done(a->ud, ok ? a->msg : NULL, ok ? a->len : 0, a->created, err);
	post_args_free(a);
}

void pl_chat_post_async(struct pl_ctx *ctx, const char *user, const char *room,
			const char *text, const char *client_id, pl_post_done done, void *ud)
{
	pl_error err = {0};
	if (post_check(ctx, user, room, text, client_id, &err) != PL_OK) {
		done(ud, NULL, 0, false, &err);
		return;
	}
	struct post_args *a = post_args_new(ctx, user, room, text, client_id);
	if (!a) {
		pl_fail(&err, PL_UNAVAILABLE, "out of memory");
		done(ud, NULL, 0, false, &err);
		return;
	}
	a->done = done;
	a->ud = ud;
	pl_writer_submit(ctx->writer, post_job, post_async_done, a);
}

enum pl_code pl_chat_messages_text(struct pl_ctx *ctx, const char *user, const char *room,
				   const struct pl_page *page, char **text, size_t *len,
				   pl_error *err)
{
	*text = NULL;
	*len = 0;
	if (page->limit < 1 || page->limit > 200)
		return pl_fail(err, PL_INVALID_ARGUMENT, "limit must be 1 to 200");
	WITH_READER(ctx, s);
	READER_OR_FAIL(s, err);
	/* The page statement checks membership itself: a row read proves it,
	 * and only an empty answer needs need_member (an empty room, or the
	 * 403/404). */
	enum pl_code rc = pl_check_id("room", room, err);
	if (rc == PL_OK) {
		bool any;
		*text = pl_store_messages_text(s, room, user, page, len, &any);
		if (!any && (rc = pl_need_member(s, room, user, err)) != PL_OK) {
			free(*text);
			*text = NULL;
			*len = 0;
		}
		/* No text: the store failed (out of memory, an I/O error) part
		 * way, and a page with rows missing is never sent. */
		if (rc == PL_OK && !*text)
			rc = pl_fail(err, PL_UNAVAILABLE, "store: cannot read the page now, try again");
	}
	pl_ctx_reader_put(ctx, s);
	return rc;
}

enum pl_code pl_chat_messages(struct pl_ctx *ctx, const char *user, const char *room,
			      const struct pl_page *page, json_t **out, pl_error *err)
{
	char *text;
	size_t len;
	enum pl_code rc = pl_chat_messages_text(ctx, user, room, page, &text, &len, err);
	if (rc == PL_OK)
		*out = text ? json_loadb(text, len, JSON_ALLOW_NUL, NULL) : NULL;
	free(text);
	return rc;
}

struct change_args {
	const char *user, *room, *text;
	int64_t id;
	json_t *msg;
};

/* Edits and deletes: the sender only, and the event is stored with the
 * change so it reaches the room live and on resume. */
static enum pl_code change_job(pl_store *s, void *arg, pl_error *err)
{
	struct change_args *a = arg;
	json_decref(a->msg); /* from a run the writer undid */
	a->msg = NULL;
	if (pl_need_member(s, a->room, a->user, err) != PL_OK)
		return err->code;
	json_t *old = pl_store_message_get(s, a->room, a->id);
	if (!old)
		return pl_fail(err, PL_NOT_FOUND, "id: no message %lld in %s", (long long)a->id,
			       a->room);
	bool mine = strcmp(json_string_value(json_object_get(old, "sender")), a->user) == 0;
	bool gone = json_is_true(json_object_get(old, "deleted"));
	json_decref(old);
	if (!mine)
		return pl_fail(err, PL_PERMISSION_DENIED, "id: only the sender may change a message");
	if (gone)
		return pl_fail(err, PL_NOT_FOUND, "id: message %lld was deleted", (long long)a->id);
	int64_t now = pl_now_ms(), ev;
	enum pl_code rc = a->text ? pl_store_message_edit(s, a->id, a->text, now, &a->msg, err)
				  : pl_store_message_delete(s, a->id, now, &a->msg, err);
	if (rc != PL_OK)
		return rc;
	return pl_store_event_append(s, a->room, a->text ? "message.updated" : "message.deleted",
				     NULL, a->msg, now, &ev, err);
}

static enum pl_code change(struct pl_ctx *ctx, struct change_args *a, json_t **msg,
			   pl_error *err)
{
	if (pl_check_id("room", a->room, err) != PL_OK)
		return err->code;
	if (a->text && pl_check_text("text", a->text, PL_TEXT_MAX, err) != PL_OK)
		return err->code;
	if (pl_chat_limit(ctx, PL_LIMIT_EDIT, a->user, err) != PL_OK)
		return err->code;
	if (pl_writer_run(ctx->writer, change_job, a, err) != PL_OK) {
		json_decref(a->msg);
		return err->code;
	}
	*msg = a->msg;
	return PL_OK;
}

enum pl_code pl_chat_edit(struct pl_ctx *ctx, const char *user, const char *room, int64_t id,
			  const char *text, json_t **msg, pl_error *err)
{
	if (!text)
		return pl_fail(err, PL_INVALID_ARGUMENT, "text is required");
	struct change_args a = {user, room, text, id, NULL};
	return change(ctx, &a, msg, err);
}

enum pl_code pl_chat_delete(struct pl_ctx *ctx, const char *user, const char *room, int64_t id,
			    json_t **msg, pl_error *err)
{
	struct change_args a = {user, room, NULL, id, NULL};
	return change(ctx, &a, msg, err);
}
