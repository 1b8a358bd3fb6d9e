/* api/takeover: see takeover.h. */
#include "api/takeover.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "push/ws.h"

#define RELAY_BUF 8192
#define RELAY_STACK (128 * 1024)

struct pl_takeover {
	bool takeover;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	int relays;             /* relay threads running */
};

struct pl_takeover *pl_takeover_new(bool takeover)
{
	struct pl_takeover *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->takeover = takeover;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->idle, NULL);
	return t;
}

unsigned pl_takeover_mhd_flags(const struct pl_takeover *t)
{
	return t->takeover ? MHD_USE_TURBO : 0;
}

void pl_takeover_drain(struct pl_takeover *t)
{
	if (!t)
		return;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&t->lock);
	while (t->relays > 0 && pthread_cond_timedwait(&t->idle, &t->lock, &until) == 0)
		;
	if (t->relays > 0)
		log_warn("takeover: %d relayed stream(s) still open as HTTP stops", t->relays);
	pthread_mutex_unlock(&t->lock);
}

void pl_takeover_free(struct pl_takeover *t)
{
	if (!t)
		return;
	pthread_cond_destroy(&t->idle);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static void relay_done(struct pl_takeover *t)
{
	pthread_mutex_lock(&t->lock);
	if (--t->relays == 0)
		pthread_cond_broadcast(&t->idle);
	pthread_mutex_unlock(&t->lock);
}

/* A detached thread with a small stack, counted in t->relays. */
static bool relay_start(struct pl_takeover *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t th;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, RELAY_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&t->lock);
	t->relays++;
	pthread_mutex_unlock(&t->lock);
	bool ok = pthread_create(&th, &attr, fn, arg) == 0;
	pthread_attr_destroy(&attr);
	if (!ok)
		relay_done(t);
	return ok;
}

/* A socketpair for the hub and a relay: both ends non-blocking and
 * close-on-exec; [0] is the hub's. */
static bool pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0;
}

/* ---- WebSocket ---- */

/* Whether the comma list of header name holds token (any case). */
static bool header_has(struct MHD_Connection *mc, const char *name, const char *token)
{
	const char *v = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, name);
	size_t n = strlen(token);
	for (; v && *v; v++)
		if (strncasecmp(v, token, n) == 0)
			return true;
	return false;
}

bool pl_upgrade_handshake(struct MHD_Connection *mc, char accept[29])
{
	const char *key = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *version =
		MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Sec-WebSocket-Version");
	return header_has(mc, "Upgrade", "websocket") && header_has(mc, "Connection", "upgrade") &&
	       version && strcmp(version, "13") == 0 && key && ws_accept_key(key, accept);
}

