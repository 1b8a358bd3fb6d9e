/* push/wsconn: WebSocket connections on the hub's loop.
 *
 * After the upgrade the hub owns the socket: it reads and reassembles
 * frames (push/ws.c parses them), answers pings, enforces the message size
 * limit and UTF-8, runs the client frames of the contract through the same
 * chat operations as REST, and writes queued events several at a time with
 * writev.  Buffers exist only while there is something in them, so an idle
 * connection costs a few hundred bytes. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "chat/chat.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/jbuf.h"
#include "base/jwt.h"
#include "base/log.h"
#include "base/utf8.h"
#include "push/hubint.h"
#include "push/ws.h"
#include "push/wsbuf.h"

#define WS_MSG_MAX (64 * 1024)   /* one client message, all fragments */
#define WS_PONG_WAIT_MS 10000
#define WS_CLOSE_WAIT_MS 5000
/* A connection's share of one hub loop pass: one read and at most this
 * many frames; whole frames left over wait for its next turn (the hub's
 * backlog), so a client that floods frames delays no one else. */
#define WS_FRAMES_PER_TURN 64
/* Input read and dropped per pass after our close frame. */
#define WS_DRAIN_PER_TURN (64 * 1024)
/* read frames of one connection waiting for the writer; beyond, refused. */
#define WS_READS_IN_FLIGHT 16

struct pl_ws_state {
	struct pl_hub *h;
	uint8_t *rbuf;                /* received, not yet parsed */
	size_t rlen, rcap;
	char *msg;                    /* the fragmented message so far */
	size_t mlen;
	bool in_msg;
	pl_utf8_state utf8;
	int64_t ping_due_ms;          /* next ping */
	int64_t pong_wait_ms;         /* a ping is unanswered since; 0 = none */
	int64_t close_sent_ms;        /* 0 = open */
	bool close_after_flush;
	/* After our close frame nothing more is processed (RFC 6455 5.5.1,
	 * 7.1.7): frames are skipped by their headers, payloads unread, and
	 * only the peer's close frame is noticed. */
	uint8_t hdr[14];              /* the header of the frame being skipped */
	uint8_t hlen;
	uint64_t skip;                /* payload bytes still to skip */
	bool blind;                   /* framing lost (a protocol error): skip all */
	bool peer_closed;             /* their close came: go once ours is out */
	bool backlog;                 /* on the hub's backlog: whole frames wait */
	struct pl_conn *backlog_next;
	atomic_int reads;             /* read frames at the writer (any thread) */
};


struct pl_buf *pl_ws_text_buf(const char *json, size_t len)
{
	uint8_t head[14];
	size_t n = ws_frame_header(head, WS_TEXT, true, len);
	struct pl_buf *b = pl_buf_alloc(n + len);
	if (b) {
		memcpy(b->data, head, n);
		memcpy(b->data + n, json, len);
	}
	return b;
}

static struct pl_buf *control_buf(enum ws_opcode op, const uint8_t *payload, size_t len)
{
	uint8_t frame[2 + 125];
	size_t n = ws_frame_header(frame, op, true, len);
	memcpy(frame + n, payload, len);
	return pl_buf_new((const char *)frame, n + len);
}

/* Tears the connection down now: no more reads or writes.  Input still
 * unread is taken first (a little, without waiting): closing a socket
 * with unread input sends a reset, which can destroy our close frame on
 * its way to the peer. */
static void drop(struct pl_hub *h, struct pl_conn *c)
{
	uint8_t sink[4096];
	for (int i = 0; c->watch.fd >= 0 && i < 16; i++)
		if (read(c->watch.fd, sink, sizeof sink) <= 0)
			break;
	pl_stream_drop(h, c);
}

void pl_ws_close(struct pl_hub *h, struct pl_conn *c, uint16_t code, const char *why)
{
	struct pl_ws_state *ws = c->ws;
	if (!ws || ws->close_sent_ms) {
		return;
	}
	uint8_t payload[125];
	size_t n = ws_close_payload(payload, code, why);
	struct pl_buf *b = control_buf(WS_CLOSE, payload, n);
	/* The close frame jumps no queue but ignores the bounds: a consumer
	 * cut off for being slow still learns why. */
	bool queued = b && (pl_conn_push(c, b) || (pl_conn_clear(c), pl_conn_push(c, b)));
	pl_buf_unref(b);
	ws->close_sent_ms = pl_mono_ms();
	ws->close_after_flush = true;
	c->closing = true;
	if (queued)
		pl_hub_mark_dirty(h, c);
	else
		drop(h, c);
}

