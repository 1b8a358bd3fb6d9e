/* api/cors: see cors.h. */
#include "api/cors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What the API uses: REST's methods and the headers its clients set
 * (Authorization for tokens, Content-Type for JSON bodies, Last-Event-ID
 * for resuming SSE and long-poll). */
#define ALLOW_METHODS "GET, POST, PUT, PATCH, DELETE, OPTIONS"
#define ALLOW_HEADERS "Authorization, Content-Type, Last-Event-ID"
/* Rate limits answer 429 with Retry-After: apps across origins read it too. */
#define EXPOSE_HEADERS "Retry-After"
#define MAX_AGE "600"

const char *pl_cors_allow(const char *list, const char *origin)
{
	if (!list || !*list || !origin || !*origin)
		return NULL;
	if (strcmp(list, "*") == 0)
		return "*";
	size_t n = strlen(origin);
	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",");
		/* scheme and host are case-insensitive; browsers send them lower case */
		if (l == n && strncasecmp(p, origin, n) == 0)
			return origin;
		p += l;
		if (*p == ',')
			p++;
	}
	return NULL;
}

void pl_cors_headers(const char *list, const char *origin, pl_cors_add_fn *add, void *ud)
{
	if (!list || !*list)
		return;
	const char *allow = pl_cors_allow(list, origin);
	bool any = strcmp(list, "*") == 0;
	if (!any)
		add(ud, "Vary", "Origin");
	if (!allow)
		return;
	add(ud, "Access-Control-Allow-Origin", allow);
	if (!any) /* "*" with credentials is refused by browsers */
		add(ud, "Access-Control-Allow-Credentials", "true");
	add(ud, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
}

bool pl_cors_is_preflight(const char *method, const char *request_method)
{
	return method && strcmp(method, "OPTIONS") == 0 && request_method && *request_method;
}

bool pl_cors_preflight(const char *list, const char *origin, pl_cors_add_fn *add, void *ud)
{
	if (!pl_cors_allow(list, origin))
		return false;
	pl_cors_headers(list, origin, add, ud);
	add(ud, "Access-Control-Allow-Methods", ALLOW_METHODS);
	add(ud, "Access-Control-Allow-Headers", ALLOW_HEADERS);
	add(ud, "Access-Control-Max-Age", MAX_AGE);
	return true;
}

struct lines {
	char *p;
	size_t len;
	bool failed;
};

static void add_line(void *ud, const char *name, const char *value)
{
	struct lines *l = ud;
	size_t n = strlen(name) + strlen(value) + 4;
	char *grown = l->failed ? NULL : realloc(l->p, l->len + n + 1);
	if (!grown) {
		l->failed = true;
		return;
	}
	l->p = grown;
	l->len += (size_t)snprintf(l->p + l->len, n + 1, "%s: %s\r\n", name, value);
}

char *pl_cors_lines(const char *list, const char *origin)
{
	struct lines l = {0};
	pl_cors_headers(list, origin, add_line, &l);
	if (l.failed) {
		free(l.p);
		return NULL;
	}
	return l.p;
}
