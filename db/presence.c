/* db/presence: see presence.h. */
#include "db/presence.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/clock.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/map.h"
#include "db/bus.h"

#define PREFIX "parley:"
#define ALIVE_TTL_S 15          /* a node silent this long is reaped */
#define MAINTAIN_MS 5000        /* heartbeat, reaping and the pending sweep */
#define POLL_STALE_MS 75000     /* a long-poll lasts 60 s at most */

struct entry {
	int local;              /* connections on this process */
	int64_t offline_at;     /* embedded: monotonic ms when the grace period ends; 0 = none */
	/* Redis mode: the global view, and what this node had registered */
	int count;              /* connections on all nodes */
	bool pending;           /* in the grace period */
	long long version;      /* of count and pending */
	int reg;                /* this node's count as Redis may still hold it (link down) */
};

struct check {
	char user[PL_ID_MAX + 1];
	int64_t due;            /* monotonic ms */
};

struct pl_presence {
	pthread_mutex_t lock;
	pl_map *users;          /* user -> struct entry */
	int grace_ms;
	pl_presence_fn fn;
	void *ud;
	/* Redis mode; the fields below the lock are the loop thread's, except
	 * those the readers use (synced), which change under the lock. */
	struct pl_bus *bus;
	bool synced;            /* registered and snapshotted since the link came up */
	long long floor;        /* updates at or below this make no new entries */
	char boot[40];          /* the Redis dataset's id, as last seen */
	bool need_register;
	bool registering;
	int64_t register_at;    /* not before (after a failed registration) */
	int64_t next_maintain;
	struct check *checks;
	size_t nchecks, capchecks;
};

/* ================= the Lua scripts =================
 *
 * ARGV[1] is the key prefix.  Every change of a user's global state takes
 * a version from parley:seq and is published as "user count pending
 * version" on parley:presence; the scripts also return the versions, so
 * the node that ran one updates its cache before reporting anything. */

/* The two counting steps, as local functions of a script whose ARGV
 * starts prefix, node, user, deadline (the end of a grace period, ms).
 * connect -> {n, online, v}; disconnect -> {-2} nothing registered |
 * {n, pending, v}. */
#define COUNT_FUNCTIONS                                                                  \
	"local P, me, u, dl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"                      \
	"local nk = P..'node:'..me\n"                                                    \
	"local function connect()\n"                                                     \
	"  local n = redis.call('HINCRBY', P..'count', u, 1)\n"                          \
	"  redis.call('HINCRBY', nk, u, 1)\n"                                            \
	"  local was = redis.call('HDEL', P..'pending', u)\n"                            \
	"  local on = 0\n"                                                               \
	"  if n == 1 and was == 0 then on = 1 end\n"                                     \
	"  local v = redis.call('INCR', P..'seq')\n"                                     \
	"  redis.call('PUBLISH', P..'presence', u..' '..n..' 0 '..v)\n"                  \
	"  return {n, on, v}\n"                                                          \
	"end\n"                                                                          \
	"local function disconnect()\n"                                                  \
	"  local mine = tonumber(redis.call('HGET', nk, u) or '0')\n"                    \
	"  if mine <= 0 then return {-2} end\n"                                          \
	"  if mine == 1 then redis.call('HDEL', nk, u) else redis.call('HINCRBY', nk, u, -1) end\n" \
	"  local n = redis.call('HINCRBY', P..'count', u, -1)\n"                         \
	"  local pend = 0\n"                                                             \
	"  if n <= 0 then\n"                                                             \
	"    n = 0\n"                                                                    \
	"    redis.call('HDEL', P..'count', u)\n"                                        \
	"    redis.call('HSET', P..'pending', u, dl)\n"                                  \
	"    pend = 1\n"                                                                 \
	"  end\n"                                                                        \
	"  local v = redis.call('INCR', P..'seq')\n"                                     \
	"  redis.call('PUBLISH', P..'presence', u..' '..n..' '..pend..' '..v)\n"         \
	"  return {n, pend, v}\n"                                                        \
	"end\n"

/* A connection on this node.  ARGV: prefix, node, user, (unused).
 * -> {-1} unregistered node | connect() */
static const char CONNECT_LUA[] =
	COUNT_FUNCTIONS
	"if redis.call('EXISTS', P..'alive:'..me) == 0 then return {-1} end\n"
	"return connect()\n";

/* ARGV: prefix, node, user, deadline.  -> {-1} unregistered node | disconnect() */
static const char DISCONNECT_LUA[] =
	COUNT_FUNCTIONS
	"if redis.call('EXISTS', P..'alive:'..me) == 0 then return {-1} end\n"
	"return disconnect()\n";

