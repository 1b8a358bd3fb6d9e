/*
 * loadgen.c - the Parley benchmark load generator: options, scenarios and
 * reporting.  One epoll process opens up to ~19,000 subscriber connections
 * (SSE or WebSocket) to parleyd or to nginx+nchan, publishes messages at
 * fixed rates whose text carries the CLOCK_MONOTONIC send time
 * ("b:<ns>:<seq>"), and measures every delivery's latency; it also drives
 * closed-loop ingest (REST or pipelined WebSocket sends) and history reads.
 * With --flood N, N more WebSocket clients send read and typing frames as
 * fast as the server takes them during a fan-out: the latency then is what
 * everyone else sees while a few clients flood.
 * With --sub sio every client speaks Socket.IO over WebSocket (sio.c), to
 * parleyd's /socket.io/ or to the Node socket.io peer (--target socketio,
 * bench/sio-peer): subscribers join their room by a `join` event with an
 * ack, publishers emit `send_message` with an ack, and deliveries are the
 * `receive_message` events (parleyd's duplicate `parley` emits are not
 * counted).
 * It prints one "RESULT key=value ..." line per measured phase and a
 * human summary line starting with '#'.  Exit status 2 means something was
 * lost or failed (used by the smoke test), 1 a usage or setup error.
 */
#include "lg.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

enum target { T_PARLEY, T_NCHAN, T_SIONODE };
enum mode { M_IDLE, M_FANOUT, M_INGEST, M_HISTORY };
enum phase { PH_SETUP, PH_CONNECT, PH_RUN, PH_DRAIN };

static struct opts {
	enum target target;
	enum mode mode;
	char host[64];
	int port;
	int subs, sub_ws, rooms, pub_ws, pubs, conns, window, ramp, nsrc, setup;
	double rates[8];
	int nrates;
	double duration, drain, hold, connect_timeout, settle;
	const char *secret_file, *pids, *prefix, *users, *label;
	int no_rooms; /* idle subscribers name no rooms (default subscription) */
	int trace;    /* print what subscriber trace_sub receives, this many times */
	int trace_sub;
	int flood;    /* WebSocket clients flooding read/typing frames */
	int sio;      /* every client speaks Socket.IO (--sub sio) */
} O = {
	.target = T_PARLEY, .mode = M_FANOUT, .host = "127.0.0.1", .port = 8080,
	.subs = 100, .rooms = 1, .pubs = 1, .conns = 64, .window = 1, .ramp = 200,
	.nsrc = 8, .rates = { 10 }, .nrates = 1, .duration = 10, .drain = 10,
	.hold = 5, .connect_timeout = 180, .settle = 3, .prefix = "bench", .users = "b",
	.label = "run",
};

/* Counters of the current phase. */
static struct stats {
	uint64_t sent, skipped, expected, received, ops, errors;
	uint64_t first_ns, last_ns, phase_start;
	struct hist lat;
} S;

static struct conn *subs, *cli, *setup_pool, *flood;
static int ncli, nsetup = 48;
static int *startq, nstartq, pending, ready_subs, failed_subs, drops;
static int *room_ready;
static enum phase g_phase = PH_SETUP;
static volatile sig_atomic_t g_stop;
static unsigned char g_secret[512];
static size_t g_secret_len;
static uint64_t g_seq;
static int g_err_shown;

/* ---- small helpers ---------------------------------------------------- */

static void room_id(int r, char *out, size_t n)
{
	snprintf(out, n, "%s%d", O.prefix, r);
}

static char *mint(char kind, int i)
{
	char user[96];
	snprintf(user, sizeof user, "%s%c%d", O.users, kind, i);
	if (O.target != T_PARLEY)
		return NULL;
	char *t = jwt_mint(g_secret, g_secret_len, user, 6 * 3600);
	if (!t) {
		fprintf(stderr, "loadgen: cannot mint a token\n");
		exit(1);
	}
	return t;
}

/* Finds "b:<ns>" at the start of a value (after '"' or ' ') and returns
 * the send time; the only digits-after-b: pattern in our events. */
static int find_stamp(const char *p, size_t n, uint64_t *ns)
{
	const char *end = p + n, *q = p;
	while (q + 2 < end && (q = memchr(q, 'b', (size_t)(end - q - 2)))) {
		if (q[1] == ':' && isdigit((unsigned char)q[2]) &&
		    (q == p || q[-1] == '"' || q[-1] == ' ')) {
			uint64_t v = 0;
			for (q += 2; q < end && isdigit((unsigned char)*q); q++)
				v = v * 10 + (uint64_t)(*q - '0');
			*ns = v;
			return 1;
		}
		q++;
	}
	return 0;
}