/* Sends a JSON object to the client. */
static void send_json(struct pl_hub *h, struct pl_conn *c, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!text)
		return;
	struct pl_buf *b = pl_ws_text_buf(text, strlen(text));
	free(text);
	pl_hub_deliver_buf(h, c, b);
	pl_buf_unref(b);
}

static json_t *error_frame(const char *client_id, const pl_error *err)
{
	json_t *o = json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "code",
			      pl_code_name(err->code), "message", err->message);
	if (client_id)
		json_object_set_new(o, "client_id", json_string(client_id));
	return o;
}

static void send_error(struct pl_hub *h, struct pl_conn *c, const char *client_id,
		       const pl_error *err)
{
	send_json(h, c, error_frame(client_id, err));
}

/* ---- client frames ---- */

struct ack_ctx {
	struct pl_hub *h;
	struct pl_conn *c;
	char *client_id;
};

/* Runs on the writer thread after the commit: the ack follows the commit,
 * then travels to the hub thread through its mailbox.  Written as text
 * around the stored message's text: this runs once per message sent. */
static void ack_done(void *ud, const char *msg, size_t len, bool created, const pl_error *err)
{
	(void)created; /* an ack is an ack: a retry gets the first message */
	struct ack_ctx *a = ud;
	struct pl_jbuf b = {0};
	char *text = NULL;
	size_t n = 0;
	if (msg) {
		PL_JB_LIT(&b, "{\"type\":\"ack\",\"message\":");
		pl_jb_put(&b, msg, len);
		if (a->client_id) {
			PL_JB_LIT(&b, ",\"client_id\":");
			pl_jb_str_or_null(&b, a->client_id);
		}
		PL_JB_LIT(&b, "}");
		text = pl_jb_take(&b, &n);
	} else {
		json_t *o = error_frame(a->client_id, err);
		text = o ? json_dumps(o, JSON_COMPACT) : NULL;
		n = text ? strlen(text) : 0;
		json_decref(o);
	}
	if (text) {
		pl_hub_post_buf(a->h, a->c, pl_ws_text_buf(text, n));
		free(text);
	}
	/* After the post: at the stop, none in flight means every ack is in
	 * the mailbox. */
	atomic_fetch_sub(&a->h->sends_in_flight, 1);
	pl_conn_unref(a->c);
	free(a->client_id);
	free(a);
}

static void frame_send(struct pl_hub *h, struct pl_conn *c, json_t *f)
{
	const char *client_id = json_string_value(json_object_get(f, "client_id"));
	struct ack_ctx *a = calloc(1, sizeof *a);
	if (!a)
		return;
	a->h = h;
	a->c = c;
	a->client_id = client_id ? strdup(client_id) : NULL;
	pl_conn_ref(c);
	atomic_fetch_add(&h->sends_in_flight, 1);
	pl_chat_post_async(h->ctx, c->user, json_string_value(json_object_get(f, "room")),
			   json_string_value(json_object_get(f, "text")), client_id, ack_done, a);
}

/* A read frame is a store write: queued to the writer like a send, never
 * awaited on the hub thread; an error comes back as an error frame
 * through the mailbox.  A connection has at most WS_READS_IN_FLIGHT at the
 * writer: a client that floods reads gets rate_limited, and the writer's
 * batches stay open to everyone else. */
struct read_ctx {
	struct pl_hub *h;
	struct pl_conn *c;
};

static void post_error(struct pl_hub *h, struct pl_conn *c, const pl_error *err)
{
	json_t *o = error_frame(NULL, err);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text)
		pl_hub_post_buf(h, c, pl_ws_text_buf(text, strlen(text)));
	free(text);
}

/* On the writer thread after the commit (or on the hub's, when refused
 * before queueing). */
static void read_done(void *ud, const pl_error *err)
{
	struct read_ctx *r = ud;
	if (err->code != PL_OK)
		post_error(r->h, r->c, err);
	atomic_fetch_sub(&r->c->ws->reads, 1);
	pl_conn_unref(r->c);
	free(r);
}