/* A long-poll of a process with no loop (parley.fcgi), told over the bus
 * to every daemon: the first to run this applies it (op is unique), under
 * the poller's own node id.  Such a node has no heartbeat: each user's
 * count there is touched at every change, and one untouched for longer
 * than a poll can last (POLL_STALE_MS) is reaped by the heartbeat.
 * ARGV: prefix, poller node, user, deadline, op, now, sign.
 * -> {-3} another daemon did it | connect() | disconnect() */
static const char REMOTE_LUA[] =
	COUNT_FUNCTIONS
	"if not redis.call('SET', P..'op:'..ARGV[5], '1', 'NX', 'EX', '300') then return {-3} end\n"
	"local m = me..'|'..u\n"
	"redis.call('ZADD', P..'polltouch', ARGV[6], m)\n"
	"if ARGV[7] == '+' then return connect() end\n"
	"local r = disconnect()\n"
	"if redis.call('HEXISTS', nk, u) == 0 then redis.call('ZREM', P..'polltouch', m) end\n"
	"return r\n";

/* The grace period of user should be over.  ARGV: prefix, user, now.
 * -> v > 0: offline now (report it) | 0: back online, or another node
 * reported it | -ms: not yet, ms to go */
static const char CHECK_LUA[] =
	"local P, u, now = ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
	"local d = redis.call('HGET', P..'pending', u)\n"
	"if not d then return 0 end\n"
	"d = tonumber(d)\n"
	"if d > now then return -(d - now) end\n"
	"redis.call('HDEL', P..'pending', u)\n"
	"local v = redis.call('INCR', P..'seq')\n"
	"redis.call('PUBLISH', P..'presence', u..' 0 0 '..v)\n"
	"return v\n";

/* Heartbeat, reaping of dead nodes and of stale long-poll counts, and the
 * grace periods nobody ended (their node died).  ARGV: prefix, node, now,
 * ttl, poll staleness (ms).
 * -> {-1} this node is not registered | {0, user, v, user, v...}: offline */
static const char MAINTAIN_LUA[] =
	"local P, me, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]\n"
	"if redis.call('EXISTS', P..'alive:'..me) == 0 then return {-1} end\n"
	"redis.call('SET', P..'alive:'..me, '1', 'EX', ttl)\n"
	"local out = {0}\n"
	"local function gone(u)\n"
	"  local v = redis.call('INCR', P..'seq')\n"
	"  redis.call('PUBLISH', P..'presence', u..' 0 0 '..v)\n"
	"  out[#out + 1] = u\n"
	"  out[#out + 1] = v\n"
	"end\n"
	"local function uncount(u, c)\n"
	"  local n = redis.call('HINCRBY', P..'count', u, -c)\n"
	"  if n <= 0 then\n"
	"    redis.call('HDEL', P..'count', u)\n"
	"    redis.call('HDEL', P..'pending', u)\n"
	"    gone(u)\n"
	"  else\n"
	"    local v = redis.call('INCR', P..'seq')\n"
	"    redis.call('PUBLISH', P..'presence', u..' '..n..' 0 '..v)\n"
	"  end\n"
	"end\n"
	"for _, id in ipairs(redis.call('SMEMBERS', P..'nodes')) do\n"
	"  if redis.call('EXISTS', P..'alive:'..id) == 0 then\n"
	"    local h = redis.call('HGETALL', P..'node:'..id)\n"
	"    for i = 1, #h, 2 do\n"
	"      uncount(h[i], tonumber(h[i + 1]))\n"
	"    end\n"
	"    redis.call('DEL', P..'node:'..id)\n"
	"    redis.call('SREM', P..'nodes', id)\n"
	"  end\n"
	"end\n"
	"local stale = redis.call('ZRANGEBYSCORE', P..'polltouch', '-inf', now - tonumber(ARGV[5]))\n"
	"for _, m in ipairs(stale) do\n"
	"  local sep = string.find(m, '|', 1, true)\n"
	"  local nk, u = P..'node:'..string.sub(m, 1, sep - 1), string.sub(m, sep + 1)\n"
	"  local c = tonumber(redis.call('HGET', nk, u) or '0')\n"
	"  redis.call('HDEL', nk, u)\n"
	"  redis.call('ZREM', P..'polltouch', m)\n"
	"  if c > 0 then uncount(u, c) end\n"
	"end\n"
	"local p = redis.call('HGETALL', P..'pending')\n"
	"for i = 1, #p, 2 do\n"
	"  if tonumber(p[i + 1]) <= now then\n"
	"    redis.call('HDEL', P..'pending', p[i])\n"
	"    gone(p[i])\n"
	"  end\n"
	"end\n"
	"return out\n";

