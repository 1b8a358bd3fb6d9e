/* chat/chat: see chat.h. */
#include "chat/chat.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/ids.h"
#include "base/ratelimit.h"
#include "base/utf8.h"
#include "chat/webhook.h"
#include "db/presence.h"

/* ---- argument checks ---- */

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

/* ---- rate limits ---- */

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

/* A read connection for the duration of one operation. */
#define WITH_READER(ctx, s) pl_store *s = pl_ctx_reader(ctx)
#define READER_OR_FAIL(s, err)                                                  \
	do {                                                                    \
		if (!(s))                                                       \
			return pl_fail(err, PL_UNAVAILABLE, "store unavailable"); \
	} while (0)

/* Members only: 403 for others, 404 when the room does not exist. */
static enum pl_code need_member(pl_store *s, const char *room, const char *user, pl_error *err)
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

/* ---- membership, with its events ---- */

/* Stores member.joined/member.left.  Small rooms tell every member; in
 * larger ones only the user's own connections hear of it, so they start or
 * stop receiving the room, and a join to a huge room costs one event, not
 * one per member. */
static enum pl_code member_event(struct pl_ctx *ctx, pl_store *s, const char *room,
				 const char *user, bool joined, pl_error *err)
{
	int count = pl_store_room_members(s, room);
	bool small = count >= 0 && count <= ctx->cfg->small_room;
	json_t *data = json_pack("{s:s}", "user", user);
	int64_t id;
	enum pl_code rc = pl_store_event_append(s, room, joined ? "member.joined" : "member.left",
						small ? NULL : user, data, pl_now_ms(), &id, err);
	json_decref(data);
	return rc;
}

static enum pl_code add_member(struct pl_ctx *ctx, pl_store *s, const char *room,
			       const char *user, pl_error *err)
{
	bool changed;
	if (pl_store_member_add(s, room, user, pl_now_ms(), &changed, err) != PL_OK)
		return err->code;
	return changed ? member_event(ctx, s, room, user, true, err) : PL_OK;
}

/* ---- auth ---- */

struct signup {
	const char *user, *name;
};

/* Makes sure user exists; a new user joins general silently (no event at
 * all), as every user is a member of it. */
static enum pl_code sign_up(pl_store *s, const char *user, const char *name, pl_error *err)
{
	bool created, joined;
	if (pl_store_user_ensure(s, user, name, pl_now_ms(), &created, err) != PL_OK)
		return err->code;
	return created ? pl_store_member_add(s, "general", user, pl_now_ms(), &joined, err) : PL_OK;
}

static enum pl_code signup_job(pl_store *s, void *arg, pl_error *err)
{
	struct signup *a = arg;
	return sign_up(s, a->user, a->name, err);
}

/* Tokens verified before, with their claims, until they expire: a client
 * sends the same token with every request, and the HMAC was a tenth of a
 * history read.  Only verified tokens get in, and the cache starts afresh
 * when full, so it stays bounded whatever clients send. */
#define TOKEN_CACHE_MAX 20000

static bool token_cached(struct pl_ctx *ctx, const char *token, struct pl_claims *who)
{
	pthread_mutex_lock(&ctx->lock);
	const struct pl_claims *c = pl_map_get(ctx->tokens, token);
	bool hit = c && c->exp > pl_now_ms() / 1000;
	if (hit)
		*who = *c;
	pthread_mutex_unlock(&ctx->lock);
	return hit;
}

static void token_remember(struct pl_ctx *ctx, const char *token, const struct pl_claims *who)
{
	struct pl_claims *copy = malloc(sizeof *copy);
	if (!copy)
		return;
	*copy = *who;
	pthread_mutex_lock(&ctx->lock);
	if (pl_map_len(ctx->tokens) >= TOKEN_CACHE_MAX) {
		pl_map *fresh = pl_map_new();
		if (fresh) {
			pl_map_free_all(ctx->tokens);
			ctx->tokens = fresh;
		}
	}
	void *old = pl_map_get(ctx->tokens, token);
	if (pl_map_put(ctx->tokens, token, copy)) {
		free(old);
		copy = NULL;
	}
	pthread_mutex_unlock(&ctx->lock);
	free(copy);
}