static enum pl_code frame_read(struct pl_hub *h, struct pl_conn *c, json_t *f, pl_error *err)
{
	json_t *v = json_object_get(f, "up_to");
	if (!json_is_integer(v))
		return pl_fail(err, PL_INVALID_ARGUMENT, "up_to must be a message id");
	if (atomic_load(&c->ws->reads) >= WS_READS_IN_FLIGHT) {
		pl_fail(err, PL_RATE_LIMITED, "read: too many read frames waiting, slow down");
		err->retry_after = 1;
		return err->code;
	}
	struct read_ctx *r = malloc(sizeof *r);
	if (!r)
		return pl_fail(err, PL_UNAVAILABLE, "out of memory");
	r->h = h;
	r->c = c;
	pl_conn_ref(c);
	atomic_fetch_add(&c->ws->reads, 1);
	pl_chat_read_async(h->ctx, c->user, json_string_value(json_object_get(f, "room")),
			   json_integer_value(v), read_done, r);
	return PL_OK;
}

/* {"type":"auth","token":..}: a fresh token of the connection's own user
 * moves its end to the token's exp.  Verified here, without the sign-up
 * REST requests do (the user is known: they are connected). */
static enum pl_code frame_auth(struct pl_hub *h, struct pl_conn *c, json_t *f, pl_error *err)
{
	const char *token = json_string_value(json_object_get(f, "token"));
	const struct pl_config *cfg = h->ctx->cfg;
	struct pl_claims who;
	const char *why = "no secret to check it with";
	if (!token || !*token)
		return pl_fail(err, PL_INVALID_ARGUMENT, "token is required");
	if (!cfg->jwt_secret || !pl_jwt_verify(cfg->jwt_secret, cfg->jwt_secret_len, token,
					       pl_now_ms() / 1000, &who, &why))
		return pl_fail(err, PL_UNAUTHENTICATED, "token: %s", why);
	if (strcmp(who.sub, c->user) != 0)
		return pl_fail(err, PL_PERMISSION_DENIED,
			       "token: it is another user's; a connection keeps its user");
	c->exp_ms = who.exp * 1000;
	send_json(h, c, json_pack("{s:s, s:s, s:I}", "type", "auth", "user", c->user, "exp",
				  (json_int_t)who.exp));
	return PL_OK;
}

static enum pl_code frame_rooms(struct pl_hub *h, struct pl_conn *c, json_t *f, bool add,
				pl_error *err)
{
	json_t *rooms = json_object_get(f, "rooms");
	if (!json_is_array(rooms))
		return pl_fail(err, PL_INVALID_ARGUMENT, "rooms must be an array of room ids");
	pl_store *s = h->store;
	size_t i;
	json_t *r;
	json_array_foreach(rooms, i, r) {
		const char *id = json_string_value(r);
		if (pl_check_id("rooms", id, err) != PL_OK)
			return err->code;
		if (add && !pl_store_is_member(s, id, c->user))
			return pl_fail(err, PL_PERMISSION_DENIED, "rooms: you are not a member of %s",
				       id);
	}
	/* An explicit list replaces "all my rooms". */
	c->all_rooms = false;
	json_array_foreach(rooms, i, r) {
		if (add)
			pl_hub_subscribe(h, c, json_string_value(r));
		else
			pl_hub_unsubscribe(h, c, json_string_value(r));
	}
	return PL_OK;
}

static enum pl_code frame_presence(struct pl_hub *h, struct pl_conn *c, json_t *f, pl_error *err)
{
	json_t *users = json_object_get(f, "users");
	if (!json_is_array(users) || json_array_size(users) > 500)
		return pl_fail(err, PL_INVALID_ARGUMENT, "users must be an array of at most 500 ids");
	size_t i;
	json_t *u;
	json_array_foreach(users, i, u) {
		if (pl_check_id("users", json_string_value(u), err) != PL_OK)
			return err->code;
	}
	pl_hub_set_presence(h, c, users);
	/* Say where each one stands now, so the client starts from the truth. */
	json_array_foreach(users, i, u) {
		json_t *st = pl_chat_status(h->ctx, c->user, json_string_value(u));
		json_t *ev = st ? pl_event_json(0, "presence", "", pl_now_ms(), st) : NULL;
		json_decref(st);
		if (ev)
			send_json(h, c, ev);
	}
	return PL_OK;
}

