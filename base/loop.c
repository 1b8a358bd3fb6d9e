/* base/loop: see loop.h. */
#include "base/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define BATCH 256

struct pl_loop {
	int epfd;
};

struct pl_loop *pl_loop_new(void)
{
	struct pl_loop *l = malloc(sizeof *l);
	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void pl_loop_free(struct pl_loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l);
}

static bool ctl(struct pl_loop *l, int op, struct pl_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	if (epoll_ctl(l->epfd, op, w->fd, &ev) != 0)
		return false;
	w->events = events;
	return true;
}

bool pl_loop_add(struct pl_loop *l, struct pl_watch *w, uint32_t events)
{
	if (!ctl(l, EPOLL_CTL_ADD, w, events))
		return false;
	w->registered = true;
	return true;
}

bool pl_loop_mod(struct pl_loop *l, struct pl_watch *w, uint32_t events)
{
	return w->events == events || ctl(l, EPOLL_CTL_MOD, w, events);
}

void pl_loop_del(struct pl_loop *l, struct pl_watch *w)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->events = 0;
	w->registered = false;
}

bool pl_loop_once(struct pl_loop *l, int timeout_ms)
{
	struct epoll_event evs[BATCH];
	int n = epoll_wait(l->epfd, evs, BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR;
	for (int i = 0; i < n; i++) {
		struct pl_watch *w = evs[i].data.ptr;
		/* An earlier callback of this pass may have taken it out. */
		if (w->registered)
			w->fn(w, evs[i].events);
	}
	return true;
}
