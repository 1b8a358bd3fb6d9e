/* push/eiows: the WebSocket transport of Engine.IO sessions.
 *
 * A socket the hub adopted after the handshake is either a session's
 * transport (from the start, or after the upgrade) or a probe for an
 * upgrade from polling.  Frames are parsed with push/ws.c (binary frames
 * allowed: Engine.IO carries attachments in them), text must be UTF-8, a
 * message may be as long as maxPayload; each queued packet goes out as one
 * frame.  No buffer is kept between messages. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/utf8.h"
#include "push/eio.h"
#include "push/eioint.h"
#include "push/hubint.h"
#include "push/ws.h"
#include "push/wsbuf.h"

/* One WebSocket message, all fragments: maxPayload, as the handshake says. */
#define WS_MAX_MSG(ws) ((size_t)(ws)->e->max_payload)

/* ---- WebSocket ---- */

/* The output grows by doubling: a pump frames a whole queue (thousands of
 * packets when a recovery replays), and growing it packet by packet copied
 * the buffer each time (seconds under a sanitizer's allocator). */
static bool ws_append(struct eio_ws *ws, enum ws_opcode op, const void *p, size_t n)
{
	uint8_t head[14];
	size_t h = ws_frame_header(head, op, true, n);
	if (ws->olen + h + n > ws->ocap) {
		size_t cap = ws->ocap ? ws->ocap * 2 : 4096;
		while (cap < ws->olen + h + n)
			cap *= 2;
		char *grown = realloc(ws->out, cap);
		if (!grown)
			return false;
		ws->out = grown;
		ws->ocap = cap;
	}
	memcpy(ws->out + ws->olen, head, h);
	memcpy(ws->out + ws->olen + h, p, n);
	ws->olen += h + n;
	return true;
}

static void ws_forget(struct eio_ws *ws)
{
	if (ws->watch.fd >= 0) {
		pl_loop_del(ws->e->h->loop, &ws->watch);
		close(ws->watch.fd);
		ws->watch.fd = -1;
	}
	free(ws->rbuf);
	free(ws->msg);
	free(ws->out);
	ws->rbuf = ws->msg = NULL;
	ws->out = NULL;
	ws->rlen = ws->rcap = ws->mlen = ws->olen = ws->ooff = ws->ocap = 0;
	if (ws->forgotten)
		return;
	ws->forgotten = true;
	ws->dead_next = ws->e->dead_ws;
	ws->e->dead_ws = ws;
}

/* Writes what is framed; true when all of it went. */
static bool ws_write(struct eio_ws *ws)
{
	while (ws->ooff < ws->olen && ws->watch.fd >= 0) {
		ssize_t w = write(ws->watch.fd, ws->out + ws->ooff, ws->olen - ws->ooff);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			pl_loop_mod(ws->e->h->loop, &ws->watch, EPOLLIN | EPOLLOUT);
			return false;
		}
		if (w < 0) {
			if (ws->s)
				eio_sess_end(ws->s, "transport error");
			else
				ws_forget(ws);
			return false;
		}
		ws->ooff += (size_t)w;
	}
	if (ws->watch.fd < 0)
		return false;
	free(ws->out);
	ws->out = NULL;
	ws->olen = ws->ooff = ws->ocap = 0;
	pl_loop_mod(ws->e->h->loop, &ws->watch, EPOLLIN);
	if (ws->closing) {
		shutdown(ws->watch.fd, SHUT_WR);
		ws_forget(ws);
		return false;
	}
	return true;
}

/* The session let go of ws: a close packet and frame, then it goes. */
void eio_ws_drop(struct eio_ws *ws)
{
	if (ws->watch.fd < 0 || ws->closing)
		return;
	uint8_t payload[125];
	size_t n = ws_close_payload(payload, WS_CLOSE_NORMAL, "");
	ws_append(ws, WS_TEXT, "1", 1);
	ws_append(ws, WS_CLOSE, payload, n);
	ws->closing = true;
	ws_write(ws);
}

