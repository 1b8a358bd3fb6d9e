#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/utf8.h"

static const struct {
	const char *name;
	int status;
} table[] = {
	[PL_OK] = {"ok", 200},
	[PL_INVALID_ARGUMENT] = {"invalid_argument", 400},
	[PL_UNAUTHENTICATED] = {"unauthenticated", 401},
	[PL_PERMISSION_DENIED] = {"permission_denied", 403},
	[PL_NOT_FOUND] = {"not_found", 404},
	[PL_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405},
	[PL_CONFLICT] = {"conflict", 409},
	[PL_PAYLOAD_TOO_LARGE] = {"payload_too_large", 413},
	[PL_UNSUPPORTED_MEDIA] = {"unsupported_media_type", 415},
	[PL_RATE_LIMITED] = {"rate_limited", 429},
	[PL_UNAVAILABLE] = {"unavailable", 503},
	[PL_INTERNAL] = {"internal", 500},
};

enum pl_code pl_fail(pl_error *err, enum pl_code code, const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	err->retry_after = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	/* Messages quote what the client sent (a path, a field) and are cut
	 * at 200 bytes: what is not UTF-8 would make the JSON error itself
	 * fail (a 500 for a path with %FF in it). */
	pl_utf8_scrub(err->message, strlen(err->message));
	return code;
}

const char *pl_code_name(enum pl_code code) { return table[code].name; }
int pl_code_status(enum pl_code code) { return table[code].status; }