static void handle_frame(struct pl_hub *h, struct pl_conn *c, json_t *f)
{
	pl_error err = {0};
	enum pl_code rc = PL_OK;
	const char *type = json_string_value(json_object_get(f, "type"));
	const char *room = json_string_value(json_object_get(f, "room"));
	json_t *v;
	if (!type) {
		rc = pl_fail(&err, PL_INVALID_ARGUMENT, "type is required");
	} else if (strcmp(type, "send") == 0) {
		frame_send(h, c, f);
	} else if (strcmp(type, "typing") == 0) {
		v = json_object_get(f, "typing");
		rc = json_is_boolean(v) ? pl_chat_typing(h->ctx, c->user, room, json_is_true(v), &err)
					: pl_fail(&err, PL_INVALID_ARGUMENT, "typing must be true or false");
	} else if (strcmp(type, "read") == 0) {
		rc = frame_read(h, c, f, &err);
	} else if (strcmp(type, "auth") == 0) {
		rc = frame_auth(h, c, f, &err);
	} else if (strcmp(type, "subscribe") == 0 || strcmp(type, "unsubscribe") == 0) {
		rc = frame_rooms(h, c, f, type[0] == 's', &err);
	} else if (strcmp(type, "presence") == 0) {
		rc = frame_presence(h, c, f, &err);
	} else if (strcmp(type, "ping") == 0) {
		send_json(h, c, json_pack("{s:s}", "type", "pong"));
	} else {
		rc = pl_fail(&err, PL_INVALID_ARGUMENT, "type: unknown frame type %s", type);
	}
	if (rc != PL_OK)
		send_error(h, c, json_string_value(json_object_get(f, "client_id")), &err);
}

static void handle_message(struct pl_hub *h, struct pl_conn *c, const char *text, size_t len)
{
	if (c->kind == PL_CONN_ONLINE_WS)
		return; /* the old status feed only listens */
	if (c->exp_ms && pl_now_ms() >= c->exp_ms) {
		/* Past the token's exp nothing is done for the client: the
		 * hub's tick would close it within a moment anyway. */
		pl_ws_close(h, c, PL_WS_CLOSE_EXPIRED, "token expired");
		return;
	}
	json_error_t jerr;
	json_t *f = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	pl_error err;
	if (!json_is_object(f)) {
		pl_fail(&err, PL_INVALID_ARGUMENT, "frame must be a JSON object: %s",
			f ? "not an object" : jerr.text);
		send_error(h, c, NULL, &err);
	} else {
		handle_frame(h, c, f);
	}
	json_decref(f);
}

/* ---- frames ---- */

static bool msg_append(struct pl_ws_state *ws, const uint8_t *p, size_t n)
{
	char *grown = realloc(ws->msg, ws->mlen + n + 1);
	if (!grown)
		return false;
	ws->msg = grown;
	memcpy(ws->msg + ws->mlen, p, n);
	ws->mlen += n;
	return true;
}

static void msg_reset(struct pl_ws_state *ws)
{
	free(ws->msg);
	ws->msg = NULL;
	ws->mlen = 0;
	ws->in_msg = false;
	ws->utf8 = 0;
}

/* Data frames: text only (binary is 1003), fragments reassembled with
 * UTF-8 checked as they come (1007 at the first bad byte), 1009 past the
 * size limit. */
static void data_frame(struct pl_hub *h, struct pl_conn *c, const struct ws_frame *f, uint8_t *p)
{
	struct pl_ws_state *ws = c->ws;
	size_t n = (size_t)f->payload_len;
	if (f->opcode == WS_BINARY) {
		pl_ws_close(h, c, WS_CLOSE_UNSUPPORTED, "text frames only");
		return;
	}
	if ((f->opcode == WS_CONT) != ws->in_msg) {
		pl_ws_close(h, c, WS_CLOSE_PROTOCOL,
			    ws->in_msg ? "expected a continuation frame" : "nothing to continue");
		return;
	}
	if (ws->mlen + n > WS_MSG_MAX) {
		pl_ws_close(h, c, WS_CLOSE_TOO_BIG, "message too big");
		return;
	}
	if (!pl_utf8_feed(&ws->utf8, p, n) || (f->fin && !pl_utf8_done(ws->utf8))) {
		pl_ws_close(h, c, WS_CLOSE_BAD_DATA, "text is not valid UTF-8");
		return;
	}
	if (f->fin && !ws->in_msg) { /* the common case: one frame, no copy */
		handle_message(h, c, (const char *)p, n);
		ws->utf8 = 0;
		return;
	}
	ws->in_msg = true;
	if (!msg_append(ws, p, n)) {
		pl_ws_close(h, c, WS_CLOSE_INTERNAL, "out of memory");
		return;
	}
	if (f->fin) {
		handle_message(h, c, ws->msg, ws->mlen);
		msg_reset(ws);
	}
}

