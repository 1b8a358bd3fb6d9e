/* db/bus_redis: the Redis bus; see bus_redis.h. */
#include "db/bus_redis.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/loop.h"
#include "db/busint.h"
#include "db/redis.h"
#include "db/store.h"

#define NODE_LEN 16
#define CHAN_BUS "parley:bus"
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 10000
#define CONNECT_TIMEOUT_MS 5000
#define REPLY_TIMEOUT_MS 10000  /* a command unanswered this long: the link is dead */
#define QUEUE_MAX 20000         /* messages waiting for the loop's thread */
#define SYNC_TIMEOUT_MS 500

enum link_state { LINK_DOWN, LINK_CONNECTING, LINK_UP };

struct outmsg {
	struct outmsg *next;
	size_t len;
	char data[]; /* node id, kind, payload */
};

struct bus_redis {
	struct pl_bus base;     /* first: db/bus.c's view */
	struct pl_redis_addr raddr;
	char node[NODE_LEN + 1];
	char db_path[4200];
	struct pl_bus_client client;
	_Atomic unsigned long long sent; /* numbers the 'C' messages (op ids) */
	/* the daemon's link, on the loop's thread */
	struct pl_loop *loop;
	struct pl_redis_evs evs;
	redisAsyncContext *cmd;         /* commands and PUBLISH */
	redisAsyncContext *sub;         /* SUBSCRIBE only */
	enum link_state state;
	unsigned gen;                   /* connection attempt, for late replies */
	bool cmd_ready;
	int subs_due;                   /* subscribe confirmations still to come */
	int64_t connect_started;
	int64_t down_since;
	int backoff_ms;
	bool down_logged;               /* "down" said, "back" not yet */
	bool hello_logged;              /* a refused AUTH/SELECT said */
	bool ever_up;
	int inflight;                   /* commands sent, not answered */
	int64_t last_progress;
	struct pl_watch kick;           /* eventfd: messages queued by other threads */
	struct pl_watch timer;          /* timerfd: the next connect attempt */
	pthread_mutex_t qlock;
	struct outmsg *qhead, *qtail;
	size_t qlen;
	bool qfull_logged;
	/* the blocking connection (parley.fcgi's publishing, goodbyes) */
	pthread_mutex_t slock;
	redisContext *sync;
	int64_t sync_retry_at;
	int sync_backoff_ms;
	bool sync_down_logged;
};

#define BUS_OF(w, member) \
	((struct bus_redis *)(void *)((char *)(w) - offsetof(struct bus_redis, member)))

static struct bus_redis *as_redis(struct pl_bus *bus)
{
	return bus && bus->ops == &pl_bus_redis_ops ? (struct bus_redis *)bus : NULL;
}

static const struct bus_redis *as_redis_c(const struct pl_bus *bus)
{
	return bus && bus->ops == &pl_bus_redis_ops ? (const struct bus_redis *)bus : NULL;
}

static void redis_close(struct pl_bus *bus);

static void new_node_id(char out[NODE_LEN + 1])
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
		    ((uint64_t)getpid() << 32);
	}
	snprintf(out, NODE_LEN + 1, "%016" PRIx64, v);
}

enum pl_code pl_bus_open_redis(const char *url, const char *db_path, bool listen,
			       struct pl_bus **out, pl_error *err)
{
	struct bus_redis *b = calloc(1, sizeof *b);
	if (!b)
		return pl_fail(err, PL_INTERNAL, "out of memory");
	b->base.ops = &pl_bus_redis_ops;
	if (!pl_redis_parse_url(url, &b->raddr, err)) {
		free(b);
		return err->code;
	}
	b->base.listening = listen;
	b->kick.fd = -1;
	b->timer.fd = -1;
	new_node_id(b->node);
	snprintf(b->db_path, sizeof b->db_path, "%s", db_path ? db_path : "");
	b->backoff_ms = BACKOFF_MIN_MS;
	b->sync_backoff_ms = BACKOFF_MIN_MS;
	pthread_mutex_init(&b->qlock, NULL);
	pthread_mutex_init(&b->slock, NULL);
	if (listen) {
		b->kick.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		b->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (b->kick.fd < 0 || b->timer.fd < 0) {
			pl_fail(err, PL_INTERNAL, "bus: %s", strerror(errno));
			redis_close(&b->base);
			return err->code;
		}
	}
	*out = &b->base;
	return PL_OK;
}

