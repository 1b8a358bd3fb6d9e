/* tests/unit/test_validate: the argument shapes every front end relies on.
 *
 *   base/ids    pl_valid_id, pl_dm_room_id, pl_dm_has_user, pl_is_dm
 *               (including user ids that contain ':' themselves)
 *   base/clock  pl_time_format / pl_time_parse: the API's RFC 3339 form,
 *               round trips, offsets, and what must be refused
 *   chat/chat   pl_check_id / pl_check_text: limits counted in characters
 *               (code points), not bytes, and strict UTF-8 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "base/clock.h"
#include "base/ids.h"
#include "base/utf8.h"
#include "api/http.h"
#include "tests/unit/t.h"

/* n copies of unit (a UTF-8 sequence) in a new string. */
static char *repeat(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = malloc(u * n + 1);
	if (!s)
		abort();
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	s[u * n] = 0;
	return s;
}

/* ---- base/ids ---- */

static void test_valid_id(void)
{
	CHECK(pl_valid_id("alice"));
	CHECK(pl_valid_id("A-Z_a.z:0-9"));
	CHECK(pl_valid_id("a"));
	CHECK(pl_valid_id(":"));
	CHECK(pl_valid_id("team:ops"));
	CHECK(!pl_valid_id(""));
	CHECK(!pl_valid_id(NULL));
	CHECK(!pl_valid_id("a b"));
	CHECK(!pl_valid_id("a/b"));
	CHECK(!pl_valid_id("a\tb"));
	CHECK(!pl_valid_id("caf\xc3\xa9"));       /* é: letters are ASCII only */
	CHECK(!pl_valid_id("a\"b"));
	CHECK(!pl_valid_id("a%2Fb"));
	CHECK(!pl_valid_id("a@b"));
	char *id64 = repeat("x", 64), *id65 = repeat("x", 65);
	CHECK(pl_valid_id(id64));
	CHECK(!pl_valid_id(id65));
	id64[63] = ':';
	CHECK(pl_valid_id(id64));
	free(id64);
	free(id65);
}

static void test_dm_room_id(void)
{
	char out[2 * PL_ID_MAX + 8];
	pl_dm_room_id("alice", "bob", out, sizeof out);
	CHECK_STR(out, "dm:alice:bob");
	pl_dm_room_id("bob", "alice", out, sizeof out);
	CHECK_STR(out, "dm:alice:bob"); /* either order: the same room */
	pl_dm_room_id("Bob", "alice", out, sizeof out);
	CHECK_STR(out, "dm:Bob:alice"); /* byte order: 'B' < 'a' */
	pl_dm_room_id("a:b", "c", out, sizeof out);
	CHECK_STR(out, "dm:a:b:c");
	pl_dm_room_id("zed", "team:ops", out, sizeof out);
	CHECK_STR(out, "dm:team:ops:zed");
	pl_dm_room_id("alice", "alice", out, sizeof out);
	CHECK_STR(out, "dm:alice:alice");
	/* The longest ids fit the documented buffer (2*PL_ID_MAX+5). */
	char *a = repeat("a", 64), *b = repeat("b", 64);
	char big[2 * PL_ID_MAX + 5];
	pl_dm_room_id(b, a, big, sizeof big);
	CHECK(strlen(big) == 3 + 64 + 1 + 64);
	CHECK(strncmp(big, "dm:aaaa", 7) == 0 && big[3 + 64] == ':' && big[3 + 65] == 'b');
	/* A too small buffer is truncated, never overrun. */
	char tiny[8];
	memset(tiny, 'X', sizeof tiny);
	pl_dm_room_id("alice", "bob", tiny, 6);
	CHECK_STR(tiny, "dm:al");
	CHECK(tiny[6] == 'X' && tiny[7] == 'X');
	free(a);
	free(b);

	CHECK(pl_is_dm("dm:alice:bob"));
	CHECK(pl_is_dm("dm:"));
	CHECK(!pl_is_dm("general"));
	CHECK(!pl_is_dm("dm"));
	CHECK(!pl_is_dm("DM:alice:bob"));
	CHECK(!pl_is_dm("xdm:alice:bob"));
}