enum MHD_Result pl_upgrade_answer(struct MHD_Connection *mc, const char accept[29],
				  MHD_UpgradeHandler fn, void *cls, bool *made)
{
	struct MHD_Response *resp = MHD_create_response_for_upgrade(fn, cls);
	*made = resp != NULL;
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
	enum MHD_Result ok = MHD_queue_response(mc, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	return ok;
}

/* One direction of a relayed WebSocket. */
struct flow {
	int from, to;
	char buf[RELAY_BUF];
	size_t len, off;
	bool eof;               /* from has ended (or failed) */
	bool shut;              /* ...and that was passed on: to is shut down for writing */
};

struct ws_relay {
	struct pl_takeover *t;
	int mine;               /* the relay's end of the pair */
	MHD_socket sock;        /* MHD's upgraded socket */
	struct MHD_UpgradeResponseHandle *urh;
};

/* Moves what can move now, without blocking. */
static void flow_pump(struct flow *f)
{
	for (;;) {
		if (f->off < f->len) {
			ssize_t n = send(f->to, f->buf + f->off, f->len - f->off, MSG_NOSIGNAL);
			if (n > 0) {
				f->off += (size_t)n;
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			f->off = f->len = 0; /* the receiver is gone: drop the rest */
			f->eof = f->shut = true;
			return;
		}
		if (f->eof) {
			if (!f->shut)
				shutdown(f->to, SHUT_WR);
			f->shut = true;
			return;
		}
		ssize_t n = read(f->from, f->buf, sizeof f->buf);
		if (n > 0) {
			f->len = (size_t)n;
			f->off = 0;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			return;
		} else {
			f->eof = true;
		}
	}
}

static void *ws_relay_main(void *arg)
{
	struct ws_relay *r = arg;
	struct flow *up = calloc(2, sizeof *up); /* client -> hub, then hub -> client */
	struct flow *down = up ? up + 1 : NULL;
	if (up) {
		up->from = r->sock, up->to = r->mine;
		down->from = r->mine, down->to = r->sock;
	}
	bool client_gone = false; /* hung up (or reset) and read to the end */
	while (up) {
		flow_pump(up);
		flow_pump(down);
		if (up->shut && down->shut)
			break;
		/* A socket that hung up reports it at every poll: once nothing
		 * more can be read from it, it is left out (a write to it
		 * still fails, and ends that flow). */
		struct pollfd pf[2] = {{.fd = client_gone && up->eof ? -1 : r->sock},
				       {.fd = r->mine}};
		if (up->off < up->len)
			pf[1].events |= POLLOUT;
		else if (!up->eof)
			pf[0].events |= POLLIN;
		if (down->off < down->len)
			pf[0].events |= POLLOUT;
		else if (!down->eof)
			pf[1].events |= POLLIN;
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents & (POLLHUP | POLLERR))
			client_gone = true;
		/* The hub closed its end and said all it had to: nothing the
		 * client still sends can reach anyone. */
		if ((pf[1].revents & (POLLHUP | POLLERR)) && down->eof && down->off == down->len)
			break;
	}
	free(up);
	close(r->mine);
	MHD_upgrade_action(r->urh, MHD_UPGRADE_ACTION_CLOSE); /* MHD closes sock */
	struct pl_takeover *t = r->t;
	free(r);
	relay_done(t);
	return NULL;
}

int pl_upgrade_take(struct pl_takeover *t, MHD_socket sock,
		    struct MHD_UpgradeResponseHandle *urh)
{
	if (t->takeover) {
		int fd = fcntl(sock, F_DUPFD_CLOEXEC, 0);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		if (fd >= 0)
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		return fd;
	}
	int sv[2];
	struct ws_relay *r = malloc(sizeof *r);
	if (!r || !pair(sv)) {
		free(r);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return -1;
	}
	fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
	*r = (struct ws_relay){t, sv[1], sock, urh};
	if (!relay_start(t, ws_relay_main, r)) {
		close(sv[0]);
		close(sv[1]);
		free(r);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return -1;
	}
	return sv[0];
}

/* ---- SSE ---- */

struct pl_sse_take {
	struct pl_takeover *t;
	struct MHD_Connection *mc;
	int mine;               /* the relay's end of the pair */
	int wake;               /* eventfd: MHD is done with the response */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool suspended;         /* by the reader, waiting for the hub */
	bool over;              /* MHD freed the response */
	int refs;               /* the response's and the thread's */
	unsigned head;          /* of the hub's "\r\n\r\n" (its head, dropped), matched so far */
	bool body;              /* the head is behind */
};

static void sse_unref(struct pl_sse_take *st)
{
	pthread_mutex_lock(&st->lock);
	bool last = --st->refs == 0;
	pthread_mutex_unlock(&st->lock);
	if (!last)
		return;
	close(st->mine);
	close(st->wake);
	pthread_cond_destroy(&st->changed);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* Resumes the suspended request whenever the hub has written more. */
static void *sse_relay_main(void *arg)
{
	struct pl_sse_take *st = arg;
	struct pl_takeover *t = st->t;
	for (;;) {
		pthread_mutex_lock(&st->lock);
		while (!st->suspended && !st->over)
			pthread_cond_wait(&st->changed, &st->lock);
		bool over = st->over;
		pthread_mutex_unlock(&st->lock);
		if (over)
			break;
		struct pollfd pf[2] = {{.fd = st->mine, .events = POLLIN},
				       {.fd = st->wake, .events = POLLIN}};
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&st->lock);
		if (st->suspended && !st->over && (pf[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			st->suspended = false;
			MHD_resume_connection(st->mc);
		}
		pthread_mutex_unlock(&st->lock);
	}
	sse_unref(st);
	relay_done(t);
	return NULL;
}

/* Drops the hub's response head from the n bytes at buf; what is left. */
static size_t skip_head(struct pl_sse_take *st, char *buf, size_t n)
{
	static const char end[] = "\r\n\r\n";
	size_t i = 0;
	while (!st->body && i < n) {
		st->head = buf[i] == end[st->head] ? st->head + 1 : buf[i] == '\r' ? 1 : 0;
		i++;
		if (st->head == 4)
			st->body = true;
	}
	memmove(buf, buf + i, n - i);
	return n - i;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct pl_sse_take *st = cls;
	for (;;) {
		ssize_t n = read(st->mine, buf, max);
		if (n > 0) {
			size_t left = skip_head(st, buf, (size_t)n);
			if (left)
				return (ssize_t)left;
			continue;
		}
		if (n == 0)
			return MHD_CONTENT_READER_END_OF_STREAM; /* the hub ended the stream */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		/* Nothing yet: out of MHD's loop until the hub writes (returning
		 * 0 without suspending would spin). */
		pthread_mutex_lock(&st->lock);
		st->suspended = true;
		MHD_suspend_connection(st->mc);
		pthread_cond_signal(&st->changed);
		pthread_mutex_unlock(&st->lock);
		return 0;
	}
}

static void sse_free(void *cls)
{
	struct pl_sse_take *st = cls;
	pthread_mutex_lock(&st->lock);
	st->over = true;
	uint64_t one = 1;
	(void)!write(st->wake, &one, sizeof one);
	pthread_cond_signal(&st->changed);
	pthread_mutex_unlock(&st->lock);
	sse_unref(st);
}

int pl_sse_take(struct pl_takeover *t, struct MHD_Connection *mc, struct pl_sse_take **out)
{
	*out = NULL;
	if (t->takeover) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		int fd = ci ? fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0) : -1;
		if (fd >= 0)
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		return fd;
	}
	int sv[2];
	struct pl_sse_take *st = calloc(1, sizeof *st);
	if (!st || !pair(sv)) {
		free(st);
		return -1;
	}
	st->t = t;
	st->mc = mc;
	st->mine = sv[1];
	st->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (st->wake < 0) {
		close(sv[0]);
		close(sv[1]);
		free(st);
		return -1;
	}
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->changed, NULL);
	st->refs = 1; /* the thread's comes with pl_sse_answer */
	*out = st;
	return sv[0];
}

enum MHD_Result pl_sse_answer(struct MHD_Connection *mc, struct pl_sse_take *st)
{
	if (!st)
		return MHD_NO; /* taken over: MHD lets go (without shutdown(): takeover.h) */
	st->refs = 2;
	if (!relay_start(st->t, sse_relay_main, st)) {
		st->refs = 1;
		sse_unref(st); /* the hub sees its end close */
		return MHD_NO;
	}
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, RELAY_BUF,
								      sse_read, st, sse_free);
	if (!resp) {
		sse_free(st); /* what MHD would have done: the thread ends, the hub sees EOF */
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	enum MHD_Result ok = MHD_queue_response(mc, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp); /* sse_free runs when MHD is done with it */
	return ok;
}

void pl_sse_cancel(struct pl_sse_take *st)
{
	if (st)
		sse_unref(st);
}
