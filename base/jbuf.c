/* base/jbuf: see jbuf.h. */
#include "base/jbuf.h"

#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/utf8.h"

bool pl_jb_room(struct pl_jbuf *b, size_t n)
{
	if (b->oom)
		return false;
	if (b->cap - b->len >= n)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void pl_jb_put(struct pl_jbuf *b, const char *s, size_t n)
{
	if (pl_jb_room(b, n)) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

void pl_jb_int(struct pl_jbuf *b, int64_t v)
{
	char t[24], *e = t + sizeof t, *q = e;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do
		*--q = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--q = '-';
	pl_jb_put(b, q, (size_t)(e - q));
}

/* As jansson writes a string: '"', '\\' and control characters escaped
 * (\b \f \n \r \t, else \u00XX), everything else as it is. */
bool pl_jb_str(struct pl_jbuf *b, const char *str, size_t n)
{
	static const char esc[32] = {
		['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
	};
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)str;
	bool wide = false;
	/* Worst case every byte becomes \u00XX. */
	if (!pl_jb_room(b, 6 * n + 2))
		return true; /* oom is reported by pl_jb_take */
	char *o = b->p + b->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			wide |= c >= 0x80;
			*o++ = (char)c;
		} else if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (esc[c]) {
			*o++ = '\\';
			*o++ = esc[c];
		} else {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			o += 6;
		}
	}
	*o++ = '"';
	if (wide && !pl_utf8_valid(str, n))
		return false;
	b->len = (size_t)(o - b->p);
	return true;
}

bool pl_jb_str_or_null(struct pl_jbuf *b, const char *s)
{
	if (s)
		return pl_jb_str(b, s, strlen(s));
	PL_JB_LIT(b, "null");
	return true;
}

static void two_digits(char *q, unsigned v)
{
	q[0] = (char)('0' + v / 10);
	q[1] = (char)('0' + v % 10);
}

/* pl_time_format without gmtime_r and snprintf for years 1970..9999 (the
 * days-to-civil conversion of H. Hinnant's date algorithms); anything else
 * goes through pl_time_format itself. */
void pl_jb_time(struct pl_jbuf *b, int64_t ms, struct pl_jb_day *memo)
{
	char t[PL_TIME_LEN + 2];
	if (ms < 0 || ms >= 253402300800000LL) { /* 10000-01-01T00:00:00Z */
		pl_time_format(ms, t + 1);
		t[0] = '"';
		size_t n = strlen(t);
		t[n] = '"';
		pl_jb_put(b, t, n + 1);
		return;
	}
	int64_t day = ms / 86400000;
	if (day != memo->day) {
		unsigned z = (unsigned)day + 719468;
		unsigned era = z / 146097, doe = z - era * 146097;
		unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
		unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
		unsigned mp = (5 * doy + 2) / 153;
		unsigned d = doy - (153 * mp + 2) / 5 + 1;
		unsigned m = mp < 10 ? mp + 3 : mp - 9;
		unsigned y = yoe + era * 400 + (m <= 2);
		two_digits(memo->ymd, y / 100);
		two_digits(memo->ymd + 2, y % 100);
		memo->ymd[4] = '-';
		two_digits(memo->ymd + 5, m);
		memo->ymd[7] = '-';
		two_digits(memo->ymd + 8, d);
		memo->day = day;
	}
	unsigned msd = (unsigned)(ms - day * 86400000), sod = msd / 1000, msec = msd % 1000;
	char *q = t + 1;
	t[0] = '"';
	memcpy(q, memo->ymd, 10);
	q[10] = 'T';
	two_digits(q + 11, sod / 3600);
	q[13] = ':';
	two_digits(q + 14, sod / 60 % 60);
	q[16] = ':';
	two_digits(q + 17, sod % 60);
	q[19] = '.';
	q[20] = (char)('0' + msec / 100);
	two_digits(q + 21, msec % 100);
	q[23] = 'Z';
	q[24] = '"';
	pl_jb_put(b, t, 26);
}

char *pl_jb_take(struct pl_jbuf *b, size_t *len)
{
	pl_jb_put(b, "", 1);
	char *p = b->oom ? NULL : b->p;
	if (p)
		*len = b->len - 1;
	else
		free(b->p);
	*b = (struct pl_jbuf){0};
	return p;
}

void pl_jb_free(struct pl_jbuf *b)
{
	free(b->p);
	*b = (struct pl_jbuf){0};
}