static void show_error(const char *what, int status, const char *body, size_t n)
{
	if (g_err_shown++ < 5)
		fprintf(stderr, "loadgen: %s: status %d: %.*s\n", what, status,
			(int)(n > 300 ? 300 : n), body);
}

/* ---- subscribers ------------------------------------------------------ */

static void sub_ready(struct conn *c)
{
	if (c->ready)
		return;
	c->ready = 1;
	ready_subs++;
	pending--;
	room_ready[c->room]++;
}

static void delivery(const char *p, size_t n)
{
	uint64_t ns, now;
	if (!find_stamp(p, n, &ns) || ns < S.phase_start)
		return;
	now = lg_now();
	S.received++;
	if (!S.first_ns)
		S.first_ns = now;
	S.last_ns = now;
	hist_add(&S.lat, now > ns ? now - ns : 0);
}

static void sub_path(const struct conn *c, char *path, size_t n)
{
	char room[80];
	room_id(c->room, room, sizeof room);
	if (O.sio)
		sio_path(path, n, c->tok);
	else if (O.target == T_NCHAN)
		snprintf(path, n, "/sub/%s", room);
	else if (O.no_rooms)
		snprintf(path, n, "/v1/%s?token=%s", O.sub_ws ? "ws" : "events", c->tok);
	else
		snprintf(path, n, "/v1/%s?rooms=%s&token=%s", O.sub_ws ? "ws" : "events",
			 room, c->tok);
}

static int sub_open(struct conn *c)
{
	char path[1024];
	sub_path(c, path, sizeof path);
	c->role = O.sub_ws ? R_WSSUB : R_SSE;
	if (O.sub_ws)
		ws_upgrade(c, path);
	else
		http_get(c, path, "Accept: text/event-stream\r\n");
	return net_connect(c);
}

/* Opens queued subscribers, at most O.ramp handshakes at a time, because
 * a burst of thousands of SYNs overflows any listen backlog. */
static void start_subs(void)
{
	while (nstartq > 0 && pending < O.ramp) {
		struct conn *c = &subs[startq[--nstartq]];
		if (sub_open(c) < 0) {
			net_close(c);
			failed_subs++;
			continue;
		}
		pending++;
	}
}

static void sub_closed(struct conn *c, int err)
{
	if (c->ready) {
		ready_subs--;
		room_ready[c->room]--;
		if (g_phase != PH_SETUP)
			drops++;
		return;
	}
	pending--;
	if (c->tries < 5 && g_phase == PH_CONNECT)
		startq[nstartq++] = c->id; /* retry later from start_subs */
	else if (failed_subs++ < 5)
		fprintf(stderr, "loadgen: subscriber %d failed: %s\n", c->id,
			err ? strerror(err) : "closed");
}

/* ---- clients (publishers, ingest, history, setup) --------------------- */

static void cli_open(struct conn *c)
{
	c->tries = 0;
	if (c->role == R_WSPUB || c->role == R_FLOOD) {
		char path[1024];
		snprintf(path, sizeof path, "/v1/ws?rooms=general&token=%s", c->tok);
		ws_upgrade(c, path);
	} else if (c->role == R_SIOPUB) {
		char path[1024];
		sio_path(path, sizeof path, c->tok);
		ws_upgrade(c, path);
	} else {
		c->ready = 1;
	}
	if (net_connect(c) < 0) {
		net_close(c);
		S.errors++;
	}
}

static void send_msg(struct conn *c, int r, uint64_t seq)
{
	char room[80], text[64], body[512], path[160];
	uint64_t now = lg_now();
	int tn = snprintf(text, sizeof text, "b:%llu:%llu", (unsigned long long)now,
			  (unsigned long long)seq);
	room_id(r, room, sizeof room);
	if (O.target == T_NCHAN) {
		snprintf(path, sizeof path, "/pub/%s", room);
		http_request(c, "POST", path, "text/plain", text, (size_t)tn);
	} else if (c->role == R_WSPUB) {
		int n = snprintf(body, sizeof body,
				 "{\"type\":\"send\",\"room\":\"%s\",\"text\":\"%s\","
				 "\"client_id\":\"c%llu\"}",
				 room, text, (unsigned long long)seq);
		fifo_push(c, now);
		ws_send_text(c, body, (size_t)n);
	} else if (c->role == R_SIOPUB) {
		snprintf(body, sizeof body,
			 "\"send_message\",{\"chatId\":\"%s\",\"content\":\"%s\","
			 "\"client_id\":\"c%llu\"}",
			 room, text, (unsigned long long)seq);
		fifo_push(c, now);
		sio_emit(c, (long)(seq % 1000000000), body);
	} else {
		int n = snprintf(body, sizeof body, "{\"text\":\"%s\"}", text);
		snprintf(path, sizeof path, "/v1/rooms/%s/messages", room);
		http_request(c, "POST", path, "application/json", body, (size_t)n);
	}
	S.sent++;
}

