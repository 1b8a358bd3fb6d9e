/* push/sio_bind: see sio_bind.h.
 *
 * A socket is connected to the main namespace once its CONNECT carried a
 * valid token (auth.token, or ?token= of the handshake).  It then is a hub
 * connection of the user like any other: subscribed to the user's rooms,
 * counted for presence, resumed from the store.  Connection state recovery
 * rides on the store's event ids: the pid names the event id the socket
 * started from ("<random>-<id>"), every stored event's emit carries its id
 * as its last argument (the offset), and a CONNECT with pid and offset is
 * replayed from the offset (or from the pid's id when the socket got no
 * event yet), on any node, answering the same pid, so socket.recovered is
 * true. */
#include "push/sio_bind.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "base/clock.h"
#include "base/jbuf.h"
#include "base/log.h"
#include "push/eiosess.h"
#include "push/hubint.h"
#include "push/sio.h"

#define PID_MAX 48

struct sio_sock {
	bool connected;                        /* the main namespace */
	bool custom;                           /* conformance: /custom */
	char pid[PID_MAX + 1];
	/* a binary packet waiting for its attachments */
	int need;
	enum sio_type ptype;
	int64_t pack;
	char pnsp[SIO_NSP_MAX + 1];
	json_t *pdata;
	struct pl_buf *att[SIO_MAX_ATTACHMENTS];
	int natt;
};

static struct sio_sock *sock_of(struct pl_eio_sess *s)
{
	void **up = pl_eio_upper(s);
	if (!*up)
		*up = calloc(1, sizeof(struct sio_sock));
	return *up;
}

static void pending_clear(struct sio_sock *k)
{
	json_decref(k->pdata);
	k->pdata = NULL;
	for (int i = 0; i < k->natt; i++)
		pl_buf_unref(k->att[i]);
	k->natt = k->need = 0;
}

/* ---- sending ---- */

/* One packet: "4" + header + JSON, then its attachments (binary packets,
 * already 'b' + bytes). */
static bool emit_packet(struct pl_eio_sess *s, enum sio_type type, const char *nsp,
			int64_t ack, json_t *data, struct pl_buf **att, int natt)
{
	if (natt)
		type = type == SIO_ACK ? SIO_BINARY_ACK : SIO_BINARY_EVENT;
	char head[SIO_HEADER_MAX + 1];
	head[0] = '4';
	size_t h = 1 + sio_header(head + 1, type, natt, nsp, ack);
	char *text = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	size_t tn = text ? strlen(text) : 0;
	struct pl_buf *b = (data && !text) ? NULL : pl_buf_alloc(h + tn);
	bool ok = b != NULL;
	if (b) {
		memcpy(b->data, head, h);
		if (tn)
			memcpy(b->data + h, text, tn);
		ok = pl_eio_send(s, b);
	}
	pl_buf_unref(b);
	free(text);
	for (int i = 0; ok && i < natt; i++)
		ok = pl_eio_send(s, att[i]);
	return ok;
}

static void ack_with(struct pl_eio_sess *s, const char *nsp, int64_t ack, json_t *value)
{
	if (ack >= 0) {
		json_t *arr = json_array();
		json_array_append(arr, value);
		emit_packet(s, SIO_ACK, nsp, ack, arr, NULL, 0);
		json_decref(arr);
	}
	json_decref(value);
}

static json_t *error_value(const pl_error *err)
{
	return json_pack("{s:{s:s, s:s}}", "error", "code", pl_code_name(err->code), "message",
			 err->message);
}

/* ---- the chat binding: client events ---- */

/* The room an event names: a room id, or {chatId|room}. */
static const char *room_arg(json_t *v)
{
	if (json_is_string(v))
		return json_string_value(v);
	const char *r = json_string_value(json_object_get(v, "chatId"));
	return r ? r : json_string_value(json_object_get(v, "room"));
}