static void test_dm_has_user(void)
{
	CHECK(pl_dm_has_user("dm:alice:bob", "alice"));
	CHECK(pl_dm_has_user("dm:alice:bob", "bob"));
	CHECK(!pl_dm_has_user("dm:alice:bob", "carol"));
	CHECK(!pl_dm_has_user("dm:alice:bob", "ali"));
	CHECK(!pl_dm_has_user("dm:alice:bob", "bo"));
	CHECK(!pl_dm_has_user("dm:alice:bob", "alice:bob"));
	CHECK(!pl_dm_has_user("dm:alice:bob", "dm"));
	CHECK(!pl_dm_has_user("general", "general"));
	CHECK(!pl_dm_has_user("alice:bob", "alice"));
	/* Not in canonical order: not a room pl_dm_room_id makes. */
	CHECK(!pl_dm_has_user("dm:bob:alice", "alice"));
	CHECK(!pl_dm_has_user("dm:bob:alice", "bob"));
	/* Missing halves. */
	CHECK(!pl_dm_has_user("dm:alice:", "alice"));
	CHECK(!pl_dm_has_user("dm::alice", "alice"));
	CHECK(!pl_dm_has_user("dm:alice", "alice"));
	/* The DM with oneself. */
	CHECK(pl_dm_has_user("dm:alice:alice", "alice"));
	CHECK(!pl_dm_has_user("dm:alice:alice", "bob"));
	/* Ids with ':' in them. */
	CHECK(pl_dm_has_user("dm:a:b:c", "a:b"));
	CHECK(pl_dm_has_user("dm:a:b:c", "c"));
	CHECK(!pl_dm_has_user("dm:a:b:c", "b"));
	CHECK(!pl_dm_has_user("dm:a:b:c", ":b"));
	CHECK(pl_dm_has_user("dm:team:ops:zed", "team:ops"));
	CHECK(pl_dm_has_user("dm:team:ops:zed", "zed"));
	CHECK(!pl_dm_has_user("dm:team:ops:zed", "ops"));
	CHECK(!pl_dm_has_user("dm:team:ops:zed", "team"));

	/* The property that matters: both ends of every room pl_dm_room_id
	 * makes are found in it, whatever ':' the ids hold.  ("a", "a:a")
	 * makes "dm:a:a:a", where "a:a" is both a prefix followed by ':' and
	 * the suffix. */
	static const char *const pairs[][2] = {
		{"alice", "bob"}, {"a:b", "c"},	  {"a", "b:c"},	   {"x", "x:y"},
		{"a", "a:a"},	  {"a:a", "a:b"}, {"p:q:r", "p"},  {"0", "0:"},
		{":", "::"},	  {"a", "a"},	  {"b:", "b"},	   {"m:n", "m:n:o"},
	};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		char room[2 * PL_ID_MAX + 8];
		pl_dm_room_id(pairs[i][0], pairs[i][1], room, sizeof room);
		bool first = pl_dm_has_user(room, pairs[i][0]);
		bool second = pl_dm_has_user(room, pairs[i][1]);
		if (!first || !second)
			fprintf(stderr, "  pl_dm_has_user(\"%s\", \"%s\")=%d, (\"%s\", \"%s\")=%d\n",
				room, pairs[i][0], first, room, pairs[i][1], second);
		CHECK(first);
		CHECK(second);
		CHECK(pl_is_dm(room));
		CHECK(!pl_dm_has_user(room, "nobody"));
	}
}

/* ---- base/clock ---- */

#define T_2026 (1795508130LL * 1000 + 123) /* 2026-11-24T08:15:30.123Z */

static void test_time_format(void)
{
	char t[PL_TIME_LEN];
	pl_time_format(0, t);
	CHECK_STR(t, "1970-01-01T00:00:00.000Z");
	pl_time_format(T_2026, t);
	CHECK_STR(t, "2026-11-24T08:15:30.123Z");
	pl_time_format(951868799LL * 1000 + 7, t);
	CHECK_STR(t, "2000-02-29T23:59:59.007Z");
	pl_time_format(951868799LL * 1000 + 999, t);
	CHECK_STR(t, "2000-02-29T23:59:59.999Z");
	CHECK(strlen(t) == PL_TIME_LEN - 1);
	/* Before 1970 (found by tests/fuzz/fuzz_time): the fraction stays
	 * 0..999 and the second is not rounded towards 1970. */
	pl_time_format(-1, t);
	CHECK_STR(t, "1969-12-31T23:59:59.999Z");
	int64_t ms = 0, again = 1;
	CHECK(pl_time_parse("1013-12-03T15:30:40.123Z", &ms));
	pl_time_format(ms, t);
	CHECK_STR(t, "1013-12-03T15:30:40.123Z");
	CHECK(pl_time_parse(t, &again) && again == ms);
}

