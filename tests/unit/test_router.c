/* tests/unit/test_router: pl_route_match (api/router) against a small table
 * of its own: literal and ":" segments, parameters, one trailing slash,
 * 404 against 405 and the Allow list, HEAD, and segment length limits. */
#include <stdio.h>
#include <string.h>

#include "api/router.h"
#include "tests/unit/t.h"

static void h_a(struct pl_call *c) { (void)c; }
static void h_b(struct pl_call *c) { (void)c; }

static const struct pl_route table[] = {
	{"GET", "/v1/health", PL_ROUTE_REST, h_a, PL_ROUTE_PUBLIC},
	{"POST", "/v1/rooms", PL_ROUTE_REST, h_b, PL_ROUTE_BODY},
	{"GET", "/v1/rooms", PL_ROUTE_REST, h_a, 0},
	{"GET", "/v1/rooms/:", PL_ROUTE_REST, h_a, 0},
	{"POST", "/v1/rooms/:/join", PL_ROUTE_REST, h_b, 0},
	{"GET", "/v1/rooms/:/messages", PL_ROUTE_REST, h_a, 0},
	{"POST", "/v1/rooms/:/messages", PL_ROUTE_REST, h_b, PL_ROUTE_BODY},
	{"PATCH", "/v1/rooms/:/messages/:", PL_ROUTE_REST, h_a, PL_ROUTE_BODY},
	{"DELETE", "/v1/rooms/:/messages/:", PL_ROUTE_REST, h_b, 0},
	{"GET", "/a/:/b/:/c/:", PL_ROUTE_REST, h_a, 0},
	{"GET", "/v1/events", PL_ROUTE_SSE, NULL, 0},
	{"POST", "/join-room/:", PL_ROUTE_REST, h_b, 0},
	{NULL, NULL, PL_ROUTE_REST, NULL, 0},
};

static struct pl_match m;

static enum pl_code match(const char *method, const char *path)
{
	memset(&m, 0x5a, sizeof m); /* garbage in: the matcher must set what it reports */
	return pl_route_match(table, method, path, &m);
}

static void test_literals(void)
{
	CHECK(match("GET", "/v1/health") == PL_OK);
	CHECK(m.route == &table[0]);
	CHECK(m.route->fn == h_a && (m.route->flags & PL_ROUTE_PUBLIC));
	CHECK(match("POST", "/v1/rooms") == PL_OK);
	CHECK(m.route == &table[1]);
	CHECK(match("GET", "/v1/rooms") == PL_OK);
	CHECK(m.route == &table[2]);
	CHECK(match("GET", "/v1/events") == PL_OK);
	CHECK(m.route->kind == PL_ROUTE_SSE);
	/* Prefixes and extensions of a literal are other paths. */
	CHECK(match("GET", "/v1/healthz") == PL_NOT_FOUND);
	CHECK(match("GET", "/v1/healt") == PL_NOT_FOUND);
	CHECK(match("GET", "/v1") == PL_NOT_FOUND);
	CHECK(match("GET", "/") == PL_NOT_FOUND);
	CHECK(match("GET", "") == PL_NOT_FOUND);
	CHECK(match("GET", "v1/health") == PL_NOT_FOUND);
	CHECK(match("GET", "/V1/health") == PL_NOT_FOUND);
	CHECK(match("GET", "/v1/health/x") == PL_NOT_FOUND);
	CHECK(match("GET", "/v2/health") == PL_NOT_FOUND);
	CHECK(match("GET", "//v1/health") == PL_NOT_FOUND);
	CHECK(match("GET", "/v1//health") == PL_NOT_FOUND);
}

static void test_params(void)
{
	CHECK(match("GET", "/v1/rooms/general") == PL_OK);
	CHECK(m.route == &table[3]);
	CHECK_STR(m.params[0], "general");
	CHECK(match("POST", "/v1/rooms/dm:alice:bob/join") == PL_OK);
	CHECK(m.route == &table[4]);
	CHECK_STR(m.params[0], "dm:alice:bob");
	CHECK(match("GET", "/v1/rooms/r-1.x_y/messages") == PL_OK);
	CHECK(m.route == &table[5]);
	CHECK_STR(m.params[0], "r-1.x_y");
	CHECK(match("POST", "/v1/rooms/r1/messages") == PL_OK);
	CHECK(m.route == &table[6]);
	CHECK(match("PATCH", "/v1/rooms/lobby/messages/1042") == PL_OK);
	CHECK(m.route == &table[7]);
	CHECK_STR(m.params[0], "lobby");
	CHECK_STR(m.params[1], "1042");
	CHECK(match("DELETE", "/v1/rooms/lobby/messages/7") == PL_OK);
	CHECK(m.route == &table[8]);
	CHECK_STR(m.params[1], "7");
	/* Three parameters, each in its own slot. */
	CHECK(match("GET", "/a/x/b/yy/c/zzz") == PL_OK);
	CHECK(m.route == &table[9]);
	CHECK_STR(m.params[0], "x");
	CHECK_STR(m.params[1], "yy");
	CHECK_STR(m.params[2], "zzz");
	/* A parameter is one whole, non-empty segment. */
	CHECK(match("GET", "/v1/rooms//messages") == PL_NOT_FOUND);
	CHECK(match("POST", "/join-room/") == PL_NOT_FOUND);
	CHECK(match("GET", "/a//b/y/c/z") == PL_NOT_FOUND);
	CHECK(match("GET", "/a/x/b/y/c/") == PL_NOT_FOUND);
	CHECK(match("GET", "/v1/rooms/a/b") == PL_NOT_FOUND);
	CHECK(match("GET", "/v1/rooms/a/messages/1/x") == PL_NOT_FOUND);
	/* The matcher does not judge parameter contents: the handlers do. */
	CHECK(match("GET", "/v1/rooms/a b%") == PL_OK);
	CHECK_STR(m.params[0], "a b%");
}

