/* tests/wsecho: a WebSocket echo server on Parley's RFC 6455 code, for
 * conformance suites (the Autobahn testsuite's fuzzingclient; see
 * tests/README.md) and tests/integration/wsecho.test.mjs.
 *
 *   tests/wsecho --listen 127.0.0.1:PORT [--max BYTES]
 *
 * Echoes every text and binary message (fragmented or not) as one frame,
 * answers pings, and completes the close handshake.  The framing, masking,
 * UTF-8 and close-payload rules are push/ws.c and base/utf8.c, exactly what
 * parleyd runs.  The connection loop is this file's own: push/wsconn.c is
 * bound to the hub (its queues, mailbox and chat frames, and it closes
 * binary messages with 1003 as the contract says), so this loop mirrors
 * its rules for a plain echo: a protocol error sends its close frame (1002,
 * 1007, 1009) and reads nothing after it (RFC 6455 5.5.1, 7.1.7), then
 * waits briefly for the peer's close.  One thread per connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/utf8.h"
#include "push/ws.h"

static uint64_t max_msg = 16u << 20; /* Autobahn's largest cases are 16 MiB */

static bool send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		c += w;
		n -= (size_t)w;
	}
	return true;
}

static bool send_frame(int fd, enum ws_opcode op, const void *p, size_t n)
{
	uint8_t h[14];
	size_t hn = ws_frame_header(h, op, true, n);
	return send_all(fd, h, hn) && send_all(fd, p, n);
}

static void send_close(int fd, uint16_t code)
{
	uint8_t p[125];
	size_t n = ws_close_payload(p, code, "");
	send_frame(fd, WS_CLOSE, p, n);
}

