/* tests/unit/test_loop: base/loop's contract (loop.h): a watch taken out by
 * an earlier callback of the same pass is not called, whatever order epoll
 * returned them in; one that stays is; the loop survives a callback that
 * takes itself out. */
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/loop.h"
#include "tests/unit/t.h"

struct pair {
	struct pl_watch w;            /* first: the callback gets the watch */
	struct pl_loop *loop;
	struct pair *other;           /* taken out by this one's callback */
	int calls;
	bool del_self;
};

static void on_ready(struct pl_watch *w, uint32_t events)
{
	struct pair *p = (struct pair *)w;
	(void)events;
	p->calls++;
	uint64_t n;
	(void)!read(w->fd, &n, sizeof n);
	if (p->other)
		pl_loop_del(p->loop, &p->other->w);
	if (p->del_self)
		pl_loop_del(p->loop, &p->w);
}

static void fire(struct pair *p)
{
	uint64_t one = 1;
	(void)!write(p->w.fd, &one, sizeof one);
}

static void setup(struct pl_loop *l, struct pair *p)
{
	*p = (struct pair){.loop = l};
	p->w.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->w.fn = on_ready;
	CHECK(pl_loop_add(l, &p->w, EPOLLIN));
	CHECK(p->w.registered);
}

/* Two ready watches that each take the other out: exactly one is called,
 * the other not (before the check, both were: the second with a watch
 * its owner had already let go). */
static void test_taken_out_in_the_same_pass(void)
{
	struct pl_loop *l = pl_loop_new();
	CHECK(l != NULL);
	struct pair a, b;
	setup(l, &a);
	setup(l, &b);
	a.other = &b;
	b.other = &a;
	fire(&a);
	fire(&b);
	CHECK(pl_loop_once(l, 1000));
	CHECK(a.calls + b.calls == 1);
	/* The one called is still in, the other out. */
	CHECK(a.w.registered == (a.calls == 1) && b.w.registered == (b.calls == 1));
	/* Both ready again: only the one still in is called. */
	struct pair *in = a.calls ? &a : &b;
	fire(&a);
	fire(&b);
	CHECK(pl_loop_once(l, 1000));
	CHECK(in->calls == 2 && in->other->calls == 0);
	close(a.w.fd);
	close(b.w.fd);
	pl_loop_free(l);
}

/* A watch that stays is called every pass it is ready; one that takes
 * itself out is called once. */
static void test_stays_and_leaves(void)
{
	struct pl_loop *l = pl_loop_new();
	struct pair a, b;
	setup(l, &a);
	setup(l, &b);
	b.del_self = true;
	for (int i = 0; i < 3; i++) {
		fire(&a);
		fire(&b);
		CHECK(pl_loop_once(l, 1000));
	}
	CHECK(a.calls == 3);
	CHECK(b.calls == 1);
	CHECK(a.w.registered);
	/* Taken out and added again between passes: called again. */
	CHECK(pl_loop_add(l, &b.w, EPOLLIN));
	fire(&b);
	CHECK(pl_loop_once(l, 1000));
	CHECK(b.calls == 2);
	/* pl_loop_mod keeps it registered. */
	CHECK(pl_loop_mod(l, &a.w, EPOLLIN | EPOLLOUT));
	CHECK(a.w.registered && a.w.events == (EPOLLIN | EPOLLOUT));
	close(a.w.fd);
	close(b.w.fd);
	pl_loop_free(l);
}

int main(void)
{
	test_taken_out_in_the_same_pass();
	test_stays_and_leaves();
	return T_DONE();
}
