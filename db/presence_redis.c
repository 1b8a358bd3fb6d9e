/* db/presence_redis: presence's Redis protocol (see presence.h, Redis
 * mode): the scripts of db/lua/ run over the Redis bus's command
 * connection, the cache kept from their replies and the "parley:presence"
 * channel, registration when the link comes up, the heartbeat, and the
 * ends of grace periods.  All on the bus's loop thread, except the
 * goodbye from pl_bus_close. */
#include "db/presenceint.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/clock.h"
#include "base/log.h"
#include "db/bus_redis.h"
#include "db/presence_lua.h"

#define PREFIX "parley:"
#define CHAN_PRESENCE PREFIX "presence"
#define ALIVE_TTL_S 15          /* a node silent this long is reaped */
#define MAINTAIN_MS 5000        /* heartbeat, reaping and the pending sweep */
#define POLL_STALE_MS 75000     /* a long-poll lasts 60 s at most (remote.lua) */

/* Under the lock: a versioned update of a user's global state.  fresh:
 * from a script's reply (it may arrive after the channel told newer). */
static void apply(struct pl_presence *p, const char *user, int count, bool pending,
		  long long version)
{
	struct entry *e = pl_map_get(p->users, user);
	if (!e) {
		if (version <= p->floor || (!count && !pending))
			return; /* older than what deleted it, or nothing to keep */
		e = pl_presence_entry(p, user, true);
		if (!e)
			return;
	}
	if (version <= e->version)
		return;
	e->count = count;
	e->pending = pending;
	e->version = version;
	pl_presence_entry_tidy(p, user, e);
}

static long long int_at(const redisReply *r, size_t i)
{
	if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
		return 0;
	const redisReply *x = r->element[i];
	if (x->type == REDIS_REPLY_INTEGER)
		return x->integer;
	if (x->type == REDIS_REPLY_STRING)
		return strtoll(x->str, NULL, 10);
	return 0;
}

static bool reply_ok(const redisReply *r, const char *what)
{
	if (!r)
		return false; /* the link dropped: re-registration will settle it */
	if (r->type == REDIS_REPLY_ERROR) {
		log_warn("redis: presence %s failed: %s", what, r->str);
		return false;
	}
	return true;
}

/* A user's name copied for a reply. */
struct ureq {
	struct pl_presence *p;
	char user[PL_ID_MAX + 1];
};

static struct ureq *ureq_new(struct pl_presence *p, const char *user)
{
	struct ureq *q = malloc(sizeof *q);
	if (q) {
		q->p = p;
		snprintf(q->user, sizeof q->user, "%s", user);
	}
	return q;
}

static bool eval(struct pl_presence *p, const char *script, pl_bus_reply_fn fn, void *ud,
		 int nargs, const char **args)
{
	const char *argv[16];
	size_t lens[16];
	argv[0] = "EVAL";
	argv[1] = script;
	argv[2] = "0";
	for (int i = 0; i < nargs; i++)
		argv[3 + i] = args[i];
	for (int i = 0; i < 3 + nargs; i++)
		lens[i] = strlen(argv[i]);
	return pl_bus_command(p->bus, fn, ud, 3 + nargs, argv, lens);
}

static void schedule_check(struct pl_presence *p, const char *user, int64_t due)
{
	for (size_t i = 0; i < p->nchecks; i++) {
		if (strcmp(p->checks[i].user, user) == 0) {
			p->checks[i].due = due;
			return;
		}
	}
	if (p->nchecks == p->capchecks) {
		size_t cap = p->capchecks ? p->capchecks * 2 : 16;
		void *grown = realloc(p->checks, cap * sizeof *p->checks);
		if (!grown)
			return; /* the 5 s sweep will end it */
		p->checks = grown;
		p->capchecks = cap;
	}
	struct check *c = &p->checks[p->nchecks++];
	snprintf(c->user, sizeof c->user, "%s", user);
	c->due = due;
}

/* -- connect / disconnect -- */

