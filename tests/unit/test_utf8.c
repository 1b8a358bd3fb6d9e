/* tests/unit/test_utf8: base/utf8 against Markus Kuhn's UTF-8 stress test,
 * Autobahn's fail-fast cases, and an independent reference decoder (every
 * 1- to 3-byte string, then random strings), whole and split into pieces. */
#include "base/utf8.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/unit/t.h"

/* ---- an independent, deliberately naive reference ---------------------- */

/* Decodes by computing the code point and then checking its range, which
 * is the opposite approach to the state machine under test. */
static bool ref_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t k;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			k = 1, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			k = 2, cp = c & 0x0F, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i - 1 < k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k + 1;
	}
	return true;
}

/* Counts by stepping over whole sequences; valid input only. */
static size_t ref_count(const unsigned char *s, size_t n)
{
	size_t cps = 0;
	for (size_t i = 0; i < n; cps++)
		i += s[i] < 0x80 ? 1 : s[i] < 0xE0 ? 2 : s[i] < 0xF0 ? 3 : 4;
	return cps;
}

/* A prefix can still become valid iff some completion of at most three
 * continuation bytes makes it valid; 80, 90 and A0 between them fall in
 * every range a second byte may be restricted to. */
static bool ref_extendable(const unsigned char *s, size_t n)
{
	static const unsigned char pick[3] = {0x80, 0x90, 0xA0};
	unsigned char buf[64];
	if (ref_valid(s, n))
		return true;
	if (n > sizeof buf - 3)
		return false;
	memcpy(buf, s, n);
	for (size_t extra = 1; extra <= 3; extra++) {
		unsigned combos = extra == 1 ? 3 : extra == 2 ? 9 : 27;
		for (unsigned m = 0; m < combos; m++) {
			unsigned v = m;
			for (size_t j = 0; j < extra; j++, v /= 3)
				buf[n + j] = pick[v % 3];
			if (ref_valid(buf, n + extra))
				return true;
		}
	}
	return false;
}

/* Index of the first byte after which no continuation can be valid, or n. */
static size_t ref_first_bad(const unsigned char *s, size_t n)
{
	for (size_t m = 1; m <= n; m++)
		if (!ref_extendable(s, m))
			return m - 1;
	return n;
}

/* ---- the code under test, driven in different ways --------------------- */

/* Index of the byte whose feed first returned false, or n. */
static size_t feed_first_bad(const unsigned char *s, size_t n)
{
	pl_utf8_state st = 0;
	for (size_t i = 0; i < n; i++)
		if (!pl_utf8_feed(&st, s + i, 1))
			return i;
	return n;
}

static bool feed_split(const unsigned char *s, size_t n, size_t a, size_t b)
{
	pl_utf8_state st = 0;
	bool ok = pl_utf8_feed(&st, s, a);
	ok = pl_utf8_feed(&st, s + a, b - a) && ok;
	ok = pl_utf8_feed(&st, s + b, n - b) && ok;
	return ok && pl_utf8_done(st);
}

/* Every way of cutting s into three pieces (empty pieces included) must
 * agree with the whole-buffer answer. */
static bool all_splits_agree(const unsigned char *s, size_t n, bool want)
{
	for (size_t a = 0; a <= n; a++)
		for (size_t b = a; b <= n; b++)
			if (feed_split(s, n, a, b) != want) {
				fprintf(stderr, "  split at %zu,%zu disagrees\n", a, b);
				return false;
			}
	return true;
}

struct vec {
	const char *name;
	const char *s;
	size_t n;
	bool valid;
};

#define V(name, lit, ok) {name, lit, sizeof(lit) - 1, ok}
#define KOSME "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"

