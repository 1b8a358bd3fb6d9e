/* tests/unit/t.h: the smallest test harness that can fail.
 *
 * CHECK(cond) records one check; each failure prints file:line and the
 * expression.  T_DONE() prints "t: N passed, N failed" and returns the exit
 * status, which automake's test driver and tests/run.sh read. */
#ifndef PL_T_H
#define PL_T_H

#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (cond) {                                                    \
			t_pass++;                                              \
		} else {                                                       \
			t_fail++;                                              \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, \
				#cond);                                        \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b) CHECK((a) != NULL && strcmp((a), (b)) == 0)

#define T_DONE()                                                               \
	(printf("unit %s: %d passed, %d failed\n", __FILE__, t_pass, t_fail),  \
	 t_fail ? 1 : 0)

#endif