static void test_time_parse(void)
{
	int64_t ms = -1;
	CHECK(pl_time_parse("2026-11-24T08:15:30.123Z", &ms) && ms == T_2026);
	CHECK(pl_time_parse("1970-01-01T00:00:00.000Z", &ms) && ms == 0);
	CHECK(pl_time_parse("1970-01-01T00:00:00Z", &ms) && ms == 0);
	/* Without a fraction, and with fractions of other lengths. */
	CHECK(pl_time_parse("2026-11-24T08:15:30Z", &ms) && ms == T_2026 - 123);
	CHECK(pl_time_parse("2026-11-24T08:15:30.1Z", &ms) && ms == T_2026 - 23);
	CHECK(pl_time_parse("2026-11-24T08:15:30.12Z", &ms) && ms == T_2026 - 3);
	CHECK(pl_time_parse("2026-11-24T08:15:30.123456789Z", &ms) && ms == T_2026);
	/* Lower-case t and z are RFC 3339 too. */
	CHECK(pl_time_parse("2026-11-24t08:15:30.123z", &ms) && ms == T_2026);
	/* Offsets: local time minus the offset is UTC. */
	CHECK(pl_time_parse("2026-11-24T10:15:30.123+02:00", &ms) && ms == T_2026);
	CHECK(pl_time_parse("2026-11-24T03:15:30.123-05:00", &ms) && ms == T_2026);
	CHECK(pl_time_parse("2026-11-24T13:45:30.123+05:30", &ms) && ms == T_2026);
	CHECK(pl_time_parse("2026-11-24T08:15:30.123+00:00", &ms) && ms == T_2026);
	CHECK(pl_time_parse("2026-11-24T08:15:30.123-00:00", &ms) && ms == T_2026);
	/* An offset that crosses midnight and the year. */
	CHECK(pl_time_parse("1999-12-31T19:00:00-05:00", &ms) && ms == 946684800LL * 1000);
	CHECK(pl_time_parse("2000-01-01T00:00:00Z", &ms) && ms == 946684800LL * 1000);
	CHECK(pl_time_parse("2000-01-01T09:00:00+09:00", &ms) && ms == 946684800LL * 1000);
	/* A leap day. */
	CHECK(pl_time_parse("2000-02-29T23:59:59.007Z", &ms) && ms == 951868799LL * 1000 + 7);

	/* Refused; ms keeps its value. */
	static const char *const bad[] = {
		"",
		"2026-11-24",
		"2026-11-24T08:15:30",          /* no zone */
		"2026-11-24T08:15:30.123",      /* no zone */
		"2026-11-24T08:15:30.Z",        /* empty fraction */
		"2026-11-24T08:15:30.123ZZ",    /* trailing junk */
		"2026-11-24T08:15:30.123Z ",
		" 2026-11-24T08:15:30.123Z",
		"2026-11-24X08:15:30.123Z",
		"2026/11/24T08:15:30.123Z",
		"2026-13-24T08:15:30.123Z",     /* month 13 */
		"2026-00-24T08:15:30.123Z",     /* month 0 */
		"2026-11-00T08:15:30.123Z",     /* day 0 */
		"2026-11-32T08:15:30.123Z",     /* day 32 */
		"2026-11-24T24:15:30.123Z",     /* hour 24 */
		"2026-11-24T08:60:30.123Z",     /* minute 60 */
		"2026-11-24T08:15:61.123Z",     /* second 61 */
		"2026-11-24T08:15:30.123+0200", /* offset without colon */
		"2026-11-24T08:15:30.123+02",
		"2026-11-24T08:15:30.123+2:00",
		"2026-11-24T08:15:30.123+02:00x",
		"26-11-24T08:15:30.123Z",
		"2026-1-24T08:15:30.123Z",
		"2026-11-24T8:15:30.123Z",
		"+2026-11-24T08:15:30Z",
		"1795508130123",                /* a number is not a time here */
		"2026-11-24T08:15:30.1a3Z",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ms = 42;
		bool ok = pl_time_parse(bad[i], &ms);
		if (ok)
			fprintf(stderr, "  pl_time_parse accepted \"%s\"\n", bad[i]);
		CHECK(!ok);
		CHECK(ms == 42);
	}
}

/* Dates and offsets that have the right shape but do not exist: RFC 3339
 * section 5.7 restricts mday by month and year, and time-numoffset's hour
 * is 00-23 and minute 00-59.  A parser that lets timegm() normalise them
 * turns "since=2026-02-30" silently into March 2. */