/* "43<ack>[value]" as a buffer (value stolen); NULL when out of memory. */
static struct pl_buf *ack_buf(int64_t ack, json_t *value)
{
	json_t *arr = json_array();
	json_array_append_new(arr, value ? value : json_null());
	char *text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	char head[SIO_HEADER_MAX + 1];
	head[0] = '4';
	size_t h = 1 + sio_header(head + 1, SIO_ACK, 0, "/", ack);
	size_t tn = text ? strlen(text) : 0;
	struct pl_buf *b = text ? pl_buf_alloc(h + tn) : NULL;
	if (b) {
		memcpy(b->data, head, h);
		memcpy(b->data + h, text, tn);
	}
	free(text);
	return b;
}

/* Sends an ack from any thread, through the hub's mailbox. */
static void post_ack(struct pl_hub *h, struct pl_conn *c, int64_t ack, json_t *value)
{
	if (ack < 0) {
		json_decref(value);
		return;
	}
	struct pl_buf *b = ack_buf(ack, value);
	if (b)
		pl_hub_post_buf(h, c, b);
}

/* One client event for the worker thread (pl_eio_work): the chat
 * operations wait for their commit there, never on the hub thread, and
 * one worker keeps a socket's events in the order they came. */
struct op_args {
	void (*op)(struct op_args *a);
	struct pl_hub *h;
	struct pl_conn *c;            /* a reference */
	char user[PL_ID_MAX + 1];
	json_t *arg;                  /* the first argument after the name (a copy) */
	int64_t ack;
};

static void op_join(struct op_args *a)
{
	pl_error err;
	json_t *room = NULL;
	if (pl_chat_join(a->h->ctx, a->user, room_arg(a->arg), &room, &err) != PL_OK)
		post_ack(a->h, a->c, a->ack, error_value(&err));
	else
		post_ack(a->h, a->c, a->ack, json_pack("{s:o}", "room", room ? room : json_null()));
}

static void op_leave(struct op_args *a)
{
	pl_error err;
	const char *room = room_arg(a->arg);
	if (pl_chat_leave(a->h->ctx, a->user, room, &err) != PL_OK)
		post_ack(a->h, a->c, a->ack, error_value(&err));
	else
		post_ack(a->h, a->c, a->ack, json_pack("{s:s}", "room", room));
}

struct post_ack {
	struct pl_hub *h;
	struct pl_conn *c;
	int64_t ack;
};

/* Adds chatId and content, as receive_message has them. */
static json_t *message_shape(json_t *msg)
{
	json_t *o = json_deep_copy(msg);
	if (json_is_object(o)) {
		json_object_set(o, "chatId", json_object_get(msg, "room"));
		json_object_set(o, "content", json_object_get(msg, "text"));
	}
	return o;
}

/* On the writer thread after the commit (or at once when refused): the
 * ack travels to the hub thread through its mailbox, like a WebSocket
 * send's. */
static void post_done(void *ud, const char *msg, size_t len, bool created, const pl_error *err)
{
	(void)created;
	struct post_ack *p = ud;
	if (p->ack >= 0) {
		json_t *m = msg ? json_loadb(msg, len, 0, NULL) : NULL;
		post_ack(p->h, p->c, p->ack, m ? message_shape(m) : error_value(err));
		json_decref(m);
	}
	/* After the post: at the stop, none in flight means every ack is in
	 * the mailbox (as for a WebSocket send). */
	atomic_fetch_sub(&p->h->sends_in_flight, 1);
	pl_conn_unref(p->c);
	free(p);
}

static void op_send(struct op_args *a)
{
	json_t *o = a->arg;
	const char *text = json_string_value(json_object_get(o, "content"));
	if (!text)
		text = json_string_value(json_object_get(o, "text"));
	struct post_ack *p = calloc(1, sizeof *p);
	if (!p)
		return;
	p->h = a->h;
	p->c = a->c;
	p->ack = a->ack;
	pl_conn_ref(a->c);
	atomic_fetch_add(&a->h->sends_in_flight, 1);
	pl_chat_post_async(a->h->ctx, a->user, room_arg(o), text,
			   json_string_value(json_object_get(o, "client_id")), post_done, p);
}

