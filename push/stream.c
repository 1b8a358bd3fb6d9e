/* push/stream: sockets the hub owns outright — upgraded WebSockets and SSE
 * streams taken over from the HTTP library — written from their queues
 * with writev, many events per call when they pile up.
 *
 * SSE streams are taken like WebSockets: parleyd answers the request
 * itself on a dup of the socket, and libmicrohttpd (told to forget the
 * request, and run with MHD_USE_TURBO so it closes without shutdown())
 * frees its connection and its per-connection pool.  What stays is the
 * hub's small pl_conn. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/clock.h"
#include "push/hubint.h"

#define IOV_MAX_BATCH 64

/* Input still unread when a TCP socket is closed makes the kernel reset
 * the connection instead of ending it (RFC 1122 4.2.2.13; Linux does), and
 * a reset throws away what it had not sent yet: a WebSocket's close frame
 * behind a client's sends in flight, the end of an SSE stream.  So what is
 * readable is read and dropped first (a bounded amount: a peer that goes
 * on sending gets its reset). */
void pl_stream_close(int fd)
{
	char sink[16384];
	for (int i = 0; i < 64 && read(fd, sink, sizeof sink) > 0; i++)
		;
	close(fd);
}

void pl_stream_drop(struct pl_hub *h, struct pl_conn *c)
{
	if (c->watch.fd >= 0) {
		pl_loop_del(h->loop, &c->watch);
		pl_stream_close(c->watch.fd);
		c->watch.fd = -1;
	}
	c->closing = true;
	pl_hub_drop(h, c);
}

bool pl_stream_write(struct pl_hub *h, struct pl_conn *c)
{
	while (c->head && c->watch.fd >= 0) {
		struct iovec iov[IOV_MAX_BATCH];
		int n = 0;
		size_t off = c->head_off;
		for (struct pl_qitem *it = c->head; it && n < IOV_MAX_BATCH; it = it->next) {
			iov[n].iov_base = it->buf->data + off;
			iov[n++].iov_len = it->buf->len - off;
			off = 0;
		}
		ssize_t w = writev(c->watch.fd, iov, n);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			pl_loop_mod(h->loop, &c->watch, EPOLLIN | EPOLLOUT);
			return false;
		}
		if (w < 0) {
			pl_stream_drop(h, c);
			return false;
		}
		pl_latency_written(&h->ctx->counters.delivery_latency, c, (size_t)w);
		pl_conn_consume(c, (size_t)w);
		c->last_write_ms = pl_mono_ms();
	}
	if (c->watch.fd < 0)
		return false;
	pl_loop_mod(h->loop, &c->watch, EPOLLIN);
	return true;
}

/* ---- SSE ---- */

static const char sse_head[] = "HTTP/1.1 200 OK\r\n"
			       "Content-Type: text/event-stream\r\n"
			       "Cache-Control: no-cache\r\n"
			       "X-Accel-Buffering: no\r\n"
			       "Connection: close\r\n\r\n";

void pl_sse_flush(struct pl_hub *h, struct pl_conn *c)
{
	/* An ended stream (slow, or shutting down) goes once it is written:
	 * the body ends with the connection. */
	if (pl_stream_write(h, c) && c->closing)
		pl_stream_drop(h, c);
}

/* A stream client sends nothing after its request: anything read is
 * dropped, and the end of input means the peer has gone. */
static void on_sse_io(struct pl_watch *w, uint32_t events)
{
	struct pl_conn *c = (struct pl_conn *)w; /* the watch is the first member */
	struct pl_hub *h = c->hub;
	if (events & (EPOLLERR | EPOLLHUP)) {
		pl_stream_drop(h, c);
		return;
	}
	if (events & EPOLLIN) {
		char sink[512];
		ssize_t n = read(c->watch.fd, sink, sizeof sink);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			pl_stream_drop(h, c);
			return;
		}
	}
	if (events & EPOLLOUT)
		pl_sse_flush(h, c);
}

/* The response head, with the front end's CORS lines before its end. */
static struct pl_buf *sse_head_of(const struct pl_conn *c)
{
	if (!c->cors_head)
		return pl_buf_new(sse_head, sizeof sse_head - 1);
	size_t n = sizeof sse_head - 3, extra = strlen(c->cors_head);
	struct pl_buf *b = pl_buf_alloc(n + extra + 2);
	if (b) {
		memcpy(b->data, sse_head, n);
		memcpy(b->data + n, c->cors_head, extra);
		memcpy(b->data + n + extra, "\r\n", 2);
	}
	return b;
}

bool pl_sse_adopt(struct pl_hub *h, struct pl_conn *c, int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->hub = h;
	c->watch.fd = fd;
	c->watch.fn = on_sse_io;
	struct pl_buf *head = sse_head_of(c);
	bool ok = head && pl_conn_push(c, head) && pl_loop_add(h->loop, &c->watch, EPOLLIN);
	pl_buf_unref(head);
	if (!ok)
		c->watch.fd = -1;
	return ok;
}
