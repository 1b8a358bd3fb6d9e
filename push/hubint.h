/* push/hubint: the hub's insides, shared by the files of the hub: its
 * thread and mailbox (push/hub.c), indexes (push/subs.c), delivery to one
 * connection (push/deliver.c), stored events (push/fanout.c), attach and
 * detach (push/attach.c), long-polls (push/longpoll.c), the sockets it owns
 * (push/stream.c, push/wsconn.c) and its ephemeral-event routing
 * (push/route.c).  Everything here runs on the hub thread unless a comment
 * says otherwise. */
#ifndef PL_HUBINT_H
#define PL_HUBINT_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/map.h"
#include "push/hub.h"
#include "push/feed.h"
#include "push/stats.h"
#include "push/latency.h"
#include "push/admin.h"
#include "push/scan.h"
#include "base/loop.h"

/* One subscription: a connection listening to a room.  It sits in two
 * lists: the room's (doubly linked, for O(1) removal) and the
 * connection's. */
struct pl_sub {
	struct pl_conn *conn;
	struct pl_room *room;
	struct pl_sub *prev, *next;   /* in the room */
	struct pl_sub *conn_next;     /* in the connection */
};

struct pl_room {
	char id[2 * PL_ID_MAX + 8];
	struct pl_sub *subs;
	int nsubs;
};

/* The connections of one user; also who asked about their presence. */
struct pl_user {
	struct pl_conn *conns;
	struct pl_conn **watchers;
	int nwatchers, capwatchers;
};

struct mail;

struct pl_hub {
	struct pl_ctx *ctx;
	struct pl_loop *loop;
	pthread_t thread;
	bool threaded;                /* started by pl_hub_start (not pl_hub_new) */
	pl_store *store;              /* the hub's read connection */

	/* mailbox: posted by any thread */
	pthread_mutex_t mail_lock;
	struct mail *mail_head, *mail_tail;
	struct pl_watch wake;         /* eventfd */
	atomic_llong stored_hint;     /* newest event id known committed */
	atomic_bool stopping;
	atomic_bool stopped;          /* the thread has ended */
	/* WebSocket sends at the writer whose ack is not yet in the mailbox:
	 * the stop hands those acks out before the close frames. */
	atomic_int sends_in_flight;

	/* indexes */
	int64_t cursor;               /* last event fanned out */
	pl_map *rooms;                /* id -> struct pl_room */
	pl_map *users;                /* id -> struct pl_user */
	uint64_t mark;                /* dedup stamp source */
	struct pl_conn *dirty;        /* conns with new output */
	struct pl_conn **all;         /* every attached conn, for ticks */
	size_t nall, capall;
	struct pl_conn *graveyard;    /* closed, freed after the loop pass */
	struct pl_conn *ws_backlog;   /* WebSockets with whole frames waiting */

	/* ephemeral state */
	pl_map *typing;               /* "room\x1fuser" -> lapse time (ms) */
	pl_map *receipts;             /* "room\x1fuser" -> struct receipt_state */
	pl_map *poll_sessions;        /* long-poll session id -> its pl_conn */
	pl_map *delivered;            /* "room\x1fuser" -> pending delivered id */
	pl_map *delivered_round;      /* the part being written, chunk by chunk */
	atomic_bool delivered_busy;   /* a chunk is at the writer */
	int64_t next_tick_ms, next_flush_ms;
	int churn;                    /* connections attached since the last trim */
	struct pl_buf *ping;          /* the ping frame every WebSocket gets */
	struct pl_eio *eio;           /* Engine.IO sessions (push/eiosess.c) */
	int64_t trimmed_ms;
	struct pl_stats stats;        /* the stats line's state (push/stats.h) */
	struct pl_feeds feeds;        /* /ws-online-status feeds (push/feed.h) */
	struct pl_commits commits;    /* this process's recent commits (push/latency.h) */
	struct pl_admin admin;        /* admin streams and their figures (push/admin.h) */
};