void pl_chat_auth_cache_free(struct pl_ctx *ctx)
{
	pl_map_free_all(ctx->tokens);
	ctx->tokens = NULL;
}

enum pl_code pl_chat_auth(struct pl_ctx *ctx, const char *token, struct pl_claims *who,
			  pl_error *err)
{
	const char *why = "missing token";
	if (!token || !*token)
		return pl_fail(err, PL_UNAUTHENTICATED,
			       "authorization: a Bearer token or ?token= is required");
	if (token_cached(ctx, token, who))
		return PL_OK; /* verified, and its user signed up, before */
	if (!ctx->cfg->jwt_secret ||
	    !pl_jwt_verify(ctx->cfg->jwt_secret, ctx->cfg->jwt_secret_len, token,
			   pl_now_ms() / 1000, who, &why))
		return pl_fail(err, PL_UNAUTHENTICATED, "token: %s", why);
	pthread_mutex_lock(&ctx->lock);
	bool known = pl_map_get(ctx->known_users, who->sub) != NULL;
	pthread_mutex_unlock(&ctx->lock);
	if (known) {
		token_remember(ctx, token, who);
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
	token_remember(ctx, token, who);
	return PL_OK;
}

/* ---- rooms ---- */

struct room_args {
	struct pl_ctx *ctx;
	const char *user, *room, *other, *name;
	bool priv;
	json_t *out;
};

/* Room jobs hand back the room; a job run again starts without it. */
static struct room_args *room_job_args(void *arg)
{
	struct room_args *a = arg;
	json_decref(a->out);
	a->out = NULL;
	return a;
}

static enum pl_code create_job(pl_store *s, void *arg, pl_error *err)
{
	struct room_args *a = room_job_args(arg);
	if (pl_store_room_create(s, a->room, a->name, a->priv, a->user, pl_now_ms(), err) != PL_OK ||
	    add_member(a->ctx, s, a->room, a->user, err) != PL_OK) /* the event subscribes
								    * the creator's open streams */
		return err->code;
	a->out = pl_store_room_get(s, a->room);
	return PL_OK;
}

/* A generated id: short, unique, and within the id alphabet. */
static void new_room_id(char out[32])
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[12];
	FILE *f = fopen("/dev/urandom", "rb");
	size_t got = f ? fread(rnd, 1, sizeof rnd, f) : 0;
	if (f)
		fclose(f);
	uint64_t t = (uint64_t)pl_now_ms();
	for (size_t i = 0; i < sizeof rnd; i++)
		out[i] = abc[(i < got ? rnd[i] : (unsigned char)(t >> (i * 5))) % 36];
	out[sizeof rnd] = 0;
}

enum pl_code pl_chat_room_create(struct pl_ctx *ctx, const char *user, const char *id,
				 const char *name, bool priv, json_t **room, pl_error *err)
{
	char gen[32];
	if (id && pl_check_id("id", id, err) != PL_OK)
		return err->code;
	if (id && pl_is_dm(id))
		return pl_fail(err, PL_INVALID_ARGUMENT, "id: ids starting with dm: are reserved");
	if (pl_check_text("name", name, PL_NAME_MAX, err) != PL_OK ||
	    pl_chat_limit(ctx, PL_LIMIT_ROOM, user, err) != PL_OK)
		return err->code;
	if (!id) {
		new_room_id(gen);
		id = gen;
	}
	struct room_args a = {.ctx = ctx, .user = user, .room = id, .name = name, .priv = priv};
	if (pl_writer_run(ctx->writer, create_job, &a, err) != PL_OK)
		return err->code;
	*room = a.out;
	return PL_OK;
}