/* ---- the blocking connection ---- */

static void sync_drop(struct bus_redis *b, const char *why)
{
	if (b->sync) {
		redisFree(b->sync);
		b->sync = NULL;
	}
	if (!b->sync_down_logged) {
		log_warn("redis: cannot reach %s (%s): messages to other processes are dropped "
			 "until it is back (the store keeps everything; they catch up)",
			 b->raddr.shown, why);
		b->sync_down_logged = true;
	}
	b->sync_retry_at = pl_mono_ms() + b->sync_backoff_ms;
	b->sync_backoff_ms = b->sync_backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
								: b->sync_backoff_ms * 2;
}

static bool sync_connect(struct bus_redis *b)
{
	if (b->sync)
		return true;
	if (pl_mono_ms() < b->sync_retry_at)
		return false;
	char why[256];
	b->sync = pl_redis_connect_sync(&b->raddr, SYNC_TIMEOUT_MS, why, sizeof why);
	if (!b->sync) {
		sync_drop(b, why);
		return false;
	}
	if (b->sync_down_logged)
		log_info("redis: %s is reachable again", b->raddr.shown);
	b->sync_down_logged = false;
	b->sync_backoff_ms = BACKOFF_MIN_MS;
	return true;
}

struct redisReply *pl_bus_command_sync(struct pl_bus *bus, int argc, const char **argv,
				       const size_t *lens)
{
	struct bus_redis *b = as_redis(bus);
	if (!b)
		return NULL;
	pthread_mutex_lock(&b->slock);
	redisReply *r = NULL;
	/* A connection kept from before a Redis restart fails once: then one
	 * fresh try. */
	for (int attempt = 0; attempt < 2 && !r; attempt++) {
		bool had = b->sync != NULL;
		if (!sync_connect(b))
			break;
		r = redisCommandArgv(b->sync, argc, argv, lens);
		if (!r) {
			char why[200];
			snprintf(why, sizeof why, "%s", b->sync->errstr[0] ? b->sync->errstr : "no answer");
			redisFree(b->sync);
			b->sync = NULL;
			if (!had)
				sync_drop(b, why);
			else
				b->sync_retry_at = 0;
		}
	}
	pthread_mutex_unlock(&b->slock);
	return r;
}

/* ---- the link: two async connections on the loop ---- */

static void arm_timer(struct bus_redis *b, int ms)
{
	if (b->timer.fd < 0)
		return;
	struct itimerspec its = {0};
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L + 1; /* 0 would disarm */
	timerfd_settime(b->timer.fd, 0, &its, NULL);
}

static void tell_link(struct bus_redis *b, enum pl_bus_link what)
{
	if (b->client.on_link)
		b->client.on_link(b->client.ud, what);
}

/* Frees both connections (hiredis defers a free asked from inside one of
 * its callbacks to when the callback returns). */
static void teardown(struct bus_redis *b)
{
	redisAsyncContext *c = b->cmd, *s = b->sub;
	b->cmd = b->sub = NULL;
	b->gen++;
	b->inflight = 0;
	if (c)
		redisAsyncFree(c);
	if (s)
		redisAsyncFree(s);
}

static void link_failed(struct bus_redis *b, const char *why)
{
	if (b->state == LINK_DOWN)
		return; /* the other connection's news, or a re-entry from teardown */
	bool was_up = b->state == LINK_UP;
	b->state = LINK_DOWN;
	teardown(b);
	if (was_up) {
		b->down_since = pl_mono_ms();
		b->backoff_ms = BACKOFF_MIN_MS;
		log_warn("redis: lost the connection to %s (%s): presence across nodes and "
			 "the bus between them are paused, local clients are still served; "
			 "reconnecting", b->raddr.shown, why);
		b->down_logged = true;
		tell_link(b, PL_BUS_LINK_DOWN);
	} else if (!b->down_logged) {
		if (!b->down_since)
			b->down_since = pl_mono_ms();
		log_warn("redis: cannot connect to %s (%s): local clients are served meanwhile; "
			 "retrying in the background", b->raddr.shown, why);
		b->down_logged = true;
	} else {
		log_debug("redis: still down (%s); next try in %d ms", why, b->backoff_ms);
	}
	arm_timer(b, b->backoff_ms);
	b->backoff_ms = b->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->backoff_ms * 2;
}