static void on_connect_reply(void *ud, redisReply *r)
{
	struct ureq *q = ud;
	struct pl_presence *p = q->p;
	if (reply_ok(r, "connect") && r->type == REDIS_REPLY_ARRAY) {
		long long n = int_at(r, 0);
		if (n == -1) {
			p->need_register = true;
		} else if (n > 0) {
			pthread_mutex_lock(&p->lock);
			apply(p, q->user, (int)n, false, int_at(r, 2));
			pthread_mutex_unlock(&p->lock);
			if (int_at(r, 1) == 1 && p->fn)
				p->fn(p->ud, q->user, true);
		}
	}
	free(q);
}

void pl_presence_redis_connect(struct pl_presence *p, const char *user)
{
	if (!pl_bus_redis_up(p->bus))
		return; /* counted locally; registered when the link is back */
	struct ureq *q = ureq_new(p, user);
	const char *args[] = {PREFIX, pl_bus_node(p->bus), user, "0"};
	if (q && !eval(p, pl_lua_connect, on_connect_reply, q, 4, args))
		free(q);
}

static void on_disconnect_reply(void *ud, redisReply *r)
{
	struct ureq *q = ud;
	struct pl_presence *p = q->p;
	if (reply_ok(r, "disconnect") && r->type == REDIS_REPLY_ARRAY) {
		long long n = int_at(r, 0);
		if (n == -1) {
			p->need_register = true;
		} else if (n >= 0) {
			bool pend = int_at(r, 1) == 1;
			pthread_mutex_lock(&p->lock);
			apply(p, q->user, (int)n, pend, int_at(r, 2));
			pthread_mutex_unlock(&p->lock);
			if (pend)
				schedule_check(p, q->user, pl_mono_ms() + p->grace_ms);
		}
	}
	free(q);
}

void pl_presence_redis_disconnect(struct pl_presence *p, const char *user)
{
	if (!pl_bus_redis_up(p->bus))
		return;
	struct ureq *q = ureq_new(p, user);
	char deadline[24];
	snprintf(deadline, sizeof deadline, "%lld", (long long)(pl_now_ms() + p->grace_ms));
	const char *args[] = {PREFIX, pl_bus_node(p->bus), user, deadline};
	if (q && !eval(p, pl_lua_disconnect, on_disconnect_reply, q, 4, args))
		free(q);
}

/* -- the end of a grace period -- */

static void on_check_reply(void *ud, redisReply *r)
{
	struct ureq *q = ud;
	struct pl_presence *p = q->p;
	if (reply_ok(r, "check") && r->type == REDIS_REPLY_INTEGER) {
		if (r->integer > 0) {
			pthread_mutex_lock(&p->lock);
			apply(p, q->user, 0, false, r->integer);
			pthread_mutex_unlock(&p->lock);
			if (p->fn)
				p->fn(p->ud, q->user, false);
		} else if (r->integer < 0) {
			/* The deadline (this node's wall clock) is a little ahead. */
			long long ms = -r->integer;
			schedule_check(p, q->user, pl_mono_ms() + (ms > 60000 ? 60000 : ms) + 5);
		}
	}
	free(q);
}

static void run_checks(struct pl_presence *p, int64_t now)
{
	char when[24];
	snprintf(when, sizeof when, "%lld", (long long)pl_now_ms());
	for (size_t i = 0; i < p->nchecks;) {
		if (p->checks[i].due > now) {
			i++;
			continue;
		}
		struct ureq *q = ureq_new(p, p->checks[i].user);
		const char *args[] = {PREFIX, p->checks[i].user, when};
		if (q && !eval(p, pl_lua_check, on_check_reply, q, 3, args)) {
			free(q);
			return; /* the link is down: keep the rest for later */
		}
		p->checks[i] = p->checks[--p->nchecks];
	}
}

/* -- the heartbeat -- */