static void history_get(struct conn *c)
{
	char room[80], path[200];
	room_id(0, room, sizeof room);
	snprintf(path, sizeof path, "/v1/rooms/%s/messages?limit=50", room);
	http_request(c, "GET", path, NULL, NULL, 0);
	S.sent++;
}

/* Keeps a closed-loop client's window full while the phase runs. */
static void refill(struct conn *c)
{
	if (O.mode != M_INGEST && O.mode != M_HISTORY)
		return;
	while (g_phase == PH_RUN && c->ready && conn_inflight(c) < (unsigned)O.window) {
		if (O.mode == M_HISTORY)
			history_get(c);
		else
			send_msg(c, 0, g_seq++);
	}
}

static void op_done(struct conn *c, int ok, uint64_t sent_ns)
{
	if (ok) {
		S.ops++;
		if (sent_ns)
			hist_add(&S.lat, lg_now() - sent_ns);
	} else {
		S.errors++;
	}
	if (O.mode == M_INGEST || O.mode == M_HISTORY)
		refill(c);
}

/* Whether the frame's first "type" member is the quoted value want;
 * tolerant of the blanks a non-compact JSON encoder puts around ':'. */
static int type_is(const char *p, size_t n, const char *want)
{
	const char *end = p + n, *q = memmem(p, n, "\"type\"", 6);
	size_t wl = strlen(want);
	if (!q)
		return 0;
	for (q += 6; q < end && (*q == ' ' || *q == ':'); q++)
		;
	return (size_t)(end - q) >= wl && !memcmp(q, want, wl);
}

/* A WebSocket publisher's frames: acks and errors close a window slot. */
static void pub_frame(struct conn *c, const char *p, size_t n)
{
	int ack = type_is(p, n, "\"ack\"");
	if (!ack && !type_is(p, n, "\"error\""))
		return; /* hello, presence and other pushed events */
	uint64_t sent = fifo_pop(c);
	if (!ack)
		show_error("ws send", 0, p, n);
	op_done(c, ack, sent);
}

static void trace(const struct conn *c, const char *p, size_t n);

/* A Socket.IO client's packets: the open is answered with CONNECT, pings
 * with pongs; a connected subscriber joins its room (ack id 0) and is ready
 * once that is acknowledged; a publisher's acks close its window slots. */
static void sio_frame(struct conn *c, const char *p, size_t n)
{
	char args[128], room[80];
	long ack = -1;
	switch (sio_parse(p, n, &ack)) {
	case SIO_K_OPEN:
		sio_connect(c);
		break;
	case SIO_K_PING:
		sio_pong(c);
		break;
	case SIO_K_CONNECTED:
		if (c->role == R_SIOPUB) {
			c->ready = 1;
			break;
		}
		room_id(c->room, room, sizeof room);
		snprintf(args, sizeof args, "\"join\",\"%s\"", room);
		sio_emit(c, 0, args);
		break;
	case SIO_K_CONNECT_ERROR:
		show_error("socket.io connect", 0, p, n);
		shutdown(c->fd, SHUT_RDWR); /* the read side reports the failure */
		break;
	case SIO_K_ACK:
		if (c->role == R_SIOPUB) {
			int bad = memmem(p, n, "\"error\"", 7) != NULL;
			if (bad)
				show_error("send_message", 0, p, n);
			op_done(c, !bad, fifo_pop(c));
		} else if (ack == 0 && !memmem(p, n, "\"error\"", 7)) {
			sub_ready(c);
		} else {
			show_error("join", 0, p, n);
		}
		break;
	case SIO_K_EVENT:
		if (c->role == R_SIOPUB)
			break;
		trace(c, p, n);
		if (c->ready && sio_event_is(p, n, "receive_message"))
			delivery(p, n);
		break;
	default:
		break;
	}
}

/* ---- callbacks from net/http/ws -------------------------------------- */

void lg_on_head(struct conn *c)
{
	/* nchan sends nothing until the first message; parley says hello */
	if (c->role == R_WSPUB || c->role == R_FLOOD)
		c->ready = 1;
	else if (O.target == T_NCHAN)
		sub_ready(c);
}