static const char *err_of(const redisAsyncContext *ac)
{
	return ac->errstr && ac->errstr[0] ? ac->errstr : "closed by the server";
}

/* hiredis frees a context after these callbacks: forget our pointer to
 * it, and treat the link as down (unless teardown() freed it on purpose). */
static void context_lost(const redisAsyncContext *ac)
{
	struct bus_redis *b = ac->data;
	if (!b)
		return;
	if (b->cmd == ac)
		b->cmd = NULL;
	else if (b->sub == ac)
		b->sub = NULL;
	else
		return; /* one teardown() freed */
	link_failed(b, err_of(ac));
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK)
		context_lost(ac);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	context_lost(ac);
}

static int64_t store_last_event(struct bus_redis *b)
{
	pl_store *s;
	pl_error err;
	if (!b->db_path[0] || pl_store_open(b->db_path, &s, &err) != PL_OK)
		return 0;
	int64_t id = pl_store_last_event(s);
	pl_store_close(s);
	return id;
}

static void publish(struct bus_redis *b, const char *data, size_t len);
static void publish_w(struct bus_redis *b, long long id);

static void maybe_up(struct bus_redis *b)
{
	if (b->state != LINK_CONNECTING || !b->cmd_ready || b->subs_due > 0)
		return;
	b->state = LINK_UP;
	b->backoff_ms = BACKOFF_MIN_MS;
	b->inflight = 0;
	b->last_progress = pl_mono_ms();
	if (b->down_logged)
		log_info("redis: connected to %s again after %.1f s; catching up from the store",
			 b->raddr.shown, (double)(pl_mono_ms() - b->down_since) / 1000.0);
	else
		log_info("redis: connected to %s (node %s)", b->raddr.shown, b->node);
	b->down_logged = false;
	b->hello_logged = false;
	b->down_since = 0;
	b->ever_up = true;
	tell_link(b, PL_BUS_LINK_UP);
	/* Whatever was published while this process was cut off is gone:
	 * wake this hub and every other node up to the store's newest event;
	 * each reads what it missed from the store. */
	long long last = (long long)store_last_event(b);
	char id[24];
	int n = snprintf(id, sizeof id, "%lld", last);
	if (b->base.fn)
		b->base.fn(b->base.ud, 'W', id, (size_t)n);
	publish_w(b, last);
	uint64_t one = 1; /* and send what waits in the queue */
	(void)!write(b->kick.fd, &one, sizeof one);
}

struct cmd_wrap {
	struct bus_redis *b;
	unsigned gen;
	pl_bus_reply_fn fn;
	void *ud;
};

static void on_cmd_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	struct cmd_wrap *w = priv;
	struct bus_redis *b = w->b;
	if (w->gen == b->gen && reply) {
		b->inflight--;
		b->last_progress = pl_mono_ms();
	}
	if (w->fn)
		w->fn(w->ud, reply);
	free(w);
}

static bool command(struct bus_redis *b, pl_bus_reply_fn fn, void *ud, int argc,
		    const char **argv, const size_t *lens)
{
	if ( b->state != LINK_UP || !b->cmd)
		return false;
	struct cmd_wrap *w = malloc(sizeof *w);
	if (!w)
		return false;
	*w = (struct cmd_wrap){b, b->gen, fn, ud};
	if (redisAsyncCommandArgv(b->cmd, on_cmd_reply, w, argc, argv, lens) != REDIS_OK) {
		free(w);
		return false;
	}
	if (b->inflight++ == 0)
		b->last_progress = pl_mono_ms();
	return true;
}