static void control_frame(struct pl_hub *h, struct pl_conn *c, const struct ws_frame *f,
			  uint8_t *p)
{
	struct pl_ws_state *ws = c->ws;
	size_t n = (size_t)f->payload_len;
	if (f->opcode == WS_PING) {
		struct pl_buf *b = control_buf(WS_PONG, p, n);
		pl_hub_deliver_buf(h, c, b);
		pl_buf_unref(b);
	} else if (f->opcode == WS_PONG) {
		ws->pong_wait_ms = 0;
	} else if (f->opcode == WS_CLOSE) {
		uint16_t code;
		if (!ws_close_payload_valid(p, n, &code)) {
			pl_ws_close(h, c, WS_CLOSE_PROTOCOL, "bad close frame");
		} else {
			/* Their close, answered: the handshake is complete once
			 * ours is out. */
			pl_ws_close(h, c, code == 1005 ? WS_CLOSE_NORMAL : code, "");
			ws->peer_closed = true;
		}
	}
}

/* Skips input after our close frame: frame by frame while the framing is
 * known (a header at a time, payloads unread), noticing only the peer's
 * close frame; after a framing error, everything. */
static void skip_input(struct pl_ws_state *ws, const uint8_t *p, size_t n)
{
	while (n > 0 && !ws->blind && !ws->peer_closed) {
		if (ws->skip) {
			size_t k = ws->skip < n ? (size_t)ws->skip : n;
			ws->skip -= k;
			p += k;
			n -= k;
			continue;
		}
		ws->hdr[ws->hlen++] = *p++;
		n--;
		struct ws_frame f;
		uint16_t code;
		if (ws_parse_frame(ws->hdr, ws->hlen, UINT64_MAX, &f, &code) == WS_PARSE_ERROR) {
			ws->blind = true;
			break;
		}
		if (!f.header_len || ws->hlen < f.header_len)
			continue; /* more of the header to come */
		ws->hlen = 0;
		if (f.opcode == WS_CLOSE)
			ws->peer_closed = true;
		else
			ws->skip = f.payload_len;
	}
}

/* Our close frame is queued: what is left of the read buffer is skipped,
 * and the buffers go.  The connection ends when the peer's close (or FIN)
 * has come and ours is out, or after WS_CLOSE_WAIT_MS. */
static void stop_processing(struct pl_conn *c, size_t off)
{
	struct pl_ws_state *ws = c->ws;
	if (off < ws->rlen)
		skip_input(ws, ws->rbuf + off, ws->rlen - off);
	pl_ws_release(c);
}

static void backlog_add(struct pl_hub *h, struct pl_conn *c)
{
	if (c->ws->backlog)
		return;
	c->ws->backlog = true;
	pl_conn_ref(c);
	c->ws->backlog_next = h->ws_backlog;
	h->ws_backlog = c;
}

/* Handles the whole frames in the read buffer, at most WS_FRAMES_PER_TURN
 * of them: the rest waits for the connection's next turn. */