/* Replaces this node's contribution with its current counts (after the
 * link came up, or when Redis no longer knows the node), reports the
 * transitions that makes, and returns a snapshot for the cache.
 * ARGV: prefix, node, deadline, ttl, known boot id, fresh boot id, then
 * (user, count now, count Redis may have had) triples.  "lost": the
 * dataset is not the one this node last saw (Redis restarted empty), so
 * the users it had registered were online as far as anyone knew.
 * -> {boot, seq, {online users}, {pending users}, {user, count...}, {pending}} */
static const char REGISTER_LUA[] =
	"local P, me, deadline, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
	"local known, fresh = ARGV[5], ARGV[6]\n"
	"local boot = redis.call('GET', P..'boot')\n"
	"if not boot then\n"
	"  boot = fresh\n"
	"  redis.call('SET', P..'boot', boot)\n"
	"end\n"
	"local lost = known ~= '' and known ~= boot\n"
	"local nk = P..'node:'..me\n"
	"local old, newc, prev, users, seen = {}, {}, {}, {}, {}\n"
	"local h = redis.call('HGETALL', nk)\n"
	"for i = 1, #h, 2 do\n"
	"  old[h[i]] = tonumber(h[i + 1])\n"
	"  if not seen[h[i]] then seen[h[i]] = true; users[#users + 1] = h[i] end\n"
	"end\n"
	"for i = 7, #ARGV, 3 do\n"
	"  local u = ARGV[i]\n"
	"  newc[u] = tonumber(ARGV[i + 1])\n"
	"  prev[u] = tonumber(ARGV[i + 2])\n"
	"  if not seen[u] then seen[u] = true; users[#users + 1] = u end\n"
	"end\n"
	"redis.call('DEL', nk)\n"
	"local on, pend = {}, {}\n"
	"for _, u in ipairs(users) do\n"
	"  local c = newc[u] or 0\n"
	"  local had = lost and (prev[u] or 0) > 0\n"
	"  if c > 0 then redis.call('HSET', nk, u, c) end\n"
	"  local before = tonumber(redis.call('HGET', P..'count', u) or '0')\n"
	"  local after = before + c - (old[u] or 0)\n"
	"  local p = 0\n"
	"  if after <= 0 then\n"
	"    after = 0\n"
	"    redis.call('HDEL', P..'count', u)\n"
	"    if before > 0 or had then\n"
	"      redis.call('HSET', P..'pending', u, deadline)\n"
	"      pend[#pend + 1] = u\n"
	"    end\n"
	"    if redis.call('HEXISTS', P..'pending', u) == 1 then p = 1 end\n"
	"  else\n"
	"    redis.call('HSET', P..'count', u, after)\n"
	"    if before <= 0 and redis.call('HDEL', P..'pending', u) == 0 and not had then\n"
	"      on[#on + 1] = u\n"
	"    end\n"
	"  end\n"
	"  if after ~= before or p == 1 then\n"
	"    local v = redis.call('INCR', P..'seq')\n"
	"    redis.call('PUBLISH', P..'presence', u..' '..after..' '..p..' '..v)\n"
	"  end\n"
	"end\n"
	"redis.call('SADD', P..'nodes', me)\n"
	"redis.call('SET', P..'alive:'..me, '1', 'EX', ttl)\n"
	"local seq = tonumber(redis.call('GET', P..'seq') or '0')\n"
	"return {boot, seq, on, pend, redis.call('HGETALL', P..'count'),\n"
	"        redis.call('HKEYS', P..'pending')}\n";

/* The node stops (gracefully): its users' connections stop counting; those
 * left with none go through the grace period (another node's sweep
 * reports them).  ARGV: prefix, node, deadline.  -> users withdrawn */