/* Long-poll sessions: between two polls of a session its connection stays
 * in the hub ("parked": answered, still subscribed) and keeps up to
 * PL_POLL_KEEP ephemeral events (typing, presence, receipts) for the next
 * poll, which takes the session over.  Stored events need no keeping: the
 * next poll's cursor replays them.  A session nobody polls again within
 * PL_POLL_PARK_MS ends, and with it the connection's presence count. */
#define PL_POLL_KEEP 200
/* PL_POLL_ANSWER_MAX: push/scan.h. */
#define PL_POLL_PARK_MS 10000
/* Parked sessions one user may have (tabs); a client that never passes
 * its session back starts one a poll, and the oldest make way. */
#define PL_POLL_PARKED_MAX 4

/* A prepared event: the JSON once, each transport's bytes made on first
 * need and shared by every queue. */
struct pl_event_out {
	int64_t id;
	const char *type;
	const char *room;
	const char *sender;           /* message.created: who sent it */
	int64_t message_id;           /* message.created: the message's id */
	const char *json;
	size_t len;
	int64_t commit_us;            /* live and committed here: when (push/latency.h) */
	struct pl_buf *sse, *ws, *raw, *online, *sio;
};

void pl_event_out_release(struct pl_event_out *e);
/* e's bytes for a connection of this kind, made on first need (push/deliver.c). */
struct pl_buf *pl_hub_event_buf(struct pl_hub *h, struct pl_event_out *e, enum pl_conn_kind kind);
/* Queues e on c (any kind); cuts c off when it has fallen too far behind. */
void pl_hub_deliver(struct pl_hub *h, struct pl_conn *c, struct pl_event_out *e);
/* Delivers an already framed buffer (acks, errors) to a WebSocket. */
void pl_hub_deliver_buf(struct pl_hub *h, struct pl_conn *c, struct pl_buf *b);
void pl_hub_mark_dirty(struct pl_hub *h, struct pl_conn *c);
void pl_hub_close(struct pl_hub *h, struct pl_conn *c, uint16_t ws_code, const char *why);
struct pl_room *pl_hub_room(struct pl_hub *h, const char *id, bool create);
void pl_hub_subscribe(struct pl_hub *h, struct pl_conn *c, const char *room);
void pl_hub_unsubscribe(struct pl_hub *h, struct pl_conn *c, const char *room);
void pl_hub_set_presence(struct pl_hub *h, struct pl_conn *c, json_t *users);
/* Indexes (push/subs.c). */
struct pl_user *pl_hub_user(struct pl_hub *h, const char *id, bool create);
/* Frees u once it has no connection and no watcher. */
void pl_hub_user_maybe_free(struct pl_hub *h, const char *id, struct pl_user *u);
void pl_hub_unsubscribe_all(struct pl_hub *h, struct pl_conn *c);
void pl_hub_watchers_remove(struct pl_hub *h, struct pl_conn *c);

/* Stored events (push/fanout.c): reads every event up to the stored hint
 * and queues it on its connections; feeds a replaying connection. */
void pl_hub_fan_out(struct pl_hub *h);
void pl_hub_replay(struct pl_hub *h, struct pl_conn *c);

/* Attach and detach (push/attach.c). */
void pl_hub_count_connection(struct pl_hub *h, const char *user, bool up);
/* Takes c out of every index now (no parking); freed after the loop pass. */
void pl_hub_detach_now(struct pl_hub *h, struct pl_conn *c);

/* Long-polls (push/longpoll.c). */
void pl_poll_deliver(struct pl_hub *h, struct pl_conn *c, struct pl_event_out *e);
/* Whether c holds its session (the session's id names c). */
bool pl_poll_holds_session(struct pl_hub *h, const struct pl_conn *c);
void pl_poll_make_room(struct pl_hub *h, const char *user);
void pl_poll_take_session(struct pl_hub *h, struct pl_conn *c);
/* Seals an answer that has events (or is closing) and resumes its request. */
void pl_poll_flush(struct pl_hub *h, struct pl_conn *c);
/* Each tick: seals an answer at its deadline; ends a parked session that
 * nobody polled again within PL_POLL_PARK_MS. */