static void typing(struct op_args *a, bool on)
{
	pl_error err;
	if (pl_chat_typing(a->h->ctx, a->user, room_arg(a->arg), on, &err) != PL_OK)
		post_ack(a->h, a->c, a->ack, error_value(&err));
	else
		post_ack(a->h, a->c, a->ack, json_object());
}

static void op_typing(struct op_args *a) { typing(a, true); }
static void op_stop_typing(struct op_args *a) { typing(a, false); }

/* The newest message of room (0: none, or not a member). */
static int64_t newest(struct pl_ctx *ctx, const char *room, const char *user)
{
	pl_store *st = pl_ctx_reader(ctx);
	int64_t id = 0;
	if (st && room && pl_store_is_member(st, room, user)) {
		struct pl_page page = {.limit = 1};
		json_t *pg = pl_store_messages(st, room, &page);
		json_t *msgs = json_object_get(pg, "messages");
		id = json_integer_value(
			json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "id"));
		json_decref(pg);
	}
	if (st)
		pl_ctx_reader_put(ctx, st);
	return id;
}

static void op_read(struct op_args *a)
{
	pl_error err;
	const char *room = room_arg(a->arg);
	json_t *v = json_object_get(a->arg, "up_to");
	int64_t up_to = json_is_integer(v) ? json_integer_value(v) : 0;
	if (!v) { /* the newest message, by default */
		up_to = newest(a->h->ctx, room, a->user);
		if (up_to < 1 && room && pl_check_id("room", room, &err) == PL_OK) {
			post_ack(a->h, a->c, a->ack, json_pack("{s:I}", "up_to", (json_int_t)0));
			return; /* nothing to read */
		}
	}
	if (pl_chat_read(a->h->ctx, a->user, room, up_to, &err) != PL_OK)
		post_ack(a->h, a->c, a->ack, error_value(&err));
	else
		post_ack(a->h, a->c, a->ack, json_pack("{s:I}", "up_to", (json_int_t)up_to));
}

static void run_op(void *arg)
{
	struct op_args *a = arg;
	a->op(a);
	json_decref(a->arg);
	pl_conn_unref(a->c);
	free(a);
}

/* Client event -> chat operation: the contract's first table. */
static const struct {
	const char *event;
	void (*op)(struct op_args *a);
} client_events[] = {
	{"join", op_join},           {"join_room", op_join},
	{"leave", op_leave},         {"leave_room", op_leave},
	{"send_message", op_send},   {"typing", op_typing},
	{"stop_typing", op_stop_typing}, {"mark_chat_read", op_read},
};

/* ---- the chat binding: Parley events ---- */

struct emit {
	const char *name;
	json_t *value;
};

static json_t *data_of(json_t *ev) { return json_object_get(ev, "data"); }

static int shape_message(json_t *ev, const char *name, struct pl_hub *h, struct emit *out)
{
	(void)h;
	json_t *o = message_shape(data_of(ev));
	if (json_is_object(o) && !json_object_get(o, "chatId"))
		json_object_set(o, "chatId", json_object_get(ev, "room"));
	out[0] = (struct emit){name, o};
	return 1;
}

static int shape_typing(json_t *ev, const char *name, struct pl_hub *h, struct emit *out)
{
	(void)name, (void)h;
	bool on = json_is_true(json_object_get(data_of(ev), "typing"));
	out[0] = (struct emit){on ? "typing" : "stop_typing",
			       json_pack("{s:O, s:O}", "chatId", json_object_get(ev, "room"),
					 "user", json_object_get(data_of(ev), "user"))};
	return 1;
}