/* --trace: shows what the server actually pushes to one subscriber. */
static void trace(const struct conn *c, const char *p, size_t n)
{
	if (c->id == O.trace_sub && O.trace > 0 && n) {
		O.trace--;
		fprintf(stderr, "trace: %.*s\n", (int)(n > 400 ? 400 : n), p);
	}
}

void lg_on_line(struct conn *c, const char *p, size_t n)
{
	trace(c, p, n);
	sub_ready(c);
	if (n > 5 && !memcmp(p, "data:", 5))
		delivery(p + 5, n - 5);
}

void lg_on_frame(struct conn *c, const char *p, size_t n)
{
	if (c->role == R_FLOOD)
		return; /* its refusals (rate_limited) are expected */
	if (O.sio) {
		sio_frame(c, p, n);
		return;
	}
	if (c->role == R_WSPUB) {
		pub_frame(c, p, n);
		return;
	}
	trace(c, p, n);
	sub_ready(c);
	delivery(p, n);
}

static void setup_next(struct conn *c);
static int job_done; /* setup requests answered */

void lg_on_response(struct conn *c, int status, const char *body, size_t n,
		    uint64_t sent_ns)
{
	int ok = status >= 200 && status < 300;
	if (c->role == R_SSE || c->role == R_WSSUB) {
		show_error("subscribe", status, body, n);
		return;
	}
	if (g_phase == PH_SETUP) {
		if (!ok && status != 409) {
			S.errors++;
			show_error("setup", status, body, n);
		}
		S.ops++;
		job_done++;
		setup_next(c);
		return;
	}
	if (!ok)
		show_error("request", status, body, n);
	op_done(c, ok, sent_ns);
}

void lg_on_close(struct conn *c, int err)
{
	if (c->role == R_FLOOD)
		return; /* a flooder the server cut off is no lost work */
	if (c->role == R_SSE || c->role == R_WSSUB) {
		sub_closed(c, err);
		return;
	}
	/* requests in flight on a dropped client connection are lost */
	S.errors += conn_inflight(c);
	if (g_phase != PH_SETUP && g_err_shown++ < 5)
		fprintf(stderr, "loadgen: client connection closed: %s\n",
			err ? strerror(err) : "by server");
}

/* ---- setup: rooms and memberships over parallel keep-alive clients ---- */

struct job {
	char *tok;
	int room, create;
};
static struct job *jobs;
static int njobs, job_next, job_end;

static void setup_next(struct conn *c)
{
	char room[80];
	if (job_next >= job_end || c->fd < 0)
		return;
	const struct job *j = &jobs[job_next++];
	c->tok = j->tok;
	room_id(j->room, room, sizeof room);
	if (j->create) {
		char body[256];
		int n = snprintf(body, sizeof body,
				 "{\"name\":\"%s\",\"id\":\"%s\",\"private\":false}", room,
				 room);
		http_request(c, "POST", "/v1/rooms", "application/json", body, (size_t)n);
	} else {
		char path[160];
		snprintf(path, sizeof path, "/v1/rooms/%s/join", room);
		http_request(c, "POST", path, "application/json", "{}", 2);
	}
}

static void add_job(char *tok, int room, int create)
{
	jobs[njobs++] = (struct job){ .tok = tok, .room = room, .create = create };
}

/* Rooms are created by their publisher (which so becomes a member), then
 * every subscriber joins its room; ingest clients all join room 0. */
static int plan_jobs(void)
{
	jobs = calloc((size_t)(O.rooms + O.subs + ncli), sizeof *jobs);
	for (int r = 0; r < O.rooms; r++)
		add_job(ncli ? cli[r % ncli].tok : subs[r % O.subs].tok, r, 1);
	for (int i = 0; i < O.subs; i++)
		add_job(subs[i].tok, subs[i].room, 0);
	if (O.mode == M_INGEST || O.mode == M_HISTORY)
		for (int k = 1; k < ncli; k++)
			add_job(cli[k].tok, 0, 0);
	return O.rooms;
}

static int stage_done(void)
{
	return job_done + (int)S.errors >= job_end;
}

static void reopen_setup(void)
{
	for (int i = 0; i < nsetup; i++)
		if (setup_pool[i].fd < 0 && job_next < job_end) {
			cli_open(&setup_pool[i]);
			setup_next(&setup_pool[i]);
		}
}

static int run_stage(int from, int to)
{
	job_next = from;
	job_end = to;
	job_done = from;
	S.errors = 0;
	for (int i = 0; i < nsetup; i++)
		setup_next(&setup_pool[i]);
	while (!g_stop && !stage_done()) {
		reopen_setup();
		net_poll(10);
	}
	return (int)S.errors;
}