static void publish(struct bus_redis *b, const char *data, size_t len)
{
	const char *argv[3] = {"PUBLISH", CHAN_BUS, data};
	size_t lens[3] = {7, sizeof CHAN_BUS - 1, len};
	command(b, NULL, NULL, 3, argv, lens);
}

static void on_ping(void *ud, struct redisReply *r)
{
	struct bus_redis *b = ud;
	if (!r)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		link_failed(b, r->str);
		return;
	}
	b->cmd_ready = true;
	maybe_up(b);
}

/* cppcheck-suppress constParameter ; hiredis's callback type */
static void on_ping_raw(redisAsyncContext *ac, void *reply, void *priv)
{
	struct bus_redis *b = priv;
	if (reply && b->cmd == ac)
		on_ping(b, reply);
}

/* "<node>C<payload> <number>": a message of a process with no loop that
 * every daemon hears; the client applies it once, by its op id. */
static void claim(struct bus_redis *b, const char *msg, size_t len)
{
	char node[NODE_LEN + 1], payload[PL_BUS_MAX + 1], op[NODE_LEN + 32];
	const char *sp = memrchr(msg, ' ', len);
	if (!b->client.on_claim || !sp || sp < msg + NODE_LEN + 1 ||
	    (size_t)(sp - msg) - NODE_LEN - 1 > PL_BUS_MAX)
		return;
	char *end;
	unsigned long long number = strtoull(sp + 1, &end, 10);
	if (end == sp + 1 || *end)
		return;
	memcpy(node, msg, NODE_LEN);
	node[NODE_LEN] = 0;
	size_t n = (size_t)(sp - msg) - NODE_LEN - 1;
	memcpy(payload, msg + NODE_LEN + 1, n);
	payload[n] = 0;
	snprintf(op, sizeof op, "%s:%llu", node, number);
	b->client.on_claim(b->client.ud, node, payload, op);
}

