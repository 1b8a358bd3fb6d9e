/* chat/tokens: see tokens.h. */
#include "chat/tokens.h"

#include <pthread.h>
#include <stdlib.h>

#include "base/map.h"

#define TOKEN_CACHE_MAX 20000

struct pl_tokens {
	pthread_mutex_t lock;
	pl_map *map; /* token -> malloc'd struct pl_claims */
};

struct pl_tokens *pl_tokens_new(void)
{
	struct pl_tokens *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	if (!(t->map = pl_map_new())) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void pl_tokens_free(struct pl_tokens *t)
{
	if (!t)
		return;
	pl_map_free_all(t->map);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

bool pl_tokens_get(struct pl_tokens *t, const char *token, int64_t now_s, struct pl_claims *who)
{
	pthread_mutex_lock(&t->lock);
	const struct pl_claims *c = pl_map_get(t->map, token);
	bool hit = c && c->exp > now_s;
	if (hit)
		*who = *c;
	pthread_mutex_unlock(&t->lock);
	return hit;
}

void pl_tokens_put(struct pl_tokens *t, const char *token, const struct pl_claims *who)
{
	struct pl_claims *copy = malloc(sizeof *copy);
	if (!copy)
		return;
	*copy = *who;
	pthread_mutex_lock(&t->lock);
	if (pl_map_len(t->map) >= TOKEN_CACHE_MAX) {
		pl_map *fresh = pl_map_new();
		if (fresh) {
			pl_map_free_all(t->map);
			t->map = fresh;
		}
	}
	void *old = pl_map_get(t->map, token);
	if (pl_map_put(t->map, token, copy)) {
		free(old);
		copy = NULL;
	}
	pthread_mutex_unlock(&t->lock);
	free(copy);
}