enum pl_code pl_chat_rooms(struct pl_ctx *ctx, const char *user, const char *after,
			   const char *q, int limit, json_t **out, pl_error *err)
{
	if (limit < 1 || limit > PL_ROOMS_PAGE_MAX)
		return pl_fail(err, PL_INVALID_ARGUMENT, "limit must be 1 to %d", PL_ROOMS_PAGE_MAX);
	if (after && pl_check_id("after", after, err) != PL_OK)
		return err->code;
	if (q && !*q)
		q = NULL;
	if (q && pl_check_text("q", q, PL_NAME_MAX, err) != PL_OK)
		return err->code;
	WITH_READER(ctx, s);
	READER_OR_FAIL(s, err);
	/* One row more than asked tells whether another page follows. */
	json_t *rooms = pl_store_rooms_page(s, user, after, q, limit + 1);
	pl_ctx_reader_put(ctx, s);
	bool more = json_array_size(rooms) > (size_t)limit;
	if (more)
		json_array_remove(rooms, (size_t)limit);
	*out = json_pack("{s:o, s:b}", "rooms", rooms, "has_more", more);
	return *out ? PL_OK : pl_fail(err, PL_UNAVAILABLE, "out of memory");
}

/* Public rooms' metadata is for everyone; private rooms' for members. */
static enum pl_code visible_room(pl_store *s, const char *user, const char *room,
				 json_t **out, pl_error *err)
{
	if (pl_check_id("room", room, err) != PL_OK)
		return err->code;
	json_t *r = pl_store_room_get(s, room);
	if (!r)
		return pl_fail(err, PL_NOT_FOUND, "room: no room %s", room);
	if (json_is_true(json_object_get(r, "private")) && !pl_store_is_member(s, room, user)) {
		json_decref(r);
		return pl_fail(err, PL_PERMISSION_DENIED, "room: %s is private", room);
	}
	*out = r;
	return PL_OK;
}

enum pl_code pl_chat_room_get(struct pl_ctx *ctx, const char *user, const char *room,
			      json_t **out, pl_error *err)
{
	WITH_READER(ctx, s);
	READER_OR_FAIL(s, err);
	enum pl_code rc = visible_room(s, user, room, out, err);
	pl_ctx_reader_put(ctx, s);
	return rc;
}

static enum pl_code join_job(pl_store *s, void *arg, pl_error *err)
{
	struct room_args *a = room_job_args(arg);
	if (pl_store_is_member(s, a->room, a->user)) {
		a->out = pl_store_room_get(s, a->room);
		return PL_OK;
	}
	bool priv;
	if (!pl_store_room_private(s, a->room, &priv))
		return pl_fail(err, PL_NOT_FOUND, "room: no room %s", a->room);
	if (priv)
		return pl_fail(err, PL_PERMISSION_DENIED,
			       "room: %s is private; a member must add you", a->room);
	if (add_member(a->ctx, s, a->room, a->user, err) != PL_OK)
		return err->code;
	a->out = pl_store_room_get(s, a->room);
	return PL_OK;
}

enum pl_code pl_chat_join(struct pl_ctx *ctx, const char *user, const char *room, json_t **out,
			  pl_error *err)
{
	if (pl_check_id("room", room, err) != PL_OK ||
	    pl_chat_limit(ctx, PL_LIMIT_MEMBER, user, err) != PL_OK)
		return err->code;
	struct room_args a = {.ctx = ctx, .user = user, .room = room};
	if (pl_writer_run(ctx->writer, join_job, &a, err) != PL_OK)
		return err->code;
	*out = a.out;
	return PL_OK;
}

