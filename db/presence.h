/* db/presence: who is online, counted by connections.
 *
 * A user is online from their first connection until the last one closed
 * and a grace period passed without a new one, so a reloading tab or a
 * phone changing networks never shows as offline-then-online.  Transitions
 * are reported once per change through the callback, never once per
 * connection.  Thread-safe: connections come and go on the hub thread,
 * status is read from HTTP threads. */
#ifndef PL_PRESENCE_H
#define PL_PRESENCE_H

#include <stdbool.h>
#include <stdint.h>

struct pl_presence;

/* online: the user came online (true) or went offline after the grace
 * period (false).  Called without the presence lock held. */
typedef void (*pl_presence_fn)(void *ud, const char *user, bool online);

struct pl_presence *pl_presence_new(int grace_seconds, pl_presence_fn fn, void *ud);
void pl_presence_free(struct pl_presence *p);
void pl_presence_connect(struct pl_presence *p, const char *user);
void pl_presence_disconnect(struct pl_presence *p, const char *user);
/* Connections open now (0 during the grace period). */
int pl_presence_connections(struct pl_presence *p, const char *user);
/* Online now, including during the grace period. */
bool pl_presence_online(struct pl_presence *p, const char *user);
/* Fires the offline transitions whose grace period ended; call about once
 * a second. */
void pl_presence_tick(struct pl_presence *p);

#endif
