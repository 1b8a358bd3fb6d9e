/* push/conn: see conn.h. */
#include "push/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

struct pl_buf *pl_buf_alloc(size_t len)
{
	struct pl_buf *b = malloc(sizeof *b + len + 1);
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = (uint32_t)len;
	b->commit_us = 0;
	b->data[len] = 0;
	return b;
}

struct pl_buf *pl_buf_new(const char *data, size_t len)
{
	struct pl_buf *b = pl_buf_alloc(len);
	if (b)
		memcpy(b->data, data, len);
	return b;
}

struct pl_buf *pl_buf_ref(struct pl_buf *b)
{
	atomic_fetch_add(&b->refs, 1);
	return b;
}

void pl_buf_unref(struct pl_buf *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

struct pl_conn *pl_conn_new(enum pl_conn_kind kind, const char *user)
{
	static atomic_ullong serials; /* only ever incremented: a unique id source */
	struct pl_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->kind = kind;
	atomic_init(&c->refs, 1);
	snprintf(c->user, sizeof c->user, "%s", user);
	c->serial = atomic_fetch_add(&serials, 1) + 1;
	c->watch.fd = -1;
	c->last_write_ms = pl_mono_ms();
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void pl_conn_ref(struct pl_conn *c) { atomic_fetch_add(&c->refs, 1); }

void pl_conn_clear(struct pl_conn *c)
{
	struct pl_qitem *it = c->head;
	while (it) {
		struct pl_qitem *next = it->next;
		pl_buf_unref(it->buf);
		free(it);
		it = next;
	}
	c->head = c->tail = NULL;
	c->qitems = c->qbytes = c->head_off = 0;
}

void pl_conn_unref(struct pl_conn *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	if (c->released)
		c->released(c->released_ud);
	pl_conn_clear(c);
	for (int i = 0; i < c->nasked; i++)
		free(c->asked[i]);
	free(c->asked);
	free(c->ws);
	free(c->cors_head);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

bool pl_conn_push(struct pl_conn *c, struct pl_buf *b)
{
	if (c->qitems >= PL_QUEUE_MAX_ITEMS || c->qbytes + b->len > PL_QUEUE_MAX_BYTES)
		return false;
	struct pl_qitem *it = malloc(sizeof *it);
	if (!it)
		return false;
	it->buf = pl_buf_ref(b);
	it->next = NULL;
	if (c->tail)
		c->tail->next = it;
	else
		c->head = it;
	c->tail = it;
	c->qitems++;
	c->qbytes += b->len;
	return true;
}

/* Drops the head item once it has been written whole. */
static void pop(struct pl_conn *c)
{
	struct pl_qitem *it = c->head;
	c->head = it->next;
	if (!c->head)
		c->tail = NULL;
	c->qitems--;
	c->qbytes -= it->buf->len;
	c->head_off = 0;
	pl_buf_unref(it->buf);
	free(it);
}

/* Consumes n bytes already written (WebSocket and SSE writers). */
void pl_conn_consume(struct pl_conn *c, size_t n)
{
	while (n && c->head) {
		size_t part = c->head->buf->len - c->head_off;
		if (n < part) {
			c->head_off += n;
			return;
		}
		n -= part;
		pop(c);
	}
}