void pl_poll_tick(struct pl_hub *h, struct pl_conn *c, int64_t now);
/* Routes an ephemeral event (typing, receipt, presence) by its type. */
void pl_hub_route_ephemeral(struct pl_hub *h, json_t *ev);
void pl_hub_route_tick(struct pl_hub *h, int64_t now);
/* Frees the receipt coalescing state (pl_hub_free). */
void pl_hub_receipts_free(struct pl_hub *h);
/* Records that a message reached user in room (delivered receipts). */
void pl_hub_note_delivered(struct pl_hub *h, const char *room, const char *user, int64_t id,
			   const char *sender);
/* Starts writing what was noted so far (each tick); the round goes on in
 * small chunks, one at the writer at a time (pl_hub_delivered_next, each
 * loop pass), so neither the writes nor the receipt events they make hold
 * up the messages queued behind them. */
void pl_hub_flush_delivered(struct pl_hub *h);
void pl_hub_delivered_next(struct pl_hub *h);
/* Writes everything noted and waits for it (at the stop). */
void pl_hub_delivered_drain(struct pl_hub *h);

/* Sockets the hub owns (push/stream.c). */
void pl_stream_drop(struct pl_hub *h, struct pl_conn *c);
/* Closes a socket without resetting it (unread input is read first). */
void pl_stream_close(int fd);
/* Writes the queue; true when it is empty (else EPOLLOUT is armed or the
 * connection was dropped). */
bool pl_stream_write(struct pl_hub *h, struct pl_conn *c);
bool pl_sse_adopt(struct pl_hub *h, struct pl_conn *c, int fd);
void pl_sse_flush(struct pl_hub *h, struct pl_conn *c);

/* WebSocket connections (push/wsconn.c). */
bool pl_ws_adopt(struct pl_hub *h, struct pl_conn *c, int fd, const char *extra, size_t len);
void pl_ws_flush(struct pl_hub *h, struct pl_conn *c);
void pl_ws_tick(struct pl_hub *h, struct pl_conn *c, int64_t now);
void pl_ws_close(struct pl_hub *h, struct pl_conn *c, uint16_t code, const char *why);
/* A WebSocket that arrives after the hub stopped: close frame 1001, then
 * the socket closes (any thread). */
void pl_ws_refuse(int fd);
/* Frees a WebSocket's buffers (when it leaves the hub). */
void pl_ws_release(struct pl_conn *c);
/* Handles frames that arrived with the handshake (after attach). */
void pl_ws_start(struct pl_hub *h, struct pl_conn *c);
/* Each loop pass: the next turn of every WebSocket whose whole frames
 * exceeded its share of a pass (at most WS_FRAMES_PER_TURN a turn). */
void pl_ws_backlog(struct pl_hub *h);
/* Expires a connection whose token's exp has passed: WebSocket close
 * 4001, SSE `event: error` unauthenticated, long-poll answered. */
void pl_hub_expire(struct pl_hub *h, struct pl_conn *c);
#define PL_WS_CLOSE_EXPIRED 4001
/* Detaches a connection the hub closed itself. */
void pl_hub_drop(struct pl_hub *h, struct pl_conn *c);
/* Attaches c on the hub thread itself (Socket.IO's CONNECT). */
void pl_hub_attach_now(struct pl_hub *h, struct pl_conn *c, struct pl_attach *a);
/* Queues a framed buffer from another thread (WebSocket acks). */
void pl_hub_post_buf(struct pl_hub *h, struct pl_conn *c, struct pl_buf *b);
/* Frames a text message into a buffer. */
struct pl_buf *pl_ws_text_buf(const char *json, size_t len);

/* The hub without its thread (tests): the caller drives it, pass by
 * pass, with pl_hub_pass on one thread of its own; pl_hub_stop (which then
 * closes everything on the caller's thread) and pl_hub_free end it. */
struct pl_hub *pl_hub_new(struct pl_ctx *ctx, pl_error *err);
/* One pass of the hub's loop: events (waiting up to wait_ms), the tick
 * when due by the context's clock, backlogs, flush, delayed frees.  False
 * on a fatal epoll error. */
bool pl_hub_pass(struct pl_hub *h, int wait_ms);

#endif