static int shape_presence(json_t *ev, const char *name, struct pl_hub *h, struct emit *out)
{
	(void)name, (void)h;
	json_t *d = data_of(ev);
	const char *status = json_string_value(json_object_get(d, "status"));
	bool off = !status || strcmp(status, "offline") == 0;
	json_t *seen = json_object_get(d, "last_seen");
	out[0] = (struct emit){off ? "user_offline" : "user_online",
			       json_pack("{s:O, s:s, s:O}", "userId", json_object_get(d, "user"),
					 "status", status ? status : "offline", "lastSeen",
					 off && seen ? seen : json_null())};
	return 1;
}

struct seen_receipt {
	int64_t read, delivered;
};

/* messages_read when read_up_to advanced, message_delivered when
 * delivered_up_to did (both can). */
static int shape_receipt(json_t *ev, const char *name, struct pl_hub *h, struct emit *out)
{
	(void)name;
	json_t *d = data_of(ev);
	const char *room = json_string_value(json_object_get(ev, "room"));
	const char *user = json_string_value(json_object_get(d, "user"));
	int64_t read = json_integer_value(json_object_get(d, "read_up_to"));
	int64_t delivered = json_integer_value(json_object_get(d, "delivered_up_to"));
	if (!room || !user)
		return 0;
	char key[2 * PL_ID_MAX + 8];
	snprintf(key, sizeof key, "%s\x1f%s", room, user);
	pl_map *m = pl_eio_receipts(h);
	struct seen_receipt *seen = m ? pl_map_get(m, key) : NULL;
	if (m && !seen && (seen = calloc(1, sizeof *seen)) && !pl_map_put(m, key, seen)) {
		free(seen);
		seen = NULL;
	}
	bool read_moved = !seen || read > seen->read;
	bool delivered_moved = !seen || delivered > seen->delivered;
	if (seen) {
		seen->read = read > seen->read ? read : seen->read;
		seen->delivered = delivered > seen->delivered ? delivered : seen->delivered;
	}
	int n = 0;
	if (read_moved && read > 0)
		out[n++] = (struct emit){"messages_read",
					 json_pack("{s:s, s:s, s:I}", "chatId", room, "userId", user,
						   "up_to", (json_int_t)read)};
	if (delivered_moved && delivered > 0)
		out[n++] = (struct emit){"message_delivered",
					 json_pack("{s:s, s:s, s:I}", "chatId", room, "userId", user,
						   "up_to", (json_int_t)delivered)};
	return n;
}

static int shape_member(json_t *ev, const char *name, struct pl_hub *h, struct emit *out)
{
	(void)h;
	out[0] = (struct emit){name, json_pack("{s:O, s:O}", "chatId", json_object_get(ev, "room"),
					       "userId",
					       json_object_get(data_of(ev), "user") ?: json_null())};
	return 1;
}

/* Parley event type -> emitted name and shape: the contract's second
 * table.  Every event is also emitted as "parley", whole. */
static const struct {
	const char *type;
	const char *name; /* NULL: the shape picks it */
	int (*shape)(json_t *ev, const char *name, struct pl_hub *h, struct emit *out);
} parley_events[] = {
	{"message.created", "receive_message", shape_message},
	{"message.updated", "message_updated", shape_message},
	{"message.deleted", "message_deleted", shape_message},
	{"typing", NULL, shape_typing},
	{"presence", NULL, shape_presence},
	{"receipt", NULL, shape_receipt},
	{"member.joined", "user_joined", shape_member},
	{"member.left", "user_left", shape_member},
};

