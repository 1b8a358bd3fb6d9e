/* base/ratelimit: token buckets keyed by a string (a user id), so one
 * client cannot flood a room or the store.  Thread-safe. */
#ifndef PL_RATELIMIT_H
#define PL_RATELIMIT_H

#include <stdbool.h>

struct pl_ratelimit;

/* rate per second, burst tokens; rate 0 turns limiting off. */
struct pl_ratelimit *pl_ratelimit_new(double rate, double burst);
void pl_ratelimit_free(struct pl_ratelimit *rl);
/* Takes one token; false with *retry_after seconds when none is left. */
bool pl_ratelimit_take(struct pl_ratelimit *rl, const char *key, int *retry_after);

#endif