static const struct vec vecs[] = {
	V("empty", "", true),
	V("ascii", "Hello, world", true),
	V("1 kosme", KOSME, true),
	V("autobahn 6.2", "Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!", true),
	/* 2.1 first possible sequence of each length */
	V("2.1.1 U+0000", "\x00", true),
	V("2.1.2 U+0080", "\xC2\x80", true),
	V("2.1.3 U+0800", "\xE0\xA0\x80", true),
	V("2.1.4 U+10000", "\xF0\x90\x80\x80", true),
	V("2.1.5 5-byte", "\xF8\x88\x80\x80\x80", false),
	V("2.1.6 6-byte", "\xFC\x84\x80\x80\x80\x80", false),
	/* 2.2 last possible sequence of each length */
	V("2.2.1 U+007F", "\x7F", true),
	V("2.2.2 U+07FF", "\xDF\xBF", true),
	V("2.2.3 U+FFFF", "\xEF\xBF\xBF", true),
	V("2.2.4 U+1FFFFF", "\xF7\xBF\xBF\xBF", false),
	V("2.2.5 5-byte", "\xFB\xBF\xBF\xBF\xBF", false),
	V("2.2.6 6-byte", "\xFD\xBF\xBF\xBF\xBF\xBF", false),
	/* 2.3 other boundaries */
	V("2.3.1 U+D7FF", "\xED\x9F\xBF", true),
	V("2.3.2 U+E000", "\xEE\x80\x80", true),
	V("2.3.3 U+FFFD", "\xEF\xBF\xBD", true),
	V("2.3.4 U+10FFFF", "\xF4\x8F\xBF\xBF", true),
	V("2.3.5 U+110000", "\xF4\x90\x80\x80", false),
	/* 3.1 unexpected continuation bytes */
	V("3.1.1", "\x80", false),
	V("3.1.2", "\xBF", false),
	V("3.1.3", "\x80\xBF", false),
	V("3.1.4", "\x80\xBF\x80", false),
	V("3.1.5", "\x80\xBF\x80\xBF", false),
	V("3.1.8", "\x80\xBF\x80\xBF\x80\xBF\x80", false),
	V("ascii then continuation", "abc\x80", false),
	/* 3.3 sequences with the last byte missing */
	V("3.3.1", "\xC0", false),
	V("3.3.2", "\xE0\x80", false),
	V("3.3.3", "\xF0\x80\x80", false),
	V("3.3.4", "\xF8\x80\x80\x80", false),
	V("3.3.5", "\xFC\x80\x80\x80\x80", false),
	V("3.3.6", "\xDF", false),
	V("3.3.7", "\xEF\xBF", false),
	V("3.3.8", "\xF7\xBF\xBF", false),
	V("3.3.9", "\xFB\xBF\xBF\xBF", false),
	V("3.3.10", "\xFD\xBF\xBF\xBF\xBF", false),
	V("truncated U+0080", "\xC2", false),
	V("truncated U+0800", "\xE0\xA0", false),
	V("truncated U+10000", "\xF0\x90\x80", false),
	V("truncated U+10FFFF", "\xF4\x8F\xBF", false),
	V("truncated after ascii", "abcdefgh\xE1\x80", false),
	/* 3.4 concatenation of 3.3 */
	V("3.4", "\xC0\xE0\x80\xF0\x80\x80\xF8\x80\x80\x80\xFC\x80\x80\x80\x80"
		 "\xDF\xEF\xBF\xF7\xBF\xBF\xFB\xBF\xBF\xBF\xFD\xBF\xBF\xBF\xBF",
	  false),
	/* 3.5 impossible bytes */
	V("3.5.1", "\xFE", false),
	V("3.5.2", "\xFF", false),
	V("3.5.3", "\xFE\xFE\xFF\xFF", false),
	/* 4.1 overlong '/' */
	V("4.1.1", "\xC0\xAF", false),
	V("4.1.2", "\xE0\x80\xAF", false),
	V("4.1.3", "\xF0\x80\x80\xAF", false),
	V("4.1.4", "\xF8\x80\x80\x80\xAF", false),
	V("4.1.5", "\xFC\x80\x80\x80\x80\xAF", false),
	/* 4.2 maximum overlongs */
	V("4.2.1", "\xC1\xBF", false),
	V("4.2.2", "\xE0\x9F\xBF", false),
	V("4.2.3", "\xF0\x8F\xBF\xBF", false),
	V("4.2.4", "\xF8\x87\xBF\xBF\xBF", false),
	V("4.2.5", "\xFC\x83\xBF\xBF\xBF\xBF", false),
	/* 4.3 overlong NUL */
	V("4.3.1", "\xC0\x80", false),
	V("4.3.2", "\xE0\x80\x80", false),
	V("4.3.3", "\xF0\x80\x80\x80", false),
	V("4.3.4", "\xF8\x80\x80\x80\x80", false),
	V("4.3.5", "\xFC\x80\x80\x80\x80\x80", false),
	/* 5.1 single surrogates */
	V("5.1.1 U+D800", "\xED\xA0\x80", false),
	V("5.1.2 U+DB7F", "\xED\xAD\xBF", false),
	V("5.1.3 U+DB80", "\xED\xAE\x80", false),
	V("5.1.4 U+DBFF", "\xED\xAF\xBF", false),
	V("5.1.5 U+DC00", "\xED\xB0\x80", false),
	V("5.1.6 U+DF80", "\xED\xBE\x80", false),
	V("5.1.7 U+DFFF", "\xED\xBF\xBF", false),
	/* 5.2 paired surrogates (CESU-8) */
	V("5.2.1", "\xED\xA0\x80\xED\xB0\x80", false),
	V("5.2.2", "\xED\xA0\x80\xED\xBF\xBF", false),
	V("5.2.3", "\xED\xAD\xBF\xED\xB0\x80", false),
	V("5.2.4", "\xED\xAD\xBF\xED\xBF\xBF", false),
	V("5.2.5", "\xED\xAE\x80\xED\xB0\x80", false),
	V("5.2.6", "\xED\xAE\x80\xED\xBF\xBF", false),
	V("5.2.7", "\xED\xAF\xBF\xED\xB0\x80", false),
	V("5.2.8", "\xED\xAF\xBF\xED\xBF\xBF", false),
	/* 5.3 noncharacters are still valid UTF-8 */
	V("5.3.1 U+FFFE", "\xEF\xBF\xBE", true),
	V("5.3.2 U+FFFF", "\xEF\xBF\xBF", true),
	V("5.3.3 U+FDD0", "\xEF\xB7\x90", true),
	V("5.3.4 U+1FFFE", "\xF0\x9F\xBF\xBE", true),
	/* Autobahn 6.3 / 6.4: invalid in the middle of otherwise good text */
	V("6.3.1", KOSME "\xED\xA0\x80" "edited", false),
	V("6.4.1", KOSME "\xF4\x90\x80\x80" "edited", false),
	V("6.4.3", "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xF4\x90\x80\x80\x65\x64\x69\x74\x65\x64",
	  false),
};