static void on_maintain_reply(void *ud, redisReply *r)
{
	struct pl_presence *p = ud;
	if (!reply_ok(r, "heartbeat") || r->type != REDIS_REPLY_ARRAY || !r->elements)
		return;
	if (int_at(r, 0) == -1) {
		log_warn("redis: this node (%s) was missing from Redis (reaped after a stall, "
			 "or Redis lost its data): registering its connections again",
			 pl_bus_node(p->bus));
		p->need_register = true;
		return;
	}
	for (size_t i = 1; i + 1 < r->elements; i += 2) {
		const redisReply *u = r->element[i];
		if (u->type != REDIS_REPLY_STRING)
			continue;
		pthread_mutex_lock(&p->lock);
		apply(p, u->str, 0, false, int_at(r, i + 1));
		pthread_mutex_unlock(&p->lock);
		if (p->fn)
			p->fn(p->ud, u->str, false);
	}
}

static void maintain(struct pl_presence *p)
{
	char now[24], ttl[8], stale[16];
	snprintf(now, sizeof now, "%lld", (long long)pl_now_ms());
	snprintf(ttl, sizeof ttl, "%d", ALIVE_TTL_S);
	snprintf(stale, sizeof stale, "%d", POLL_STALE_MS);
	const char *args[] = {PREFIX, pl_bus_node(p->bus), now, ttl, stale};
	eval(p, pl_lua_maintain, on_maintain_reply, p, 5, args);
}

/* -- registration and the snapshot -- */

static void apply_snapshot(struct pl_presence *p, long long seq, const redisReply *counts,
			   const redisReply *pend)
{
	pl_map *snap = pl_map_new(); /* user -> its count's reply */
	if (!snap)
		return;
	for (size_t i = 0; counts && i + 1 < counts->elements; i += 2)
		pl_map_put(snap, counts->element[i]->str, counts->element[i + 1]);
	pthread_mutex_lock(&p->lock);
	/* Entries the snapshot is newer than take its word (absent: 0). */
	size_t pos = 0;
	const char *k;
	void *v;
	char (*drop)[PL_ID_MAX + 1] = NULL;
	size_t ndrop = 0, capdrop = 0;
	while (pl_map_next(p->users, &pos, &k, &v)) {
		struct entry *e = v;
		if (e->version > seq)
			continue;
		const redisReply *c = pl_map_get(snap, k);
		e->count = c ? (int)strtol(c->str, NULL, 10) : 0;
		e->pending = false;
		e->version = seq;
		if (!e->local && !e->count && !e->reg) {
			if (ndrop == capdrop) {
				size_t cap = capdrop ? capdrop * 2 : 64;
				void *grown = realloc(drop, cap * sizeof *drop);
				if (!grown)
					continue;
				drop = grown;
				capdrop = cap;
			}
			snprintf(drop[ndrop++], sizeof drop[0], "%s", k);
		}
	}
	for (size_t i = 0; counts && i + 1 < counts->elements; i += 2) {
		const char *u = counts->element[i]->str;
		if (pl_map_get(p->users, u) || !pl_valid_id(u))
			continue;
		struct entry *e = pl_presence_entry(p, u, true);
		if (e) {
			e->count = (int)strtol(counts->element[i + 1]->str, NULL, 10);
			e->version = seq;
		}
	}
	for (size_t i = 0; pend && i < pend->elements; i++) {
		const char *u = pend->element[i]->str;
		struct entry *e = pl_valid_id(u) ? pl_presence_entry(p, u, true) : NULL;
		if (e && e->version <= seq) {
			e->pending = true;
			e->version = seq;
		}
	}
	for (size_t i = 0; i < ndrop; i++) {
		struct entry *e = pl_map_get(p->users, drop[i]);
		if (e && !e->pending)
			pl_presence_entry_tidy(p, drop[i], e);
	}
	if (seq > p->floor)
		p->floor = seq;
	p->synced = true;
	pthread_mutex_unlock(&p->lock);
	free(drop);
	pl_map_free(snap);
}

