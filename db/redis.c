/* db/redis: see redis.h. */
#include "db/redis.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>

#include "base/log.h"
#include "base/loop.h"

/* ---- URL ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copies [s, s+n) into out, decoding %XX; false if it does not fit or a
 * %XX is broken. */
static bool decode(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return false;
			c = hi * 16 + lo;
			i += 2;
		}
		if (o + 1 >= size)
			return false;
		out[o++] = (char)c;
	}
	out[o] = 0;
	return true;
}

static bool parse_db(const char *s, int *db)
{
	if (!*s)
		return true;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 0 || v > 10000)
		return false;
	*db = (int)v;
	return true;
}

/* "[user:]pass@" before rest; moves *p past it. */
static bool parse_auth(const char **p, struct pl_redis_addr *a)
{
	const char *s = *p;
	const char *at = strchr(s, '@');
	const char *slash = strchr(s, '/');
	if (!at || (slash && slash < at && strncmp(s, ":", 1) != 0))
		return true;
	const char *colon = memchr(s, ':', (size_t)(at - s));
	if (colon) {
		if (!decode(s, (size_t)(colon - s), a->user, sizeof a->user) ||
		    !decode(colon + 1, (size_t)(at - colon - 1), a->pass, sizeof a->pass))
			return false;
	} else if (!decode(s, (size_t)(at - s), a->pass, sizeof a->pass)) {
		return false;
	}
	*p = at + 1;
	return true;
}

bool pl_redis_parse_url(const char *url, struct pl_redis_addr *a, pl_error *err)
{
	memset(a, 0, sizeof *a);
	a->port = 6379;
	const char *p;
	if (strncmp(url, "redis://", 8) == 0) {
		p = url + 8;
		if (!parse_auth(&p, a))
			goto bad;
		const char *hend;
		if (*p == '[') { /* [IPv6]:port */
			const char *close = strchr(p, ']');
			if (!close)
				goto bad;
			if ((size_t)(close - p - 1) >= sizeof a->host)
				goto bad;
			memcpy(a->host, p + 1, (size_t)(close - p - 1));
			hend = close + 1;
		} else {
			hend = p + strcspn(p, ":/?");
			if ((size_t)(hend - p) >= sizeof a->host)
				goto bad;
			memcpy(a->host, p, (size_t)(hend - p));
		}
		if (!a->host[0])
			snprintf(a->host, sizeof a->host, "127.0.0.1");
		p = hend;
		if (*p == ':') {
			char *end;
			long port = strtol(p + 1, &end, 10);
			if (end == p + 1 || port < 1 || port > 65535)
				goto bad;
			a->port = (int)port;
			p = end;
		}
		if (*p == '/') {
			char db[16] = "";
			size_t n = strcspn(p + 1, "?");
			if (n >= sizeof db)
				goto bad;
			memcpy(db, p + 1, n);
			if (!parse_db(db, &a->db))
				goto bad;
			p += 1 + n;
		}
		if (*p && *p != '?')
			goto bad;
		if (strchr(a->host, ':'))
			snprintf(a->shown, sizeof a->shown, "[%s]:%d", a->host, a->port);
		else
			snprintf(a->shown, sizeof a->shown, "%s:%d", a->host, a->port);
	} else if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		if (!parse_auth(&p, a))
			goto bad;
		size_t n = strcspn(p, "?");
		if (!n || n >= sizeof a->path)
			goto bad;
		memcpy(a->path, p, n);
		p += n;
		if (strncmp(p, "?db=", 4) == 0 && !parse_db(p + 4, &a->db))
			goto bad;
		snprintf(a->shown, sizeof a->shown, "%s", a->path);
	} else {
		pl_fail(err, PL_INVALID_ARGUMENT,
			"redis: the URL must be redis://[user:password@]host[:port][/db] or "
			"unix:///path (rediss:// is not supported)");
		return false;
	}
	return true;
bad:
	pl_fail(err, PL_INVALID_ARGUMENT,
		"redis: cannot read the URL (want redis://[user:password@]host[:port][/db])");
	return false;
}

/* ---- async adapter ---- */

struct pl_redis_ev {
	struct pl_watch watch;  /* first: the loop hands back this pointer */
	struct pl_loop *loop;   /* NULL once the loop is gone */
	redisAsyncContext *ac;  /* NULL once hiredis cleaned up */
	uint32_t want;
	bool added;
	struct pl_redis_evs *owner;
	struct pl_redis_ev *next_dead;
};

static void ev_update(struct pl_redis_ev *e)
{
	if (!e->loop || !e->ac)
		return;
	if (e->want && !e->added) {
		e->added = pl_loop_add(e->loop, &e->watch, e->want);
	} else if (e->want && e->added) {
		pl_loop_mod(e->loop, &e->watch, e->want);
	} else if (!e->want && e->added) {
		pl_loop_del(e->loop, &e->watch);
		e->added = false;
	}
}

static void ev_add_read(void *d)
{
	struct pl_redis_ev *e = d;
	e->want |= EPOLLIN;
	ev_update(e);
}

static void ev_del_read(void *d)
{
	struct pl_redis_ev *e = d;
	e->want &= ~(uint32_t)EPOLLIN;
	ev_update(e);
}

static void ev_add_write(void *d)
{
	struct pl_redis_ev *e = d;
	e->want |= EPOLLOUT;
	ev_update(e);
}

static void ev_del_write(void *d)
{
	struct pl_redis_ev *e = d;
	e->want &= ~(uint32_t)EPOLLOUT;
	ev_update(e);
}

/* hiredis is done with the context (it closes the socket right after). */
static void ev_cleanup(void *d)
{
	struct pl_redis_ev *e = d;
	if (!e->ac)
		return; /* called twice on some paths: once is enough */
	e->want = 0;
	ev_update(e);
	e->ac->ev.data = NULL;
	e->ac = NULL;
	e->next_dead = e->owner->dead;
	e->owner->dead = e;
}