/* Appends 42["name",value(,"id")] to b. */
static void put_emit(struct pl_jbuf *b, const char *name, json_t *value, int64_t id)
{
	char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!text)
		return;
	if (b->len)
		pl_jb_put(b, "\x1e", 1);
	PL_JB_LIT(b, "42[");
	pl_jb_str_or_null(b, name);
	PL_JB_LIT(b, ",");
	pl_jb_put(b, text, strlen(text));
	if (id > 0) {
		char n[32];
		int k = snprintf(n, sizeof n, ",\"%lld\"", (long long)id);
		pl_jb_put(b, n, (size_t)k);
	}
	PL_JB_LIT(b, "]");
	free(text);
}

struct pl_buf *pl_sio_event_buf(struct pl_hub *h, const struct pl_event_out *e)
{
	json_t *ev = json_loadb(e->json, e->len, 0, NULL);
	if (!ev)
		return NULL;
	struct pl_jbuf b = {0};
	for (size_t i = 0; i < sizeof parley_events / sizeof *parley_events; i++) {
		if (strcmp(parley_events[i].type, e->type) != 0)
			continue;
		struct emit out[2];
		int n = parley_events[i].shape(ev, parley_events[i].name, h, out);
		for (int k = 0; k < n; k++) {
			if (out[k].value)
				put_emit(&b, out[k].name, out[k].value, e->id);
			json_decref(out[k].value);
		}
		break;
	}
	put_emit(&b, "parley", ev, e->id);
	json_decref(ev);
	size_t len = 0;
	char *text = pl_jb_take(&b, &len);
	struct pl_buf *buf = text ? pl_buf_new(text, len) : NULL;
	free(text);
	return buf;
}

/* ---- the conformance app (--socketio-conformance) ---- */

/* message -> message-back with the same arguments; message-with-ack ->
 * the ack gets them; attachments go back as they came. */
static void conformance_event(struct pl_eio_sess *s, const char *nsp, json_t *args, int64_t ack,
			      struct pl_buf **att, int natt)
{
	const char *name = json_string_value(json_array_get(args, 0));
	if (!name || strcmp(nsp, "/") != 0)
		return;
	if (strcmp(name, "message") == 0) {
		json_t *back = json_copy(args);
		json_array_set_new(back, 0, json_string("message-back"));
		emit_packet(s, SIO_EVENT, nsp, -1, back, att, natt);
		json_decref(back);
	} else if (strcmp(name, "message-with-ack") == 0 && ack >= 0) {
		json_t *rest = json_copy(args);
		json_array_remove(rest, 0);
		emit_packet(s, SIO_ACK, nsp, ack, rest, att, natt);
		json_decref(rest);
	}
}

/* ---- packets ---- */

static void dispatch(struct pl_eio_sess *s, const char *nsp, json_t *args, int64_t ack,
		     struct pl_buf **att, int natt)
{
	if (pl_eio_conformance(s)) {
		conformance_event(s, nsp, args, ack, att, natt);
		return;
	}
	const char *name = json_string_value(json_array_get(args, 0));
	for (size_t i = 0; name && i < sizeof client_events / sizeof *client_events; i++) {
		if (strcmp(client_events[i].event, name) != 0)
			continue;
		if (natt) {
			pl_error err;
			pl_fail(&err, PL_INVALID_ARGUMENT, "%s: binary arguments are not taken", name);
			ack_with(s, "/", ack, error_value(&err));
			return;
		}
		struct op_args *a = calloc(1, sizeof *a);
		json_t *arg = json_array_get(args, 1);
		if (!a)
			return;
		a->op = client_events[i].op;
		a->h = pl_eio_hub(s);
		a->c = pl_eio_conn(s);
		pl_conn_ref(a->c);
		snprintf(a->user, sizeof a->user, "%s", a->c->user);
		a->arg = arg ? json_deep_copy(arg) : NULL; /* the worker's own */
		a->ack = ack;
		pl_eio_work(a->h, run_op, a);
		return;
	}
	pl_error err;
	pl_fail(&err, PL_NOT_FOUND, "event: unknown event %s", name ? name : "");
	ack_with(s, "/", ack, error_value(&err));
}

