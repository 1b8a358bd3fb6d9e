/* push/hub: the hub's thread and what drives it (hub.h, hubint.h): the
 * mailbox other threads post to, the sink and bus messages that wake it,
 * the loop pass (flush the connections that got output, free the ones that
 * left), the tick (keep-alives, pings, timeouts, presence, stats, receipts)
 * and start and stop. */
#include "push/hub.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "db/bus.h"
#include "db/presence.h"
#include "push/eiosess.h"
#include "push/hubint.h"
#include "push/ws.h"

#define TICK_MS 250
#define STOP_WAIT_MS 5000 /* at the stop, for clients to take their close */

enum mail_kind { MAIL_ATTACH, MAIL_DETACH, MAIL_ADOPT_WS, MAIL_EPHEMERAL, MAIL_ACK };

struct mail {
	enum mail_kind kind;
	struct pl_conn *conn;
	struct pl_attach attach;
	json_t *event;
	struct pl_buf *buf;
	int fd;
	char *extra;
	size_t extra_len;
	struct mail *next;
};

/* ---- mailbox (any thread) ---- */

static void handle_mail(struct pl_hub *h, struct mail *m);

static void post(struct pl_hub *h, struct mail *m)
{
	if (atomic_load(&h->stopped)) {
		handle_mail(h, m); /* no loop any more: let go at once */
		return;
	}
	pthread_mutex_lock(&h->mail_lock);
	/* Only the first letter into an empty box wakes the hub: it takes the
	 * whole box at once, so a burst of acks costs one wake-up. */
	bool first = h->mail_head == NULL;
	if (h->mail_tail)
		h->mail_tail->next = m;
	else
		h->mail_head = m;
	h->mail_tail = m;
	pthread_mutex_unlock(&h->mail_lock);
	uint64_t one = 1;
	if (first)
		(void)!write(h->wake.fd, &one, sizeof one);
}

static struct mail *mail_new(enum mail_kind kind, struct pl_conn *c)
{
	struct mail *m = calloc(1, sizeof *m);
	if (m) {
		m->kind = kind;
		m->conn = c;
		m->fd = -1;
		if (c)
			pl_conn_ref(c);
	}
	return m;
}

void pl_hub_attach(struct pl_hub *h, struct pl_conn *c, struct pl_attach *a)
{
	struct mail *m = mail_new(MAIL_ATTACH, c);
	if (!m)
		return;
	m->attach = *a;
	memset(a, 0, sizeof *a);
	post(h, m);
}

void pl_hub_detach(struct pl_hub *h, struct pl_conn *c)
{
	struct mail *m = mail_new(MAIL_DETACH, c);
	if (m)
		post(h, m);
}

void pl_hub_adopt_ws(struct pl_hub *h, struct pl_conn *c, int fd, const char *extra,
		     size_t extra_len, struct pl_attach *a)
{
	struct mail *m = mail_new(MAIL_ADOPT_WS, c);
	if (!m) {
		close(fd);
		return;
	}
	m->fd = fd;
	m->attach = *a;
	memset(a, 0, sizeof *a);
	if (extra_len && (m->extra = malloc(extra_len))) {
		memcpy(m->extra, extra, extra_len);
		m->extra_len = extra_len;
	}
	post(h, m);
}

void pl_hub_adopt_sse(struct pl_hub *h, struct pl_conn *c, int fd, struct pl_attach *a)
{
	pl_hub_adopt_ws(h, c, fd, NULL, 0, a);
}

/* The sink: called on the writer thread after commits, and by chat
 * operations on any thread. */
static void sink_stored(void *ud, int64_t id, const struct pl_commit *commit)
{
	struct pl_hub *h = ud;
	if (commit)
		pl_commits_add(&h->commits, commit);
	long long cur = atomic_load(&h->stored_hint);
	while (id > cur && !atomic_compare_exchange_weak(&h->stored_hint, &cur, id))
		;
	uint64_t one = 1;
	(void)!write(h->wake.fd, &one, sizeof one);
}

static void sink_ephemeral(void *ud, json_t *ev)
{
	struct pl_hub *h = ud;
	struct mail *m = mail_new(MAIL_EPHEMERAL, NULL);
	if (!m) {
		json_decref(ev);
		return;
	}
	m->event = ev; /* the hub's from now on */
	post(h, m);
}