/* Moves the session's queue into frames and writes them. */
void eio_ws_pump(struct eio_ws *ws)
{
	struct pl_eio_sess *s = ws->s;
	while (s && !s->ended && ws->watch.fd >= 0) {
		if (ws->olen && !ws_write(ws))
			return;
		struct pl_conn *c = s->c;
		pthread_mutex_lock(&c->lock);
		bool any = c->head != NULL;
		for (struct pl_qitem *it = c->head; it; it = it->next) {
			const char *d = it->buf->data;
			size_t len = it->buf->len;
			if (len && d[0] == 'b') {
				ws_append(ws, WS_BINARY, d + 1, len - 1);
				continue;
			}
			while (len) { /* text: one frame per packet */
				const char *sep = memchr(d, EIO_SEP, len);
				size_t one = sep ? (size_t)(sep - d) : len;
				ws_append(ws, WS_TEXT, d, one);
				d += one + (sep ? 1 : 0);
				len -= one + (sep ? 1 : 0);
			}
		}
		pl_conn_clear(c);
		pthread_mutex_unlock(&c->lock);
		if (!any)
			return;
	}
}

/* A whole message from the socket. */
static bool ws_message(struct eio_ws *ws, const uint8_t *p, size_t n, bool binary)
{
	struct pl_eio_sess *s = ws->s;
	if (!binary && !pl_utf8_valid((const char *)p, n))
		return false; /* RFC 6455: text is UTF-8 */
	if (!s)
		return true;
	if (!s->ws_transport) { /* probing */
		if (!binary && n == 6 && memcmp(p, "2probe", 6) == 0) {
			ws_append(ws, WS_TEXT, "3probe", 6);
			ws_write(ws);
			s->upgrading = true;
			/* The noop that releases the waiting poll; with none waiting
			 * it is queued, for the next poll or (as the reference
			 * server's) the WebSocket once upgraded. */
			if (s->get)
				eio_answer_get(s, true);
			else
				pl_eio_send_text(s, "6", 1);
			return true;
		}
		if (!binary && n == 1 && p[0] == EIO_UPGRADE && s->upgrading) {
			s->ws_transport = true;
			s->upgrading = false;
			eio_answer_get(s, true);
			eio_ws_pump(ws);
			return true;
		}
		return !binary && n > 0 && (p[0] == EIO_NOOP || p[0] == EIO_PING);
	}
	return eio_on_packet(s, (const char *)p, n, binary);
}

static void ws_gone(struct eio_ws *ws, const char *why)
{
	struct pl_eio_sess *s = ws->s;
	if (s && s->ws_transport) {
		eio_sess_end(s, why); /* drops ws too */
		if (ws->watch.fd >= 0)
			ws_forget(ws);
		return;
	}
	if (s) { /* a probe that failed: polling goes on */
		s->ws = NULL;
		s->upgrading = false;
		ws->s = NULL;
	}
	if (ws->watch.fd >= 0)
		ws_forget(ws);
}

static bool ws_data(struct eio_ws *ws, const struct ws_frame *f, uint8_t *p)
{
	size_t n = (size_t)f->payload_len;
	if ((f->opcode == WS_CONT) != ws->in_msg || ws->mlen + n > WS_MAX_MSG(ws))
		return false;
	if (f->fin && !ws->in_msg)
		return ws_message(ws, p, n, f->opcode == WS_BINARY);
	if (!ws->in_msg) {
		ws->in_msg = true;
		ws->msg_bin = f->opcode == WS_BINARY;
	}
	uint8_t *grown = realloc(ws->msg, ws->mlen + n + 1);
	if (!grown)
		return false;
	ws->msg = grown;
	memcpy(ws->msg + ws->mlen, p, n);
	ws->mlen += n;
	if (!f->fin)
		return true;
	bool ok = ws_message(ws, ws->msg, ws->mlen, ws->msg_bin);
	free(ws->msg);
	ws->msg = NULL;
	ws->mlen = 0;
	ws->in_msg = false;
	return ok;
}