/* An event id: digits only, no sign, at most 18 of them. */
static bool parse_id(const char *v, int64_t *out)
{
	size_t n = v ? strspn(v, "0123456789") : 0;
	if (n == 0 || n > 18 || v[n])
		return false;
	*out = strtoll(v, NULL, 10);
	return true;
}

/* "<16 hex>-<event id>": the id the socket started from. */
static bool pid_parse(const char *pid, int64_t *from)
{
	if (!pid || strlen(pid) > PID_MAX || strspn(pid, "0123456789abcdef") != 16 || pid[16] != '-')
		return false;
	return parse_id(pid + 17, from);
}

static bool pid_new(char out[PID_MAX + 1], int64_t from)
{
	unsigned char rnd[8];
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return false;
	int n = 0;
	for (int i = 0; i < 8; i++)
		n += snprintf(out + n, (size_t)(PID_MAX + 1 - n), "%02x", rnd[i]);
	snprintf(out + n, (size_t)(PID_MAX + 1 - n), "-%lld", (long long)from);
	return true;
}

static void connect_error(struct pl_eio_sess *s, const char *nsp, const char *message)
{
	json_t *o = json_pack("{s:s}", "message", message);
	emit_packet(s, SIO_CONNECT_ERROR, nsp, -1, o, NULL, 0);
	json_decref(o);
}

static bool on_connect(struct pl_eio_sess *s, struct sio_sock *k, const char *nsp, json_t *auth)
{
	bool main_nsp = strcmp(nsp, "/") == 0;
	if (!main_nsp && !(pl_eio_conformance(s) && strcmp(nsp, "/custom") == 0)) {
		connect_error(s, nsp, "Invalid namespace");
		return true;
	}
	if (main_nsp ? k->connected : k->custom)
		return false; /* connected twice */
	char sid[EIO_SID_LEN + 1];
	snprintf(sid, sizeof sid, "%s", pl_eio_sid(s)); /* one socket a session: its id will do */
	if (pl_eio_conformance(s)) {
		json_t *ok = json_pack("{s:s}", "sid", sid);
		emit_packet(s, SIO_CONNECT, nsp, -1, ok, NULL, 0);
		json_decref(ok);
		json_t *ev = json_pack("[s, o]", "auth", auth ? json_incref(auth) : json_object());
		emit_packet(s, SIO_EVENT, nsp, -1, ev, NULL, 0);
		json_decref(ev);
		if (main_nsp)
			k->connected = true;
		else
			k->custom = true;
		pl_eio_connected(s);
		return true;
	}
	struct pl_hub *h = pl_eio_hub(s);
	const char *token = json_string_value(json_object_get(auth, "token"));
	if (!token)
		token = pl_eio_token(s);
	struct pl_claims who;
	pl_error err;
	if (pl_chat_auth(h->ctx, token, &who, &err) != PL_OK) {
		connect_error(s, nsp, "unauthenticated");
		return true;
	}
	/* Recovery: from the offset, or from where the pid started. */
	int64_t from = h->cursor;
	const char *pid = json_string_value(json_object_get(auth, "pid"));
	const char *offset = json_string_value(json_object_get(auth, "offset"));
	int64_t pid_from, off;
	if (pid_parse(pid, &pid_from)) {
		snprintf(k->pid, sizeof k->pid, "%s", pid);
		/* Not capped at this hub's cursor: an offset from a node that is
		 * ahead means "nothing before it", not "resend from mine". */
		from = offset && parse_id(offset, &off) ? off : pid_from;
	} else if (!pid_new(k->pid, from)) {
		connect_error(s, nsp, "server error");
		return true;
	}
	struct pl_conn *c = pl_eio_conn(s);
	snprintf(c->user, sizeof c->user, "%s", who.sub);
	json_t *ok = json_pack("{s:s, s:s, s:s}", "sid", sid, "pid", k->pid, "offset", "");
	char off_text[24];
	snprintf(off_text, sizeof off_text, "%lld", (long long)from);
	json_object_set_new(ok, "offset", json_string(off_text));
	emit_packet(s, SIO_CONNECT, nsp, -1, ok, NULL, 0);
	json_decref(ok);
	k->connected = true;
	pl_eio_connected(s);
	/* Events the hub fans out while attaching are the replay's: the
	 * socket joins the live stream after it, with no gap and no repeat. */
	c->replaying = true;
	struct pl_attach a = {.rooms = NULL, .last_event_id = from, .presence = NULL};
	pl_hub_attach_now(h, c, &a);
	if (c->replaying && c->cursor >= h->cursor)
		c->replaying = false;
	return true;
}

