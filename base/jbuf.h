/* base/jbuf: JSON text written straight into one growing buffer.
 *
 * The hot paths (history pages, stored messages, acks) write their JSON
 * without a jansson tree: no per-field allocations, no printf.  The text is
 * byte for byte what json_dumps(JSON_COMPACT) makes of the same values, so
 * the two can be mixed and compared.  An allocation failure sets oom and
 * turns every later write into a no-op; pl_jb_take reports it once. */
#ifndef PL_JBUF_H
#define PL_JBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pl_jbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* Room for n more bytes; false (and oom set) when there is none. */
bool pl_jb_room(struct pl_jbuf *b, size_t n);
void pl_jb_put(struct pl_jbuf *b, const char *s, size_t n);
#define PL_JB_LIT(b, s) pl_jb_put(b, s, sizeof s - 1) /* s: a literal or array */
void pl_jb_int(struct pl_jbuf *b, int64_t v);
/* A JSON string, escaped as jansson escapes; false when s is not valid
 * UTF-8 (nothing is written then). */
bool pl_jb_str(struct pl_jbuf *b, const char *s, size_t n);
/* pl_jb_str of a C string, or null for NULL. */
bool pl_jb_str_or_null(struct pl_jbuf *b, const char *s);

/* The day last written: the times of one page mostly share it. */
struct pl_jb_day {
	int64_t day; /* days since 1970-01-01, -1 for none yet */
	char ymd[10];
};
#define PL_JB_DAY_INIT {.day = -1}
/* A quoted RFC 3339 time in UTC with milliseconds, as pl_time_format
 * writes it. */
void pl_jb_time(struct pl_jbuf *b, int64_t ms, struct pl_jb_day *memo);

/* The text, NUL-terminated, now the caller's (*len without the NUL); NULL
 * if any write ran out of memory.  The buffer is empty again after. */
char *pl_jb_take(struct pl_jbuf *b, size_t *len);
void pl_jb_free(struct pl_jbuf *b);

#endif