static void free_attach(struct pl_attach *a)
{
	json_decref(a->rooms);
	json_decref(a->presence);
}

/* After the stop, a connection that still arrives is ended at once (and
 * its suspended request resumed, so the HTTP library can finish it). */
static void refuse(struct mail *m)
{
	struct pl_conn *c = m->conn;
	if (m->kind == MAIL_ADOPT_WS) {
		/* The client saw its handshake succeed: it hears why it ends. */
		if (c->kind == PL_CONN_SSE)
			pl_stream_close(m->fd);
		else
			pl_ws_refuse(m->fd);
		c->watch.fd = -1;
	}
	if (!c || (m->kind != MAIL_ATTACH && m->kind != MAIL_ADOPT_WS))
		return;
	pthread_mutex_lock(&c->lock);
	c->closing = c->done = true;
	bool wake = c->suspended;
	c->suspended = false;
	pthread_mutex_unlock(&c->lock);
	if (wake && c->wake)
		c->wake(c);
}

static void handle_mail(struct pl_hub *h, struct mail *m)
{
	if (atomic_load(&h->stopped)) {
		refuse(m);
		m->kind = MAIL_DETACH; /* nothing is attached any more */
	}
	switch (m->kind) {
	case MAIL_ATTACH:
		pl_hub_attach_now(h, m->conn, &m->attach);
		break;
	case MAIL_ADOPT_WS:
		if (m->conn->kind == PL_CONN_SSE ? pl_sse_adopt(h, m->conn, m->fd)
						  : pl_ws_adopt(h, m->conn, m->fd, m->extra, m->extra_len)) {
			pl_hub_attach_now(h, m->conn, &m->attach);
			pl_ws_start(h, m->conn);
		} else {
			close(m->fd);
			m->conn->watch.fd = -1;
			pl_ws_release(m->conn);
		}
		break;
	case MAIL_DETACH:
		pl_hub_drop(h, m->conn);
		break;
	case MAIL_EPHEMERAL:
		if (m->event)
			pl_hub_route_ephemeral(h, m->event);
		break;
	case MAIL_ACK:
		pl_hub_deliver_buf(h, m->conn, m->buf);
		break;
	}
	free_attach(&m->attach);
	json_decref(m->event);
	pl_buf_unref(m->buf);
	free(m->extra);
	pl_conn_unref(m->conn);
	free(m);
}

/* WebSocket acks come back from the writer thread. */
void pl_hub_post_buf(struct pl_hub *h, struct pl_conn *c, struct pl_buf *b)
{
	struct mail *m = mail_new(MAIL_ACK, c);
	if (!m) {
		pl_buf_unref(b);
		return;
	}
	m->buf = b;
	post(h, m);
}

static void on_wake(struct pl_watch *w, uint32_t events)
{
	(void)events;
	struct pl_hub *h = (struct pl_hub *)((char *)w - offsetof(struct pl_hub, wake));
	uint64_t n;
	(void)!read(w->fd, &n, sizeof n);
	pthread_mutex_lock(&h->mail_lock);
	struct mail *m = h->mail_head;
	h->mail_head = h->mail_tail = NULL;
	pthread_mutex_unlock(&h->mail_lock);
	pl_hub_fan_out(h);
	while (m) {
		struct mail *next = m->next;
		handle_mail(h, m);
		m = next;
	}
}

/* Another process wrote (wake-up), published an ephemeral event, or
 * counts a connection for presence. */
static void on_bus_message(void *ud, char kind, const char *payload, size_t len)
{
	struct pl_hub *h = ud;
	if (kind == 'W') {
		sink_stored(h, strtoll(payload, NULL, 10), NULL); /* read on the next pass */
	} else if (kind == 'E') {
		json_t *ev = json_loadb(payload, len, 0, NULL);
		if (ev)
			pl_hub_route_ephemeral(h, ev);
		json_decref(ev);
	} else if (kind == 'C' && len > 1 && pl_valid_id(payload + 1)) {
		pl_hub_count_connection(h, payload + 1, payload[0] == '+');
	}
}


/* ---- flushing, ticks and the thread ---- */

