/* api/poll: see poll.h. */
#include "api/poll.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/pushargs.h"
#include "base/clock.h"

static const char hex[] = "0123456789abcdef";

enum pl_code pl_poll_parse(struct pl_ctx *ctx, const struct pl_call *call,
			   struct pl_poll_req *p, pl_error *err)
{
	memset(p, 0, sizeof *p);
	p->timeout = PL_POLL_TIMEOUT_DEFAULT;
	const char *t = pl_req_query(call->req, "timeout");
	if (t) {
		char *end;
		errno = 0;
		p->timeout = strtol(t, &end, 10);
		if (*end || errno || p->timeout < 0 || p->timeout > PL_POLL_TIMEOUT_MAX)
			return pl_fail(err, PL_INVALID_ARGUMENT, "timeout must be 0 to %d seconds",
				       PL_POLL_TIMEOUT_MAX);
	}
	const char *s = pl_req_query(call->req, "session");
	if (s) {
		if (strspn(s, hex) != 32 || s[32])
			return pl_fail(err, PL_INVALID_ARGUMENT,
				       "session must be the id an earlier poll answered");
		memcpy(p->session, s, 33);
	}
	if (!pl_parse_event_id(pl_req_query(call->req, "cursor"), &p->cursor))
		return pl_fail(err, PL_INVALID_ARGUMENT, "cursor must be an event id");
	if (pl_push_parse_rooms(ctx, call->who.sub, pl_req_query(call->req, "rooms"), &p->rooms,
				err) != PL_OK)
		return err->code;
	if (pl_push_parse_users(pl_req_query(call->req, "presence"), &p->presence, err) != PL_OK) {
		pl_poll_req_free(p);
		return err->code;
	}
	return PL_OK;
}

void pl_poll_req_free(struct pl_poll_req *p)
{
	json_decref(p->rooms);
	json_decref(p->presence);
	p->rooms = p->presence = NULL;
}

bool pl_poll_new_session(char out[33])
{
	unsigned char rnd[16];
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return false;
	for (size_t i = 0; i < sizeof rnd; i++) {
		out[2 * i] = hex[rnd[i] >> 4];
		out[2 * i + 1] = hex[rnd[i] & 15];
	}
	out[32] = 0;
	return true;
}

int64_t pl_poll_deadline(long timeout, int64_t exp)
{
	int64_t now = pl_mono_ms();
	int64_t deadline = now + (int64_t)timeout * 1000;
	if (exp > 0) {
		int64_t left = exp * 1000 - pl_now_ms();
		int64_t at = now + (left > 0 ? left : 0);
		if (at < deadline)
			deadline = at;
	}
	return deadline;
}

char *pl_poll_answer(const char *events, size_t len, int64_t cursor, const char *session,
		     size_t *out_len)
{
	size_t cap = len + 128;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	int head = snprintf(out, cap, "{\"events\":[");
	memcpy(out + head, events, len);
	size_t n = (size_t)head + len;
	n += (size_t)snprintf(out + n, cap - n, "],\"cursor\":%lld", (long long)cursor);
	if (session && session[0])
		n += (size_t)snprintf(out + n, cap - n, ",\"session\":\"%.32s\"", session);
	out[n++] = '}';
	out[n] = 0;
	*out_len = n;
	return out;
}