static void test_vectors(void)
{
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
		const struct vec *v = &vecs[i];
		const unsigned char *u = (const unsigned char *)v->s;
		bool ok = pl_utf8_valid(v->s, v->n) == v->valid;
		ok = ok && ref_valid(u, v->n) == v->valid; /* keeps the reference honest */
		ok = ok && all_splits_agree(u, v->n, v->valid);
		ok = ok && feed_first_bad(u, v->n) == ref_first_bad(u, v->n);
		if (!ok)
			fprintf(stderr, "  vector %s\n", v->name);
		CHECK(ok);
	}
}

/* Kuhn 3.1.9 and 3.2: every continuation byte alone, and every lead byte
 * followed by a space instead of its continuation. */
static void test_lonely_bytes(void)
{
	unsigned char all[64];
	for (unsigned c = 0x80; c <= 0xBF; c++) {
		unsigned char b = (unsigned char)c;
		all[c - 0x80] = b;
		CHECK(!pl_utf8_valid((const char *)&b, 1));
	}
	CHECK(!pl_utf8_valid((const char *)all, sizeof all));
	CHECK(feed_first_bad(all, sizeof all) == 0);
	for (unsigned c = 0xC0; c <= 0xFF; c++) {
		unsigned char two[2] = {(unsigned char)c, ' '};
		CHECK(!pl_utf8_valid((const char *)two, 2));
		/* C2..F4 could still start something; the space is the error. */
		CHECK(feed_first_bad(two, 2) == (c >= 0xC2 && c <= 0xF4 ? 1u : 0u));
	}
}

