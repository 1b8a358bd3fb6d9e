/* base/loop: a small event loop, a thin layer over epoll (the hub runs one).
 *
 * Each watched descriptor is embedded in its owner as a pl_watch whose fn
 * is called with the ready events (the Redis ae.c habit: the loop knows
 * nothing of what it drives).  One tick callback runs every tick_ms. */
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
	pl_watch_fn fn;
};

struct pl_loop *pl_loop_new(void);
void pl_loop_free(struct pl_loop *l);
bool pl_loop_add(struct pl_loop *l, struct pl_watch *w, uint32_t events);
bool pl_loop_mod(struct pl_loop *l, struct pl_watch *w, uint32_t events);
void pl_loop_del(struct pl_loop *l, struct pl_watch *w);
/* Waits up to timeout_ms for events and dispatches them.  Returns false on
 * a fatal epoll error. */
bool pl_loop_once(struct pl_loop *l, int timeout_ms);

#endif