static void process(struct pl_hub *h, struct pl_conn *c)
{
	struct pl_ws_state *ws = c->ws;
	size_t off = 0;
	for (int budget = WS_FRAMES_PER_TURN; !ws->close_sent_ms && c->watch.fd >= 0; budget--) {
		if (budget == 0) {
			backlog_add(h, c);
			break;
		}
		struct ws_frame f;
		uint16_t code = WS_CLOSE_PROTOCOL;
		/* A fragment is refused (1009) as soon as its header shows the
		 * message would pass the limit, not once its payload is in:
		 * reassembled fragments plus a frame never pin twice the limit.
		 * Control frames (at most 125 bytes) always fit. */
		size_t room = ws->mlen < WS_MSG_MAX - 125 ? WS_MSG_MAX - ws->mlen : 125;
		enum ws_parse_result r =
			ws_parse_frame(ws->rbuf + off, ws->rlen - off, room, &f, &code);
		if (r == WS_PARSE_NEED_MORE)
			break;
		if (r == WS_PARSE_ERROR) {
			pl_ws_close(h, c, code, code == WS_CLOSE_TOO_BIG ? "message too big"
									 : "protocol error");
			/* An oversized frame's header is sound: it is skipped
			 * whole.  Any other error loses the framing. */
			ws->blind = code != WS_CLOSE_TOO_BIG;
			break;
		}
		uint8_t *p = ws->rbuf + off + f.header_len;
		ws_unmask(p, (size_t)f.payload_len, f.mask, 0);
		off += f.header_len + (size_t)f.payload_len;
		if (f.opcode >= WS_CLOSE)
			control_frame(h, c, &f, p);
		else
			data_frame(h, c, &f, p);
	}
	if (c->watch.fd < 0 || !c->ws)
		return; /* dropped: its buffers are gone */
	if (ws->close_sent_ms) {
		stop_processing(c, off);
		return;
	}
	ws_rbuf_consume(&ws->rbuf, &ws->rlen, &ws->rcap, off); /* idle: no buffer */
}

/* The buffer grows with what came (push/wsbuf.h), up to a whole message
 * and its frame header plus one read. */
static bool ensure_room(struct pl_ws_state *ws, size_t want)
{
	return ws_rbuf_room(&ws->rbuf, ws->rlen, &ws->rcap, want, WS_MSG_MAX + 4096 + 14);
}

/* After our close: input is read and dropped, a bounded amount a pass, so
 * a peer that keeps sending neither fills a buffer nor keeps the level-
 * triggered socket spinning the loop. */