static void test_trailing_slash(void)
{
	CHECK(match("GET", "/v1/health/") == PL_OK);
	CHECK(m.route == &table[0]);
	CHECK(match("GET", "/v1/rooms/") == PL_OK);
	CHECK(m.route == &table[2]);
	CHECK(match("GET", "/v1/rooms/general/") == PL_OK);
	CHECK(m.route == &table[3]);
	CHECK_STR(m.params[0], "general");
	CHECK(match("PATCH", "/v1/rooms/r/messages/5/") == PL_OK);
	CHECK_STR(m.params[1], "5");
	/* One slash only. */
	CHECK(match("GET", "/v1/health//") == PL_NOT_FOUND);
	CHECK(match("GET", "/v1/rooms/general//") == PL_NOT_FOUND);
}

static void test_405(void)
{
	/* A known path under another method: 405 and the methods it has. */
	CHECK(match("DELETE", "/v1/health") == PL_METHOD_NOT_ALLOWED);
	CHECK_STR(m.allow, "GET");
	CHECK(match("PUT", "/v1/rooms") == PL_METHOD_NOT_ALLOWED);
	CHECK_STR(m.allow, "POST, GET");
	CHECK(match("POST", "/v1/rooms/general") == PL_METHOD_NOT_ALLOWED);
	CHECK_STR(m.allow, "GET");
	CHECK(match("GET", "/v1/rooms/general/join") == PL_METHOD_NOT_ALLOWED);
	CHECK_STR(m.allow, "POST");
	CHECK(match("PUT", "/v1/rooms/general/messages") == PL_METHOD_NOT_ALLOWED);
	CHECK_STR(m.allow, "GET, POST");
	CHECK(match("GET", "/v1/rooms/r/messages/9") == PL_METHOD_NOT_ALLOWED);
	CHECK_STR(m.allow, "PATCH, DELETE");
	CHECK(match("GET", "/v1/rooms/r/messages/9/") == PL_METHOD_NOT_ALLOWED);
	CHECK_STR(m.allow, "PATCH, DELETE");
	CHECK(match("GET", "/join-room/x") == PL_METHOD_NOT_ALLOWED);
	CHECK_STR(m.allow, "POST");
	/* Methods are case-sensitive tokens (RFC 9110). */
	CHECK(match("get", "/v1/health") == PL_METHOD_NOT_ALLOWED);
	CHECK_STR(m.allow, "GET");
	/* An unknown path is 404, whatever the method, and the allow list is
	 * empty then and after a success. */
	CHECK(match("DELETE", "/v1/nothing") == PL_NOT_FOUND);
	CHECK(m.route == NULL);
	CHECK_STR(m.allow, "");
	CHECK(match("GET", "/v1/rooms/x") == PL_OK);
	CHECK_STR(m.allow, "");
}

static void test_head(void)
{
	/* HEAD is served by the GET route (RFC 9110 9.3.2). */
	CHECK(match("HEAD", "/v1/health") == PL_OK);
	CHECK(m.route == &table[0]);
	CHECK(match("HEAD", "/v1/rooms") == PL_OK);
	CHECK(m.route == &table[2]);
	CHECK(match("HEAD", "/v1/rooms/r/join") == PL_METHOD_NOT_ALLOWED);
	CHECK_STR(m.allow, "POST");
}

