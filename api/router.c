#include "api/router.h"

#include <stdio.h>
#include <string.h>

/* Matches path against pattern, copying ":" segments into params. */
static bool match_pattern(const char *pattern, const char *path, struct pl_match *m)
{
	int n = 0;
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (*p != '/' || *s != '/')
			return false;
		p++;
		s++;
		size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");
		if (plen == 1 && *p == ':') {
			if (slen == 0 || slen > PL_PARAM_MAX || n == PL_MAX_PARAMS)
				return false;
			memcpy(m->params[n], s, slen);
			m->params[n++][slen] = 0;
		} else if (plen != slen || memcmp(p, s, plen) != 0) {
			return false;
		}
		p += plen;
		s += slen;
	}
	return !*p && (!*s || (s[0] == '/' && !s[1])); /* one trailing slash is fine */
}

/* Whether method is one of the ", "-separated names in allow. */
static bool listed(const char *allow, const char *method)
{
	size_t n = strlen(method);
	for (const char *p = allow; *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, method, n) == 0)
			return true;
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return false;
}

enum pl_code pl_route_match(const struct pl_route *table, const char *method, const char *path,
			    struct pl_match *m)
{
	bool path_known = false;
	size_t used = 0;
	m->route = NULL;
	m->allow[0] = 0;
	for (const struct pl_route *r = table; r->method; r++) {
		if (!match_pattern(r->pattern, path, m))
			continue;
		if (strcmp(r->method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
			m->route = r;
			return PL_OK;
		}
		path_known = true;
		if (!listed(m->allow, r->method)) {
			int w = snprintf(m->allow + used, sizeof m->allow - used, "%s%s",
					 used ? ", " : "", r->method);
			if (w > 0 && (size_t)w < sizeof m->allow - used)
				used += (size_t)w;
			else
				m->allow[used] = 0; /* no room: never a cut-off name */
		}
	}
	return path_known ? PL_METHOD_NOT_ALLOWED : PL_NOT_FOUND;
}
