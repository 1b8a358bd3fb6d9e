/* push/eiosess: Engine.IO 4 sessions in the hub.
 *
 * A session is created by a handshake (a polling GET, or a WebSocket
 * without sid), lives on the hub thread, and owns one hub connection
 * (struct pl_conn, kind PL_CONN_SIO) whose bounded queue holds its
 * outgoing Engine.IO packets: text buffers of one or more packets
 * separated by 0x1e, or one binary packet as 'b' + its raw bytes.  The
 * queue is drained by the current transport: a waiting polling GET takes
 * it all as one payload, a WebSocket writes each packet as a frame.
 *
 * Front ends never touch sessions: they hand polling requests and
 * upgraded sockets to the hub's Engine.IO mailbox (thread-safe), and the
 * hub answers a request by filling its answer and calling wake.
 * Heartbeats use a timerfd armed for the earliest session deadline (a
 * min-heap), not the hub's 250 ms tick, so ping timeouts are precise.
 *
 * push/eiosess.c has requests, polling, timers and the worker; the
 * WebSocket transport is push/eiows.c (shared insides: push/eioint.h).
 * The Socket.IO layer on top (push/sio_bind.c) gets each message through
 * pl_sio_on_text / pl_sio_on_binary and sends with pl_eio_send. */
#ifndef PL_EIOSESS_H
#define PL_EIOSESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ids.h"
#include "core/map.h"
#include "push/conn.h"

struct pl_hub;
struct pl_eio;
struct pl_eio_sess;

#define EIO_SID_LEN 20

/* One polling request, shared by the HTTP thread and the hub. */
struct pl_eio_req {
	atomic_int refs;
	bool post;                  /* POST (data) or GET (poll or handshake) */
	bool engine_only;           /* /engine.io/ (conformance echo app) */
	char sid[EIO_SID_LEN + 1];  /* "" = handshake */
	char *token;                /* ?token= of a handshake */
	char *body;                 /* POST body (owned) */
	size_t len;
	bool too_large;
	/* The answer: filled by the hub, then wake is called once. */
	int status;
	const char *ctype;
	char *out;                  /* malloc'd */
	size_t out_len;
	void (*wake)(struct pl_eio_req *r);
	void *front;
};

struct pl_eio_req *pl_eio_req_new(void);
void pl_eio_req_unref(struct pl_eio_req *r);
/* Hands r to the hub (which takes its own reference). */
void pl_eio_submit(struct pl_hub *h, struct pl_eio_req *r);
/* A WebSocket after its handshake: to the session sid (an upgrade) or a new
 * one (sid NULL).  The hub owns fd from now on. */
void pl_eio_adopt_ws(struct pl_hub *h, int fd, const char *extra, size_t extra_len,
		     const char *sid, const char *token, bool engine_only);
/* A valid-looking sid (before the hub is asked). */
bool pl_eio_sid_ok(const char *sid);

/* ---- the hub's side ---- */
struct pl_eio *pl_eio_new(struct pl_hub *h);
/* Ends every session (at the hub's stop, on its thread). */
void pl_eio_stop(struct pl_eio *e);
void pl_eio_free(struct pl_eio *e);
/* The session's connection got output (hub's flush). */
void pl_eio_flush(struct pl_hub *h, struct pl_conn *c);
/* The hub cut the connection (slow consumer, shutdown): the session ends
 * at the next flush. */
void pl_eio_conn_close(struct pl_hub *h, struct pl_conn *c);
/* Frees what sessions that ended this loop pass left. */
void pl_eio_bury(struct pl_eio *e);

/* ---- for the Socket.IO layer ---- */
/* Queues packets (see above) on the session; false when it is ending. */
bool pl_eio_send(struct pl_eio_sess *s, struct pl_buf *b);
bool pl_eio_send_text(struct pl_eio_sess *s, const char *text, size_t len);
/* Ends the session (packets already queued on a WebSocket still go). */
void pl_eio_end(struct pl_eio_sess *s, const char *why);
struct pl_conn *pl_eio_conn(struct pl_eio_sess *s);
/* Gives the session a fresh hub connection (after a Socket.IO DISCONNECT
 * the old one leaves the hub; what was queued moves over). */
bool pl_eio_renew_conn(struct pl_eio_sess *s);
struct pl_hub *pl_eio_hub(struct pl_eio_sess *s);
/* Socket.IO connected: the connect timeout no longer applies. */
void pl_eio_connected(struct pl_eio_sess *s);
/* Per-hub state of the chat binding: "room\x1fuser" -> receipt seen. */
pl_map *pl_eio_receipts(struct pl_hub *h);
const char *pl_eio_token(struct pl_eio_sess *s);
const char *pl_eio_sid(struct pl_eio_sess *s);
bool pl_eio_conformance(struct pl_eio_sess *s);
/* Runs fn(arg) on the sessions' worker thread, in the order given: chat
 * operations that wait for a commit (join, read...) run there, so the hub
 * thread never waits for the writer.  Thread-safe. */
void pl_eio_work(struct pl_hub *h, void (*fn)(void *arg), void *arg);
/* The Socket.IO state the layer above keeps per session. */
void **pl_eio_upper(struct pl_eio_sess *s);

#endif
