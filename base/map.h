/* base/map: a string-keyed hash map (open addressing, linear probing).
 *
 * Keys are copied and owned by the map; values are the caller's.  Used for
 * the hub's room and user indexes, where lookups are per event and must not
 * grow with the number of rooms. */
#ifndef PL_MAP_H
#define PL_MAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pl_map pl_map;

pl_map *pl_map_new(void);
void pl_map_free(pl_map *m); /* frees keys, not values */
/* Frees keys and values (each value one malloc'd block), then the map. */
void pl_map_free_all(pl_map *m);
void *pl_map_get(const pl_map *m, const char *key);
/* Inserts or replaces; false when out of memory. */
bool pl_map_put(pl_map *m, const char *key, void *value);
/* Removes and returns the value (NULL when absent). */
void *pl_map_del(pl_map *m, const char *key);
size_t pl_map_len(const pl_map *m);
/* Iteration: start with *pos = 0; returns false at the end.  The map must
 * not change during iteration, except for pl_map_del of the current key. */
bool pl_map_next(const pl_map *m, size_t *pos, const char **key, void **value);

#endif