/* The HTTP upgrade: reads the head, answers 101 or 400. */
static bool handshake(int fd)
{
	char head[8192];
	size_t len = 0;
	while (!memmem(head, len, "\r\n\r\n", 4)) {
		if (len == sizeof head - 1)
			return false;
		ssize_t r = recv(fd, head + len, sizeof head - 1 - len, 0);
		if (r <= 0)
			return false;
		len += (size_t)r;
	}
	head[len] = 0;
	char key[128] = "";
	for (char *line = strstr(head, "\r\n"); line && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
		if (strncasecmp(line + 2, "Sec-WebSocket-Key:", 18) == 0)
			sscanf(line + 20, " %127[^\r\n ]", key);
	}
	char accept[29];
	if (strncmp(head, "GET ", 4) != 0 || !key[0] || !ws_accept_key(key, accept)) {
		static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
					  "Connection: close\r\n\r\n";
		send_all(fd, bad, sizeof bad - 1);
		return false;
	}
	char ok[256];
	int n = snprintf(ok, sizeof ok,
			 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
	return send_all(fd, ok, (size_t)n);
}

struct conn {
	int fd;
	uint8_t *buf;        /* received, not parsed; grows with what arrives */
	size_t len, cap;
	uint8_t *msg;        /* the message being reassembled */
	size_t mlen, mcap;
	bool in_msg, text;
	pl_utf8_state utf8;
};

static bool grow(uint8_t **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	uint8_t *q = realloc(*p, n);
	if (!q)
		return false;
	*p = q;
	*cap = n;
	return true;
}

/* One whole frame: 0 to go on, a close code to fail the connection with,
 * or 1 when the peer's close was answered. */
static int on_frame(struct conn *c, const struct ws_frame *f, uint8_t *p)
{
	size_t n = (size_t)f->payload_len;
	ws_unmask(p, n, f->mask, 0);
	switch (f->opcode) {
	case WS_PING:
		return send_frame(c->fd, WS_PONG, p, n) ? 0 : WS_CLOSE_INTERNAL;
	case WS_PONG:
		return 0;
	case WS_CLOSE: {
		uint16_t code;
		if (!ws_close_payload_valid(p, n, &code))
			return WS_CLOSE_PROTOCOL;
		send_close(c->fd, code == 1005 ? WS_CLOSE_NORMAL : code);
		return 1;
	}
	case WS_TEXT:
	case WS_BINARY:
		if (c->in_msg)
			return WS_CLOSE_PROTOCOL;
		c->in_msg = true;
		c->text = f->opcode == WS_TEXT;
		c->utf8 = 0;
		c->mlen = 0;
		break;
	case WS_CONT:
		if (!c->in_msg)
			return WS_CLOSE_PROTOCOL;
		break;
	}
	if (c->mlen + n > max_msg)
		return WS_CLOSE_TOO_BIG;
	if (c->text && !pl_utf8_feed(&c->utf8, p, n))
		return WS_CLOSE_BAD_DATA; /* fail fast, before the message ends */
	if (!grow(&c->msg, &c->mcap, c->mlen + n + 1))
		return WS_CLOSE_TOO_BIG;
	if (n)
		memcpy(c->msg + c->mlen, p, n);
	c->mlen += n;
	if (!f->fin)
		return 0;
	c->in_msg = false;
	if (c->text && !pl_utf8_done(c->utf8))
		return WS_CLOSE_BAD_DATA;
	return send_frame(c->fd, c->text ? WS_TEXT : WS_BINARY, c->msg, c->mlen) ? 0
										  : WS_CLOSE_INTERNAL;
}

/* After our close: wait (2 s at most) for the peer's, reading nothing
 * else into the protocol, then close the TCP connection. */
static void linger_close(int fd)
{
	struct timeval tv = {2, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	shutdown(fd, SHUT_WR);
	char sink[4096];
	while (recv(fd, sink, sizeof sink, 0) > 0)
		;
}

static void *serve(void *arg)
{
	struct conn c = {.fd = (int)(intptr_t)arg};
	struct timeval tv = {60, 0};
	setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int one = 1;
	setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (!handshake(c.fd))
		goto out;
	for (;;) {
		if (!grow(&c.buf, &c.cap, c.len + 65536)) {
			send_close(c.fd, WS_CLOSE_TOO_BIG);
			break;
		}
		ssize_t r = recv(c.fd, c.buf + c.len, c.cap - c.len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto out; /* gone without a close, or idle for a minute */
		c.len += (size_t)r;
		size_t pos = 0;
		int rc = 0;
		while (rc == 0) {
			struct ws_frame f;
			uint16_t code = 0;
			enum ws_parse_result pr = ws_parse_frame(c.buf + pos, c.len - pos, max_msg, &f, &code);
			if (pr == WS_PARSE_NEED_MORE)
				break;
			if (pr == WS_PARSE_ERROR) {
				rc = code;
				break;
			}
			rc = on_frame(&c, &f, c.buf + pos + f.header_len);
			pos += f.header_len + (size_t)f.payload_len;
		}
		if (rc == 1) {
			linger_close(c.fd);
			goto out;
		}
		if (rc != 0) {
			send_close(c.fd, (uint16_t)rc);
			linger_close(c.fd);
			goto out;
		}
		memmove(c.buf, c.buf + pos, c.len - pos);
		c.len -= pos;
	}
out:
	close(c.fd);
	free(c.buf);
	free(c.msg);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *listen_at = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen_at = argv[++i];
		else if (strcmp(argv[i], "--max") == 0 && i + 1 < argc)
			max_msg = strtoull(argv[++i], NULL, 10);
		else
			listen_at = NULL, i = argc;
	}
	char host[64];
	int port;
	if (!listen_at || sscanf(listen_at, "%63[^:]:%d", host, &port) != 2) {
		fprintf(stderr, "usage: wsecho --listen HOST:PORT [--max BYTES]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0) {
		fprintf(stderr, "wsecho: cannot listen on %s: %s\n", listen_at, strerror(errno));
		return 1;
	}
	fprintf(stderr, "wsecho: listening on %s\n", listen_at);
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			return 1;
		}
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, serve, (void *)(intptr_t)c) != 0)
			close(c);
		pthread_attr_destroy(&at);
	}
}
