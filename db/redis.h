/* db/redis: what Parley needs around hiredis 0.14.
 *
 * - REDIS_URL parsing: redis://[[user]:password@]host[:port][/db] and
 *   unix:///path/to/redis.sock[?db=N] (a password there: unix://:pw@/path).
 * - The adapter that drives a hiredis async context from base/loop:
 *   hiredis's ev hooks (addRead, delRead, addWrite, delWrite, cleanup)
 *   become pl_loop_add/mod/del of a watch on the context's socket.  The
 *   watch is freed late (pl_redis_evs_reap, outside the loop's dispatch),
 *   because an event of the same epoll batch may still point at it after
 *   hiredis freed the context.
 * - A blocking connection with short timeouts, for the few places with no
 *   event loop (parley.fcgi's publishing, the goodbye at shutdown).
 *
 * hiredis 0.14 has no async timeouts: the owner keeps its own timers. */
#ifndef PL_REDIS_H
#define PL_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "base/err.h"

struct pl_loop;

struct pl_redis_addr {
	char host[256];         /* "" for a Unix socket */
	int port;
	char path[512];         /* the Unix socket, or "" */
	char user[128];         /* ACL user (Redis 6+), or "" */
	char pass[256];         /* "" = no AUTH */
	int db;                 /* SELECT, 0 = none */
	char shown[540];        /* for logs: host:port or the path, never the password */
};

bool pl_redis_parse_url(const char *url, struct pl_redis_addr *a, pl_error *err);

/* ---- async: hiredis driven by base/loop ---- */

struct pl_redis_ev;
/* The adapters one owner created, with those hiredis is done with. */
struct pl_redis_evs {
	struct pl_redis_ev *dead;
};

/* Connects (non-blocking) and hooks the context to loop: returns NULL with
 * why filled when the connect fails at once.  Sends AUTH and SELECT first
 * when the address asks for them (their errors end the connection, logged
 * unless *quiet, which is then set: the caller clears it once connected).
 * The caller then sets its connect and disconnect callbacks. */
redisAsyncContext *pl_redis_connect_async(const struct pl_redis_addr *a, struct pl_loop *loop,
					  struct pl_redis_evs *evs, bool *quiet, char *why,
					  size_t whylen);
/* Frees the adapters hiredis cleaned up; call outside the loop's dispatch
 * of events (from a tick). */
void pl_redis_evs_reap(struct pl_redis_evs *evs);
/* The loop is going away: cleanups after this only drop the watch. */
void pl_redis_ev_forget_loop(redisAsyncContext *ac);

/* ---- blocking ---- */

/* Connects with timeout_ms for the connect and every command, AUTH and
 * SELECT included; NULL with why filled on failure. */
redisContext *pl_redis_connect_sync(const struct pl_redis_addr *a, int timeout_ms, char *why,
				    size_t whylen);

#endif
