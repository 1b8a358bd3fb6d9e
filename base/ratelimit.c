#include "base/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/map.h"

struct bucket {
	double tokens;
	int64_t at_ms;
};

struct pl_ratelimit {
	pthread_mutex_t lock;
	pl_map *buckets;
	double rate, burst;
	int64_t swept_ms;
};

struct pl_ratelimit *pl_ratelimit_new(double rate, double burst)
{
	struct pl_ratelimit *rl = calloc(1, sizeof *rl);
	if (!rl)
		return NULL;
	rl->buckets = pl_map_new();
	if (!rl->buckets) {
		free(rl);
		return NULL;
	}
	pthread_mutex_init(&rl->lock, NULL);
	rl->rate = rate;
	rl->burst = burst;
	rl->swept_ms = pl_mono_ms();
	return rl;
}

void pl_ratelimit_free(struct pl_ratelimit *rl)
{
	if (!rl)
		return;
	pl_map_free_all(rl->buckets);
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

/* Full buckets carry no information: dropping them now and then keeps the
 * map as small as the set of users actually sending. */
static void sweep(struct pl_ratelimit *rl, int64_t now)
{
	size_t pos = 0;
	const char *k;
	void *v;
	while (pl_map_next(rl->buckets, &pos, &k, &v)) {
		struct bucket *b = v;
		if (b->tokens + (double)(now - b->at_ms) / 1000.0 * rl->rate >= rl->burst)
			free(pl_map_del(rl->buckets, k));
	}
	rl->swept_ms = now;
}

bool pl_ratelimit_take(struct pl_ratelimit *rl, const char *key, int *retry_after)
{
	if (!rl || rl->rate <= 0)
		return true;
	int64_t now = pl_mono_ms();
	bool ok = true;
	pthread_mutex_lock(&rl->lock);
	if (now - rl->swept_ms > 60000)
		sweep(rl, now);
	struct bucket *b = pl_map_get(rl->buckets, key);
	if (!b) {
		b = malloc(sizeof *b);
		if (b && !pl_map_put(rl->buckets, key, b)) {
			free(b);
			b = NULL;
		}
		if (b)
			*b = (struct bucket){rl->burst, now};
	}
	if (b) {
		b->tokens = fmin(rl->burst, b->tokens + (double)(now - b->at_ms) / 1000.0 * rl->rate);
		b->at_ms = now;
		if (b->tokens >= 1.0) {
			b->tokens -= 1.0;
		} else {
			ok = false;
			*retry_after = (int)ceil((1.0 - b->tokens) / rl->rate);
		}
	}
	pthread_mutex_unlock(&rl->lock);
	return ok;
}
