/* base/clock: wall-clock and monotonic time, and the RFC 3339 form the API
 * uses everywhere ("2026-11-24T08:15:30.123Z"). */
#ifndef PL_CLOCK_H
#define PL_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define PL_TIME_LEN 25 /* "YYYY-MM-DDTHH:MM:SS.mmmZ" + NUL */

int64_t pl_now_ms(void);        /* Unix epoch, milliseconds */
int64_t pl_mono_ms(void);       /* monotonic, for timers */
int64_t pl_mono_us(void);       /* monotonic, microseconds, for latencies */

/* A clock that stands in for the system's where a test drives time by
 * hand: the server context holds one (pl_ctx.clock; NULL is the system's),
 * so there is no global to change.  The hub's timers read it (typing
 * lapses, parked long-poll sessions, its tick). */
struct pl_clock {
	int64_t (*mono_ms)(void *ud);
	int64_t (*now_ms)(void *ud);
	void *ud;
};
int64_t pl_clock_mono_ms(const struct pl_clock *k); /* k NULL: pl_mono_ms() */
int64_t pl_clock_now_ms(const struct pl_clock *k);  /* k NULL: pl_now_ms() */

void pl_time_format(int64_t ms, char out[PL_TIME_LEN]);
/* Parses RFC 3339 (with or without fraction, Z or +hh:mm). */
bool pl_time_parse(const char *s, int64_t *ms);

#endif
