/* tests/unit/test_hub: the hub without node or HTTP.  A real context (store,
 * writer, bus, presence) in a temporary folder, the hub driven pass by pass
 * on this thread (pl_hub_new, pl_hub_pass) with a clock the test moves by
 * hand (pl_ctx.clock), and SSE clients on socketpairs: what each client
 * reads is what the hub wrote.
 *
 *   routing      a room's message reaches its members' streams, not others'
 *   subscriptions follow membership: a join subscribes the user's open
 *                connections, a leave unsubscribes them
 *   typing       reaches the room but not the typist; the stop comes when
 *                the start lapses, 5 s later on the hub's clock
 *   presence     a user's first connection is one online event to whoever
 *                asked, the last one leaving (grace 0) one offline
 *   long-poll    an answer is sealed at its deadline; a detached poll
 *                holding its session stays parked (still counted) until
 *                10 s pass on the hub's clock
 *   scan         push/scan.h's cursor rule over the store
 *   failed start pl_hub_new failing at each descriptor it opens (a lowered
 *                RLIMIT_NOFILE) returns NULL and leaves no descriptor open
 *                and no sink behind (it used to return with all it had
 *                made still held)
 *
 * No timing is asserted: the clock is the test's, and waits for the writer
 * thread are bounded loops. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/config.h"
#include "base/jwt.h"
#include "chat/chat.h"
#include "chat/ctx.h"
#include "db/presence.h"
#include "push/hubint.h"
#include "push/scan.h"
#include "tests/unit/t.h"

#define SECRET "unit-test-secret-of-the-hub-0123456789abcdef"

struct fake_clock {
	int64_t mono;
};

static int64_t fake_mono(void *ud) { return ((struct fake_clock *)ud)->mono; }
static int64_t fake_now(void *ud)
{
	(void)ud;
	return pl_now_ms();
}

static struct fake_clock fake = {1000000};
static const struct pl_clock clock_ = {fake_mono, fake_now, &fake};
static struct pl_ctx ctx;
static struct pl_hub *hub;

/* One SSE client: the test's end of a socketpair and what it read. */
struct client {
	int fd;
	char buf[1 << 16];
	size_t len;
};

static void drain(struct client *cl)
{
	for (;;) {
		if (cl->len + 1 >= sizeof cl->buf)
			return;
		ssize_t n = read(cl->fd, cl->buf + cl->len, sizeof cl->buf - 1 - cl->len);
		if (n <= 0)
			return;
		cl->len += (size_t)n;
		cl->buf[cl->len] = 0;
	}
}