static void test_time_parse_strict(void)
{
	static const char *const bad[] = {
		"2026-02-30T00:00:00Z", /* February 30 */
		"2026-02-29T00:00:00Z", /* 2026 is no leap year */
		"2026-04-31T00:00:00Z", /* April has 30 days */
		"1900-02-29T00:00:00Z", /* 1900 was no leap year */
		"2026-11-24T08:15:30+24:00",
		"2026-11-24T08:15:30+99:99",
		"2026-11-24T08:15:30-00:60",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t ms = 42;
		bool ok = pl_time_parse(bad[i], &ms);
		if (ok)
			fprintf(stderr, "  pl_time_parse accepted the impossible \"%s\" as %lld\n",
				bad[i], (long long)ms);
		CHECK(!ok);
	}
	int64_t ms;
	CHECK(pl_time_parse("2024-02-29T00:00:00Z", &ms)); /* a real leap day */
	CHECK(pl_time_parse("2000-02-29T00:00:00Z", &ms));
	CHECK(pl_time_parse("2026-11-24T08:15:30+23:59", &ms));
}

static void test_time_round_trip(void)
{
	/* format then parse is the identity, for times spread over 1970-2099
	 * with every millisecond remainder class. */
	int64_t t = 0;
	for (int i = 0; i < 5000; i++) {
		t = (t * 6364136223846793005ULL + 1442695040888963407ULL) & 0x7fffffffffffULL;
		int64_t when = t % (4102444800LL * 1000); /* before 2100 */
		char s[PL_TIME_LEN];
		int64_t back = -1;
		pl_time_format(when, s);
		bool ok = pl_time_parse(s, &back);
		if (!ok || back != when) {
			fprintf(stderr, "  round trip %lld -> %s -> %lld\n", (long long)when, s,
				(long long)back);
			CHECK(false);
			return;
		}
	}
	CHECK(true);
	/* parse then format gives the canonical form back. */
	int64_t ms;
	char s[PL_TIME_LEN];
	CHECK(pl_time_parse("2026-11-24T10:15:30.5+02:00", &ms));
	pl_time_format(ms, s);
	CHECK_STR(s, "2026-11-24T08:15:30.500Z");
	/* now is formatted in the API's form. */
	pl_time_format(pl_now_ms(), s);
	CHECK(strlen(s) == 24 && s[10] == 'T' && s[19] == '.' && s[23] == 'Z');
	CHECK(pl_time_parse(s, &ms) && llabs(ms - pl_now_ms()) < 60000);
}

/* ---- chat/chat checks ---- */

static void test_check_id(void)
{
	pl_error err;
	memset(&err, 0, sizeof err);
	CHECK(pl_check_id("room", "general", &err) == PL_OK);
	CHECK(pl_check_id("room", "dm:a:b", &err) == PL_OK);
	CHECK(pl_check_id("room", NULL, &err) == PL_INVALID_ARGUMENT);
	CHECK(err.code == PL_INVALID_ARGUMENT);
	CHECK(strstr(err.message, "room") != NULL);
	CHECK(pl_check_id("user", "", &err) == PL_INVALID_ARGUMENT);
	CHECK(strstr(err.message, "user") != NULL);
	CHECK(pl_check_id("user", "bad id", &err) == PL_INVALID_ARGUMENT);
	CHECK(strncmp(err.message, "user", 4) == 0);
	char *id65 = repeat("u", 65);
	CHECK(pl_check_id("id", id65, &err) == PL_INVALID_ARGUMENT);
	CHECK(strstr(err.message, "64") != NULL);
	id65[64] = 0;
	CHECK(pl_check_id("id", id65, &err) == PL_OK);
	free(id65);
}

