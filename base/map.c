#include "base/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	char *key;      /* NULL: empty; TOMBSTONE: deleted */
	void *value;
	uint64_t hash;
};

struct pl_map {
	struct slot *slots;
	size_t cap;     /* power of two */
	size_t len;     /* live keys */
	size_t used;    /* live + tombstones */
};

static char tombstone_key;
#define TOMBSTONE (&tombstone_key)

/* FNV-1a: short keys (ids of at most 64 bytes), so a simple hash is fast. */
static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

pl_map *pl_map_new(void)
{
	pl_map *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->cap = 16;
	m->slots = calloc(m->cap, sizeof *m->slots);
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void pl_map_free(pl_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
			free(m->slots[i].key);
	free(m->slots);
	free(m);
}

void pl_map_free_all(pl_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
			free(m->slots[i].value);
	pl_map_free(m);
}

static struct slot *find(const pl_map *m, const char *key, uint64_t h)
{
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != TOMBSTONE && s->hash == h && strcmp(s->key, key) == 0)
			return s;
	}
}

void *pl_map_get(const pl_map *m, const char *key)
{
	struct slot *s = find(m, key, hash(key));
	return s ? s->value : NULL;
}

static bool grow(pl_map *m)
{
	size_t cap = m->len * 4 > m->cap ? m->cap * 2 : m->cap; /* else just purge tombstones */
	struct slot *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return false;
	for (size_t i = 0; i < m->cap; i++) {
		struct slot *s = &m->slots[i];
		if (!s->key || s->key == TOMBSTONE)
			continue;
		size_t j = s->hash & (cap - 1);
		while (slots[j].key)
			j = (j + 1) & (cap - 1);
		slots[j] = *s;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->used = m->len;
	return true;
}

bool pl_map_put(pl_map *m, const char *key, void *value)
{
	uint64_t h = hash(key);
	struct slot *s = find(m, key, h);
	if (s) {
		s->value = value;
		return true;
	}
	if ((m->used + 1) * 4 > m->cap * 3 && !grow(m))
		return false;
	char *copy = strdup(key);
	if (!copy)
		return false;
	size_t i = h & (m->cap - 1);
	while (m->slots[i].key && m->slots[i].key != TOMBSTONE)
		i = (i + 1) & (m->cap - 1);
	if (!m->slots[i].key)
		m->used++;
	m->slots[i] = (struct slot){copy, value, h};
	m->len++;
	return true;
}

void *pl_map_del(pl_map *m, const char *key)
{
	struct slot *s = find(m, key, hash(key));
	if (!s)
		return NULL;
	void *v = s->value;
	free(s->key);
	s->key = TOMBSTONE;
	s->value = NULL;
	m->len--;
	return v;
}

size_t pl_map_len(const pl_map *m) { return m->len; }

bool pl_map_next(const pl_map *m, size_t *pos, const char **key, void **value)
{
	for (; *pos < m->cap; (*pos)++) {
		struct slot *s = &m->slots[*pos];
		if (s->key && s->key != TOMBSTONE) {
			*key = s->key;
			*value = s->value;
			(*pos)++;
			return true;
		}
	}
	return false;
}
