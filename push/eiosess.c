/* push/eiosess: see eiosess.h. */
#include "push/eiosess.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "push/eio.h"
#include "push/eioint.h"
#include "push/hubint.h"
#include "push/sio_bind.h"
#include "push/ws.h"

#define PING_INTERVAL_MS 25000
#define PING_TIMEOUT_MS 20000
#define MAX_PAYLOAD (64 * 1024)           /* what parleyd reads of a POST body */
#define CONF_MAX_PAYLOAD 1000000
/* ---- requests (any thread) ---- */

struct pl_eio_req *pl_eio_req_new(void)
{
	struct pl_eio_req *r = calloc(1, sizeof *r);
	if (r)
		atomic_init(&r->refs, 1);
	return r;
}

void pl_eio_req_unref(struct pl_eio_req *r)
{
	if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	free(r->token);
	free(r->body);
	free(r->out);
	free(r);
}

/* Answers r (once) and lets go of the hub's reference. */
static void reply(struct pl_eio_req *r, int status, const char *ctype, const char *body,
		  size_t len)
{
	r->status = status;
	r->ctype = ctype;
	r->out = malloc(len + 1);
	if (r->out) {
		memcpy(r->out, body, len);
		r->out[len] = 0;
		r->out_len = len;
	}
	if (r->wake)
		r->wake(r);
	pl_eio_req_unref(r);
}

/* The reference server's 400 answers: {"code":N,"message":".."}. */
static void reply_error(struct pl_eio_req *r, int code)
{
	static const char *const msgs[] = {"Transport unknown", "Session ID unknown",
					   "Bad handshake method", "Bad request", "Forbidden",
					   "Unsupported protocol version"};
	char body[96];
	int n = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code, msgs[code]);
	reply(r, 400, "application/json", body, (size_t)n);
}

