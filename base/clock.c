#include "base/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t pl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pl_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pl_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pl_clock_mono_ms(const struct pl_clock *k)
{
	return k ? k->mono_ms(k->ud) : pl_mono_ms();
}

int64_t pl_clock_now_ms(const struct pl_clock *k)
{
	return k ? k->now_ms(k->ud) : pl_now_ms();
}

void pl_time_format(int64_t ms, char out[PL_TIME_LEN])
{
	/* Floor, not truncation: before 1970 (a `since` of year 1013 is
	 * valid RFC 3339) the millisecond part is still 0..999. */
	int64_t floor_s = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
	int frac = (int)(ms - floor_s * 1000);
	time_t secs = (time_t)floor_s;
	struct tm tm;
	gmtime_r(&secs, &tm);
	/* tm fields are ints to the compiler: format wide, then keep the 24
	 * characters a valid time has. */
	char wide[96];
	snprintf(wide, sizeof wide, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		 tm.tm_sec, frac);
	memcpy(out, wide, PL_TIME_LEN - 1);
	out[PL_TIME_LEN - 1] = 0;
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool pl_time_parse(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, se, frac = 0;
	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &se))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return false;
	const char *p = s + 19;
	if (*p == '.') {
		int n = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 3)
				frac = frac * 10 + (*p - '0');
		if (n == 0)
			return false;
		for (; n < 3; n++)
			frac *= 10;
	}
	int off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om))
			return false;
		if (oh > 23 || om > 59)
			return false;
		off = (oh * 60 + om) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return false;
	}
	if (*p)
		return false;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			.tm_hour = h, .tm_min = mi, .tm_sec = se};
	time_t t = timegm(&tm);
	/* timegm rolls 2026-02-30 over to March: refuse dates that moved. */
	if (tm.tm_year != y - 1900 || tm.tm_mon != mo - 1 || tm.tm_mday != d)
		return false;
	*ms = ((int64_t)t - off * 60) * 1000 + frac;
	return true;
}
