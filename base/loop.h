/* base/loop: a small event loop, a thin layer over epoll (the hub runs one).
 *
 * Each watched descriptor is embedded in its owner as a pl_watch whose fn
 * is called with the ready events (the Redis ae.c habit: the loop knows
 * nothing of what it drives).  Level-triggered; EPOLLERR and EPOLLHUP come
 * whatever was asked for.
 *
 * The contract between the loop and the owners of watches:
 * - One pass (pl_loop_once) takes up to 256 ready watches from epoll and
 *   calls them in turn, so a callback may change watches whose events are
 *   already taken.  Before each call the loop checks the watch is still
 *   registered (as ae.c does): a watch taken out with pl_loop_del by an
 *   earlier callback of the same pass is not called.  Owners need no
 *   "already closed?" check of their own at the top of a callback.
 * - Delayed free: that check reads the watch, so a watch taken out during
 *   a pass must stay in memory until pl_loop_once has returned.  Owners
 *   free after the pass (the hub's graveyard, push/hub.c; the Engine.IO
 *   sessions' dead lists; the Redis adapter's reap list, db/redis.c).
 * - A watch taken out and added again in the same pass (same memory) is
 *   called for events of its earlier registration: owners that reuse a
 *   watch for a new descriptor do it after the pass.
 * - One thread: the loop's (watches are not thread-safe). */
#ifndef PL_LOOP_H
#define PL_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct pl_loop;
struct pl_watch;
typedef void (*pl_watch_fn)(struct pl_watch *w, uint32_t events);

struct pl_watch {
	int fd;
	uint32_t events;                /* what is registered now */
	bool registered;                /* in the loop (pl_loop_add .. pl_loop_del) */
	pl_watch_fn fn;
};

struct pl_loop *pl_loop_new(void);
void pl_loop_free(struct pl_loop *l);
bool pl_loop_add(struct pl_loop *l, struct pl_watch *w, uint32_t events);
bool pl_loop_mod(struct pl_loop *l, struct pl_watch *w, uint32_t events);
/* Takes w out: it is not called again, in this pass either (keep it in
 * memory until the pass ends: the contract above). */
void pl_loop_del(struct pl_loop *l, struct pl_watch *w);
/* Waits up to timeout_ms for events and dispatches them.  Returns false on
 * a fatal epoll error. */
bool pl_loop_once(struct pl_loop *l, int timeout_ms);

#endif
