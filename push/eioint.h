/* push/eioint: the insides of Engine.IO sessions, shared by the session
 * code (push/eiosess.c: requests, polling, timers, the worker) and the
 * WebSocket transport (push/eiows.c).  Hub thread only, unless a comment
 * says otherwise. */
#ifndef PL_EIOINT_H
#define PL_EIOINT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/loop.h"
#include "base/map.h"
#include "push/eiosess.h"

/* A WebSocket: the session's transport, or one probing for the upgrade. */
struct eio_ws {
	struct pl_watch watch;            /* first member: the loop hands it back */
	struct pl_eio *e;
	struct pl_eio_sess *s;            /* NULL once the session let it go */
	uint8_t *rbuf;
	size_t rlen, rcap;
	uint8_t *msg;                     /* a fragmented message so far */
	size_t mlen;
	bool in_msg, msg_bin;
	char *out;                        /* framed bytes not yet written */
	size_t olen, ooff, ocap;
	bool closing;                     /* close frame queued: drop once written */
	bool forgotten;                   /* on the dead list */
	struct eio_ws *dead_next;
};

struct pl_eio_sess {
	struct pl_eio *e;
	struct pl_conn *c;
	char sid[EIO_SID_LEN + 1];
	bool ws_transport;                /* upgraded, or WebSocket from the start */
	bool upgrading;                   /* probe answered, waiting for "5" */
	bool engine_only;
	bool ended;
	struct pl_eio_req *get;           /* the waiting polling GET */
	struct eio_ws *ws;                /* the WebSocket (transport or probe) */
	char *token;
	int64_t ping_due, pong_due;       /* pong_due 0: no ping outstanding */
	int64_t connect_due;              /* 0: Socket.IO connected (or engine only) */
	int64_t due;
	size_t hidx;
	void *upper;
	struct pl_eio_sess *dead_next;
};

struct eio_mail {
	struct pl_eio_req *req;           /* a polling request, or */
	int fd;                           /* an upgraded socket */
	char *extra;
	size_t extra_len;
	char sid[EIO_SID_LEN + 1];
	char *token;
	bool engine_only;
	struct eio_mail *next;
};

/* A job for the worker thread. */
struct eio_job {
	void (*fn)(void *arg);
	void *arg;
	struct eio_job *next;
};

struct pl_eio {
	struct pl_hub *h;
	/* the worker: chat operations that wait for the writer */
	pthread_t worker;
	bool worker_started, worker_stop;
	pthread_cond_t work_cond;
	struct eio_job *jobs, *jobs_tail;
	pl_map *sessions;                 /* sid -> session (hub thread) */
	pthread_mutex_t lock;             /* the mailbox */
	struct eio_mail *head, *tail;
	bool stopped;
	struct pl_watch wake;             /* eventfd: mail */
	struct pl_watch timer;            /* timerfd: the earliest deadline */
	struct pl_eio_sess **heap;        /* sessions by due time */
	size_t nheap, capheap;
	int64_t armed;
	int ping_interval, ping_timeout, max_payload;
	int connect_timeout;               /* ms for a session's Socket.IO CONNECT */
	bool conformance;
	pl_map *receipts;                 /* the chat binding's (push/sio_bind.c) */
	struct pl_eio_sess *dead;
	struct eio_ws *dead_ws;
};

/* push/eiosess.c */
struct pl_eio_sess *eio_sess_new(struct pl_eio *e, const char *token, bool engine_only);
void eio_sess_end(struct pl_eio_sess *s, const char *why);
bool eio_send_open(struct pl_eio_sess *s, char *out, size_t cap, size_t *len);
/* Answers the waiting GET with the queue, or with a noop when forced. */
void eio_answer_get(struct pl_eio_sess *s, bool force);
/* One packet from either transport; false for a malformed one. */
bool eio_on_packet(struct pl_eio_sess *s, const char *p, size_t n, bool binary);

/* push/eiows.c */
/* An upgraded socket from the mailbox: a new session's, or a probe. */
void eio_ws_adopt(struct pl_eio *e, struct eio_mail *m);
/* Frames the session's queue and writes it. */
void eio_ws_pump(struct eio_ws *ws);
/* The session let go of ws: a close packet and frame, then it goes. */
void eio_ws_drop(struct eio_ws *ws);

#endif
