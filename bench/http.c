/*
 * http.c - the load generator's HTTP/1.1 client side: writes requests
 * (keep-alive, pipelined) and parses responses incrementally: status line,
 * Content-Length or chunked bodies for REST calls, and endless event streams
 * (SSE, possibly chunked) or a 101 upgrade for subscribers.
 */
#include "lg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { CH_SIZE, CH_DATA, CH_CRLF, CH_TRAILER };

static char g_host[64] = "127.0.0.1";

const char *lg_host(void)
{
	return g_host;
}

void fifo_push(struct conn *c, uint64_t t)
{
	c->sent[c->head++ % LG_WIN] = t;
}

uint64_t fifo_pop(struct conn *c)
{
	if (c->head == c->tail)
		return 0;
	return c->sent[c->tail++ % LG_WIN];
}

void http_get(struct conn *c, const char *path, const char *extra_hdrs)
{
	char req[4096];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
			 path, g_host, extra_hdrs ? extra_hdrs : "");
	net_send(c, req, (size_t)n);
}

/* Queues one request and records its send time for latency and for the
 * in-flight window.  Content-Type NULL means no body. */
void http_request(struct conn *c, const char *method, const char *path,
		  const char *ctype, const char *body, size_t blen)
{
	char hdr[2048];
	int n = snprintf(hdr, sizeof hdr, "%s %s HTTP/1.1\r\nHost: %s\r\n", method,
			 path, g_host);
	if (c->tok)
		n += snprintf(hdr + n, sizeof hdr - (size_t)n,
			      "Authorization: Bearer %s\r\n", c->tok);
	if (ctype)
		n += snprintf(hdr + n, sizeof hdr - (size_t)n,
			      "Content-Type: %s\r\nContent-Length: %zu\r\n", ctype, blen);
	n += snprintf(hdr + n, sizeof hdr - (size_t)n, "\r\n");
	buf_append(&c->out, hdr, (size_t)n);
	fifo_push(c, lg_now());
	net_send(c, body, ctype ? blen : 0);
}

/* Decodes chunked transfer coding from p[0..n) into out; returns the number
 * of bytes consumed and sets *done at the terminating zero-size chunk. */
static size_t dechunk(struct conn *c, const char *p, size_t n, struct buf *out,
		      int *done)
{
	size_t i = 0;
	while (i < n) {
		const char *nl;
		size_t k;
		switch (c->chunk_st) {
		case CH_DATA:
			k = n - i < (size_t)c->chunk_left ? n - i : (size_t)c->chunk_left;
			buf_append(out, p + i, k);
			i += k;
			c->chunk_left -= (long)k;
			if (!c->chunk_left)
				c->chunk_st = CH_CRLF;
			break;
		default:
			nl = memchr(p + i, '\n', n - i);
			if (!nl)
				return i;
			if (c->chunk_st == CH_SIZE) {
				/* strtol stops at ';' or CR; the LF bounds it */
				c->chunk_left = strtol(p + i, NULL, 16);
				c->chunk_st = c->chunk_left > 0 ? CH_DATA : CH_TRAILER;
			} else if (c->chunk_st == CH_CRLF) {
				c->chunk_st = CH_SIZE;
			} else if (nl - (p + i) <= 1) { /* empty trailer line: done */
				c->chunk_st = CH_SIZE;
				*done = 1;
				return (size_t)(nl - p) + 1;
			}
			i = (size_t)(nl - p) + 1;
		}
	}
	return i;
}

/* Reads the header fields that shape the body. */
static void parse_fields(struct conn *c, const char *h, const char *end)
{
	c->clen = 0;
	c->chunked = 0;
	while (h < end) {
		const char *nl = memchr(h, '\n', (size_t)(end - h));
		if (!nl)
			nl = end;
		if (!strncasecmp(h, "content-length:", 15))
			c->clen = strtol(h + 15, NULL, 10);
		else if (!strncasecmp(h, "transfer-encoding:", 18) &&
			 memmem(h, (size_t)(nl - h), "chunked", 7))
			c->chunked = 1;
		h = nl + 1;
	}
}

/* Parses a response head; 0: need more, 1: parsed, -1: bad or refused. */
static int parse_head(struct conn *c)
{
	const char *end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4);
	if (!end)
		return c->in.len > 65536 ? -1 : 0;
	if (c->in.len < 12 || strncmp(c->in.p, "HTTP/1.", 7))
		return -1;
	c->status = atoi(c->in.p + 9);
	parse_fields(c, c->in.p, end);
	buf_consume(&c->in, (size_t)(end + 4 - c->in.p));
	c->chunk_st = CH_SIZE;
	c->body.len = 0;
	if (c->role == R_REST) {
		c->st = (c->chunked || c->clen > 0) ? C_BODY : C_HEAD;
		if (c->st == C_HEAD)
			lg_on_response(c, c->status, "", 0, fifo_pop(c));
		return 1;
	}
	if (c->status != (c->role == R_SSE ? 200 : 101)) {
		lg_on_response(c, c->status, "", 0, 0); /* a refused stream */
		return -1;
	}
	c->st = C_STREAM;
	lg_on_head(c);
	return 1;
}

/* REST body: 0 need more, 1 one response complete. */
static int rest_body(struct conn *c)
{
	int done = 0;
	if (c->chunked) {
		buf_consume(&c->in, dechunk(c, c->in.p, c->in.len, &c->body, &done));
		if (!done)
			return 0;
		c->st = C_HEAD;
		lg_on_response(c, c->status, c->body.p ? c->body.p : "", c->body.len,
			       fifo_pop(c));
		c->body.len = 0;
		return 1;
	}
	if (c->in.len < (size_t)c->clen)
		return 0;
	c->st = C_HEAD;
	lg_on_response(c, c->status, c->in.p, (size_t)c->clen, fifo_pop(c));
	buf_consume(&c->in, (size_t)c->clen);
	return 1;
}

/* Splits an event stream into lines, handing each to the scenario. */
static void sse_lines(struct conn *c, struct buf *b)
{
	size_t off = 0;
	while (off < b->len) {
		const char *nl = memchr(b->p + off, '\n', b->len - off);
		if (!nl)
			break;
		size_t n = (size_t)(nl - (b->p + off));
		lg_on_line(c, b->p + off, n && nl[-1] == '\r' ? n - 1 : n);
		off += n + 1;
	}
	buf_consume(b, off);
}

static int stream_input(struct conn *c)
{
	int done = 0;
	if (c->role != R_SSE)
		return ws_input(c);
	if (!c->chunked) {
		sse_lines(c, &c->in);
		return 0;
	}
	buf_consume(&c->in, dechunk(c, c->in.p, c->in.len, &c->body, &done));
	sse_lines(c, &c->body);
	return done ? -1 : 0; /* the server ended the stream */
}

/* Consumes whatever c->in holds; -1 means the connection must close. */
int http_input(struct conn *c)
{
	for (;;) {
		int r;
		if (!c->in.len)
			return 0;
		if (c->st == C_HEAD)
			r = parse_head(c);
		else if (c->st == C_BODY)
			r = rest_body(c);
		else
			return stream_input(c);
		if (r <= 0)
			return r;
	}
}