/* A namespace's DISCONNECT; the session ends with its last namespace, as
 * the reference server's does (the client's manager closes it anyway). */
static void on_disconnect(struct pl_eio_sess *s, struct sio_sock *k, const char *nsp)
{
	if (strcmp(nsp, "/") != 0) {
		k->custom = false;
	} else if (k->connected) {
		k->connected = false;
		struct pl_conn *c = pl_eio_conn(s);
		if (c->attached)
			pl_hub_drop(pl_eio_hub(s), c);
		pl_eio_renew_conn(s);
	}
	if (!k->connected && !k->custom)
		pl_eio_end(s, "client namespace disconnect");
}

static bool nsp_connected(struct sio_sock *k, const char *nsp)
{
	return strcmp(nsp, "/") == 0 ? k->connected : k->custom;
}

bool pl_sio_on_text(struct pl_eio_sess *s, const char *p, size_t n)
{
	struct sio_sock *k = sock_of(s);
	struct sio_packet pk;
	json_t *data;
	if (!k || k->need || !sio_parse(p, n, &pk) || !sio_payload(&pk, &data))
		return false;
	char nsp[SIO_NSP_MAX + 1];
	snprintf(nsp, sizeof nsp, "%.*s", (int)pk.nsp_len, pk.nsp);
	bool ok = true;
	switch (pk.type) {
	case SIO_CONNECT: ok = on_connect(s, k, nsp, data); break;
	case SIO_DISCONNECT: on_disconnect(s, k, nsp); break;
	case SIO_EVENT:
		if (nsp_connected(k, nsp))
			dispatch(s, nsp, data, pk.ack_id, NULL, 0);
		break;
	case SIO_BINARY_EVENT:
	case SIO_BINARY_ACK:
		k->ptype = pk.type;
		k->pack = pk.ack_id;
		snprintf(k->pnsp, sizeof k->pnsp, "%s", nsp);
		k->pdata = json_incref(data);
		k->need = pk.attachments;
		break;
	default: break; /* ACK: the server asks for none */
	}
	json_decref(data);
	return ok;
}

bool pl_sio_on_binary(struct pl_eio_sess *s, const uint8_t *p, size_t n)
{
	struct sio_sock *k = sock_of(s);
	if (!k || !k->need || k->natt >= k->need)
		return false;
	struct pl_buf *b = pl_buf_alloc(n + 1);
	if (!b)
		return false;
	b->data[0] = 'b';
	memcpy(b->data + 1, p, n);
	k->att[k->natt++] = b;
	if (k->natt < k->need)
		return true;
	if (k->ptype == SIO_BINARY_EVENT && nsp_connected(k, k->pnsp))
		dispatch(s, k->pnsp, k->pdata, k->pack, k->att, k->natt);
	pending_clear(k);
	return true;
}

void pl_sio_on_end(struct pl_eio_sess *s)
{
	void **up = pl_eio_upper(s);
	struct sio_sock *k = *up;
	struct pl_conn *c = pl_eio_conn(s);
	if (c->attached)
		pl_hub_drop(pl_eio_hub(s), c);
	if (k) {
		pending_clear(k);
		free(k);
		*up = NULL;
	}
}