static void drain(struct pl_hub *h, struct pl_conn *c)
{
	struct pl_ws_state *ws = c->ws;
	uint8_t sink[16384];
	/* Also after the peer's close: what follows it is dropped too, so a
	 * peer that does not read our close cannot keep the socket readable. */
	for (size_t taken = 0; taken < WS_DRAIN_PER_TURN;) {
		ssize_t n = read(c->watch.fd, sink, sizeof sink);
		if (n > 0) {
			skip_input(ws, sink, (size_t)n);
			taken += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		drop(h, c); /* EOF or error: the peer is gone */
		return;
	}
	if (ws->peer_closed && !c->head)
		drop(h, c); /* both closes are out */
}

/* One turn of a readable connection: one read, then its frames. */
static void on_readable(struct pl_hub *h, struct pl_conn *c)
{
	struct pl_ws_state *ws = c->ws;
	if (ws->close_sent_ms) {
		if (ws->rlen) /* closed by the hub with frames still buffered */
			stop_processing(c, 0);
		drain(h, c);
		return;
	}
	if (ws->backlog)
		return; /* frames already wait: its turn comes from the backlog */
	if (!ensure_room(ws, 4096)) {
		pl_ws_close(h, c, WS_CLOSE_TOO_BIG, "message too big");
		ws->blind = true; /* in the middle of a frame */
		stop_processing(c, ws->rlen);
		return;
	}
	ssize_t n = read(c->watch.fd, ws->rbuf + ws->rlen, ws->rcap - ws->rlen);
	if (n > 0) {
		ws->rlen += (size_t)n;
		process(h, c);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	drop(h, c); /* EOF or error: the peer is gone */
}

/* Gives every connection with whole frames waiting its next turn (each
 * loop pass). */
void pl_ws_backlog(struct pl_hub *h)
{
	struct pl_conn *list = h->ws_backlog;
	h->ws_backlog = NULL;
	while (list) {
		struct pl_conn *c = list;
		list = c->ws->backlog_next;
		c->ws->backlog_next = NULL;
		c->ws->backlog = false;
		if (c->watch.fd >= 0 && c->ws->close_sent_ms)
			stop_processing(c, 0);
		else if (c->watch.fd >= 0 && c->ws->rlen)
			process(h, c);
		pl_conn_unref(c);
	}
}

/* ---- writing ---- */

void pl_ws_flush(struct pl_hub *h, struct pl_conn *c)
{
	if (!pl_stream_write(h, c))
		return;
	/* Our close frame is out: half-close, so the peer sees it and its FIN
	 * (or its close frame) ends the connection without a reset that could
	 * swallow the close code. */
	if (c->ws && c->ws->close_after_flush) {
		c->ws->close_after_flush = false;
		shutdown(c->watch.fd, SHUT_WR);
	}
	if (c->ws && c->ws->close_sent_ms && c->ws->peer_closed)
		drop(h, c); /* both closes are out: the handshake is complete */
}

static void on_io(struct pl_watch *w, uint32_t events)
{
	struct pl_conn *c = (struct pl_conn *)w; /* the watch is the first member */
	struct pl_hub *h = c->ws->h;
	if (events & (EPOLLERR | EPOLLHUP)) {
		drop(h, c);
		return;
	}
	if (events & EPOLLIN)
		on_readable(h, c);
	if (c->watch.fd >= 0 && (events & EPOLLOUT))
		pl_ws_flush(h, c);
}

void pl_ws_tick(struct pl_hub *h, struct pl_conn *c, int64_t now)
{
	struct pl_ws_state *ws = c->ws;
	if (!ws || c->watch.fd < 0)
		return;
	if (ws->close_sent_ms) {
		if (now - ws->close_sent_ms > WS_CLOSE_WAIT_MS)
			drop(h, c);
		return;
	}
	if (ws->pong_wait_ms > 0 && now - ws->pong_wait_ms > WS_PONG_WAIT_MS) {
		pl_ws_close(h, c, WS_CLOSE_GOING_AWAY, "ping timeout");
		drop(h, c);
		return;
	}
	if (now >= ws->ping_due_ms) {
		ws->ping_due_ms = now + (int64_t)h->ctx->cfg->ping_interval * 1000;
		if (!ws->pong_wait_ms)
			ws->pong_wait_ms = now;
		if (!h->ping) /* one frame shared by every queue */
			h->ping = control_buf(WS_PING, (const uint8_t *)"parley", 6);
		if (h->ping)
			pl_hub_deliver_buf(h, c, h->ping);
	}
}

void pl_ws_refuse(int fd)
{
	uint8_t payload[125], frame[2 + 125];
	size_t n = ws_close_payload(payload, WS_CLOSE_GOING_AWAY, "server shutting down");
	size_t head = ws_frame_header(frame, WS_CLOSE, true, n);
	memcpy(frame + head, payload, n);
	/* A socket just upgraded has room for a few bytes: no need to wait. */
	(void)!write(fd, frame, head + n);
	shutdown(fd, SHUT_WR);
	pl_stream_close(fd);
}

void pl_ws_release(struct pl_conn *c)
{
	if (!c->ws)
		return;
	free(c->ws->rbuf);
	free(c->ws->msg);
	c->ws->rbuf = NULL;
	c->ws->msg = NULL;
	c->ws->rlen = c->ws->rcap = c->ws->mlen = 0;
}

bool pl_ws_adopt(struct pl_hub *h, struct pl_conn *c, int fd, const char *extra, size_t len)
{
	struct pl_ws_state *ws = calloc(1, sizeof *ws);
	if (!ws)
		return false;
	ws->h = h;
	/* The first ping comes somewhere in the second half of the interval,
	 * spread by the connection's serial: connections that arrived together
	 * (a reconnect storm, a benchmark) would otherwise all be pinged in the
	 * same tick, thousands of writes that hold up the events behind them. */
	int64_t interval = (int64_t)h->ctx->cfg->ping_interval * 1000;
	int64_t spread = interval / 2 > 0 ? (int64_t)(c->serial * 2654435761u % (uint64_t)(interval / 2)) : 0;
	ws->ping_due_ms = pl_mono_ms() + interval - spread;
	atomic_init(&ws->reads, 0);
	c->ws = ws;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->watch.fd = fd;
	c->watch.fn = on_io;
	if (len && (!ensure_room(ws, len) || !memcpy(ws->rbuf, extra, len)))
		return false;
	ws->rlen = len;
	if (!pl_loop_add(h->loop, &c->watch, EPOLLIN)) {
		c->watch.fd = -1;
		return false;
	}
	return true;
}

/* Frames that arrived with the handshake, once the connection is attached. */
void pl_ws_start(struct pl_hub *h, struct pl_conn *c)
{
	if (c->ws && c->ws->rlen && c->watch.fd >= 0)
		process(h, c);
}