static const char WITHDRAW_LUA[] =
	"local P, me, deadline = ARGV[1], ARGV[2], ARGV[3]\n"
	"local nk = P..'node:'..me\n"
	"local h = redis.call('HGETALL', nk)\n"
	"for i = 1, #h, 2 do\n"
	"  local u = h[i]\n"
	"  local n = redis.call('HINCRBY', P..'count', u, -tonumber(h[i + 1]))\n"
	"  local p = 0\n"
	"  if n <= 0 then\n"
	"    n = 0\n"
	"    redis.call('HDEL', P..'count', u)\n"
	"    redis.call('HSET', P..'pending', u, deadline)\n"
	"    p = 1\n"
	"  end\n"
	"  local v = redis.call('INCR', P..'seq')\n"
	"  redis.call('PUBLISH', P..'presence', u..' '..n..' '..p..' '..v)\n"
	"end\n"
	"redis.call('DEL', nk)\n"
	"redis.call('DEL', P..'alive:'..me)\n"
	"redis.call('SREM', P..'nodes', me)\n"
	"return #h / 2\n";

/* ================= common ================= */

struct pl_presence *pl_presence_new(int grace_seconds, pl_presence_fn fn, void *ud)
{
	struct pl_presence *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->users = pl_map_new();
	if (!p->users) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->grace_ms = grace_seconds * 1000;
	p->fn = fn;
	p->ud = ud;
	return p;
}

