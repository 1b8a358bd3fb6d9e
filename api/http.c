#include "api/http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *pl_req_query(const struct pl_req *r, const char *name)
{
	return r->query ? r->query(r->adapter, name) : NULL;
}

bool pl_parse_event_id(const char *v, int64_t *out)
{
	*out = -1;
	if (!v || !*v)
		return true;
	char *end;
	errno = 0;
	long long id = strtoll(v, &end, 10);
	if (*end || errno || id < 0)
		return false;
	*out = id;
	return true;
}

void pl_resp_text(struct pl_resp *r, int status, const char *type, char *body, size_t len)
{
	free(r->body);
	r->status = status;
	r->body = body;
	r->len = len;
	r->content_type = type;
}

void pl_resp_json(struct pl_resp *r, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		pl_resp_text(r, 500, "application/json",
			     strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}"),
			     0);
		r->len = r->body ? strlen(r->body) : 0;
		return;
	}
	pl_resp_text(r, status, "application/json", text, strlen(text));
}

json_t *pl_error_json(const pl_error *err)
{
	return json_pack("{s:{s:s, s:s}}", "error", "code", pl_code_name(err->code), "message",
			 err->message);
}

void pl_resp_error(struct pl_resp *r, const pl_error *err)
{
	pl_resp_json(r, pl_code_status(err->code), pl_error_json(err));
	if (err->code == PL_RATE_LIMITED)
		r->retry_after = err->retry_after > 0 ? err->retry_after : 1;
}

void pl_resp_free(struct pl_resp *r)
{
	free(r->body);
	r->body = NULL;
}
