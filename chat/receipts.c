/* chat/receipts: read marks (a store write each) and the receipt events
 * published after them. */
#include "chat/chatint.h"

#include <stdlib.h>
#include <string.h>

struct read_args {
	const char *user, *room;
	int64_t up_to, delivered, read;
};

static enum pl_code read_job(pl_store *s, void *arg, pl_error *err)
{
	struct read_args *a = arg;
	if (pl_need_member(s, a->room, a->user, err) != PL_OK)
		return err->code;
	json_t *m = pl_store_message_get(s, a->room, a->up_to);
	if (!m)
		return pl_fail(err, PL_NOT_FOUND, "up_to: no message %lld in %s",
			       (long long)a->up_to, a->room);
	json_decref(m);
	if (pl_store_receipt_update(s, a->room, a->user, 0, a->up_to, err) != PL_OK)
		return err->code;
	pl_store_receipt_get(s, a->room, a->user, &a->delivered, &a->read);
	return PL_OK;
}

/* What both ways of marking read check first: the arguments, then the
 * user's read budget. */
static enum pl_code read_check(struct pl_ctx *ctx, const char *user, const char *room,
			       int64_t up_to, pl_error *err)
{
	if (pl_check_id("room", room, err) != PL_OK)
		return err->code;
	if (up_to < 1)
		return pl_fail(err, PL_INVALID_ARGUMENT, "up_to must be a message id");
	return pl_chat_limit(ctx, PL_LIMIT_READ, user, err);
}

enum pl_code pl_chat_read(struct pl_ctx *ctx, const char *user, const char *room, int64_t up_to,
			  pl_error *err)
{
	if (read_check(ctx, user, room, up_to, err) != PL_OK)
		return err->code;
	struct read_args a = {user, room, up_to, 0, 0};
	if (pl_writer_run(ctx->writer, read_job, &a, err) != PL_OK)
		return err->code;
	/* The hub coalesces receipts and pushes them in small rooms only. */
	pl_chat_publish(ctx, "receipt", room, pl_json_receipt(user, a.delivered, a.read));
	return PL_OK;
}

struct read_async {
	struct read_args a;
	struct pl_ctx *ctx;
	char *user, *room;
	pl_read_done done;
	void *ud;
};

static void read_async_done(void *arg, const pl_error *err)
{
	struct read_async *r = arg;
	if (err->code == PL_OK)
		pl_chat_publish(r->ctx, "receipt", r->room,
				pl_json_receipt(r->user, r->a.delivered, r->a.read));
	r->done(r->ud, err);
	free(r->user);
	free(r->room);
	free(r);
}

void pl_chat_read_async(struct pl_ctx *ctx, const char *user, const char *room, int64_t up_to,
			pl_read_done done, void *ud)
{
	pl_error err = {0};
	(void)read_check(ctx, user, room, up_to, &err);
	struct read_async *r = err.code == PL_OK ? calloc(1, sizeof *r) : NULL;
	if (r) {
		r->user = strdup(user);
		r->room = strdup(room);
		if (!r->user || !r->room) {
			free(r->user);
			free(r->room);
			free(r);
			r = NULL;
		}
	}
	if (!r) {
		if (err.code == PL_OK)
			pl_fail(&err, PL_UNAVAILABLE, "out of memory");
		done(ud, &err);
		return;
	}
	r->ctx = ctx;
	r->done = done;
	r->ud = ud;
	r->a = (struct read_args){r->user, r->room, up_to, 0, 0};
	pl_writer_submit(ctx->writer, read_job, read_async_done, r);
}

enum pl_code pl_chat_receipts(struct pl_ctx *ctx, const char *user, const char *room,
			      json_t **out, pl_error *err)
{
	WITH_READER(ctx, s);
	READER_OR_FAIL(s, err);
	enum pl_code rc = pl_need_member(s, room, user, err);
	if (rc == PL_OK)
		*out = json_pack("{s:o}", "receipts", pl_store_receipts(s, room));
	pl_ctx_reader_put(ctx, s);
	return rc;
}