static enum pl_code leave_job(pl_store *s, void *arg, pl_error *err)
{
	struct room_args *a = arg;
	if (need_member(s, a->room, a->user, err) != PL_OK)
		return err->code;
	if (pl_is_dm(a->room))
		return pl_fail(err, PL_INVALID_ARGUMENT, "room: a direct-message room cannot be left");
	if (strcmp(a->room, "general") == 0)
		return pl_fail(err, PL_PERMISSION_DENIED, "room: every user is a member of general");
	/* The event is stored before the member goes, so the room's other
	 * members (and the leaver's own connections) still receive it. */
	bool changed;
	if (member_event(a->ctx, s, a->room, a->user, false, err) != PL_OK)
		return err->code;
	return pl_store_member_remove(s, a->room, a->user, &changed, err);
}

enum pl_code pl_chat_leave(struct pl_ctx *ctx, const char *user, const char *room, pl_error *err)
{
	if (pl_check_id("room", room, err) != PL_OK ||
	    pl_chat_limit(ctx, PL_LIMIT_MEMBER, user, err) != PL_OK)
		return err->code;
	struct room_args a = {.ctx = ctx, .user = user, .room = room};
	return pl_writer_run(ctx->writer, leave_job, &a, err);
}

static json_t *member_status(struct pl_ctx *ctx, pl_store *s, const char *viewer,
			     json_t *ids);

enum pl_code pl_chat_members(struct pl_ctx *ctx, const char *user, const char *room,
			     json_t **out, pl_error *err)
{
	WITH_READER(ctx, s);
	READER_OR_FAIL(s, err);
	json_t *room_obj = NULL;
	enum pl_code rc = visible_room(s, user, room, &room_obj, err);
	if (rc == PL_OK) {
		json_decref(room_obj);
		json_t *ids = pl_store_member_ids(s, room, 10000);
		*out = json_pack("{s:o}", "members", member_status(ctx, s, user, ids));
		json_decref(ids);
	}
	pl_ctx_reader_put(ctx, s);
	return rc;
}

static enum pl_code member_add_job(pl_store *s, void *arg, pl_error *err)
{
	struct room_args *a = arg;
	if (need_member(s, a->room, a->user, err) != PL_OK)
		return err->code;
	if (pl_is_dm(a->room))
		return pl_fail(err, PL_PERMISSION_DENIED,
			       "room: nobody can be added to a direct-message room");
	if (sign_up(s, a->other, NULL, err) != PL_OK)
		return err->code;
	return add_member(a->ctx, s, a->room, a->other, err);
}

enum pl_code pl_chat_member_add(struct pl_ctx *ctx, const char *user, const char *room,
				const char *other, pl_error *err)
{
	if (pl_check_id("room", room, err) != PL_OK || pl_check_id("user", other, err) != PL_OK ||
	    pl_chat_limit(ctx, PL_LIMIT_MEMBER, user, err) != PL_OK)
		return err->code;
	struct room_args a = {.ctx = ctx, .user = user, .room = room, .other = other};
	return pl_writer_run(ctx->writer, member_add_job, &a, err);
}

static enum pl_code dm_job(pl_store *s, void *arg, pl_error *err)
{
	struct room_args *a = room_job_args(arg);
	bool priv;
	if (pl_store_room_private(s, a->room, &priv) &&
	    !(pl_store_is_member(s, a->room, a->user) && pl_store_is_member(s, a->room, a->other)))
		/* dm:<a>:<b> is ambiguous when ids contain ':'. */
		return pl_fail(err, PL_CONFLICT,
			       "user: the direct-message id %s already belongs to another pair "
			       "(user ids with ':' can spell the same id); it stays theirs",
			       a->room);
	if (!pl_store_room_private(s, a->room, &priv)) {
		if (pl_store_room_create(s, a->room, a->name, true, a->user, pl_now_ms(), err) !=
			    PL_OK ||
		    sign_up(s, a->other, NULL, err) != PL_OK)
			return err->code;
		if (add_member(a->ctx, s, a->room, a->user, err) != PL_OK ||
		    (strcmp(a->user, a->other) != 0 &&
		     add_member(a->ctx, s, a->room, a->other, err) != PL_OK))
			return err->code;
	}
	a->out = pl_store_room_get(s, a->room);
	return PL_OK;
}

