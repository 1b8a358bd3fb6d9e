/* api/guard: parleyd's connection caps and whole-request deadline.
 *
 * Counts every connection per client address (--max-ip-connections: MHD's
 * connections and the WebSocket and SSE sockets the hub took over from
 * them) and push connections per user (--max-user-connections), and closes
 * a connection whose request head and body have not arrived within
 * --request-timeout seconds in all.  libmicrohttpd's own timeout restarts
 * with every byte, so a client sending one byte a second would hold its
 * connection for ever; the deadline here does not move.  A sweep thread
 * shuts such sockets down (MHD then closes them as it would a dropped
 * peer).  Thread-safe: MHD's threads, the hub and the sweep all call in. */
#ifndef PL_GUARD_H
#define PL_GUARD_H

#include <stdbool.h>
#include <sys/socket.h>

struct pl_guard;
struct pl_guard_slot;
struct pl_guard_lease;

/* Caps of 0 are no caps; timeout_s >= 1.  NULL when out of memory or the
 * sweep thread cannot start. */
struct pl_guard *pl_guard_new(int max_ip, int max_user, int timeout_s);
/* Stops the sweep.  Every slot must be closed by then (MHD is stopped);
 * leases may outlive it only until released, which must not happen after. */
void pl_guard_free(struct pl_guard *g);

/* A connection MHD accepted (its socket and peer address): counted against
 * the address, its first request's clock starting now.  NULL when out of
 * memory (the connection then goes unguarded). */
struct pl_guard_slot *pl_guard_open(struct pl_guard *g, int fd, const struct sockaddr *peer);
/* MHD closed it: gone from the counts and the sweep. */
void pl_guard_close(struct pl_guard *g, struct pl_guard_slot *s);
/* Whether the connection is beyond its address's cap (answer 429 and close). */
bool pl_guard_over_ip(const struct pl_guard_slot *s);
/* busy: the request arrived whole (the deadline no longer applies while it
 * is answered, suspended or streaming); not busy: it ended, and the next
 * request's clock starts now (an idle keep-alive connection is closed when
 * it runs out, as web servers do). */
void pl_guard_busy(struct pl_guard *g, struct pl_guard_slot *s, bool busy);

/* A push connection (WebSocket, SSE, long-poll) of user from slot's
 * address: NULL over the user's cap (nothing taken; *over_cap set) or out
 * of memory.  outlives: the socket outlives MHD's connection (WebSocket,
 * SSE), so the lease counts against the address itself. */
struct pl_guard_lease *pl_guard_lease(struct pl_guard *g, const struct pl_guard_slot *s,
				      const char *user, bool outlives, bool *over_cap);
/* Gives a lease back (a void * for pl_conn's release hook). */
void pl_guard_release(void *lease);

#endif
