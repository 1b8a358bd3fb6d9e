/* push/conn: one push connection as the hub sees it, and its outbound
 * queue.
 *
 * Events are serialised once per transport into shared, reference-counted
 * buffers; a connection's queue holds references, so fanning one event out
 * to 10,000 connections copies no bytes.  The queue is bounded: a consumer
 * that falls too far behind is cut off (it reconnects and resumes from the
 * store, losing nothing).
 *
 * Threads: WebSocket and SSE sockets are the hub's (push/wsconn.c,
 * push/stream.c): the hub thread alone queues and writes them, with no
 * lock.  A long-poll's answer is queued and sealed by the hub and taken by
 * the HTTP thread that answers the request (pl_poll_take), so its queue
 * and the fields marked "lock" are guarded by the connection's lock; so is
 * a Socket.IO session's queue (push/eiosess.c).  References are atomic:
 * the last one may go on any thread. */
#ifndef PL_CONN_H
#define PL_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ids.h"
#include "base/loop.h"

/* A serialised event (or frame), shared by every queue holding it. */
struct pl_buf {
	atomic_int refs;
	uint32_t len;
	int64_t commit_us;     /* a live stored event: its commit (pl_mono_us), else 0 */
	char data[];
};

struct pl_buf *pl_buf_new(const char *data, size_t len);
/* A buffer of len bytes for the caller to fill. */
struct pl_buf *pl_buf_alloc(size_t len);
struct pl_buf *pl_buf_ref(struct pl_buf *b);
void pl_buf_unref(struct pl_buf *b);

enum pl_conn_kind { PL_CONN_SSE, PL_CONN_WS, PL_CONN_POLL, PL_CONN_ONLINE_WS,
		   PL_CONN_SIO /* an Engine.IO session (push/eiosess.h) */ };

#define PL_QUEUE_MAX_ITEMS 4096
#define PL_QUEUE_MAX_BYTES (4u << 20)

struct pl_qitem {
	struct pl_buf *buf;
	struct pl_qitem *next;
};

struct pl_sub;
struct pl_conn;
struct pl_hub;

/* The front end's hooks: wake asks the HTTP library to resume a suspended
 * long-poll request (called by the hub without locks held). */
typedef void (*pl_conn_wake_fn)(struct pl_conn *c);

struct pl_conn {
	struct pl_watch watch;          /* WebSocket, SSE: the socket in the hub's loop */
	enum pl_conn_kind kind;
	atomic_int refs;                /* the hub, the front end, pending acks */
	char user[PL_ID_MAX + 1];
	uint64_t serial;                /* unique id, for logs and dedup marks */

	/* subscriptions, owned by the hub thread */
	struct pl_sub *subs;
	bool all_rooms;                 /* follow the user's membership */
	char **asked;                   /* presence=: users asked about */
	int nasked;
	uint64_t mark;                  /* dedup stamp for one fan-out */
	int64_t cursor;                 /* last stored event id queued */
	bool replaying;                 /* catching up from the store */
	bool attached;                  /* in the hub's indexes */
	struct pl_conn *user_next;      /* the user's other connections */
	struct pl_conn *dirty_next;     /* hub's list of conns to flush */
	bool dirty;

	/* outbound queue (long-poll, Socket.IO: under lock) */
	pthread_mutex_t lock;
	struct pl_qitem *head, *tail;
	size_t qitems, qbytes, head_off;
	bool suspended;                 /* long-poll: request suspended (lock) */
	bool closing;                   /* the hub wants it gone */
	bool done;                      /* long-poll: answer is sealed (lock) */
	int64_t last_write_ms;          /* SSE: monotonic, for keep-alives */
	pl_conn_wake_fn wake;
	void *front;                    /* the front end's connection handle */
	void *front_ud;                 /* and its context */
	struct pl_hub *hub;             /* sockets the hub owns: their hub */
	int64_t poll_deadline_ms;       /* long-poll: monotonic timeout */
	int64_t poll_start;             /* long-poll: cursor the client gave */
	char session[33];               /* long-poll: its session, "" for none (lock) */
	bool parked;                    /* long-poll: answered, keeping the session */
	bool admin;                     /* SSE: the admin stream (push/admin.h) */
	int64_t park_until_ms;          /* long-poll: when a parked session ends */
	int64_t exp_ms;                 /* the token's exp (wall clock ms), 0 = none;
					 * hub thread only once attached */

	/* WebSocket state (hub thread only) */
	struct pl_ws_state *ws;
	/* The front end's hook run once when the last reference goes (it
	 * gives back the connection's place under the connection caps). */
	void (*released)(void *ud);
	void *released_ud;
	/* Socket.IO: the Engine.IO session (hub thread only; NULL once it ended) */
	struct pl_eio_sess *eio;
	/* SSE: CORS header lines for the response head (api/cors.h), or NULL */
	char *cors_head;
};

struct pl_conn *pl_conn_new(enum pl_conn_kind kind, const char *user);
void pl_conn_ref(struct pl_conn *c);
void pl_conn_unref(struct pl_conn *c);

/* Appends a reference to b; false when the queue is over its bounds (the
 * caller then cuts the consumer off). */
bool pl_conn_push(struct pl_conn *c, struct pl_buf *b);
/* Drops n bytes from the head of the queue (they were written). */
void pl_conn_consume(struct pl_conn *c, size_t n);
void pl_conn_clear(struct pl_conn *c);

#endif
