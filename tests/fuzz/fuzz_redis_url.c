/* tests/fuzz/fuzz_redis_url: libFuzzer harness for REDIS_URL parsing
 * (db/redis).  Parley has no other database URL: the store is a path.
 *
 * Properties: an accepted URL names a host with a port in 1..65535 or a
 * socket path, never both; every field is NUL-terminated in its buffer;
 * the text for logs never contains the password. */
#include "db/redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void must(bool cond)
{
	if (!cond)
		abort();
}

#define TERMINATED(f) (memchr((f), 0, sizeof(f)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	struct pl_redis_addr a;
	pl_error err;
	memset(&a, 0x55, sizeof a);
	if (pl_redis_parse_url(s, &a, &err)) {
		must(TERMINATED(a.host) && TERMINATED(a.path) && TERMINATED(a.user) &&
		     TERMINATED(a.pass) && TERMINATED(a.shown));
		must(!a.host[0] != !a.path[0]);
		if (a.host[0])
			must(a.port >= 1 && a.port <= 65535);
		must(a.db >= 0);
		/* The text for logs is the address alone: never the password. */
		char shown[sizeof a.shown];
		if (a.path[0])
			snprintf(shown, sizeof shown, "%s", a.path);
		else
			snprintf(shown, sizeof shown, strchr(a.host, ':') ? "[%s]:%d" : "%s:%d",
				 a.host, a.port);
		must(strcmp(shown, a.shown) == 0);
	} else {
		must(err.code != PL_OK && err.message[0]);
	}
	free(s);
	return 0;
}
