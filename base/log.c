#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "base/clock.h"

/* The minimum level is process-wide by nature (stderr is too); it is set
 * once at start and read atomically. */
static atomic_int min_level = PL_LOG_INFO;

void pl_log_set_level(enum pl_log_level min) { atomic_store(&min_level, (int)min); }

void pl_log(enum pl_log_level lvl, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	if ((int)lvl < atomic_load(&min_level))
		return;
	char ts[PL_TIME_LEN], line[1024];
	pl_time_format(pl_now_ms(), ts);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* One fprintf per record so lines from threads do not interleave. */
	fprintf(stderr, "%s %s %s\n", ts, names[lvl], line);
}
