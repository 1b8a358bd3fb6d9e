/* chat/status: manual status, presence as others see it, the presence
 * mirror for other processes and presence transitions. */
#include "chat/chatint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/webhook.h"
#include "db/presence.h"

/* Online and connections: from this process's presence where it has one
 * (parleyd), else from the mirror parleyd keeps in the store. */
static bool online_now(struct pl_ctx *ctx, pl_store *s, const char *user, int *conns)
{
	if (!ctx->presence)
		return pl_store_presence_get(s, user, conns);
	*conns = pl_presence_connections(ctx->presence, user);
	return pl_presence_online(ctx->presence, user);
}

struct mirror_args {
	char user[PL_ID_MAX + 1];
	int connections;
	bool online;
};

static enum pl_code mirror_job(pl_store *s, void *arg, pl_error *err)
{
	struct mirror_args *a = arg;
	return pl_store_presence_set(s, a->user, a->connections, a->online, err);
}

static void free_arg(void *arg, const pl_error *err)
{
	(void)err;
	free(arg);
}

void pl_chat_presence_mirror(struct pl_ctx *ctx, const char *user, int connections, bool online)
{
	struct mirror_args *a = malloc(sizeof *a);
	if (!a)
		return;
	snprintf(a->user, sizeof a->user, "%s", user);
	a->connections = connections;
	a->online = online;
	pl_writer_submit(ctx->writer, mirror_job, free_arg, a);
}

static json_t *status_of(struct pl_ctx *ctx, pl_store *s, const char *viewer, const char *user)
{
	char manual[16];
	int64_t last_seen;
	pl_store_user_status(s, user, manual, &last_seen);
	bool self = viewer && strcmp(viewer, user) == 0;
	bool hidden = strcmp(manual, "invisible") == 0 && !self;
	int conns;
	bool online = online_now(ctx, s, user, &conns) && !hidden;
	const char *shown = !online ? "offline"
			    : strcmp(manual, "invisible") == 0 ? "offline"
							      : manual;
	json_t *seen = json_null();
	if (last_seen > 0 && !online) {
		char t[PL_TIME_LEN];
		pl_time_format(last_seen, t);
		seen = json_string(t);
	}
	return json_pack("{s:s, s:s, s:i, s:o}", "user", user, "status", shown, "connections",
			 hidden ? 0 : conns, "last_seen", seen);
}

json_t *pl_member_status(struct pl_ctx *ctx, pl_store *s, const char *viewer, json_t *ids)
{
	json_t *arr = json_array();
	size_t i;
	json_t *id;
	json_array_foreach(ids, i, id) {
		json_array_append_new(arr, status_of(ctx, s, viewer, json_string_value(id)));
	}
	return arr;
}

json_t *pl_chat_status(struct pl_ctx *ctx, const char *viewer, const char *user)
{
	WITH_READER(ctx, s);
	if (!s)
		return NULL;
	json_t *st = status_of(ctx, s, viewer, user);
	pl_ctx_reader_put(ctx, s);
	return st;
}

struct status_args {
	const char *user, *status;
	bool online;      /* connected when the status was asked for */
	int64_t now;
};

/* Going invisible while online is, for others, going offline: last_seen
 * becomes now, and stays there while the user is invisible (their
 * sessions' ends do not move it: pl_chat_presence_changed). */
static enum pl_code status_job(pl_store *s, void *arg, pl_error *err)
{
	struct status_args *a = arg;
	char was[16];
	int64_t seen;
	pl_store_user_status(s, a->user, was, &seen);
	if (pl_store_set_status(s, a->user, a->status, err) != PL_OK)
		return err->code;
	if (a->online && strcmp(a->status, "invisible") == 0 && strcmp(was, "invisible") != 0)
		return pl_store_set_last_seen(s, a->user, a->now, err);
	return PL_OK;
}

