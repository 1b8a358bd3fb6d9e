#include "base/ids.h"

#include <stdio.h>
#include <string.h>

bool pl_valid_id(const char *s)
{
	size_t n = 0;
	if (!s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' || c == '-';
		if (!ok || n >= PL_ID_MAX)
			return false;
	}
	return n > 0;
}

void pl_dm_room_id(const char *a, const char *b, char *out, size_t outlen)
{
	if (strcmp(a, b) > 0) {
		const char *t = a;
		a = b;
		b = t;
	}
	snprintf(out, outlen, "dm:%s:%s", a, b);
}

bool pl_is_dm(const char *room) { return strncmp(room, "dm:", 3) == 0; }

/* User ids may contain ':' themselves, so the split point is found by
 * rebuilding the id for each candidate rather than by searching for ':'. */
bool pl_dm_has_user(const char *room, const char *user)
{
	if (!pl_is_dm(room))
		return false;
	const char *rest = room + 3;
	size_t ulen = strlen(user);
	/* user first: "dm:<user>:<other>" */
	if (strncmp(rest, user, ulen) == 0 && rest[ulen] == ':' && rest[ulen + 1] &&
	    strcmp(user, rest + ulen + 1) <= 0)
		return true;
	/* user second: "dm:<other>:<user>" */
	size_t rlen = strlen(rest);
	if (rlen > ulen + 1 && strcmp(rest + rlen - ulen, user) == 0 &&
	    rest[rlen - ulen - 1] == ':') {
		char other[PL_ID_MAX + 1];
		size_t olen = rlen - ulen - 1;
		if (olen > PL_ID_MAX)
			return false;
		memcpy(other, rest, olen);
		other[olen] = 0;
		return strcmp(other, user) <= 0;
	}
	return false;
}