bool pl_eio_sid_ok(const char *sid)
{
	if (!sid || strlen(sid) != EIO_SID_LEN)
		return false;
	return strspn(sid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
	       EIO_SID_LEN;
}

static void post_mail(struct pl_hub *h, struct eio_mail *m)
{
	struct pl_eio *e = h->eio;
	pthread_mutex_lock(&e->lock);
	bool stopped = e->stopped;
	if (!stopped) {
		if (e->tail)
			e->tail->next = m;
		else
			e->head = m;
		e->tail = m;
	}
	pthread_mutex_unlock(&e->lock);
	if (!stopped) {
		uint64_t one = 1;
		(void)!write(e->wake.fd, &one, sizeof one);
		return;
	}
	/* The hub is gone: refuse here. */
	if (m->req)
		reply(m->req, 503, "text/plain", "stopping", 8);
	if (m->fd >= 0)
		close(m->fd);
	free(m->extra);
	free(m->token);
	free(m);
}

void pl_eio_submit(struct pl_hub *h, struct pl_eio_req *r)
{
	struct eio_mail *m = calloc(1, sizeof *m);
	atomic_fetch_add(&r->refs, 1);
	if (!m) {
		reply(r, 503, "text/plain", "out of memory", 13);
		return;
	}
	m->req = r;
	m->fd = -1;
	post_mail(h, m);
}

void pl_eio_adopt_ws(struct pl_hub *h, int fd, const char *extra, size_t extra_len,
		     const char *sid, const char *token, bool engine_only)
{
	struct eio_mail *m = calloc(1, sizeof *m);
	if (!m) {
		close(fd);
		return;
	}
	m->fd = fd;
	m->engine_only = engine_only;
	if (sid)
		snprintf(m->sid, sizeof m->sid, "%s", sid);
	m->token = token ? strdup(token) : NULL;
	if (extra_len && (m->extra = malloc(extra_len))) {
		memcpy(m->extra, extra, extra_len);
		m->extra_len = extra_len;
	}
	post_mail(h, m);
}

/* ---- the worker ---- */

static void *worker_main(void *arg)
{
	struct pl_eio *e = arg;
	pthread_mutex_lock(&e->lock);
	for (;;) {
		while (!e->jobs && !e->worker_stop)
			pthread_cond_wait(&e->work_cond, &e->lock);
		struct eio_job *j = e->jobs;
		if (!j)
			break; /* stopping, and nothing left */
		e->jobs = j->next;
		if (!e->jobs)
			e->jobs_tail = NULL;
		pthread_mutex_unlock(&e->lock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&e->lock);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

void pl_eio_work(struct pl_hub *h, void (*fn)(void *arg), void *arg)
{
	struct pl_eio *e = h->eio;
	struct eio_job *j = calloc(1, sizeof *j);
	pthread_mutex_lock(&e->lock);
	bool run_here = !j || !e->worker_started || e->worker_stop;
	if (!run_here) {
		j->fn = fn;
		j->arg = arg;
		if (e->jobs_tail)
			e->jobs_tail->next = j;
		else
			e->jobs = j;
		e->jobs_tail = j;
		pthread_cond_signal(&e->work_cond);
	}
	pthread_mutex_unlock(&e->lock);
	if (run_here) { /* no worker (out of memory, or stopping): at once */
		free(j);
		fn(arg);
	}
}

static void worker_stop(struct pl_eio *e)
{
	pthread_mutex_lock(&e->lock);
	bool started = e->worker_started;
	e->worker_stop = true;
	pthread_cond_signal(&e->work_cond);
	pthread_mutex_unlock(&e->lock);
	if (started)
		pthread_join(e->worker, NULL); /* it runs what was queued first */
	e->worker_started = false;
}

/* ---- timers: a min-heap of sessions by due time, one timerfd ---- */

static void heap_swap(struct pl_eio *e, size_t a, size_t b)
{
	struct pl_eio_sess *t = e->heap[a];
	e->heap[a] = e->heap[b];
	e->heap[b] = t;
	e->heap[a]->hidx = a;
	e->heap[b]->hidx = b;
}

static void heap_fix(struct pl_eio *e, size_t i)
{
	while (i > 0 && e->heap[(i - 1) / 2]->due > e->heap[i]->due) {
		heap_swap(e, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < e->nheap && e->heap[l]->due < e->heap[m]->due)
			m = l;
		if (r < e->nheap && e->heap[r]->due < e->heap[m]->due)
			m = r;
		if (m == i)
			return;
		heap_swap(e, i, m);
		i = m;
	}
}

static bool heap_add(struct pl_eio *e, struct pl_eio_sess *s)
{
	if (e->nheap == e->capheap) {
		size_t cap = e->capheap ? e->capheap * 2 : 256;
		void *grown = realloc(e->heap, cap * sizeof *e->heap);
		if (!grown)
			return false;
		e->heap = grown;
		e->capheap = cap;
	}
	s->hidx = e->nheap;
	e->heap[e->nheap++] = s;
	heap_fix(e, s->hidx);
	return true;
}

static void heap_remove(struct pl_eio *e, struct pl_eio_sess *s)
{
	size_t i = s->hidx;
	if (i >= e->nheap || e->heap[i] != s)
		return;
	heap_swap(e, i, e->nheap - 1);
	e->nheap--;
	if (i < e->nheap)
		heap_fix(e, i);
}

static void arm(struct pl_eio *e)
{
	int64_t due = e->nheap ? e->heap[0]->due : 0;
	if (due == e->armed)
		return;
	e->armed = due;
	struct itimerspec its = {0};
	if (due) {
		its.it_value.tv_sec = due / 1000;
		its.it_value.tv_nsec = (due % 1000) * 1000000L;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(e->timer.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void reschedule(struct pl_eio_sess *s)
{
	int64_t due = s->pong_due ? s->pong_due : s->ping_due;
	if (s->connect_due && s->connect_due < due)
		due = s->connect_due;
	s->due = due;
	heap_fix(s->e, s->hidx);
	arm(s->e);
}

static void sess_timer(struct pl_eio_sess *s, int64_t now)
{
	if (s->connect_due && now >= s->connect_due) {
		eio_sess_end(s, "connect timeout");
		return;
	}
	if (s->pong_due && now >= s->pong_due) {
		eio_sess_end(s, "ping timeout");
		return;
	}
	if (!s->pong_due && now >= s->ping_due) {
		pl_eio_send_text(s, "2", 1);
		s->pong_due = now + s->e->ping_timeout;
	}
	if (!s->ended)
		reschedule(s);
}

static void on_timer(struct pl_watch *w, uint32_t events)
{
	(void)events;
	struct pl_eio *e = (struct pl_eio *)((char *)w - offsetof(struct pl_eio, timer));
	uint64_t n;
	(void)!read(w->fd, &n, sizeof n);
	e->armed = 0;
	int64_t now = pl_mono_ms();
	while (e->nheap && e->heap[0]->due <= now)
		sess_timer(e->heap[0], now);
	arm(e);
}

/* ---- sessions ---- */

static bool new_sid(char out[EIO_SID_LEN + 1])
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char rnd[EIO_SID_LEN];
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return false;
	for (int i = 0; i < EIO_SID_LEN; i++)
		out[i] = alphabet[rnd[i] & 63];
	out[EIO_SID_LEN] = 0;
	return true;
}

static void sess_free(struct pl_eio_sess *s)
{
	if (s->c) {
		s->c->eio = NULL;
		pl_conn_unref(s->c);
	}
	free(s->token);
	free(s);
}

struct pl_eio_sess *eio_sess_new(struct pl_eio *e, const char *token, bool engine_only)
{
	struct pl_eio_sess *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->e = e;
	s->engine_only = engine_only;
	s->c = pl_conn_new(PL_CONN_SIO, "");
	s->token = token ? strdup(token) : NULL;
	/* Sessions outlive their requests (a polling one waits up to the
	 * connect timeout for its CONNECT): as many as connections at most. */
	if ((int)pl_map_len(e->sessions) >= e->h->ctx->cfg->max_connections || !s->c || !new_sid(s->sid) || (token && !s->token) || pl_map_get(e->sessions, s->sid) ||
	    !pl_map_put(e->sessions, s->sid, s)) {
		sess_free(s);
		return NULL;
	}
	s->c->eio = s;
	int64_t now = pl_mono_ms();
	s->ping_due = now + e->ping_interval;
	s->connect_due = engine_only ? 0 : now + e->connect_timeout;
	if (!heap_add(e, s)) {
		pl_map_del(e->sessions, s->sid);
		sess_free(s);
		return NULL;
	}
	reschedule(s);
	atomic_fetch_add(&e->h->ctx->counters.socketio_open, 1);
	return s;
}

bool eio_send_open(struct pl_eio_sess *s, char *out, size_t cap, size_t *len)
{
	int n = snprintf(out, cap,
			 "0{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%d,\"pingTimeout\":%d,"
			 "\"maxPayload\":%d}",
			 s->sid, s->ws_transport ? "" : "\"websocket\"", s->e->ping_interval,
			 s->e->ping_timeout, s->e->max_payload);
	*len = (size_t)n;
	return n > 0 && (size_t)n < cap;
}

/* The whole queue as one polling payload: text packets as they are, binary
 * ones as "b" + base64, separated by 0x1e.  Called with the lock held. */
static char *queue_payload(struct pl_conn *c, size_t *len)
{
	size_t cap = 1;
	for (struct pl_qitem *it = c->head; it; it = it->next)
		cap += it->buf->len * 4 / 3 + 8;
	char *out = malloc(cap);
	size_t n = 0;
	if (!out)
		return NULL;
	for (struct pl_qitem *it = c->head; it; it = it->next) {
		if (n)
			out[n++] = EIO_SEP;
		if (it->buf->data[0] == 'b') {
			out[n++] = 'b';
			n += eio_b64_encode((const uint8_t *)it->buf->data + 1, it->buf->len - 1,
					    out + n);
		} else {
			memcpy(out + n, it->buf->data, it->buf->len);
			n += it->buf->len;
		}
	}
	out[n] = 0;
	*len = n;
	return out;
}

/* Answers the waiting GET with what is queued, or with a noop when
 * nothing is and an upgrade (or the end) needs it released. */
void eio_answer_get(struct pl_eio_sess *s, bool force)
{
	struct pl_eio_req *r = s->get;
	if (!r)
		return;
	pthread_mutex_lock(&s->c->lock);
	size_t len = 0;
	char *body = s->c->head ? queue_payload(s->c, &len) : NULL;
	if (body)
		pl_conn_clear(s->c);
	pthread_mutex_unlock(&s->c->lock);
	if (!body && !force)
		return;
	s->get = NULL;
	if (body)
		reply(r, 200, "text/plain; charset=UTF-8", body, len);
	else
		reply(r, 200, "text/plain; charset=UTF-8", "6", 1);
	free(body);
}

void eio_sess_end(struct pl_eio_sess *s, const char *why)
{
	if (s->ended)
		return;
	s->ended = true;
	atomic_fetch_sub(&s->e->h->ctx->counters.socketio_open, 1);
	log_debug("engine.io: session %s ends: %s", s->sid, why);
	pl_sio_on_end(s);
	heap_remove(s->e, s);
	arm(s->e);
	pl_map_del(s->e->sessions, s->sid);
	if (s->get) {
		struct pl_eio_req *r = s->get;
		s->get = NULL;
		reply(r, 200, "text/plain; charset=UTF-8", "1", 1);
	}
	if (s->ws) {
		struct eio_ws *ws = s->ws;
		s->ws = NULL;
		ws->s = NULL;
		eio_ws_drop(ws);
	}
	s->c->closing = true;
	s->dead_next = s->e->dead;
	s->e->dead = s;
}

void pl_eio_end(struct pl_eio_sess *s, const char *why) { eio_sess_end(s, why); }

bool pl_eio_send(struct pl_eio_sess *s, struct pl_buf *b)
{
	if (!b || s->ended || s->c->closing)
		return false;
	pl_hub_deliver_buf(s->e->h, s->c, b);
	return !s->c->closing;
}

bool pl_eio_send_text(struct pl_eio_sess *s, const char *text, size_t len)
{
	struct pl_buf *b = pl_buf_new(text, len);
	bool ok = pl_eio_send(s, b);
	pl_buf_unref(b);
	return ok;
}

struct pl_conn *pl_eio_conn(struct pl_eio_sess *s) { return s->c; }
struct pl_hub *pl_eio_hub(struct pl_eio_sess *s) { return s->e->h; }
const char *pl_eio_token(struct pl_eio_sess *s) { return s->token; }
const char *pl_eio_sid(struct pl_eio_sess *s) { return s->sid; }
bool pl_eio_conformance(struct pl_eio_sess *s) { return s->e->conformance; }
void **pl_eio_upper(struct pl_eio_sess *s) { return &s->upper; }

pl_map *pl_eio_receipts(struct pl_hub *h)
{
	struct pl_eio *e = h->eio;
	if (pl_map_len(e->receipts) > 100000) { /* only saves repeats: start over */
		pl_map_free_all(e->receipts);
		e->receipts = pl_map_new();
	}
	return e->receipts;
}

void pl_eio_connected(struct pl_eio_sess *s)
{
	s->connect_due = 0;
	reschedule(s);
}

bool pl_eio_renew_conn(struct pl_eio_sess *s)
{
	struct pl_conn *old = s->c, *c = pl_conn_new(PL_CONN_SIO, "");
	if (!c)
		return false;
	pthread_mutex_lock(&old->lock);
	for (struct pl_qitem *it = old->head; it; it = it->next)
		pl_conn_push(c, it->buf);
	pl_conn_clear(old);
	pthread_mutex_unlock(&old->lock);
	old->eio = NULL;
	old->closing = true;
	pl_conn_unref(old);
	c->eio = s;
	s->c = c;
	pl_hub_mark_dirty(s->e->h, c);
	return true;
}

/* ---- packets, from either transport ---- */

static void heartbeat(struct pl_eio_sess *s)
{
	s->pong_due = 0;
	s->ping_due = pl_mono_ms() + s->e->ping_interval;
	reschedule(s);
}

static bool echo_binary(struct pl_eio_sess *s, const uint8_t *p, size_t n)
{
	struct pl_buf *b = pl_buf_alloc(n + 1);
	if (!b)
		return false;
	b->data[0] = 'b';
	memcpy(b->data + 1, p, n);
	bool ok = pl_eio_send(s, b);
	pl_buf_unref(b);
	return ok;
}

/* One packet; false for a malformed one (the session then ends). */
bool eio_on_packet(struct pl_eio_sess *s, const char *p, size_t n, bool binary)
{
	if (s->ended)
		return true;
	if (binary) {
		if (s->engine_only)
			return echo_binary(s, (const uint8_t *)p, n);
		return pl_sio_on_binary(s, (const uint8_t *)p, n);
	}
	if (n == 0)
		return false;
	switch (p[0]) {
	case EIO_CLOSE:
		eio_answer_get(s, true); /* a waiting poll ends cleanly, with a noop */
		eio_sess_end(s, "client close");
		return true;
	case EIO_PING: {
		char pong[64];
		if (n > sizeof pong)
			return false;
		memcpy(pong, p, n);
		pong[0] = EIO_PONG;
		pl_eio_send_text(s, pong, n);
		return true;
	}
	case EIO_PONG:
		heartbeat(s);
		return true;
	case EIO_MESSAGE:
		if (s->engine_only)
			return pl_eio_send_text(s, p, n) || true;
		return pl_sio_on_text(s, p + 1, n - 1);
	case EIO_UPGRADE:
	case EIO_NOOP:
		return true;
	default:
		return false;
	}
}

/* A polling POST: every packet of the payload, in order. */
static void handle_post(struct pl_eio_sess *s, struct pl_eio_req *r)
{
	if (r->too_large) {
		reply(r, 413, "text/plain", "payload too large", 17);
		eio_sess_end(s, "payload too large");
		return;
	}
	size_t pos = 0, n;
	const char *pkt;
	bool ok = r->len > 0;
	uint8_t *bin = NULL;
	while (ok && !s->ended && eio_payload_next(r->body, r->len, &pos, &pkt, &n)) {
		if (n > 0 && pkt[0] == 'b') {
			size_t blen;
			free(bin);
			bin = malloc(n);
			ok = bin && eio_b64_decode(pkt + 1, n - 1, bin, &blen) &&
			     eio_on_packet(s, (const char *)bin, blen, true);
		} else {
			ok = eio_on_packet(s, pkt, n, false);
		}
	}
	free(bin);
	if (!ok) {
		reply_error(r, 3);
		eio_sess_end(s, "parse error");
		return;
	}
	reply(r, 200, "text/html", "ok", 2);
}

static void handle_req(struct pl_eio *e, struct pl_eio_req *r)
{
	if (!r->sid[0]) {
		if (r->post) {
			reply_error(r, 2);
			return;
		}
		struct pl_eio_sess *s = eio_sess_new(e, r->token, r->engine_only);
		char open[256];
		size_t n;
		if (!s || !eio_send_open(s, open, sizeof open, &n)) {
			reply(r, 503, "text/plain", "cannot open a session now", 25);
			return;
		}
		reply(r, 200, "text/plain; charset=UTF-8", open, n);
		return;
	}
	struct pl_eio_sess *s = pl_map_get(e->sessions, r->sid);
	if (!s || s->ended || s->engine_only != r->engine_only) {
		reply_error(r, 1);
		return;
	}
	if (s->ws_transport) { /* upgraded: polling is over for this session */
		reply_error(r, 3);
		return;
	}
	if (r->post) {
		handle_post(s, r);
		return;
	}
	if (s->get) { /* one GET at a time */
		reply_error(r, 3);
		eio_sess_end(s, "poll overlap");
		return;
	}
	s->get = r;
	atomic_fetch_add(&r->refs, 1);
	pl_eio_req_unref(r); /* the mail's reference: s->get holds one now */
	eio_answer_get(s, s->upgrading);
}

/* ---- the hub's side ---- */

void pl_eio_flush(struct pl_hub *h, struct pl_conn *c)
{
	(void)h;
	struct pl_eio_sess *s = c->eio;
	if (!s || s->ended)
		return;
	if (c->closing) {
		eio_sess_end(s, "closed by the server");
		return;
	}
	if (s->ws_transport && s->ws)
		eio_ws_pump(s->ws);
	else
		eio_answer_get(s, false);
}

void pl_eio_conn_close(struct pl_hub *h, struct pl_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	pl_hub_mark_dirty(h, c);
}

static void free_mail(struct eio_mail *m)
{
	free(m->extra);
	free(m->token);
	free(m);
}

static void on_mail(struct pl_watch *w, uint32_t events)
{
	(void)events;
	struct pl_eio *e = (struct pl_eio *)((char *)w - offsetof(struct pl_eio, wake));
	uint64_t n;
	(void)!read(w->fd, &n, sizeof n);
	pthread_mutex_lock(&e->lock);
	struct eio_mail *m = e->head;
	e->head = e->tail = NULL;
	pthread_mutex_unlock(&e->lock);
	while (m) {
		struct eio_mail *next = m->next;
		if (m->req)
			handle_req(e, m->req);
		else
			eio_ws_adopt(e, m);
		free_mail(m);
		m = next;
	}
}

void pl_eio_bury(struct pl_eio *e)
{
	while (e->dead) {
		struct pl_eio_sess *s = e->dead;
		e->dead = s->dead_next;
		sess_free(s);
	}
	while (e->dead_ws) {
		struct eio_ws *ws = e->dead_ws;
		e->dead_ws = ws->dead_next;
		free(ws);
	}
}

struct pl_eio *pl_eio_new(struct pl_hub *h)
{
	struct pl_eio *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->h = h;
	e->conformance = h->ctx->cfg->socketio_conformance;
	e->ping_interval = e->conformance ? 300 : PING_INTERVAL_MS;
	e->ping_timeout = e->conformance ? 200 : PING_TIMEOUT_MS;
	e->max_payload = e->conformance ? CONF_MAX_PAYLOAD : MAX_PAYLOAD;
	/* 45 s, as the reference server's connectTimeout */
	e->connect_timeout = h->ctx->cfg->socketio_connect_timeout_ms;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->work_cond, NULL);
	e->sessions = pl_map_new();
	e->receipts = pl_map_new();
	e->wake.fd = -1;
	e->timer.fd = -1;
	e->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	e->wake.fn = on_mail;
	e->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	e->timer.fn = on_timer;
	if (!e->sessions || !e->receipts || e->wake.fd < 0 || e->timer.fd < 0 ||
	    !pl_loop_add(h->loop, &e->wake, EPOLLIN) || !pl_loop_add(h->loop, &e->timer, EPOLLIN)) {
		pl_eio_free(e);
		return NULL;
	}
	e->worker_started = pthread_create(&e->worker, NULL, worker_main, e) == 0;
	return e;
}

void pl_eio_stop(struct pl_eio *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stopped = true;
	struct eio_mail *m = e->head;
	e->head = e->tail = NULL;
	pthread_mutex_unlock(&e->lock);
	while (m) {
		struct eio_mail *next = m->next;
		if (m->req)
			reply(m->req, 503, "text/plain", "stopping", 8);
		if (m->fd >= 0)
			close(m->fd);
		free_mail(m);
		m = next;
	}
	while (e->nheap)
		eio_sess_end(e->heap[0], "server stopping");
	pl_eio_bury(e);
	worker_stop(e);
}

void pl_eio_free(struct pl_eio *e)
{
	if (!e)
		return;
	worker_stop(e);
	pl_eio_bury(e);
	pl_map_free(e->sessions);
	if (e->receipts)
		pl_map_free_all(e->receipts);
	free(e->heap);
	if (e->wake.fd >= 0)
		close(e->wake.fd);
	if (e->timer.fd >= 0)
		close(e->timer.fd);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->work_cond);
	free(e);
}