static void flush(struct pl_hub *h)
{
	while (h->dirty) {
		struct pl_conn *c = h->dirty;
		h->dirty = c->dirty_next;
		c->dirty = false;
		if (c->kind == PL_CONN_WS || c->kind == PL_CONN_ONLINE_WS)
			pl_ws_flush(h, c);
		else if (c->kind == PL_CONN_SIO)
			pl_eio_flush(h, c);
		else if (c->kind == PL_CONN_SSE)
			pl_sse_flush(h, c);
		else
			pl_poll_flush(h, c);
		pl_conn_unref(c);
	}
}

static void bury(struct pl_hub *h)
{
	while (h->graveyard) {
		struct pl_conn *c = h->graveyard;
		h->graveyard = c->user_next;
		pl_conn_unref(c);
	}
}

/* An SSE stream with nothing written for --keepalive seconds gets a
 * comment: it keeps proxies from closing the stream, and the write is
 * what finds a peer that went away. */
static void keepalive(struct pl_hub *h, struct pl_conn *c, int64_t now)
{
	if (c->qitems || now - c->last_write_ms < (int64_t)h->ctx->cfg->keepalive * 1000)
		return;
	struct pl_buf *b = pl_buf_new(":\n\n", 3);
	pl_hub_deliver_buf(h, c, b);
	pl_buf_unref(b);
	c->last_write_ms = now;
}

/* A stream lives no longer than its token (API.md "Limits and abuse"). */
void pl_hub_expire(struct pl_hub *h, struct pl_conn *c)
{
	static const char sse_error[] =
		"event: error\ndata: {\"code\":\"unauthenticated\","
		"\"message\":\"token expired: connect again with a fresh token\"}\n\n";
	if (c->closing)
		return;
	if (c->kind == PL_CONN_WS || c->kind == PL_CONN_ONLINE_WS) {
		pl_ws_close(h, c, PL_WS_CLOSE_EXPIRED, "token expired");
	} else if (c->kind == PL_CONN_SSE) {
		struct pl_buf *b = pl_buf_new(sse_error, sizeof sse_error - 1);
		pl_hub_deliver_buf(h, c, b);
		pl_buf_unref(b);
		pl_hub_close(h, c, 0, "token expired");
	}
	/* Long-polls end at exp by their deadline (api/poll.h pl_poll_deadline). */
}

static void tick(struct pl_hub *h, int64_t now)
{
	if (h->ctx->presence)
		pl_presence_tick(h->ctx->presence);
	pl_hub_route_tick(h, now);
	pl_stats_tick(&h->stats, &h->ctx->counters, h->ctx->cfg->stats_interval, now);
	pl_admin_tick(h, now);
	/* Delivered receipts are written in rounds, one a tick at most. */
	pl_hub_flush_delivered(h);
	/* Pings, keep-alives and timeouts every tick, not every second: the
	 * connections due come in four smaller groups. */
	int64_t wall = pl_clock_now_ms(h->ctx->clock);
	for (size_t i = 0; i < h->nall; i++) {
		struct pl_conn *c = h->all[i];
		if (c->exp_ms && wall >= c->exp_ms)
			pl_hub_expire(h, c);
		if (c->kind == PL_CONN_WS || c->kind == PL_CONN_ONLINE_WS)
			pl_ws_tick(h, c, now); /* also ends closes the peer never answers */
		else if (c->kind == PL_CONN_POLL)
			pl_poll_tick(h, c, now);
		else if (c->kind == PL_CONN_SSE && !c->closing)
			keepalive(h, c, now);
		/* Engine.IO heartbeats run on their own timer. */
		if (c->replaying && !c->done)
			pl_hub_replay(h, c);
	}
	if (now < h->next_flush_ms)
		return;
	h->next_flush_ms = now + 1000;
	/* HTTP's per-connection pools are freed when a WebSocket leaves MHD
	 * or a request ends; give those pages back after a burst, or idle
	 * connections would look as big as the handshakes once were. */
	if (h->churn > 256 || (h->churn && now - h->trimmed_ms > 10000)) {
		malloc_trim(0);
		h->churn = 0;
		h->trimmed_ms = now;
	}
	pl_bus_tick(h->ctx->bus);
}