static int count(const struct client *cl, const char *needle)
{
	int n = 0;
	for (const char *p = cl->buf; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Runs passes until cl has read needle (or 200 passes of up to 20 ms: the
 * writer thread commits on its own time).  True when it has. */
static bool pump_until(struct client *cl, const char *needle)
{
	for (int i = 0; i < 200; i++) {
		pl_hub_pass(hub, 20);
		drain(cl);
		if (strstr(cl->buf, needle))
			return true;
	}
	return false;
}

/* A few passes with nothing awaited (to let what would arrive arrive). */
static void pump(int passes)
{
	for (int i = 0; i < passes; i++)
		pl_hub_pass(hub, 5);
}

/* Moves the hub's clock on and runs a pass, so its tick runs. */
static void advance(int64_t ms)
{
	fake.mono += ms;
	pump(2);
}

/* Runs ticks until user's last connection has gone offline (grace 0),
 * so the transition is not a later test's event. */
static void settle(const char *user)
{
	for (int i = 0; i < 50 && pl_presence_online(ctx.presence, user); i++)
		advance(300);
	CHECK(!pl_presence_online(ctx.presence, user));
	pump(3);
}

static void sse_open(struct client *cl, const char *user, const char *presence_of)
{
	memset(cl, 0, sizeof *cl);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	struct pl_conn *c = pl_conn_new(PL_CONN_SSE, user);
	struct pl_attach a = {.last_event_id = -1};
	if (presence_of)
		a.presence = json_pack("[s]", presence_of);
	pl_hub_adopt_sse(hub, c, sv[0], &a); /* the hub takes its own reference */
	pl_conn_unref(c);
	cl->fd = sv[1];
	CHECK(pump_until(cl, "event: hello"));
}

static void sse_close(struct client *cl)
{
	close(cl->fd);
	cl->fd = -1;
}

static void sign_up(const char *user)
{
	char *token = pl_jwt_sign((const unsigned char *)SECRET, strlen(SECRET), user, NULL,
				  pl_now_ms() / 1000 + 3600);
	struct pl_claims who;
	pl_error err;
	CHECK(token && pl_chat_auth(&ctx, token, &who, &err) == PL_OK);
	free(token);
}

static void post(const char *user, const char *room, const char *text)
{
	char *msg = NULL;
	size_t len;
	bool created;
	pl_error err;
	CHECK(pl_chat_post(&ctx, user, room, text, NULL, &msg, &len, &created, &err) == PL_OK);
	free(msg);
}

static void test_routing_and_subscriptions(void)
{
	json_t *out = NULL;
	pl_error err;
	CHECK(pl_chat_room_create(&ctx, "alice", "r1", "R1", false, &out, &err) == PL_OK);
	json_decref(out);
	CHECK(pl_chat_join(&ctx, "bob", "r1", &out, &err) == PL_OK);
	json_decref(out);
	struct client a, b, c;
	sse_open(&a, "alice", NULL);
	sse_open(&b, "bob", NULL);
	sse_open(&c, "carol", NULL);

	post("alice", "r1", "first");
	CHECK(pump_until(&a, "first"));
	CHECK(pump_until(&b, "first"));
	pump(5);
	drain(&c);
	CHECK(count(&a, "event: message.created") == 1);
	CHECK(count(&b, "event: message.created") == 1);
	CHECK(strstr(c.buf, "first") == NULL); /* carol is not in r1 */

	/* A join subscribes carol's open stream; her join is the room's event. */
	CHECK(pl_chat_join(&ctx, "carol", "r1", &out, &err) == PL_OK);
	json_decref(out);
	CHECK(pump_until(&c, "event: member.joined"));
	post("bob", "r1", "second");
	CHECK(pump_until(&c, "second"));
	CHECK(pump_until(&a, "second"));

	/* A leave unsubscribes it again. */
	CHECK(pl_chat_leave(&ctx, "carol", "r1", &err) == PL_OK);
	CHECK(pump_until(&c, "event: member.left"));
	post("alice", "r1", "third");
	CHECK(pump_until(&b, "third"));
	pump(5);
	drain(&c);
	CHECK(strstr(c.buf, "third") == NULL);

	/* Typing: the room hears it, the typist does not; the stop comes when
	 * the start lapses on the hub's clock, not before. */
	CHECK(pl_chat_typing(&ctx, "bob", "r1", true, &err) == PL_OK);
	CHECK(pump_until(&a, "\"typing\":true"));
	pump(3);
	drain(&b);
	CHECK(count(&b, "event: typing") == 0);
	advance(4000);
	drain(&a);
	CHECK(count(&a, "\"typing\":false") == 0);
	advance(1500); /* 5.5 s after the start */
	CHECK(pump_until(&a, "\"typing\":false"));
	CHECK(count(&a, "\"typing\":false") == 1);
	drain(&b);
	CHECK(count(&b, "event: typing") == 0);

	sse_close(&a);
	sse_close(&b);
	sse_close(&c);
	settle("alice");
	settle("bob");
	settle("carol");
}

#define ERIN_ON "\"user\":\"erin\",\"status\":\"online\""
#define ERIN_OFF "\"user\":\"erin\",\"status\":\"offline\""

static void test_presence(void)
{
	struct client d, e1, e2;
	sse_open(&d, "dave", "erin");
	CHECK(pl_presence_connections(ctx.presence, "erin") == 0);
	sse_open(&e1, "erin", NULL);
	CHECK(pump_until(&d, ERIN_ON));
	CHECK(pl_presence_connections(ctx.presence, "erin") == 1);
	/* A second connection is no transition. */
	sse_open(&e2, "erin", NULL);
	CHECK(pl_presence_connections(ctx.presence, "erin") == 2);
	advance(300);
	drain(&d);
	CHECK(count(&d, ERIN_ON) == 1); /* asked for, and a small room's member: once */
	/* The first leaving is none either; the last (grace 0) is offline. */
	sse_close(&e1);
	for (int i = 0; i < 50 && pl_presence_connections(ctx.presence, "erin") != 1; i++)
		advance(300);
	CHECK(pl_presence_connections(ctx.presence, "erin") == 1);
	advance(300);
	drain(&d);
	CHECK(count(&d, ERIN_OFF) == 0);
	sse_close(&e2);
	for (int i = 0; i < 50 && !strstr(d.buf, ERIN_OFF); i++) {
		advance(300); /* the hub's tick runs presence's */
		drain(&d);
	}
	CHECK(count(&d, ERIN_OFF) == 1);
	CHECK(pl_presence_connections(ctx.presence, "erin") == 0);
	sse_close(&d);
	settle("dave");
}

static void test_long_poll(void)
{
	static const char session[] = "0123456789abcdef0123456789abcdef";
	sign_up("frank");
	/* The first poll: frank coming online is its answer (frank is in
	 * general, a small room). */
	struct pl_conn *p1 = pl_conn_new(PL_CONN_POLL, "frank");
	p1->poll_deadline_ms = fake.mono + 30000;
	memcpy(p1->session, session, 33);
	struct pl_attach a = {.last_event_id = -1};
	pl_hub_attach(hub, p1, &a);
	for (int i = 0; i < 50 && !p1->done; i++)
		pump(1);
	CHECK(p1->attached && p1->done);
	size_t len;
	int64_t cursor;
	char got[33];
	char *events = pl_poll_take(p1, &len, &cursor, got);
	CHECK(events && strstr(events, "\"user\":\"frank\",\"status\":\"online\""));
	CHECK_STR(got, session);
	free(events);
	/* Answered: the session keeps it parked, still counted. */
	pl_hub_detach(hub, p1);
	pump(3);
	CHECK(p1->parked && p1->attached);
	/* The session's next poll takes it over: the count never passes 0. */
	struct pl_conn *p2 = pl_conn_new(PL_CONN_POLL, "frank");
	p2->poll_deadline_ms = fake.mono + 30000;
	memcpy(p2->session, session, 33);
	a = (struct pl_attach){.last_event_id = cursor};
	pl_hub_attach(hub, p2, &a);
	pump(3);
	CHECK(p2->attached && !p1->attached);
	CHECK(pl_presence_connections(ctx.presence, "frank") == 1);
	/* Nothing to answer: sealed at its deadline by the hub's clock. */
	advance(29000);
	CHECK(!p2->done);
	advance(1500);
	CHECK(p2->done);
	pl_hub_detach(hub, p2);
	pump(3);
	CHECK(p2->parked && p2->attached);
	advance(9000);
	CHECK(p2->attached);
	advance(1500); /* 10.5 s: nobody polled again */
	CHECK(!p2->attached);
	CHECK(pl_presence_connections(ctx.presence, "frank") == 0);
	pl_conn_unref(p1);
	pl_conn_unref(p2);
}

/* push/scan.h over alice's events: a reader full after two takes stops on
 * the second; one that cannot take the first stays where it was; one that
 * takes everything reaches upto. */
struct taker {
	int max, taken;
	int64_t last;
	bool refuse;
};

static bool t_wanted(void *ud, const struct pl_event_row *row)
{
	(void)ud;
	(void)row;
	return true;
}
static bool t_full(void *ud) { return ((struct taker *)ud)->taken >= ((struct taker *)ud)->max; }
static bool t_take(void *ud, const struct pl_event_row *row)
{
	struct taker *t = ud;
	if (t->refuse)
		return false;
	t->taken++;
	t->last = row->id;
	return true;
}

static void test_scan(void)
{
	pl_store *st = pl_ctx_reader(&ctx);
	CHECK(st != NULL);
	int64_t newest = pl_store_last_event(st);
	CHECK(newest >= 3);
	struct taker t = {.max = 2};
	struct pl_scan s = {.user = "alice", .cursor = 0, .upto = newest, .batch = 1,
			    .wanted = t_wanted, .full = t_full, .take = t_take, .ud = &t};
	CHECK(!pl_scan_run(st, &s));
	CHECK(t.taken == 2 && s.cursor == t.last);
	struct taker r = {.max = 100, .refuse = true};
	struct pl_scan s2 = s;
	s2.ud = &r;
	int64_t before = s2.cursor;
	CHECK(!pl_scan_run(st, &s2));
	CHECK(s2.cursor == before);
	struct taker all = {.max = 1000};
	struct pl_scan s3 = s;
	s3.ud = &all;
	CHECK(pl_scan_run(st, &s3));
	CHECK(s3.cursor == newest && all.taken >= 1);
	pl_ctx_reader_put(&ctx, st);
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n - 1; /* the DIR's own */
}

static int highest_fd(void)
{
	int highest = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d && (e = readdir(d));)
		if (atoi(e->d_name) > highest)
			highest = atoi(e->d_name);
	if (d)
		closedir(d);
	return highest;
}

static void test_failed_start(void)
{
	struct rlimit was;
	CHECK(getrlimit(RLIMIT_NOFILE, &was) == 0);
	/* Holes below the highest descriptor filled, so the limit says
	 * exactly how many the hub may open. */
	int top = highest_fd(), fill[256], nfill = 0;
	for (int fd; nfill < 256 && (fd = dup(0)) >= 0;) {
		if (fd > top) {
			close(fd);
			break;
		}
		fill[nfill++] = fd;
	}
	int failed = 0, started = 0;
	for (int room = 0; room < 12; room++) {
		int before = open_fds();
		struct rlimit low = was;
		low.rlim_cur = (rlim_t)(top + 1 + room);
		CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
		pl_error err;
		struct pl_hub *h = pl_hub_new(&ctx, &err);
		CHECK(setrlimit(RLIMIT_NOFILE, &was) == 0);
		if (h) {
			started++;
			pl_hub_stop(h);
			pl_hub_free(h);
		} else {
			failed++;
			CHECK(ctx.sink.ud == NULL && ctx.sink.stored == NULL);
		}
		CHECK(open_fds() == before);
	}
	while (nfill > 0)
		close(fill[--nfill]);
	CHECK(failed > 0 && started > 0);
}

int main(void)
{
	char dir[] = "/tmp/parley-test-hub-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("PARLEY_JWT_SECRET", SECRET, 1);
	struct pl_config cfg;
	char cerr[256];
	char *argv[] = {"parleyd", "--data", dir, "--presence-grace", "0", "--stats-interval", "0", NULL};
	CHECK(pl_config_load(&cfg, "parleyd", 7, argv, 1, cerr, sizeof cerr) == PL_CONFIG_OK);
	pl_error err;
	if (pl_ctx_init(&ctx, &cfg, true, &err) != PL_OK) {
		fprintf(stderr, "ctx: %s\n", err.message);
		return 1;
	}
	ctx.clock = &clock_;
	test_failed_start();
	hub = pl_hub_new(&ctx, &err);
	CHECK(hub != NULL);
	if (hub) {
		for (const char *const *u = (const char *const[]){"alice", "bob", "carol", "dave",
								     "erin", NULL};
		     *u; u++)
			sign_up(*u);
		test_routing_and_subscriptions();
		test_presence();
		test_long_poll();
		test_scan();
		pl_hub_stop(hub);
		pl_hub_free(hub);
	}
	pl_ctx_close(&ctx);
	pl_config_free(&cfg);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return T_DONE();
}