/* Autobahn 6.4.x: the connection must be failed at the first impossible
 * byte, not when the sequence (or frame) ends. */
static void test_fail_fast(void)
{
	const unsigned char *k = (const unsigned char *)KOSME "\xF4\x90\x80\x80" "edited";
	CHECK(feed_first_bad(k, 21) == 12);
	k = (const unsigned char *)KOSME "\xED\xA0\x80" "edited";
	CHECK(feed_first_bad(k, 20) == 12);
	CHECK(feed_first_bad((const unsigned char *)"\xE0\x80\xAF", 3) == 1);
	CHECK(feed_first_bad((const unsigned char *)"\xF0\x8F\xBF\xBF", 4) == 1);
	CHECK(feed_first_bad((const unsigned char *)"\xC0\xAF", 2) == 0);
	CHECK(feed_first_bad((const unsigned char *)"\xF5\x80", 2) == 0);
	CHECK(feed_first_bad((const unsigned char *)"\xE1\x80\x41", 3) == 2);

	/* Once rejected, always rejected, even when good bytes follow. */
	pl_utf8_state st = 0;
	CHECK(!pl_utf8_feed(&st, (const unsigned char *)"\xFF", 1));
	CHECK(!pl_utf8_feed(&st, (const unsigned char *)"abc", 3));
	CHECK(!pl_utf8_feed(&st, (const unsigned char *)"", 0));
	CHECK(!pl_utf8_done(st));

	/* A truncated sequence is not an error until the message ends. */
	st = 0;
	CHECK(pl_utf8_feed(&st, (const unsigned char *)"ab\xF0\x9F", 4));
	CHECK(!pl_utf8_done(st));
	CHECK(pl_utf8_feed(&st, (const unsigned char *)"\x98", 1));
	CHECK(!pl_utf8_done(st));
	CHECK(pl_utf8_feed(&st, (const unsigned char *)"\x80", 1));
	CHECK(pl_utf8_done(st));

	st = 0;
	CHECK(pl_utf8_done(st));
	st = 12345; /* garbage must not pass as valid */
	CHECK(!pl_utf8_done(st));
	CHECK(!pl_utf8_feed(&st, (const unsigned char *)"a", 1));
}

/* The ASCII fast path reads eight bytes at a time; a bad or multi-byte
 * byte at any position and alignment must still be seen. */
static void test_fast_path(void)
{
	static const unsigned char bad[] = {0x80, 0xC3, 0xFF};
	unsigned char buf[64];
	int wrong = 0;
	for (size_t len = 0; len <= 40; len++)
		for (size_t off = 0; off < 8; off++)
			for (size_t pos = 0; pos <= len; pos++)
				for (size_t b = 0; b < sizeof bad; b++) {
					memset(buf, 'a', sizeof buf);
					if (pos < len)
						buf[off + pos] = bad[b];
					bool want = pos == len;
					wrong += pl_utf8_valid((const char *)buf + off, len) != want;
				}
	CHECK(wrong == 0);

	wrong = 0;
	for (size_t pos = 0; pos + 2 <= 40; pos++) {
		memset(buf, 'a', sizeof buf);
		buf[pos] = 0xC3;
		buf[pos + 1] = 0xA9;
		wrong += !pl_utf8_valid((const char *)buf, 40);
		wrong += pl_utf8_valid((const char *)buf, pos + 1); /* cut mid-char */
	}
	CHECK(wrong == 0);
	CHECK(pl_utf8_valid(NULL, 0));

	/* Exact-size heap copies, so that under ASan the fast path reading a
	 * byte past the end is an error rather than a lucky read. */
	wrong = 0;
	for (size_t len = 1; len <= 40; len++) {
		char *p = malloc(len);
		if (!p)
			continue;
		memset(p, 'a', len);
		wrong += !pl_utf8_valid(p, len);
		pl_utf8_state st = 0;
		wrong += !pl_utf8_feed(&st, (const unsigned char *)p, len);
		p[len - 1] = (char)0xC3;
		wrong += pl_utf8_valid(p, len);
		free(p);
	}
	CHECK(wrong == 0);
}