static int do_setup(void)
{
	uint64_t t0 = lg_now();
	int split = plan_jobs(), bad;
	setup_pool = calloc((size_t)nsetup, sizeof *setup_pool);
	for (int i = 0; i < nsetup; i++) {
		setup_pool[i].fd = -1;
		setup_pool[i].role = R_REST;
		cli_open(&setup_pool[i]);
	}
	g_phase = PH_SETUP;
	bad = run_stage(0, split) + run_stage(split, njobs);
	for (int i = 0; i < nsetup; i++)
		net_close(&setup_pool[i]);
	printf("# setup: %d rooms, %d joins in %.1f s, %d errors\n", split,
	       njobs - split, (double)(lg_now() - t0) / 1e9, bad);
	memset(&S, 0, sizeof S);
	return bad;
}

/* ---- main loop --------------------------------------------------------- */

static double g_rate;

static void reopen_clients(void)
{
	if (g_phase != PH_RUN)
		return;
	for (int i = 0; i < ncli; i++)
		if (cli[i].fd < 0) {
			cli_open(&cli[i]);
			refill(&cli[i]);
		}
}

/* Sends every message that is due by now at the phase's fixed rate,
 * round-robin over the rooms; a room's publisher is fixed (room % pubs). */
static void publish_tick(void)
{
	uint64_t due = (uint64_t)((double)(lg_now() - S.phase_start) * g_rate / 1e9);
	while (S.sent + S.skipped < due) {
		int r = (int)(g_seq % (uint64_t)O.rooms);
		struct conn *c = &cli[r % ncli];
		g_seq++;
		if (c->fd < 0 || !c->ready || conn_inflight(c) >= LG_WIN - 1) {
			S.skipped++; /* the publisher is stuck: a missed send, reported */
			continue;
		}
		S.expected += (uint64_t)room_ready[r];
		send_msg(c, r, g_seq);
	}
}

/* Keeps every flooder's output topped up with read and typing frames
 * while the phase runs (bounded, so the generator's memory is too). */
static void flood_tick(void)
{
	static const char rd[] = "{\"type\":\"read\",\"room\":\"general\",\"up_to\":1}";
	static const char ty[] = "{\"type\":\"typing\",\"room\":\"general\",\"typing\":true}";
	for (int i = 0; i < O.flood; i++) {
		struct conn *c = &flood[i];
		for (int k = 0; c->fd >= 0 && c->ready && c->out.len < 64 * 1024 && k < 256; k++) {
			if (k & 1)
				ws_send_text(c, ty, sizeof ty - 1);
			else
				ws_send_text(c, rd, sizeof rd - 1);
		}
	}
}

static void pump(void)
{
	start_subs();
	reopen_clients();
	if (O.mode == M_FANOUT && g_phase == PH_RUN)
		publish_tick();
	if (g_phase == PH_RUN)
		flood_tick();
	net_poll(g_phase == PH_RUN ? 1 : 10);
}

/* Pumps the loop until done() or the timeout; returns done(). */
static int run_until(int (*done)(void), double seconds)
{
	uint64_t end = lg_now() + (uint64_t)(seconds * 1e9);
	while (!g_stop && !done() && lg_now() < end)
		pump();
	return done();
}

static int never(void)
{
	return 0;
}

static int subs_settled(void)
{
	return nstartq == 0 && pending == 0;
}

static int clients_ready(void)
{
	for (int i = 0; i < ncli; i++)
		if (!cli[i].ready)
			return 0;
	return 1;
}

static int clients_idle(void)
{
	for (int i = 0; i < ncli; i++)
		if (cli[i].fd >= 0 && conn_inflight(&cli[i]))
			return 0;
	return 1;
}

static int all_delivered(void)
{
	return S.received >= S.expected && clients_idle();
}

/* ---- reporting --------------------------------------------------------- */

static const char *mode_name(void)
{
	static const char *names[] = { "idle", "fanout", "ingest", "history" };
	return names[O.mode];
}

static const char *target_name(void)
{
	static const char *names[] = { "parley", "nchan", "socketio" };
	return names[O.target];
}

struct snap {
	struct procstat before, connected, start, end;
	double self_start, self_end; /* the generator's own CPU seconds */
	double busy_start, busy_end;  /* the whole machine's busy CPU seconds */
	double rate, secs;
	uint64_t ops; /* operations completed within the timed window */
};

static int g_bad;

static double self_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Server and generator readings at the start and the end of a phase. */
static void mark(struct snap *sn, int end)
{
	if (end) {
		sn->end = proc_read(O.pids);
		sn->self_end = self_cpu();
		sn->busy_end = machine_busy_s();
	} else {
		sn->start = proc_read(O.pids);
		sn->self_start = self_cpu();
		sn->busy_start = machine_busy_s();
	}
}