/* At the stop: closes every connection (WebSocket 1001, streams ended,
 * long-polls answered), and goes on running the loop until every socket
 * the hub owns has finished, or STOP_WAIT_MS has passed.  A WebSocket has
 * finished when its close frame is written out and the client answered it
 * (its close frame, or EOF); an SSE stream when its last bytes are written.
 * Closing sooner would lose the close frame: it may still sit in the queue
 * behind a backlog (the write would block), or in the kernel's send
 * buffer, which close() throws away when the client's sends in flight are
 * unread.  Connections that arrive meanwhile are closed the same way. */
static void close_everything(struct pl_hub *h)
{
	int64_t until = pl_mono_ms() + STOP_WAIT_MS;
	for (;;) {
		bool open = false;
		/* Backwards: a connection closed at once leaves h->all, and the
		 * last one, already seen, takes its place. */
		for (size_t i = h->nall; i-- > 0;) {
			struct pl_conn *c = h->all[i];
			if (!c->closing)
				pl_hub_close(h, c, WS_CLOSE_GOING_AWAY, "server shutting down");
			if (i < h->nall && h->all[i] == c && c->watch.fd >= 0)
				open = true;
		}
		flush(h);
		bury(h);
		int64_t now = pl_mono_ms();
		if (!open || now >= until)
			return;
		if (!pl_loop_once(h->loop, until - now < 50 ? (int)(until - now) : 50))
			return;
	}
}

/* At the stop, before the close frames: the writer still commits the
 * WebSocket sends it was given, and each one's ack (or error) must be
 * queued ahead of its connection's close frame, or the client would see a
 * message stored but never acknowledged.  No frame is read meanwhile, so
 * no new send starts.  Bounded by STOP_WAIT_MS. */
static void wait_for_acks(struct pl_hub *h)
{
	int64_t until = pl_mono_ms() + STOP_WAIT_MS;
	while (atomic_load(&h->sends_in_flight) > 0 && pl_mono_ms() < until) {
		struct pollfd p = {.fd = h->wake.fd, .events = POLLIN};
		(void)poll(&p, 1, 10);
		on_wake(&h->wake, 0);
	}
	on_wake(&h->wake, 0); /* the last ones posted */
	if (atomic_load(&h->sends_in_flight) > 0)
		log_warn("stop: %d WebSocket sends still at the writer; their acks are lost",
			 atomic_load(&h->sends_in_flight));
}

bool pl_hub_pass(struct pl_hub *h, int wait_ms)
{
	if (!pl_loop_once(h->loop, wait_ms)) {
		log_error("hub: epoll failed: %s", strerror(errno));
		return false;
	}
	int64_t now = pl_clock_mono_ms(h->ctx->clock);
	if (now >= h->next_tick_ms) {
		h->next_tick_ms = now + TICK_MS;
		tick(h, now);
	}
	pl_ws_backlog(h);
	pl_hub_delivered_next(h);
	flush(h);
	bury(h);
	pl_eio_bury(h->eio);
	return true;
}

/* After the stop: hands out the last acks, closes every connection and
 * lets go of them (on the hub's thread, or pl_hub_stop's for a hub that
 * never had one). */
static void hub_finish(struct pl_hub *h)
{
	on_wake(&h->wake, 0); /* take what was posted before the stop */
	wait_for_acks(h);
	pl_eio_stop(h->eio);
	close_everything(h);
	pl_hub_delivered_drain(h);
	while (h->nall)
		pl_hub_drop(h, h->all[h->nall - 1]);
	pl_ws_backlog(h); /* its connections are detached: this lets go of them */
	flush(h);
	bury(h);
	pl_eio_bury(h->eio);
}

static void *hub_main(void *arg)
{
	struct pl_hub *h = arg;
	while (!atomic_load(&h->stopping)) {
		int64_t now = pl_clock_mono_ms(h->ctx->clock);
		int wait = h->next_tick_ms > now && !h->ws_backlog ? (int)(h->next_tick_ms - now) : 0;
		if (!pl_hub_pass(h, wait))
			break;
	}
	hub_finish(h);
	return NULL;
}

/* Frees what pl_hub_start made, whatever it got to; the thread is not
 * running (never started, or joined). */