static void on_register_reply(void *ud, redisReply *r)
{
	struct pl_presence *p = ud;
	p->registering = false;
	if (!reply_ok(r, "registration") || r->type != REDIS_REPLY_ARRAY || r->elements < 6) {
		if (r) { /* an error reply: try again a little later */
			p->need_register = true;
			p->register_at = pl_mono_ms() + MAINTAIN_MS;
		}
		return;
	}
	const redisReply *boot = r->element[0], *on = r->element[2], *pend = r->element[3];
	if (boot->type == REDIS_REPLY_STRING)
		snprintf(p->boot, sizeof p->boot, "%s", boot->str);
	/* Redis holds what this node has now: nothing is "maybe registered". */
	pthread_mutex_lock(&p->lock);
	size_t pos = 0;
	const char *k;
	void *v;
	while (pl_map_next(p->users, &pos, &k, &v))
		((struct entry *)v)->reg = 0;
	pthread_mutex_unlock(&p->lock);
	apply_snapshot(p, int_at(r, 1), r->element[4], r->element[5]);
	int64_t due = pl_mono_ms() + p->grace_ms;
	for (size_t i = 0; pend->type == REDIS_REPLY_ARRAY && i < pend->elements; i++)
		schedule_check(p, pend->element[i]->str, due);
	for (size_t i = 0; on->type == REDIS_REPLY_ARRAY && i < on->elements && p->fn; i++)
		p->fn(p->ud, on->element[i]->str, true);
	p->next_maintain = pl_mono_ms() + MAINTAIN_MS;
}

static void send_register(struct pl_presence *p)
{
	p->need_register = false;
	char fresh[24], deadline[24], ttl[8];
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		rnd = (uint64_t)pl_now_ms();
	snprintf(fresh, sizeof fresh, "%016llx", (unsigned long long)rnd);
	snprintf(deadline, sizeof deadline, "%lld", (long long)(pl_now_ms() + p->grace_ms));
	snprintf(ttl, sizeof ttl, "%d", ALIVE_TTL_S);
	pthread_mutex_lock(&p->lock);
	size_t n = pl_map_len(p->users);
	const char **argv = calloc(9 + 3 * n, sizeof *argv);
	size_t *lens = calloc(9 + 3 * n, sizeof *lens);
	char (*nums)[12] = calloc(2 * n + 1, sizeof *nums);
	if (argv && lens && nums) {
		size_t argc = 0, nn = 0;
		argv[argc++] = "EVAL";
		argv[argc++] = pl_lua_register;
		argv[argc++] = "0";
		argv[argc++] = PREFIX;
		argv[argc++] = pl_bus_node(p->bus);
		argv[argc++] = deadline;
		argv[argc++] = ttl;
		argv[argc++] = p->boot;
		argv[argc++] = fresh;
		size_t pos = 0;
		const char *k;
		void *v;
		while (pl_map_next(p->users, &pos, &k, &v)) {
			struct entry *e = v;
			if (!e->local && !e->reg)
				continue;
			argv[argc++] = k;
			snprintf(nums[nn], sizeof nums[0], "%d", e->local);
			argv[argc++] = nums[nn++];
			snprintf(nums[nn], sizeof nums[0], "%d", e->reg);
			argv[argc++] = nums[nn++];
		}
		for (size_t i = 0; i < argc; i++)
			lens[i] = strlen(argv[i]);
		/* Sent under the lock: the keys stay valid, and no reader waits on
		 * the network (this only queues). */
		if (pl_bus_command(p->bus, on_register_reply, p, (int)argc, argv, lens))
			p->registering = true;
		else
			p->need_register = true;
	}
	pthread_mutex_unlock(&p->lock);
	free(argv);
	free(lens);
	free(nums);
}

/* -- the link -- */