/* Busy CPU of everything but the server and the generator. */
static double other_cpu(const struct snap *sn)
{
	double o = (sn->busy_end - sn->busy_start) - (sn->end.cpu_s - sn->start.cpu_s) -
		   (sn->self_end - sn->self_start);
	return o > 0 ? o : 0;
}

static void report(const struct snap *sn)
{
	long dk = sn->connected.rss_kb - sn->before.rss_kb;
	double span = sn->secs, lost = (double)S.expected - (double)S.received;
	if (S.last_ns && (double)(S.last_ns - S.phase_start) / 1e9 > span)
		span = (double)(S.last_ns - S.phase_start) / 1e9;
	if (lost < 0)
		lost = 0;
	printf("RESULT label=%s target=%s mode=%s sub=%s pub=%s subs=%d ready=%d "
	       "failed=%d drops=%d rooms=%d rate=%g duration=%g sent=%llu skipped=%llu "
	       "expected=%llu received=%llu lost=%.0f deliv_per_s=%.0f p50_ms=%.3f "
	       "p90_ms=%.3f p99_ms=%.3f max_ms=%.3f ops=%llu ops_per_s=%.0f errors=%llu "
	       "rss0_kb=%ld rss1_kb=%ld rss2_kb=%ld rss_per_conn_b=%.0f cpu_s=%.2f "
	       "lg_cpu_s=%.2f other_cpu_s=%.2f\n",
	       O.label, target_name(), mode_name(), O.sio ? "sio" : O.sub_ws ? "ws" : "sse",
	       O.sio ? "sio" : O.pub_ws ? "ws" : "rest", O.subs, ready_subs,
	       failed_subs, drops, O.rooms, sn->rate, sn->secs,
	       (unsigned long long)S.sent, (unsigned long long)S.skipped,
	       (unsigned long long)S.expected, (unsigned long long)S.received, lost,
	       (double)S.received / (span > 0 ? span : 1), hist_pct_ms(&S.lat, .5),
	       hist_pct_ms(&S.lat, .9), hist_pct_ms(&S.lat, .99),
	       (double)S.lat.max / 1e6, (unsigned long long)sn->ops,
	       (double)sn->ops / (sn->secs > 0 ? sn->secs : 1),
	       (unsigned long long)S.errors, sn->before.rss_kb, sn->connected.rss_kb,
	       sn->end.rss_kb, ready_subs ? (double)dk * 1024.0 / ready_subs : 0.0,
	       sn->end.cpu_s - sn->start.cpu_s, sn->self_end - sn->self_start,
	       other_cpu(sn));
	printf("# %s: %d/%d subscribers, %llu/%llu delivered, %.0f deliveries/s, "
	       "p50 %.2f ms p99 %.2f ms, %.0f ops/s, %llu errors, server RSS %ld -> %ld "
	       "KiB, %.2f CPU s\n",
	       O.label, ready_subs, O.subs, (unsigned long long)S.received,
	       (unsigned long long)S.expected, (double)S.received / (span > 0 ? span : 1),
	       hist_pct_ms(&S.lat, .5), hist_pct_ms(&S.lat, .99),
	       (double)sn->ops / (sn->secs > 0 ? sn->secs : 1),
	       (unsigned long long)S.errors, sn->before.rss_kb, sn->end.rss_kb,
	       sn->end.cpu_s - sn->start.cpu_s);
	fflush(stdout);
	if (failed_subs || drops || lost > 0 || S.errors || S.skipped ||
	    (O.mode >= M_INGEST && !sn->ops))
		g_bad = 1;
}

/* ---- scenarios --------------------------------------------------------- */

static void connect_subs(void)
{
	g_phase = PH_CONNECT;
	for (int i = O.subs - 1; i >= 0; i--)
		startq[nstartq++] = i;
	if (!run_until(subs_settled, O.connect_timeout)) {
		failed_subs += pending + nstartq;
		nstartq = 0;
	}
	g_phase = PH_DRAIN;
}

static void begin_phase(double rate)
{
	memset(&S, 0, sizeof S);
	g_rate = rate;
	S.phase_start = lg_now();
	g_phase = PH_RUN;
}

static void run_fanout(struct snap *sn)
{
	for (int k = 0; k < O.nrates && !g_stop; k++) {
		mark(sn, 0);
		begin_phase(O.rates[k]);
		run_until(never, O.duration);
		g_phase = PH_DRAIN;
		run_until(all_delivered, O.drain);
		mark(sn, 1);
		sn->rate = O.rates[k];
		sn->secs = O.duration;
		sn->ops = S.ops;
		report(sn);
	}
}