enum pl_code pl_chat_dm(struct pl_ctx *ctx, const char *user, const char *other, json_t **out,
			pl_error *err)
{
	if (pl_check_id("user", other, err) != PL_OK)
		return err->code;
	char room[2 * PL_ID_MAX + 8], name[2 * PL_ID_MAX + 8];
	pl_dm_room_id(user, other, room, sizeof room);
	if (strlen(room) > PL_ID_MAX)
		return pl_fail(err, PL_INVALID_ARGUMENT,
			       "user: the two user ids are too long for a direct-message room id");
	if (pl_chat_limit(ctx, PL_LIMIT_ROOM, user, err) != PL_OK)
		return err->code;
	snprintf(name, sizeof name, "%s, %s", strcmp(user, other) < 0 ? user : other,
		 strcmp(user, other) < 0 ? other : user);
	struct room_args a = {.ctx = ctx, .user = user, .room = room, .other = other,
			      .name = name};
	if (pl_writer_run(ctx->writer, dm_job, &a, err) != PL_OK)
		return err->code;
	*out = a.out;
	return PL_OK;
}

/* ---- messages ---- */

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
	if (need_member(s, a->room, a->user, err) != PL_OK) {
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
		if (!any && (rc = need_member(s, room, user, err)) != PL_OK) {
			free(*text);
			*text = NULL;
			*len = 0;
		}
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
	if (need_member(s, a->room, a->user, err) != PL_OK)
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

/* ---- typing and receipts: ephemeral, never stored as events ---- */

static void publish(struct pl_ctx *ctx, const char *type, const char *room, json_t *data)
{
	json_t *ev = pl_event_json(0, type, room ? room : "", pl_now_ms(), data);
	json_decref(data);
	if (ev)
		pl_ctx_ephemeral(ctx, ev);
}

enum pl_code pl_chat_typing(struct pl_ctx *ctx, const char *user, const char *room, bool typing,
			    pl_error *err)
{
	if (pl_check_id("room", room, err) != PL_OK ||
	    pl_chat_limit(ctx, PL_LIMIT_TYPING, user, err) != PL_OK)
		return err->code;
	WITH_READER(ctx, s);
	READER_OR_FAIL(s, err);
	enum pl_code rc = need_member(s, room, user, err);
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
			publish(ctx, "typing.renew", room, json_pack("{s:s}", "user", user));
		return PL_OK;
	}
	publish(ctx, "typing", room, json_pack("{s:s, s:b}", "user", user, "typing", typing));
	return PL_OK;
}

struct read_args {
	const char *user, *room;
	int64_t up_to, delivered, read;
};

static enum pl_code read_job(pl_store *s, void *arg, pl_error *err)
{
	struct read_args *a = arg;
	if (need_member(s, a->room, a->user, err) != PL_OK)
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
	publish(ctx, "receipt", room,
		json_pack("{s:s, s:I, s:I}", "user", user, "delivered_up_to",
			  (json_int_t)a.delivered, "read_up_to", (json_int_t)a.read));
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
		publish(r->ctx, "receipt", r->room,
			json_pack("{s:s, s:I, s:I}", "user", r->user, "delivered_up_to",
				  (json_int_t)r->a.delivered, "read_up_to", (json_int_t)r->a.read));
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
	enum pl_code rc = need_member(s, room, user, err);
	if (rc == PL_OK)
		*out = json_pack("{s:o}", "receipts", pl_store_receipts(s, room));
	pl_ctx_reader_put(ctx, s);
	return rc;
}

/* ---- status and presence ---- */

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

static json_t *member_status(struct pl_ctx *ctx, pl_store *s, const char *viewer, json_t *ids)
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
		publish(ctx, "presence", NULL, seen);
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
	publish(ctx, "presence", NULL, st);
}