static void test_count(void)
{
	CHECK(pl_utf8_count("", 0) == 0);
	CHECK(pl_utf8_count("abc", 3) == 3);
	CHECK(pl_utf8_count(KOSME, sizeof KOSME - 1) == 5);
	CHECK(pl_utf8_count("\xF0\x9F\x98\x80", 4) == 1);
	CHECK(pl_utf8_count("a\x00" "b", 3) == 3);
	CHECK(pl_utf8_count("\xE2\x82\xAC" "1\xC3\xA9\xF4\x8F\xBF\xBF", 10) == 4);
}

/* All strings of one to three bytes, plus four-byte strings whose last two
 * bytes sit on the interesting boundaries, against the reference. */
static void test_exhaustive(void)
{
	static const unsigned char edge[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
					     0xA0, 0xBF, 0xC0, 0xC2, 0xF4, 0xFF};
	long wrong = 0, fast_wrong = 0;
	unsigned char s[4];
	for (unsigned a = 0; a < 256; a++) {
		s[0] = (unsigned char)a;
		wrong += pl_utf8_valid((const char *)s, 1) != ref_valid(s, 1);
		for (unsigned b = 0; b < 256; b++) {
			s[1] = (unsigned char)b;
			wrong += pl_utf8_valid((const char *)s, 2) != ref_valid(s, 2);
			fast_wrong += feed_first_bad(s, 2) != ref_first_bad(s, 2);
			for (unsigned c = 0; c < 256; c++) {
				s[2] = (unsigned char)c;
				wrong += pl_utf8_valid((const char *)s, 3) != ref_valid(s, 3);
			}
			for (size_t c = 0; c < sizeof edge; c++)
				for (size_t d = 0; d < sizeof edge; d++) {
					s[2] = edge[c];
					s[3] = edge[d];
					wrong += pl_utf8_valid((const char *)s, 4) != ref_valid(s, 4);
					if (a >= 0xC0) /* only lead bytes make this slow check interesting */
						fast_wrong += feed_first_bad(s, 4) != ref_first_bad(s, 4);
				}
		}
	}
	CHECK(wrong == 0);
	CHECK(fast_wrong == 0);
}

static uint32_t xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Random strings from bytes that matter, long enough to cross the 8-byte
 * fast path: whole, split at random, fail-fast and count vs reference. */
static void test_random(void)
{
	static const unsigned char pool[] = {'a', 'z', 0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0,
					     0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEE,
					     0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFE, 0xFF};
	uint32_t seed = 0x9E3779B9u;
	long wrong = 0, nvalid = 0;
	unsigned char s[40];
	for (int iter = 0; iter < 200000; iter++) {
		size_t n = xorshift(&seed) % sizeof s;
		for (size_t i = 0; i < n; i++) {
			uint32_t r = xorshift(&seed);
			/* Mostly ASCII runs, so valid strings are common too. */
			s[i] = r % 4 ? (unsigned char)('a' + r % 26) : pool[(r >> 8) % sizeof pool];
		}
		bool want = ref_valid(s, n);
		nvalid += want;
		size_t a = n ? xorshift(&seed) % (n + 1) : 0;
		size_t b = a + (n > a ? xorshift(&seed) % (n - a + 1) : 0);
		wrong += pl_utf8_valid((const char *)s, n) != want;
		wrong += feed_split(s, n, a, b) != want;
		wrong += feed_first_bad(s, n) != ref_first_bad(s, n);
		if (want)
			wrong += pl_utf8_count((const char *)s, n) != ref_count(s, n);
	}
	CHECK(wrong == 0);
	CHECK(nvalid > 10000); /* the generator really exercised both outcomes */
}

int main(void)
{
	test_vectors();
	test_lonely_bytes();
	test_fail_fast();
	test_fast_path();
	test_count();
	test_exhaustive();
	test_random();
	return T_DONE();
}