static void on_link(void *ud, enum pl_bus_link what)
{
	struct pl_presence *p = ud;
	if (what == PL_BUS_LINK_UP) {
		/* A new connection: versions restart if Redis did. */
		pthread_mutex_lock(&p->lock);
		size_t pos = 0;
		const char *k;
		void *v;
		while (pl_map_next(p->users, &pos, &k, &v))
			((struct entry *)v)->version = 0;
		p->floor = 0;
		pthread_mutex_unlock(&p->lock);
		p->registering = false;
		send_register(p);
	} else if (what == PL_BUS_LINK_DOWN) {
		pthread_mutex_lock(&p->lock);
		p->synced = false;
		size_t pos = 0;
		const char *k;
		void *v;
		while (pl_map_next(p->users, &pos, &k, &v)) {
			struct entry *e = v;
			if (e->local > e->reg)
				e->reg = e->local;
		}
		pthread_mutex_unlock(&p->lock);
		p->registering = false;
	} else { /* closing: this node leaves the count (blocking, short timeouts) */
		char deadline[24];
		snprintf(deadline, sizeof deadline, "%lld", (long long)(pl_now_ms() + p->grace_ms));
		const char *argv[] = {"EVAL", pl_lua_withdraw, "0", PREFIX, pl_bus_node(p->bus),
				      deadline};
		size_t lens[6];
		for (int i = 0; i < 6; i++)
			lens[i] = strlen(argv[i]);
		redisReply *r = pl_bus_command_sync(p->bus, 6, argv, lens);
		if (r && r->type == REDIS_REPLY_INTEGER)
			log_info("redis: node %s left the presence counts (%lld users)",
				 pl_bus_node(p->bus), r->integer);
		else
			log_warn("redis: could not take node %s out of the presence counts; other "
				 "nodes will reap it within %d s", pl_bus_node(p->bus),
				 ALIVE_TTL_S + MAINTAIN_MS / 1000);
		if (r)
			freeReplyObject(r);
		pthread_mutex_lock(&p->lock);
		p->bus = NULL;
		p->synced = false;
		pthread_mutex_unlock(&p->lock);
	}
}

/* "user count pending version" from any node's script. */
static void on_presence_msg(void *ud, const char *msg, size_t len)
{
	struct pl_presence *p = ud;
	char user[PL_ID_MAX + 1];
	int count, pending;
	long long version;
	(void)len;
	if (sscanf(msg, "%64s %d %d %lld", user, &count, &pending, &version) != 4 ||
	    !pl_valid_id(user))
		return;
	pthread_mutex_lock(&p->lock);
	apply(p, user, count, pending != 0, version);
	/* The channel is in order: nothing at or below this can make news. */
	if (version > p->floor)
		p->floor = version;
	pthread_mutex_unlock(&p->lock);
}

/* A long-poll of parley.fcgi began ("+user") or ended ("-user"), a 'C'
 * message every daemon hears: see remote.lua. */
static void on_claim(void *ud, const char *node, const char *payload, const char *op)
{
	struct pl_presence *p = ud;
	char sign = payload[0];
	const char *user = sign ? payload + 1 : payload;
	if (!p->synced || (sign != '+' && sign != '-') || !pl_valid_id(user))
		return; /* lost; a stale count is reaped (POLL_STALE_MS) */
	struct ureq *q = ureq_new(p, user);
	char deadline[24], now[24];
	snprintf(deadline, sizeof deadline, "%lld", (long long)(pl_now_ms() + p->grace_ms));
	snprintf(now, sizeof now, "%lld", (long long)pl_now_ms());
	const char *args[] = {PREFIX, node, user, deadline, op, now, sign == '+' ? "+" : "-"};
	if (q && !eval(p, pl_lua_remote, sign == '+' ? on_connect_reply : on_disconnect_reply, q, 7,
		       args))
		free(q);
}

void pl_presence_use_bus(struct pl_presence *p, struct pl_bus *bus)
{
	if (!p || !pl_bus_is_redis(bus))
		return;
	pthread_mutex_lock(&p->lock);
	p->bus = bus;
	pthread_mutex_unlock(&p->lock);
	const struct pl_bus_client client = {
		.channel = CHAN_PRESENCE,
		.on_link = on_link,
		.on_channel = on_presence_msg,
		.on_claim = on_claim,
		.ud = p,
	};
	pl_bus_set_client(bus, &client);
}

void pl_presence_redis_tick(struct pl_presence *p)
{
	if (!pl_bus_redis_up(p->bus))
		return;
	int64_t now = pl_mono_ms();
	if (p->need_register && !p->registering && now >= p->register_at)
		send_register(p);
	if (!p->synced)
		return;
	run_checks(p, now);
	if (now >= p->next_maintain) {
		p->next_maintain = now + MAINTAIN_MS;
		maintain(p);
	}
}