static void run_closed_loop(struct snap *sn)
{
	mark(sn, 0);
	begin_phase(0);
	for (int i = 0; i < ncli; i++)
		refill(&cli[i]);
	run_until(never, O.duration);
	sn->ops = S.ops;
	mark(sn, 1);
	g_phase = PH_DRAIN;
	run_until(clients_idle, 5);
	sn->secs = O.duration;
	report(sn);
}

static void run_idle(struct snap *sn)
{
	begin_phase(0);
	run_until(never, O.hold);
	mark(sn, 1);
	sn->connected = sn->end;
	sn->secs = O.hold;
	report(sn);
}

/* ---- options and main -------------------------------------------------- */

static void usage(void)
{
	fputs("usage: loadgen [--target parley|nchan|socketio] [--addr HOST:PORT]\n"
	      "  [--mode idle|fanout|ingest|history] [--subs N] [--sub sse|ws|sio]\n"
	      "  [--rooms R] [--pub rest|ws] [--pubs P] [--rates 2,10,30]\n"
	      "  [--duration S] [--drain S] [--hold S] [--conns C] [--window W]\n"
	      "  [--ramp K] [--src N] [--secret-file F] [--pid PID[,PID]]\n"
	      "  [--setup] [--prefix ROOMPREFIX] [--users USERPREFIX] [--label L]\n"
	      "  [--no-rooms] [--connect-timeout S] [--settle S] [--trace N]\n"
	      "  [--trace-sub I] [--flood N]\n",
	      stderr);
	exit(1);
}

static void parse_rates(const char *s)
{
	char *end;
	O.nrates = 0;
	while (*s && O.nrates < 8) {
		O.rates[O.nrates++] = strtod(s, &end);
		s = *end == ',' ? end + 1 : end;
		if (end == s && *s)
			usage();
	}
}

static void parse_addr(const char *s)
{
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof O.host)
		usage();
	memcpy(O.host, s, (size_t)(colon - s));
	O.host[colon - s] = 0;
	O.port = atoi(colon + 1);
}

static enum mode parse_mode(const char *s)
{
	static const char *names[] = { "idle", "fanout", "ingest", "history" };
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return (enum mode)i;
	usage();
	return M_IDLE;
}

/* Options taking a value; the flags without one are handled in parse_args.
 * Plain numbers go through this table, the rest through parse_special. */
static const struct numopt {
	const char *name;
	int *i;
	double *d;
} numopts[] = {
	{ "--subs", &O.subs, NULL },        { "--rooms", &O.rooms, NULL },
	{ "--pubs", &O.pubs, NULL },        { "--conns", &O.conns, NULL },
	{ "--window", &O.window, NULL },    { "--ramp", &O.ramp, NULL },
	{ "--src", &O.nsrc, NULL },         { "--trace", &O.trace, NULL },
	{ "--trace-sub", &O.trace_sub, NULL }, { "--flood", &O.flood, NULL },
	{ "--duration", NULL, &O.duration }, { "--drain", NULL, &O.drain },
	{ "--hold", NULL, &O.hold },        { "--settle", NULL, &O.settle },
	{ "--connect-timeout", NULL, &O.connect_timeout },
};

static int parse_special(const char *k, const char *v)
{
	if (!strcmp(k, "--target"))
		O.target = !strcmp(v, "nchan") ? T_NCHAN
			   : !strcmp(v, "socketio") ? T_SIONODE : T_PARLEY;
	else if (!strcmp(k, "--addr"))
		parse_addr(v);
	else if (!strcmp(k, "--mode"))
		O.mode = parse_mode(v);
	else if (!strcmp(k, "--sub")) {
		O.sio = !strcmp(v, "sio");
		O.sub_ws = O.sio || !strcmp(v, "ws");
	}
	else if (!strcmp(k, "--pub"))
		O.pub_ws = !strcmp(v, "ws");
	else if (!strcmp(k, "--rates"))
		parse_rates(v);
	else if (!strcmp(k, "--secret-file"))
		O.secret_file = v;
	else if (!strcmp(k, "--pid"))
		O.pids = v;
	else if (!strcmp(k, "--prefix"))
		O.prefix = v;
	else if (!strcmp(k, "--users"))
		O.users = v;
	else if (!strcmp(k, "--label"))
		O.label = v;
	else
		return -1;
	return 0;
}

