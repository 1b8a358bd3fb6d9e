/* chat/rooms: rooms and membership: creating, listing, joining, leaving,
 * adding members, direct-message rooms, and the member.joined/left events
 * stored with each change. */
#include "chat/chatint.h"

#include <stdio.h>
#include <string.h>

#include "base/ids.h"

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

enum pl_code pl_add_member(struct pl_ctx *ctx, pl_store *s, const char *room, const char *user,
			   pl_error *err)
{
	bool changed;
	if (pl_store_member_add(s, room, user, pl_now_ms(), &changed, err) != PL_OK)
		return err->code;
	return changed ? member_event(ctx, s, room, user, true, err) : PL_OK;
}

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
	    /* the event subscribes the creator's open streams */
	    pl_add_member(a->ctx, s, a->room, a->user, err) != PL_OK)
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
	if (pl_add_member(a->ctx, s, a->room, a->user, err) != PL_OK)
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
	if (pl_need_member(s, a->room, a->user, err) != PL_OK)
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
		*out = json_pack("{s:o}", "members", pl_member_status(ctx, s, user, ids));
		json_decref(ids);
	}
	pl_ctx_reader_put(ctx, s);
	return rc;
}

static enum pl_code member_add_job(pl_store *s, void *arg, pl_error *err)
{
	struct room_args *a = arg;
	if (pl_need_member(s, a->room, a->user, err) != PL_OK)
		return err->code;
	if (pl_is_dm(a->room))
		return pl_fail(err, PL_PERMISSION_DENIED,
			       "room: nobody can be added to a direct-message room");
	if (pl_sign_up(s, a->other, NULL, err) != PL_OK)
		return err->code;
	return pl_add_member(a->ctx, s, a->room, a->other, err);
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
		    pl_sign_up(s, a->other, NULL, err) != PL_OK)
			return err->code;
		if (pl_add_member(a->ctx, s, a->room, a->user, err) != PL_OK ||
		    (strcmp(a->user, a->other) != 0 &&
		     pl_add_member(a->ctx, s, a->room, a->other, err) != PL_OK))
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