static void ws_process(struct eio_ws *ws)
{
	size_t off = 0;
	while (ws->watch.fd >= 0 && !ws->closing) {
		struct ws_frame f;
		uint16_t code = WS_CLOSE_PROTOCOL;
		enum ws_parse_result r =
			ws_parse_frame(ws->rbuf + off, ws->rlen - off, WS_MAX_MSG(ws), &f, &code);
		if (r == WS_PARSE_NEED_MORE)
			break;
		if (r == WS_PARSE_ERROR) {
			ws_gone(ws, "websocket protocol error");
			return;
		}
		uint8_t *p = ws->rbuf + off + f.header_len;
		ws_unmask(p, (size_t)f.payload_len, f.mask, 0);
		off += f.header_len + (size_t)f.payload_len;
		if (f.opcode == WS_PING) {
			ws_append(ws, WS_PONG, p, (size_t)f.payload_len);
			ws_write(ws);
		} else if (f.opcode == WS_CLOSE) {
			ws_gone(ws, "transport close");
			return;
		} else if (f.opcode != WS_PONG && !ws_data(ws, &f, p)) {
			if (ws->s)
				eio_sess_end(ws->s, "parse error");
			else
				ws_gone(ws, "parse error");
			return;
		}
	}
	if (ws->watch.fd < 0 || !ws->rbuf)
		return;
	ws_rbuf_consume(&ws->rbuf, &ws->rlen, &ws->rcap, off); /* idle: no buffer */
}

static void on_ws_io(struct pl_watch *w, uint32_t events)
{
	struct eio_ws *ws = (struct eio_ws *)w;
	if (ws->watch.fd < 0)
		return;
	if (events & (EPOLLERR | EPOLLHUP)) {
		ws_gone(ws, "transport close");
		return;
	}
	if (events & EPOLLIN) {
		for (;;) {
			/* grown with what came (push/wsbuf.h): a frame of
			 * maxPayload and its header, and one read */
			if (!ws_rbuf_room(&ws->rbuf, ws->rlen, &ws->rcap, 4096,
					  WS_MAX_MSG(ws) + 4096 + 14)) {
				ws_gone(ws, "message too big");
				return;
			}
			size_t room = ws->rcap - ws->rlen;
			ssize_t n = read(ws->watch.fd, ws->rbuf + ws->rlen, room);
			if (n > 0) {
				ws->rlen += (size_t)n;
				ws_process(ws); /* frees the buffer once it is empty */
				if (ws->watch.fd < 0)
					return;
				if ((size_t)n < room)
					break; /* drained: no idle buffer for another read */
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				ws_rbuf_consume(&ws->rbuf, &ws->rlen, &ws->rcap, 0);
				break;
			}
			ws_gone(ws, "transport close");
			return;
		}
	}
	if ((events & EPOLLOUT) && ws->watch.fd >= 0) {
		if (ws_write(ws) && ws->s && ws->s->ws == ws && ws->s->ws_transport)
			eio_ws_pump(ws);
	}
}

void eio_ws_adopt(struct pl_eio *e, struct eio_mail *m)
{
	struct eio_ws *ws = calloc(1, sizeof *ws);
	if (!ws) {
		close(m->fd);
		return;
	}
	ws->e = e;
	ws->watch.fd = m->fd;
	ws->watch.fn = on_ws_io;
	int one = 1;
	setsockopt(m->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (!pl_loop_add(e->h->loop, &ws->watch, EPOLLIN)) {
		close(m->fd);
		free(ws);
		return;
	}
	struct pl_eio_sess *s;
	if (m->sid[0]) {
		s = pl_map_get(e->sessions, m->sid);
		if (!s || s->ended || s->ws || s->ws_transport || s->engine_only != m->engine_only) {
			eio_ws_drop(ws); /* no such session to upgrade */
			return;
		}
		s->ws = ws;
		ws->s = s;
	} else {
		s = eio_sess_new(e, m->token, m->engine_only);
		if (!s) {
			eio_ws_drop(ws);
			return;
		}
		s->ws = ws;
		s->ws_transport = true;
		ws->s = s;
		char open[256];
		size_t n;
		if (eio_send_open(s, open, sizeof open, &n))
			pl_eio_send_text(s, open, n);
	}
	if (m->extra_len && (ws->rbuf = malloc(m->extra_len))) {
		memcpy(ws->rbuf, m->extra, m->extra_len);
		ws->rlen = ws->rcap = m->extra_len;
		ws_process(ws);
	}
}

