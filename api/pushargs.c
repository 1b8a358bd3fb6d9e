/* api/pushargs: see pushargs.h. */
#include "api/pushargs.h"

#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "chat/ctx.h"

static enum pl_code split_ids(const char *list, const char *field, int max, json_t **out,
			      pl_error *err)
{
	*out = NULL;
	if (!list || !*list)
		return PL_OK;
	json_t *arr = json_array();
	char *copy = strdup(list), *save = NULL;
	enum pl_code rc = copy ? PL_OK : pl_fail(err, PL_INTERNAL, "out of memory");
	for (char *id = copy ? strtok_r(copy, ",", &save) : NULL; id && rc == PL_OK;
	     id = strtok_r(NULL, ",", &save)) {
		if ((int)json_array_size(arr) >= max)
			rc = pl_fail(err, PL_INVALID_ARGUMENT, "%s: at most %d ids", field, max);
		else if (pl_check_id(field, id, err) != PL_OK)
			rc = err->code;
		else
			json_array_append_new(arr, json_string(id));
	}
	free(copy);
	if (rc != PL_OK)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}

enum pl_code pl_push_parse_users(const char *users, json_t **out, pl_error *err)
{
	return split_ids(users, "presence", 500, out, err);
}

enum pl_code pl_push_parse_rooms(struct pl_ctx *ctx, const char *user, const char *rooms,
				 json_t **out, pl_error *err)
{
	enum pl_code split = split_ids(rooms, "rooms", 1000, out, err);
	if (split != PL_OK || !*out)
		return split;
	pl_store *s = pl_ctx_reader(ctx);
	if (!s) {
		json_decref(*out);
		*out = NULL;
		return pl_fail(err, PL_UNAVAILABLE, "store unavailable");
	}
	size_t i;
	json_t *r;
	enum pl_code rc = PL_OK;
	json_array_foreach(*out, i, r) {
		if (!pl_store_is_member(s, json_string_value(r), user)) {
			rc = pl_fail(err, PL_PERMISSION_DENIED, "rooms: you are not a member of %s",
				     json_string_value(r));
			break;
		}
	}
	pl_ctx_reader_put(ctx, s);
	if (rc != PL_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