void pl_presence_free(struct pl_presence *p)
{
	if (!p)
		return;
	pl_map_free_all(p->users);
	free(p->checks);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Under the lock. */
static struct entry *entry_get(struct pl_presence *p, const char *user, bool create)
{
	struct entry *e = pl_map_get(p->users, user);
	if (e || !create)
		return e;
	e = calloc(1, sizeof *e);
	if (e && !pl_map_put(p->users, user, e)) {
		free(e);
		e = NULL;
	}
	return e;
}

/* Under the lock (Redis mode): drops an entry that says nothing. */
static void entry_tidy(struct pl_presence *p, const char *user, struct entry *e)
{
	if (e && !e->local && !e->count && !e->pending && !e->reg)
		free(pl_map_del(p->users, user));
}

/* Redis mode: connections anywhere, as this node knows now. */
static int global_conns(const struct pl_presence *p, const struct entry *e)
{
	if (p->synced)
		return e->count;
	/* Cut off from Redis: what the others had, plus this node's own now. */
	int others = e->count - e->reg;
	return (others > 0 ? others : 0) + e->local;
}

int pl_presence_connections(struct pl_presence *p, const char *user)
{
	pthread_mutex_lock(&p->lock);
	struct entry *e = pl_map_get(p->users, user);
	int n = !e ? 0 : p->bus ? global_conns(p, e) : e->local;
	pthread_mutex_unlock(&p->lock);
	return n;
}

bool pl_presence_online(struct pl_presence *p, const char *user)
{
	pthread_mutex_lock(&p->lock);
	struct entry *e = pl_map_get(p->users, user);
	bool on = e && (!p->bus || global_conns(p, e) > 0 || e->pending);
	pthread_mutex_unlock(&p->lock);
	return on;
}

/* ================= Redis mode ================= */

static void redis_connect(struct pl_presence *p, const char *user);
static void redis_disconnect(struct pl_presence *p, const char *user);
static void redis_tick(struct pl_presence *p);

/* Under the lock: a versioned update of a user's global state.  fresh:
 * from a script's reply (it may arrive after the channel told newer). */
static void apply(struct pl_presence *p, const char *user, int count, bool pending,
		  long long version)
{
	struct entry *e = pl_map_get(p->users, user);
	if (!e) {
		if (version <= p->floor || (!count && !pending))
			return; /* older than what deleted it, or nothing to keep */
		e = entry_get(p, user, true);
		if (!e)
			return;
	}
	if (version <= e->version)
		return;
	e->count = count;
	e->pending = pending;
	e->version = version;
	entry_tidy(p, user, e);
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

static void redis_connect(struct pl_presence *p, const char *user)
{
	if (!pl_bus_redis_up(p->bus))
		return; /* counted locally; registered when the link is back */
	struct ureq *q = ureq_new(p, user);
	const char *args[] = {PREFIX, pl_bus_node(p->bus), user, "0"};
	if (q && !eval(p, CONNECT_LUA, on_connect_reply, q, 4, args))
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

static void redis_disconnect(struct pl_presence *p, const char *user)
{
	if (!pl_bus_redis_up(p->bus))
		return;
	struct ureq *q = ureq_new(p, user);
	char deadline[24];
	snprintf(deadline, sizeof deadline, "%lld", (long long)(pl_now_ms() + p->grace_ms));
	const char *args[] = {PREFIX, pl_bus_node(p->bus), user, deadline};
	if (q && !eval(p, DISCONNECT_LUA, on_disconnect_reply, q, 4, args))
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
		if (q && !eval(p, CHECK_LUA, on_check_reply, q, 3, args)) {
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
	eval(p, MAINTAIN_LUA, on_maintain_reply, p, 5, args);
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
		struct entry *e = entry_get(p, u, true);
		if (e) {
			e->count = (int)strtol(counts->element[i + 1]->str, NULL, 10);
			e->version = seq;
		}
	}
	for (size_t i = 0; pend && i < pend->elements; i++) {
		const char *u = pend->element[i]->str;
		struct entry *e = pl_valid_id(u) ? entry_get(p, u, true) : NULL;
		if (e && e->version <= seq) {
			e->pending = true;
			e->version = seq;
		}
	}
	for (size_t i = 0; i < ndrop; i++) {
		struct entry *e = pl_map_get(p->users, drop[i]);
		if (e && !e->pending)
			entry_tidy(p, drop[i], e);
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
		argv[argc++] = REGISTER_LUA;
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
		const char *argv[] = {"EVAL", WITHDRAW_LUA, "0", PREFIX, pl_bus_node(p->bus),
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

/* A long-poll of parley.fcgi began (+) or ended (-): see REMOTE_LUA. */
static void on_remote_count(void *ud, const char *node, char sign, const char *user,
			    const char *op)
{
	struct pl_presence *p = ud;
	if (!p->synced || !pl_valid_id(user))
		return; /* lost; a stale count is reaped (POLL_STALE_MS) */
	struct ureq *q = ureq_new(p, user);
	char deadline[24], now[24];
	snprintf(deadline, sizeof deadline, "%lld", (long long)(pl_now_ms() + p->grace_ms));
	snprintf(now, sizeof now, "%lld", (long long)pl_now_ms());
	const char *args[] = {PREFIX, node, user, deadline, op, now, sign == '+' ? "+" : "-"};
	if (q && !eval(p, REMOTE_LUA, sign == '+' ? on_connect_reply : on_disconnect_reply, q, 7,
		       args))
		free(q);
}

void pl_presence_use_bus(struct pl_presence *p, struct pl_bus *bus)
{
	if (!p || !pl_bus_is_redis(bus))
		return;
	p->bus = bus;
	pl_bus_on_link(bus, on_link, p);
	pl_bus_on_presence_msg(bus, on_presence_msg, p);
	pl_bus_on_remote_count(bus, on_remote_count, p);
}

static void redis_tick(struct pl_presence *p)
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

/* ================= the API ================= */

void pl_presence_connect(struct pl_presence *p, const char *user)
{
	bool came_online = false;
	pthread_mutex_lock(&p->lock);
	struct entry *e = pl_map_get(p->users, user);
	if (!e && (e = entry_get(p, user, true)) != NULL && !p->bus)
		came_online = true;
	if (e) {
		e->local++;
		e->offline_at = 0; /* back within the grace period: no events */
	}
	bool redis = p->bus != NULL;
	pthread_mutex_unlock(&p->lock);
	if (redis && e)
		redis_connect(p, user);
	else if (came_online && p->fn)
		p->fn(p->ud, user, true);
}

void pl_presence_disconnect(struct pl_presence *p, const char *user)
{
	pthread_mutex_lock(&p->lock);
	struct entry *e = pl_map_get(p->users, user);
	bool counted = e && e->local > 0;
	if (counted && --e->local == 0 && !p->bus)
		e->offline_at = pl_mono_ms() + p->grace_ms;
	bool redis = p->bus != NULL;
	if (counted && redis)
		entry_tidy(p, user, e);
	pthread_mutex_unlock(&p->lock);
	if (counted && redis)
		redis_disconnect(p, user);
}

void pl_presence_tick(struct pl_presence *p)
{
	if (p->bus) {
		redis_tick(p);
		return;
	}
	int64_t now = pl_mono_ms();
	char (*gone)[PL_ID_MAX + 1] = NULL;
	size_t ngone = 0, cap = 0, pos = 0;
	const char *k;
	void *v;
	pthread_mutex_lock(&p->lock);
	while (pl_map_next(p->users, &pos, &k, &v)) {
		struct entry *e = v;
		if (e->local > 0 || !e->offline_at || e->offline_at > now)
			continue;
		if (ngone == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *grown = realloc(gone, ncap * sizeof *gone);
			if (!grown)
				break;
			gone = grown;
			cap = ncap;
		}
		snprintf(gone[ngone++], sizeof gone[0], "%s", k);
		free(pl_map_del(p->users, k));
	}
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < ngone && p->fn; i++)
		p->fn(p->ud, gone[i], false);
	free(gone);
}