enum pl_code pl_chat_set_status(struct pl_ctx *ctx, const char *user, const char *status,
				json_t **out, pl_error *err)
{
	static const char *const allowed[] = {"online", "away", "busy", "invisible"};
	bool ok = false;
	for (size_t i = 0; status && i < sizeof allowed / sizeof allowed[0]; i++)
		ok = ok || strcmp(status, allowed[i]) == 0;
	if (!ok)
		return pl_fail(err, PL_INVALID_ARGUMENT,
			       "status must be online, away, busy or invisible");
	if (pl_chat_limit(ctx, PL_LIMIT_STATUS, user, err) != PL_OK)
		return err->code;
	struct status_args a = {user, status, false, pl_now_ms()};
	{
		WITH_READER(ctx, r);
		READER_OR_FAIL(r, err);
		int conns;
		a.online = online_now(ctx, r, user, &conns);
		pl_ctx_reader_put(ctx, r);
	}
	if (pl_writer_run(ctx->writer, status_job, &a, err) != PL_OK)
		return err->code;
	/* Others see the status as a presence event; invisible as offline. */
	json_t *seen = pl_chat_status(ctx, NULL, user);
	if (seen)
		pl_chat_publish(ctx, "presence", NULL, seen);
	*out = pl_chat_status(ctx, user, user);
	return *out ? PL_OK : pl_fail(err, PL_UNAVAILABLE, "store unavailable");
}

enum pl_code pl_chat_presence(struct pl_ctx *ctx, const char *viewer, const char *users,
			      json_t **out, pl_error *err)
{
	if (!users || !*users)
		return pl_fail(err, PL_INVALID_ARGUMENT, "users is required (users=a,b,c)");
	WITH_READER(ctx, s);
	READER_OR_FAIL(s, err);
	json_t *arr = json_array();
	char *copy = strdup(users), *save = NULL;
	int n = 0;
	enum pl_code rc = copy ? PL_OK : pl_fail(err, PL_INTERNAL, "out of memory");
	for (char *u = copy ? strtok_r(copy, ",", &save) : NULL; u && rc == PL_OK;
	     u = strtok_r(NULL, ",", &save)) {
		if (++n > 500)
			rc = pl_fail(err, PL_INVALID_ARGUMENT, "users: at most 500 users");
		else if (pl_check_id("users", u, err) != PL_OK)
			rc = err->code;
		else
			json_array_append_new(arr, status_of(ctx, s, viewer, u));
	}
	free(copy);
	pl_ctx_reader_put(ctx, s);
	if (rc != PL_OK) {
		json_decref(arr);
		return rc;
	}
	*out = json_pack("{s:o}", "users", arr);
	return PL_OK;
}

/* Called on presence transitions (first connection, or the end of the
 * grace period after the last): stores last_seen and tells whoever the
 * hub decides should know. */
struct seen_args {
	char user[PL_ID_MAX + 1];
	int64_t when;
};

static enum pl_code seen_job(pl_store *s, void *arg, pl_error *err)
{
	struct seen_args *a = arg;
	return pl_store_set_last_seen(s, a->user, a->when, err);
}

static void seen_done(void *arg, const pl_error *err)
{
	(void)err;
	free(arg);
}

void pl_chat_presence_changed(struct pl_ctx *ctx, const char *user, bool online)
{
	int64_t now = pl_now_ms();
	char manual[16] = "";
	int64_t seen;
	json_t *st = NULL;
	{
		WITH_READER(ctx, s);
		if (s) {
			pl_store_user_status(s, user, manual, &seen);
			st = status_of(ctx, s, NULL, user);
			pl_ctx_reader_put(ctx, s);
		}
	}
	bool invisible = strcmp(manual, "invisible") == 0;
	if (!online) {
		pl_chat_presence_mirror(ctx, user, 0, false);
		/* Queued, not awaited: the caller is the hub's loop.  An
		 * invisible user's last_seen stays when they went invisible:
		 * moving it would tell others when their sessions end. */
		struct seen_args *a = invisible ? NULL : malloc(sizeof *a);
		if (a) {
			snprintf(a->user, sizeof a->user, "%s", user);
			a->when = now;
			pl_writer_submit(ctx->writer, seen_job, seen_done, a);
		}
	}
	/* invisible users never come online for others, nor go offline */
	if (!st || invisible) {
		json_decref(st);
		return;
	}
	if (!online) {
		char t[PL_TIME_LEN];
		pl_time_format(now, t);
		json_object_set_new(st, "last_seen", json_string(t));
	}
	pl_webhook_presence(ctx, user, st);
	pl_chat_publish(ctx, "presence", NULL, st);
}