static void hub_release(struct pl_hub *h)
{
	pl_map_free_all(h->rooms);
	pl_map_free_all(h->users);
	pl_feed_free(&h->feeds);
	pl_map_free_all(h->typing);
	pl_hub_receipts_free(h);
	pl_map_free_all(h->delivered);
	pl_map_free_all(h->delivered_round);
	pl_map_free(h->poll_sessions); /* its conns are gone by now */
	pl_eio_free(h->eio);
	if (h->ping)
		pl_buf_unref(h->ping);
	pl_ctx_reader_put(h->ctx, h->store);
	pl_loop_free(h->loop);
	if (h->wake.fd >= 0)
		close(h->wake.fd);
	free(h->all);
	pthread_mutex_destroy(&h->mail_lock);
	pl_commits_free(&h->commits);
	pl_admin_free(&h->admin);
	free(h);
}

struct pl_hub *pl_hub_new(struct pl_ctx *ctx, pl_error *err)
{
	struct pl_hub *h = calloc(1, sizeof *h);
	if (!h) {
		pl_fail(err, PL_INTERNAL, "out of memory");
		return NULL;
	}
	h->ctx = ctx;
	pthread_mutex_init(&h->mail_lock, NULL);
	pl_commits_init(&h->commits);
	h->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	h->wake.fn = on_wake;
	h->loop = pl_loop_new();
	h->rooms = pl_map_new();
	h->users = pl_map_new();
	h->typing = pl_map_new();
	h->receipts = pl_map_new();
	h->delivered = pl_map_new();
	h->poll_sessions = pl_map_new();
	h->delivered_round = pl_map_new();
	h->store = pl_ctx_reader(ctx);
	h->eio = h->loop ? pl_eio_new(h) : NULL;
	if (h->wake.fd < 0 || !h->loop || !h->rooms || !h->users || !h->typing || !h->receipts ||
	    !h->delivered || !h->delivered_round || !h->poll_sessions || !h->store || !h->eio ||
	    !pl_loop_add(h->loop, &h->wake, EPOLLIN)) {
		pl_fail(err, PL_INTERNAL, "cannot start the hub: out of memory or descriptors");
		hub_release(h);
		return NULL;
	}
	if (!pl_bus_attach(ctx->bus, h->loop, on_bus_message, h)) {
		pl_fail(err, PL_INTERNAL, "cannot start the hub: cannot listen on the bus");
		pl_bus_detach(ctx->bus); /* a half-made attach leaves no pointer into the loop */
		hub_release(h);
		return NULL;
	}
	h->cursor = pl_store_last_event(h->store);
	/* A mirror left by a daemon that died counts nobody now. */
	pl_error clear;
	if (pl_store_presence_clear(h->store, &clear) != PL_OK)
		log_warn("hub: cannot clear the presence mirror: %s", clear.message);
	atomic_init(&h->stored_hint, h->cursor);
	struct pl_sink sink = {h, sink_stored, sink_ephemeral};
	pl_ctx_set_sink(ctx, &sink);
	return h;
}

struct pl_hub *pl_hub_start(struct pl_ctx *ctx, pl_error *err)
{
	struct pl_hub *h = pl_hub_new(ctx, err);
	if (!h)
		return NULL;
	if (pthread_create(&h->thread, NULL, hub_main, h) != 0) {
		pl_fail(err, PL_INTERNAL, "cannot start the hub thread");
		struct pl_sink none = {0};
		pl_ctx_set_sink(ctx, &none);
		pl_bus_detach(ctx->bus);
		hub_release(h);
		return NULL;
	}
	h->threaded = true;
	return h;
}

void pl_hub_stop(struct pl_hub *h)
{
	if (!h)
		return;
	struct pl_sink none = {0};
	pl_ctx_set_sink(h->ctx, &none);
	atomic_store(&h->stopping, true);
	uint64_t one = 1;
	(void)!write(h->wake.fd, &one, sizeof one);
	if (h->threaded)
		pthread_join(h->thread, NULL);
	else
		hub_finish(h);
	atomic_store(&h->stopped, true);
	/* What was posted between the thread's last pass and now. */
	on_wake(&h->wake, 0);
}

void pl_hub_free(struct pl_hub *h)
{
	if (!h)
		return;
	on_wake(&h->wake, 0);
	hub_release(h);
}