static void test_long_segments(void)
{
	char path[1024], seg[PL_PARAM_MAX + 2];
	/* A parameter of exactly PL_PARAM_MAX bytes fits. */
	memset(seg, 'r', PL_PARAM_MAX);
	seg[PL_PARAM_MAX] = 0;
	snprintf(path, sizeof path, "/v1/rooms/%s/messages", seg);
	CHECK(match("GET", path) == PL_OK);
	CHECK(m.route == &table[5]);
	CHECK(strlen(m.params[0]) == PL_PARAM_MAX);
	CHECK(strcmp(m.params[0], seg) == 0);
	/* One byte more never matches (and never overflows the slot). */
	memset(seg, 'r', PL_PARAM_MAX + 1);
	seg[PL_PARAM_MAX + 1] = 0;
	snprintf(path, sizeof path, "/v1/rooms/%s/messages", seg);
	CHECK(match("GET", path) == PL_NOT_FOUND);
	snprintf(path, sizeof path, "/v1/rooms/%s", seg);
	CHECK(match("GET", path) == PL_NOT_FOUND);
	/* Long parameters in the last of three slots. */
	memset(seg, 'z', PL_PARAM_MAX);
	seg[PL_PARAM_MAX] = 0;
	snprintf(path, sizeof path, "/a/%s/b/%s/c/%s", seg, seg, seg);
	CHECK(match("GET", path) == PL_OK);
	CHECK(strlen(m.params[0]) == PL_PARAM_MAX && strlen(m.params[2]) == PL_PARAM_MAX);
	/* A long literal-looking segment is just another path. */
	char lit[900];
	memset(lit, 'h', sizeof lit - 1);
	lit[sizeof lit - 1] = 0;
	snprintf(path, sizeof path, "/v1/%s", lit);
	CHECK(match("GET", path) == PL_NOT_FOUND);
	/* A long id in the second slot of a two-parameter route. */
	snprintf(path, sizeof path, "/v1/rooms/r/messages/%s", lit);
	CHECK(match("DELETE", path) == PL_NOT_FOUND);
}

/* A table whose Allow list is longer than m.allow: the list must stay a
 * well-formed, comma-separated list of whole method names. */
static const struct pl_route crowded[] = {
	{"GET", "/x", PL_ROUTE_REST, h_a, 0},	   {"POST", "/x", PL_ROUTE_REST, h_a, 0},
	{"PUT", "/x", PL_ROUTE_REST, h_a, 0},	   {"PATCH", "/x", PL_ROUTE_REST, h_a, 0},
	{"DELETE", "/x", PL_ROUTE_REST, h_a, 0},   {"OPTIONS", "/x", PL_ROUTE_REST, h_a, 0},
	{"PROPFIND", "/x", PL_ROUTE_REST, h_a, 0}, {"PROPPATCH", "/x", PL_ROUTE_REST, h_a, 0},
	{"MKCOL", "/x", PL_ROUTE_REST, h_a, 0},	   {"COPY", "/x", PL_ROUTE_REST, h_a, 0},
	{"UNLOCK", "/x", PL_ROUTE_REST, h_a, 0},   {"GET", "/x", PL_ROUTE_REST, h_b, 0},
	{NULL, NULL, PL_ROUTE_REST, NULL, 0},
};

static void test_allow_overflow(void)
{
	memset(&m, 0x5a, sizeof m);
	CHECK(pl_route_match(crowded, "TRACE", "/x", &m) == PL_METHOD_NOT_ALLOWED);
	size_t n = strnlen(m.allow, sizeof m.allow);
	CHECK(n < sizeof m.allow);
	CHECK(strncmp(m.allow, "GET, POST, PUT, PATCH, DELETE, OPTIONS", 38) == 0);
	/* Every listed name is one of the table's methods, whole. */
	char copy[sizeof m.allow + 1];
	memcpy(copy, m.allow, n);
	copy[n] = 0;
	bool whole = true;
	int gets = 0;
	for (char *save = NULL, *t = strtok_r(copy, ", ", &save); t;
	     t = strtok_r(NULL, ", ", &save)) {
		bool known = false;
		gets += strcmp(t, "GET") == 0;
		for (const struct pl_route *r = crowded; r->method; r++)
			known = known || strcmp(r->method, t) == 0;
		if (!known) {
			fprintf(stderr, "  Allow list \"%s\" holds a cut method \"%s\"\n", m.allow, t);
			whole = false;
		}
	}
	CHECK(whole);
	CHECK(gets == 1); /* the duplicate GET is listed once */
	/* First match wins among duplicates. */
	CHECK(pl_route_match(crowded, "GET", "/x", &m) == PL_OK);
	CHECK(m.route == &crowded[0]);
}

/* Methods whose names contain one another are still each listed. */
static const struct pl_route nested[] = {
	{"PROPPATCH", "/y", PL_ROUTE_REST, h_a, 0},
	{"PATCH", "/y", PL_ROUTE_REST, h_a, 0},
	{"POST", "/y", PL_ROUTE_REST, h_a, 0},
	{NULL, NULL, PL_ROUTE_REST, NULL, 0},
};

static void test_allow_substrings(void)
{
	memset(&m, 0x5a, sizeof m);
	CHECK(pl_route_match(nested, "GET", "/y", &m) == PL_METHOD_NOT_ALLOWED);
	CHECK_STR(m.allow, "PROPPATCH, PATCH, POST");
	CHECK(pl_route_match(nested, "PATCH", "/y", &m) == PL_OK);
	CHECK(m.route == &nested[1]);
}

int main(void)
{
	test_literals();
	test_params();
	test_trailing_slash();
	test_405();
	test_head();
	test_long_segments();
	test_allow_overflow();
	test_allow_substrings();
	return T_DONE();
}
