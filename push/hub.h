/* push/hub: subscriptions and fan-out, on a thread and epoll loop of its
 * own (push/hub.c; the files of its insides are listed in push/hubint.h).
 *
 * The hub reads new stored events from the store in id order whenever it
 * is woken (by this process's writer or, through the bus, by another
 * process) and queues each on the connections subscribed to its room;
 * ephemeral events (typing, receipts, presence) arrive through the sink and
 * the bus and are routed by the contract's small-room rules.  A connection
 * that resumes from an event id is first fed from the store, then joins the
 * live stream with no gap and no repeat.
 *
 * Front ends talk to the hub only through these calls, which are
 * thread-safe: they post to the hub's mailbox (pl_poll_take takes the
 * long-poll's lock instead). */
#ifndef PL_HUB_H
#define PL_HUB_H

#include <jansson.h>
#include <stdint.h>

#include "chat/ctx.h"
#include "push/conn.h"

struct pl_hub;

struct pl_attach {
	json_t *rooms;            /* array of room ids, or NULL for all the user's rooms */
	int64_t last_event_id;    /* resume after this id; -1 = from now */
	json_t *presence;         /* array of user ids to hear presence of, or NULL */
	int64_t exp;              /* the token's exp (seconds): the stream ends there; 0 = never */
};

struct pl_hub *pl_hub_start(struct pl_ctx *ctx, pl_error *err);
/* Closes every connection (WebSocket 1001, streams ended) and stops the
 * hub's thread; calls from front ends stay safe until pl_hub_free. */
void pl_hub_stop(struct pl_hub *h);
void pl_hub_free(struct pl_hub *h);

/* Hands c to the hub (it takes its own reference; a's JSON is stolen). */
void pl_hub_attach(struct pl_hub *h, struct pl_conn *c, struct pl_attach *a);
/* The front end is done with c (peer gone, answer sent). */
void pl_hub_detach(struct pl_hub *h, struct pl_conn *c);
/* A WebSocket after the upgrade: the hub owns fd from now on; extra holds
 * bytes the HTTP library had already read past the handshake. */
void pl_hub_adopt_ws(struct pl_hub *h, struct pl_conn *c, int fd, const char *extra,
		     size_t extra_len, struct pl_attach *a);

/* An SSE stream whose request the HTTP library has let go: the hub sends
 * the response head and the stream on fd from now on. */
void pl_hub_adopt_sse(struct pl_hub *h, struct pl_conn *c, int fd, struct pl_attach *a);

/* A sealed long-poll answer, taken out of c: its events' JSON texts
 * joined by commas (malloc'd; NULL without memory), its cursor and its
 * session ("" for none).  api/poll.h writes the answer around them. */
char *pl_poll_take(struct pl_conn *c, size_t *len, int64_t *cursor, char session[33]);

#endif