static void test_check_text(void)
{
	pl_error err;
	memset(&err, 0, sizeof err);
	CHECK(pl_check_text("text", "hello", PL_TEXT_MAX, &err) == PL_OK);
	CHECK(pl_check_text("text", "x", PL_TEXT_MAX, &err) == PL_OK);
	CHECK(pl_check_text("text", " ", PL_TEXT_MAX, &err) == PL_OK);
	CHECK(pl_check_text("text", "", PL_TEXT_MAX, &err) == PL_INVALID_ARGUMENT);
	CHECK(strstr(err.message, "text") != NULL);
	CHECK(strstr(err.message, "4000") != NULL);
	CHECK(pl_check_text("text", NULL, PL_TEXT_MAX, &err) == PL_INVALID_ARGUMENT);
	CHECK(strstr(err.message, "text") != NULL);

	/* Limits count characters: 4000 of each width pass, 4001 fail. */
	static const char *const units[] = {"a", "\xc3\xa9" /* é */, "\xe2\x82\xac" /* € */,
					    "\xf0\x9f\x98\x80" /* 😀 */};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		char *ok = repeat(units[i], PL_TEXT_MAX), *over = repeat(units[i], PL_TEXT_MAX + 1);
		CHECK(pl_check_text("text", ok, PL_TEXT_MAX, &err) == PL_OK);
		CHECK(pl_check_text("text", over, PL_TEXT_MAX, &err) == PL_INVALID_ARGUMENT);
		CHECK(strstr(err.message, "characters") != NULL);
		free(ok);
		free(over);
	}
	/* 16000 bytes of 4-byte characters are 4000 characters: fine. */
	char *wide = repeat("\xf0\x9f\x98\x80", 4000);
	CHECK(strlen(wide) == 16000);
	CHECK(pl_check_text("text", wide, PL_TEXT_MAX, &err) == PL_OK);
	free(wide);
	/* Mixed widths: 3999 ASCII and one emoji is 4000. */
	char *mixed = malloc(3999 + 4 + 1 + 1);
	memset(mixed, 'a', 3999);
	memcpy(mixed + 3999, "\xf0\x9f\x98\x80", 5);
	CHECK(pl_check_text("text", mixed, PL_TEXT_MAX, &err) == PL_OK);
	strcat(mixed, "b");
	CHECK(pl_check_text("text", mixed, PL_TEXT_MAX, &err) == PL_INVALID_ARGUMENT);
	free(mixed);

	/* Other limits: names (200) and client ids (128). */
	char *n200 = repeat("\xc3\xa9", PL_NAME_MAX), *n201 = repeat("n", PL_NAME_MAX + 1);
	CHECK(pl_check_text("name", n200, PL_NAME_MAX, &err) == PL_OK);
	CHECK(pl_check_text("name", n201, PL_NAME_MAX, &err) == PL_INVALID_ARGUMENT);
	CHECK(strncmp(err.message, "name", 4) == 0);
	free(n200);
	free(n201);
	char *c128 = repeat("c", PL_CLIENT_ID_MAX), *c129 = repeat("c", PL_CLIENT_ID_MAX + 1);
	CHECK(pl_check_text("client_id", c128, PL_CLIENT_ID_MAX, &err) == PL_OK);
	CHECK(pl_check_text("client_id", c129, PL_CLIENT_ID_MAX, &err) == PL_INVALID_ARGUMENT);
	free(c128);
	free(c129);

	/* Invalid UTF-8 is refused with its own message, whatever its length. */
	static const char *const broken[] = {
		"\xff",                 /* never valid */
		"abc\x80",              /* stray continuation */
		"\xc3",                 /* truncated */
		"\xc3\x28",             /* bad continuation */
		"\xc0\xaf",             /* overlong '/' */
		"\xe0\x80\xaf",         /* overlong */
		"\xed\xa0\x80",         /* surrogate U+D800 */
		"\xf4\x90\x80\x80",     /* above U+10FFFF */
		"\xf8\x88\x80\x80\x80", /* 5-byte form */
		"ok \xe2\x82",          /* truncated at the end */
	};
	for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
		memset(&err, 0, sizeof err);
		CHECK(pl_check_text("text", broken[i], PL_TEXT_MAX, &err) == PL_INVALID_ARGUMENT);
		CHECK(strstr(err.message, "UTF-8") != NULL);
	}
}

/* ---- base/err: messages that quote client bytes stay UTF-8 ---- */

static void test_error_utf8(void)
{
	/* Found by tests/fuzz/fuzz_api: a path with %9B in it answered 500,
	 * because the 404's message was not UTF-8 and the JSON error failed. */
	pl_error err;
	pl_fail(&err, PL_NOT_FOUND, "path: no route for %s", "/v1/r\x9b\xa6" "eipts");
	CHECK(pl_utf8_valid(err.message, strlen(err.message)));
	CHECK_STR(err.message, "path: no route for /v1/r??eipts");
	json_t *j = pl_error_json(&err);
	CHECK(j != NULL);
	json_decref(j);
	/* Cut at 200 bytes in the middle of a character. */
	char *name = repeat("\xc3\xa9", 150);
	pl_fail(&err, PL_INVALID_ARGUMENT, "x: %s", name);
	CHECK(pl_utf8_valid(err.message, strlen(err.message)));
	CHECK(strlen(err.message) == sizeof err.message - 1);
	free(name);
	char ok[] = "caf\xc3\xa9 \xf0\x9f\x98\x80" "";
	pl_utf8_scrub(ok, strlen(ok));
	CHECK_STR(ok, "caf\xc3\xa9 \xf0\x9f\x98\x80" "");
}

int main(void)
{
	test_error_utf8();
	test_valid_id();
	test_dm_room_id();
	test_dm_has_user();
	test_time_format();
	test_time_parse();
	test_time_parse_strict();
	test_time_round_trip();
	test_check_id();
	test_check_text();
	return T_DONE();
}
