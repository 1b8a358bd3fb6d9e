/* base/ids: the shapes of user and room ids ([A-Za-z0-9_.:-]{1,64}) and
 * the direct-message room id "dm:<a>:<b>" with a < b. */
#ifndef PL_IDS_H
#define PL_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define PL_ID_MAX 64

bool pl_valid_id(const char *s);
/* Writes "dm:<lo>:<hi>" into out (size >= 2*PL_ID_MAX+5). */
void pl_dm_room_id(const char *a, const char *b, char *out, size_t outlen);
/* True when room is a DM room and user is one of its two ends. */
bool pl_dm_has_user(const char *room, const char *user);
bool pl_is_dm(const char *room);

#endif