static int parse_opt(const char *k, const char *v)
{
	for (size_t i = 0; i < sizeof numopts / sizeof numopts[0]; i++) {
		if (strcmp(k, numopts[i].name))
			continue;
		if (numopts[i].i)
			*numopts[i].i = atoi(v);
		else
			*numopts[i].d = atof(v);
		return 0;
	}
	return parse_special(k, v);
}

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--setup"))
			O.setup = 1;
		else if (!strcmp(argv[i], "--no-rooms"))
			O.no_rooms = 1;
		else if (i + 1 >= argc || parse_opt(argv[i], argv[i + 1]) < 0)
			usage();
		else
			i++;
	}
	if (O.flood < 0 || (O.flood && (O.target != T_PARLEY || O.sio)))
		usage();
	/* the Socket.IO peer speaks nothing else; Socket.IO here is fan-out
	 * and idle only */
	if ((O.target == T_SIONODE && !O.sio) ||
	    (O.sio && O.mode != M_FANOUT && O.mode != M_IDLE))
		usage();
	if (O.subs < 0 || O.rooms < 1 || O.pubs < 1 || O.conns < 1 || O.window < 1 ||
	    O.window >= LG_WIN || O.ramp < 1 || O.nsrc < 1 || O.nsrc > 250)
		usage();
	/* idle connections take the default subscription (their rooms) unless
	 * --setup gave them a room of their own to name */
	if (O.mode == M_IDLE && !O.setup)
		O.no_rooms = 1;
	if (O.mode == M_INGEST || O.mode == M_HISTORY)
		O.subs = 0;
}

static void read_secret(void)
{
	FILE *f;
	if (O.target != T_PARLEY)
		return;
	if (!O.secret_file || !(f = fopen(O.secret_file, "rb"))) {
		fprintf(stderr, "loadgen: --secret-file is needed for parley: %s\n",
			O.secret_file ? strerror(errno) : "missing");
		exit(1);
	}
	g_secret_len = fread(g_secret, 1, sizeof g_secret, f);
	fclose(f);
	/* parleyd drops one trailing newline of the file; so must we */
	if (g_secret_len && g_secret[g_secret_len - 1] == '\n')
		g_secret_len--;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void init_pools(void)
{
	int ndm = O.mode == M_FANOUT ? O.pubs : O.mode == M_IDLE ? 0 : O.conns;
	ncli = ndm;
	subs = calloc((size_t)O.subs + 1, sizeof *subs);
	cli = calloc((size_t)ncli + 1, sizeof *cli);
	startq = calloc((size_t)O.subs + 1, sizeof *startq);
	room_ready = calloc((size_t)O.rooms, sizeof *room_ready);
	if (!subs || !cli || !startq || !room_ready)
		exit(1);
	for (int i = 0; i < O.subs; i++) {
		subs[i] = (struct conn){ .fd = -1, .id = i, .room = i % O.rooms };
		subs[i].tok = mint('s', i);
	}
	flood = calloc((size_t)O.flood + 1, sizeof *flood);
	if (!flood)
		exit(1);
	for (int k = 0; k < O.flood; k++) {
		flood[k] = (struct conn){ .fd = -1, .id = k, .role = R_FLOOD };
		flood[k].tok = mint('x', k);
	}
	for (int k = 0; k < ncli; k++) {
		cli[k] = (struct conn){ .fd = -1, .id = k, .room = 0 };
		cli[k].role = O.sio ? R_SIOPUB
			      : O.pub_ws && O.mode != M_HISTORY && O.target == T_PARLEY
				      ? R_WSPUB : R_REST;
		cli[k].tok = mint(O.mode == M_FANOUT ? 'p' : 'i', k);
	}
}

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

int main(int argc, char **argv)
{
	struct snap sn;
	parse_args(argc, argv);
	read_secret();
	raise_nofile();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (net_init(O.host, O.port, O.nsrc) < 0)
		usage();
	init_pools();
	if (O.setup && O.target == T_PARLEY && do_setup())
		return 1;
	memset(&sn, 0, sizeof sn);
	sn.before = proc_read(O.pids);
	mark(&sn, 0);
	connect_subs();
	sn.connected = proc_read(O.pids);
	for (int k = 0; k < ncli; k++)
		cli_open(&cli[k]);
	for (int k = 0; k < O.flood; k++)
		cli_open(&flood[k]);
	run_until(clients_ready, 10);
	/* let the server work off what connecting caused (presence, joins)
	 * before anything is timed */
	run_until(never, O.mode == M_IDLE ? 0 : O.settle);
	if (O.mode == M_IDLE)
		run_idle(&sn);
	else if (O.mode == M_FANOUT)
		run_fanout(&sn);
	else
		run_closed_loop(&sn);
	return g_bad ? 2 : 0;
}