/* cppcheck-suppress constParameter ; hiredis's callback type */
static void on_sub(redisAsyncContext *ac, void *reply, void *priv)
{
	struct bus_redis *b = priv;
	redisReply *r = reply;
	if (!r || b->sub != ac)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		link_failed(b, r->str);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
		return;
	const char *type = r->element[0]->str;
	const char *chan = r->element[1]->str;
	if (strcmp(type, "subscribe") == 0) {
		b->subs_due--;
		maybe_up(b);
		return;
	}
	if (strcmp(type, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING)
		return;
	const char *msg = r->element[2]->str; /* hiredis ends it with a NUL */
	size_t len = r->element[2]->len;
	if (strcmp(chan, CHAN_BUS) != 0) {
		if (b->client.on_channel && b->client.channel && strcmp(chan, b->client.channel) == 0)
			b->client.on_channel(b->client.ud, msg, len);
		return;
	}
	if (len < NODE_LEN + 1 || memcmp(msg, b->node, NODE_LEN) == 0 || !b->base.fn)
		return; /* this process's own: its sink already had it */
	if (msg[NODE_LEN] == 'C') {
		claim(b, msg, len);
		return;
	}
	b->base.fn(b->base.ud, msg[NODE_LEN], msg + NODE_LEN + 1, len - NODE_LEN - 1);
}

static void start_connect(struct bus_redis *b)
{
	if (b->state != LINK_DOWN || !b->loop)
		return;
	char why[256] = "";
	b->gen++;
	b->state = LINK_CONNECTING;
	b->connect_started = pl_mono_ms();
	b->cmd_ready = false;
	b->subs_due = 2;
	b->cmd = pl_redis_connect_async(&b->raddr, b->loop, &b->evs, &b->hello_logged, why,
					sizeof why);
	if (b->cmd)
		b->sub = pl_redis_connect_async(&b->raddr, b->loop, &b->evs, &b->hello_logged,
						why, sizeof why);
	if (!b->cmd || !b->sub) {
		link_failed(b, why);
		return;
	}
	b->cmd->data = b;
	b->sub->data = b;
	redisAsyncSetConnectCallback(b->cmd, on_connect);
	redisAsyncSetDisconnectCallback(b->cmd, on_disconnect);
	redisAsyncSetConnectCallback(b->sub, on_connect);
	redisAsyncSetDisconnectCallback(b->sub, on_disconnect);
	/* Queued now, sent once connected (after AUTH and SELECT). */
	redisAsyncCommand(b->cmd, on_ping_raw, b, "PING");
	if (b->client.channel) {
		redisAsyncCommand(b->sub, on_sub, b, "SUBSCRIBE %s %s", CHAN_BUS, b->client.channel);
	} else {
		b->subs_due = 1;
		redisAsyncCommand(b->sub, on_sub, b, "SUBSCRIBE %s", CHAN_BUS);
	}
}

static void on_timer(struct pl_watch *w, uint32_t events)
{
	(void)events;
	struct bus_redis *b = BUS_OF(w, timer);
	uint64_t n;
	(void)!read(w->fd, &n, sizeof n);
	start_connect(b);
}

/* The id a queued 'W' carries. */
static long long w_id(const struct outmsg *m)
{
	char num[24];
	size_t n = m->len - NODE_LEN - 1;
	if (n >= sizeof num)
		n = sizeof num - 1;
	memcpy(num, m->data + NODE_LEN + 1, n);
	num[n] = 0;
	return strtoll(num, NULL, 10);
}

static void publish_w(struct bus_redis *b, long long id)
{
	char msg[NODE_LEN + 1 + 24];
	memcpy(msg, b->node, NODE_LEN);
	msg[NODE_LEN] = 'W';
	int n = snprintf(msg + NODE_LEN + 1, sizeof msg - NODE_LEN - 1, "%lld", id);
	publish(b, msg, NODE_LEN + 1 + (size_t)n);
}

static void on_kick(struct pl_watch *w, uint32_t events)
{
	(void)events;
	struct bus_redis *b = BUS_OF(w, kick);
	uint64_t n;
	(void)!read(w->fd, &n, sizeof n);
	pthread_mutex_lock(&b->qlock);
	struct outmsg *m = b->qhead;
	b->qhead = b->qtail = NULL;
	b->qlen = 0;
	b->qfull_logged = false;
	pthread_mutex_unlock(&b->qlock);
	/* A run of wake-ups says no more than its highest id: one PUBLISH. */
	long long wake = -1;
	while (m) {
		struct outmsg *next = m->next;
		if (m->data[NODE_LEN] == 'W') {
			long long id = w_id(m);
			if (id > wake)
				wake = id;
		} else {
			if (wake >= 0)
				publish_w(b, wake);
			wake = -1;
			publish(b, m->data, m->len); /* dropped while the link is down */
		}
		free(m);
		m = next;
	}
	if (wake >= 0)
		publish_w(b, wake);
}

static void redis_send(struct pl_bus *bus, char kind, const char *payload, size_t len)
{
	struct bus_redis *b = (struct bus_redis *)bus;
	if (!b->base.listening) {
		/* parley.fcgi: no loop; the daemons catch up from the store if
		 * this is lost. */
		char buf[NODE_LEN + 1 + PL_BUS_MAX + 24];
		memcpy(buf, b->node, NODE_LEN);
		buf[NODE_LEN] = kind;
		memcpy(buf + NODE_LEN + 1, payload, len);
		size_t n = NODE_LEN + 1 + len;
		if (kind == 'C') /* numbered: each daemon hears it, one applies it (claim) */
			n += (size_t)snprintf(buf + n, 24, " %llu", atomic_fetch_add(&b->sent, 1));
		const char *argv[3] = {"PUBLISH", CHAN_BUS, buf};
		size_t lens[3] = {7, sizeof CHAN_BUS - 1, n};
		redisReply *r = pl_bus_command_sync(bus, 3, argv, lens);
		if (r)
			freeReplyObject(r);
		return;
	}
	struct outmsg *m = malloc(sizeof *m + NODE_LEN + 1 + len);
	if (!m)
		return;
	m->next = NULL;
	m->len = NODE_LEN + 1 + len;
	memcpy(m->data, b->node, NODE_LEN);
	m->data[NODE_LEN] = kind;
	memcpy(m->data + NODE_LEN + 1, payload, len);
	pthread_mutex_lock(&b->qlock);
	bool full = b->qlen >= QUEUE_MAX;
	bool say = full && !b->qfull_logged;
	if (full) {
		b->qfull_logged = true;
	} else {
		if (b->qtail)
			b->qtail->next = m;
		else
			b->qhead = m;
		b->qtail = m;
		b->qlen++;
	}
	pthread_mutex_unlock(&b->qlock);
	if (full) {
		free(m);
		if (say)
			log_warn("redis: the bus queue is full (%d messages): dropping", QUEUE_MAX);
	}
	uint64_t one = 1;
	(void)!write(b->kick.fd, &one, sizeof one);
}

static bool redis_attach(struct pl_bus *bus, struct pl_loop *loop)
{
	struct bus_redis *b = (struct bus_redis *)bus;
	b->loop = loop;
	b->kick.fn = on_kick;
	b->timer.fn = on_timer;
	if (!pl_loop_add(loop, &b->kick, EPOLLIN) || !pl_loop_add(loop, &b->timer, EPOLLIN))
		return false;
	arm_timer(b, 0); /* the first connect, on the loop's thread */
	return true;
}

static void redis_tick(struct pl_bus *bus)
{
	struct bus_redis *b = (struct bus_redis *)bus;
	int64_t now = pl_mono_ms();
	if (b->state == LINK_CONNECTING && now - b->connect_started > CONNECT_TIMEOUT_MS)
		link_failed(b, "timed out connecting");
	else if (b->state == LINK_UP && b->inflight > 0 && now - b->last_progress > REPLY_TIMEOUT_MS)
		link_failed(b, "no answer for 10 s");
	pl_redis_evs_reap(&b->evs);
}

static void redis_detach(struct pl_bus *bus)
{
	struct bus_redis *b = (struct bus_redis *)bus;
	if (!b->loop)
		return;
	if (b->cmd)
		pl_redis_ev_forget_loop(b->cmd);
	if (b->sub)
		pl_redis_ev_forget_loop(b->sub);
	b->loop = NULL;
}

static void redis_close(struct pl_bus *bus)
{
	struct bus_redis *b = (struct bus_redis *)bus;
	tell_link(b, PL_BUS_LINK_CLOSING); /* the client's goodbye (presence's, for this node) */
	b->client = (struct pl_bus_client){0};
	b->base.fn = NULL;
	/* The hub's loop may be freed already: touch no watch. */
	redis_detach(bus);
	b->state = LINK_DOWN;
	teardown(b);
	pl_redis_evs_reap(&b->evs);
	if (b->kick.fd >= 0)
		close(b->kick.fd);
	if (b->timer.fd >= 0)
		close(b->timer.fd);
	while (b->qhead) {
		struct outmsg *m = b->qhead;
		b->qhead = m->next;
		free(m);
	}
	if (b->sync)
		redisFree(b->sync);
	pthread_mutex_destroy(&b->qlock);
	pthread_mutex_destroy(&b->slock);
	free(b);
}

const struct pl_bus_ops pl_bus_redis_ops = {
	.close = redis_close,
	.send = redis_send,
	.attach = redis_attach,
	.tick = redis_tick,
	.detach = redis_detach,
};

/* ---- the client's and status pages' interface ---- */

bool pl_bus_command(struct pl_bus *bus, pl_bus_reply_fn fn, void *ud, int argc,
		    const char **argv, const size_t *lens)
{
	struct bus_redis *b = as_redis(bus);
	return b && command(b, fn, ud, argc, argv, lens);
}

void pl_bus_set_client(struct pl_bus *bus, const struct pl_bus_client *client)
{
	struct bus_redis *b = as_redis(bus);
	if (b)
		b->client = *client;
}

bool pl_bus_is_redis(const struct pl_bus *bus) { return as_redis_c(bus) != NULL; }

const char *pl_bus_node(const struct pl_bus *bus)
{
	const struct bus_redis *b = as_redis_c(bus);
	return b ? b->node : "";
}

bool pl_bus_redis_up(const struct pl_bus *bus)
{
	const struct bus_redis *b = as_redis_c(bus);
	return b && b->state == LINK_UP;
}
