/*
 * net.c - the load generator's epoll loop and non-blocking TCP client
 * connections.  Connections are spread over several 127.0.0.x source
 * addresses (with IP_BIND_ADDRESS_NO_PORT, so the kernel picks the port at
 * connect time per 4-tuple) so that tens of thousands of connections to one
 * server port never run out of ephemeral ports, TIME_WAIT included.
 */
#include "lg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static int g_ep = -1;
static struct sockaddr_in g_dst;
static int g_nsrc = 1;
static unsigned g_next_src;

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *buf_reserve(struct buf *b, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		while (cap < b->len + n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			abort(); /* a load generator out of memory has nothing to report */
		b->p = p;
		b->cap = cap;
	}
	return b->p + b->len;
}

void buf_append(struct buf *b, const void *p, size_t n)
{
	if (!n)
		return; /* p may be NULL then, which memcpy must never see */
	memcpy(buf_reserve(b, n), p, n);
	b->len += n;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		/* idle connections are the point of the idle test: keep them small */
		if (b->cap > 65536)
			buf_free(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

int net_init(const char *host, int port, int nsrc)
{
	memset(&g_dst, 0, sizeof g_dst);
	g_dst.sin_family = AF_INET;
	g_dst.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &g_dst.sin_addr) != 1)
		return -1;
	/* extra source addresses only make sense on loopback */
	g_nsrc = (ntohl(g_dst.sin_addr.s_addr) >> 24) == 127 ? nsrc : 1;
	g_ep = epoll_create1(EPOLL_CLOEXEC);
	return g_ep < 0 ? -1 : 0;
}

static void watch(struct conn *c, int out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0) };
	ev.data.ptr = c;
	if (out != c->want_out) {
		c->want_out = out;
		epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

static int bind_source(int fd)
{
	int one = 1;
	struct sockaddr_in src;
	if (g_nsrc <= 1)
		return 0;
	memset(&src, 0, sizeof src);
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(0x7f000001u + g_next_src++ % (unsigned)g_nsrc);
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	return bind(fd, (struct sockaddr *)&src, sizeof src);
}

/* Starts a connection; the request already queued in c->out goes out once
 * it is established. */
int net_connect(struct conn *c)
{
	int one = 1;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (bind_source(fd) < 0 ||
	    (connect(fd, (struct sockaddr *)&g_dst, sizeof g_dst) < 0 &&
	     errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->st = C_CONNECTING;
	c->want_out = 1;
	c->tries++;
	ev.data.ptr = c;
	epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

void net_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->st = C_IDLE;
	c->ready = 0;
	c->want_out = 0;
	c->head = c->tail = 0;
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->body);
}

/* The scenario sees the connection as it was (in-flight requests, ready
 * state) before it is torn down. */
static void fail(struct conn *c, int err)
{
	lg_on_close(c, err);
	net_close(c);
}

static int flush(struct conn *c)
{
	while (c->out.len) {
		ssize_t n = write(c->fd, c->out.p, c->out.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return -1;
		buf_consume(&c->out, (size_t)n);
	}
	watch(c, c->out.len > 0);
	return 0;
}

void net_send(struct conn *c, const void *p, size_t n)
{
	buf_append(&c->out, p, n);
	if (c->st != C_CONNECTING && c->st != C_IDLE && flush(c) < 0)
		shutdown(c->fd, SHUT_RDWR); /* the read side reports the failure */
}

static void on_connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof err;
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		fail(c, err);
		return;
	}
	c->st = C_HEAD;
	if (flush(c) < 0)
		fail(c, errno);
}

/* Reads through one shared buffer so that 19,000 mostly idle connections
 * each keep only the few bytes of a partial frame, not 64 KiB. */
static void on_readable(struct conn *c)
{
	static char rbuf[256 * 1024];
	ssize_t n = read(c->fd, rbuf, sizeof rbuf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		fail(c, n == 0 ? 0 : errno);
		return;
	}
	buf_append(&c->in, rbuf, (size_t)n);
	if (http_input(c) < 0)
		fail(c, EPROTO);
}

int net_poll(int timeout_ms)
{
	struct epoll_event evs[512];
	int n = epoll_wait(g_ep, evs, 512, timeout_ms);
	for (int i = 0; i < n; i++) {
		struct conn *c = evs[i].data.ptr;
		uint32_t e = evs[i].events;
		if (c->fd < 0)
			continue; /* closed earlier in this batch */
		if (c->st == C_CONNECTING) {
			on_connected(c);
			continue;
		}
		if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
			on_readable(c);
		if (c->fd >= 0 && (e & EPOLLOUT) && flush(c) < 0)
			fail(c, errno);
	}
	return n;
}
