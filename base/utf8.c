/* base/utf8: strict UTF-8 validation (RFC 3629) and code point counting.
 *
 * A single byte-at-a-time state machine serves both the whole-buffer and
 * the incremental validator, so the two can never disagree; both skip runs
 * of ASCII eight bytes at a time, since chat text is mostly ASCII. */
#include "base/utf8.h"

#include <string.h>

/* The state says what the next byte must be.  Lead bytes whose second byte
 * is restricted get a state of their own: that is what rejects overlongs
 * (E0, F0), surrogates (ED) and code points above U+10FFFF (F4) at the
 * first impossible byte, as Autobahn's fail-fast cases expect, instead of
 * at the end of the sequence. */
enum {
	ST_ACCEPT = 0, /* must stay 0: callers start from state = 0 */
	ST_TAIL1,      /* 80..BF, then done */
	ST_TAIL2,      /* 80..BF, then ST_TAIL1 */
	ST_TAIL3,      /* 80..BF, then ST_TAIL2 */
	ST_E0,         /* A0..BF: below is an overlong 3-byte form */
	ST_ED,         /* 80..9F: above is a surrogate */
	ST_F0,         /* 90..BF: below is an overlong 4-byte form */
	ST_F4,         /* 80..8F: above is beyond U+10FFFF */
	ST_REJECT,
};

static bool in_range(unsigned c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; }

static pl_utf8_state after_lead(unsigned c)
{
	if (c < 0x80)
		return ST_ACCEPT;
	if (c < 0xC2) /* a stray continuation byte, or overlong C0/C1 */
		return ST_REJECT;
	if (c < 0xE0)
		return ST_TAIL1;
	if (c == 0xE0)
		return ST_E0;
	if (c == 0xED)
		return ST_ED;
	if (c < 0xF0)
		return ST_TAIL2;
	if (c == 0xF0)
		return ST_F0;
	if (c < 0xF4)
		return ST_TAIL3;
	if (c == 0xF4)
		return ST_F4;
	return ST_REJECT; /* F5..FF: beyond U+10FFFF, or the retired 5/6-byte forms */
}

static pl_utf8_state step(pl_utf8_state st, unsigned c)
{
	switch (st) {
	case ST_ACCEPT:
		return after_lead(c);
	case ST_TAIL1:
		return in_range(c, 0x80, 0xBF) ? ST_ACCEPT : ST_REJECT;
	case ST_TAIL2:
		return in_range(c, 0x80, 0xBF) ? ST_TAIL1 : ST_REJECT;
	case ST_TAIL3:
		return in_range(c, 0x80, 0xBF) ? ST_TAIL2 : ST_REJECT;
	case ST_E0:
		return in_range(c, 0xA0, 0xBF) ? ST_TAIL1 : ST_REJECT;
	case ST_ED:
		return in_range(c, 0x80, 0x9F) ? ST_TAIL1 : ST_REJECT;
	case ST_F0:
		return in_range(c, 0x90, 0xBF) ? ST_TAIL2 : ST_REJECT;
	case ST_F4:
		return in_range(c, 0x80, 0x8F) ? ST_TAIL2 : ST_REJECT;
	default:
		return ST_REJECT;
	}
}

/* memcpy rather than a cast: s has no alignment guarantee, and compilers
 * turn this into a single load anyway. */
static bool ascii8(const unsigned char *s)
{
	uint64_t w;
	memcpy(&w, s, sizeof w);
	return (w & UINT64_C(0x8080808080808080)) == 0;
}

static pl_utf8_state run(pl_utf8_state st, const unsigned char *s, size_t len)
{
	size_t i = 0;
	if (st > ST_REJECT) /* a corrupted state must not become valid again */
		st = ST_REJECT;
	while (i < len && st != ST_REJECT) {
		if (st == ST_ACCEPT && s[i] < 0x80) {
			while (len - i >= 8 && ascii8(s + i))
				i += 8;
			while (i < len && s[i] < 0x80)
				i++;
			continue;
		}
		st = step(st, s[i++]);
	}
	return st;
}

bool pl_utf8_valid(const char *s, size_t len)
{
	return run(ST_ACCEPT, (const unsigned char *)s, len) == ST_ACCEPT;
}

size_t pl_utf8_count(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

bool pl_utf8_feed(pl_utf8_state *state, const unsigned char *s, size_t len)
{
	*state = run(*state, s, len);
	return *state != ST_REJECT;
}

bool pl_utf8_done(pl_utf8_state state) { return state == ST_ACCEPT; }

void pl_utf8_scrub(char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t k = 1;
		while (k <= 4 && i + k <= len && !pl_utf8_valid(s + i, k))
			k++;
		if (k <= 4 && i + k <= len) {
			i += k;
		} else {
			s[i] = '?';
			i++;
		}
	}
}