static void ev_ready(struct pl_watch *w, uint32_t events)
{
	struct pl_redis_ev *e = (struct pl_redis_ev *)w;
	/* On an error or hang-up the read path finds out what happened (and
	 * a connect in progress is finished by either path). */
	if (e->ac && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		redisAsyncHandleRead(e->ac);
	if (e->ac && (events & EPOLLOUT))
		redisAsyncHandleWrite(e->ac);
}

static bool ev_attach(redisAsyncContext *ac, struct pl_loop *loop, struct pl_redis_evs *evs)
{
	struct pl_redis_ev *e = calloc(1, sizeof *e);
	if (!e)
		return false;
	e->watch.fd = ac->c.fd;
	e->watch.fn = ev_ready;
	e->loop = loop;
	e->ac = ac;
	e->owner = evs;
	ac->ev.data = e;
	ac->ev.addRead = ev_add_read;
	ac->ev.delRead = ev_del_read;
	ac->ev.addWrite = ev_add_write;
	ac->ev.delWrite = ev_del_write;
	ac->ev.cleanup = ev_cleanup;
	return true;
}

void pl_redis_evs_reap(struct pl_redis_evs *evs)
{
	while (evs->dead) {
		struct pl_redis_ev *e = evs->dead;
		evs->dead = e->next_dead;
		free(e);
	}
}

void pl_redis_ev_forget_loop(redisAsyncContext *ac)
{
	struct pl_redis_ev *e = ac ? ac->ev.data : NULL;
	if (e) {
		e->loop = NULL;
		e->added = false;
	}
}

/* A refused AUTH or SELECT ends the connection: the owner's disconnect
 * callback and its backoff take over.  Said once until *quiet is reset. */
struct hello {
	const char *what;
	bool *quiet;
};

static void on_hello(redisAsyncContext *ac, void *reply, void *priv)
{
	struct hello *h = priv;
	const redisReply *r = reply;
	if (r && r->type == REDIS_REPLY_ERROR) {
		if (!h->quiet || !*h->quiet)
			log_error("redis: %s refused: %s", h->what, r->str);
		if (h->quiet)
			*h->quiet = true;
		redisAsyncDisconnect(ac);
	}
	free(h);
}

static void hello_cmd(redisAsyncContext *ac, bool *quiet, const char *what, const char *fmt,
		      const char *a1, const char *a2)
{
	struct hello *h = malloc(sizeof *h);
	if (!h)
		return;
	h->what = what;
	h->quiet = quiet;
	if (redisAsyncCommand(ac, on_hello, h, fmt, a1, a2) != REDIS_OK)
		free(h);
}

/* AUTH and SELECT go first; hiredis sends them once connected, in order. */
static void send_hello(redisAsyncContext *ac, const struct pl_redis_addr *a, bool *quiet)
{
	char db[16];
	snprintf(db, sizeof db, "%d", a->db);
	if (a->pass[0] && a->user[0])
		hello_cmd(ac, quiet, "AUTH", "AUTH %s %s", a->user, a->pass);
	else if (a->pass[0])
		hello_cmd(ac, quiet, "AUTH", "AUTH %s", a->pass, NULL);
	if (a->db)
		hello_cmd(ac, quiet, "SELECT", "SELECT %s", db, NULL);
}

redisAsyncContext *pl_redis_connect_async(const struct pl_redis_addr *a, struct pl_loop *loop,
					  struct pl_redis_evs *evs, bool *quiet, char *why,
					  size_t whylen)
{
	redisAsyncContext *ac = a->path[0] ? redisAsyncConnectUnix(a->path)
					   : redisAsyncConnect(a->host, a->port);
	if (!ac) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (ac->err) {
		snprintf(why, whylen, "%s", ac->errstr ? ac->errstr : "cannot connect");
		redisAsyncFree(ac);
		return NULL;
	}
	if (!ev_attach(ac, loop, evs)) {
		snprintf(why, whylen, "out of memory");
		redisAsyncFree(ac);
		return NULL;
	}
	if (!a->path[0])
		redisEnableKeepAlive(&ac->c); /* finds a peer that vanished */
	send_hello(ac, a, quiet);
	return ac;
}

/* ---- blocking ---- */

static bool sync_ok(redisContext *c, redisReply *r, const char *what, char *why, size_t whylen)
{
	bool ok = r && r->type != REDIS_REPLY_ERROR;
	if (!ok)
		snprintf(why, whylen, "%s: %s", what,
			 r ? r->str : c->errstr[0] ? c->errstr : "no answer");
	if (r)
		freeReplyObject(r);
	return ok;
}

redisContext *pl_redis_connect_sync(const struct pl_redis_addr *a, int timeout_ms, char *why,
				    size_t whylen)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	redisContext *c = a->path[0] ? redisConnectUnixWithTimeout(a->path, tv)
				     : redisConnectWithTimeout(a->host, a->port, tv);
	if (!c) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (c->err) {
		snprintf(why, whylen, "%s", c->errstr);
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	bool ok = true;
	if (a->pass[0] && a->user[0])
		ok = sync_ok(c, redisCommand(c, "AUTH %s %s", a->user, a->pass), "AUTH", why,
			     whylen);
	else if (a->pass[0])
		ok = sync_ok(c, redisCommand(c, "AUTH %s", a->pass), "AUTH", why, whylen);
	if (ok && a->db)
		ok = sync_ok(c, redisCommand(c, "SELECT %d", a->db), "SELECT", why, whylen);
	if (!ok) {
		redisFree(c);
		return NULL;
	}
	return c;
}
