/* api/fcgi: see fcgi.h. */
#include "api/fcgi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/handlers.h"
#include "api/poll.h"
#include "base/clock.h"
#include "base/log.h"
#include "db/bus.h"
#include "push/scan.h"

#define QUERY_MAX 256            /* query parameters looked at */
#define DRAIN_MAX (64 << 20)     /* bytes of an oversized body read and dropped */
#define POLL_CHECK_MS 100        /* how often a waiting poll looks at the store */
#define ACCEPT_WAIT_MS 250       /* how long a worker waits before looking at "stop" */
#define THREADS_MAX 64

struct pl_fcgi {
	struct pl_ctx *ctx;
	int max_polls;
	atomic_int polls;            /* long-polls waiting now */
	/* Who holds them (under lock): max_polls entries, n == 0 is free.  A
	 * user holds at most user_polls of them, so one user cannot take
	 * every place of the process. */
	struct poller {
		char user[PL_ID_MAX + 1];
		int n;
	} *pollers;
	int user_polls;
	atomic_bool stopping;
	/* Long-polls sleep on wake: this process's commits (the sink) and
	 * stopping broadcast it; other processes' are seen within
	 * POLL_CHECK_MS. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	uint64_t commits;            /* bumped with every broadcast (under lock) */
	/* workers */
	int listen_fd;
	pthread_mutex_t accept_lock;
	pthread_t threads[THREADS_MAX];
	int nthreads;
};

/* ---- decoding ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s in place (and '+' as a space when plus), as
 * libmicrohttpd does for parleyd: a malformed escape stays as it is. */
static void url_decode(char *s, bool plus)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		int hi, lo;
		if (*r == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0) {
			*w++ = (char)(hi * 16 + lo);
			r += 2;
		} else if (plus && *r == '+') {
			*w++ = ' ';
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
}

/* QUERY_STRING, split and decoded; the first of repeated names wins. */
struct query {
	char *buf;
	int n;
	const char *key[QUERY_MAX];
	const char *val[QUERY_MAX]; /* NULL for a name without '=' */
};

static void query_parse(struct query *q, const char *qs)
{
	memset(q, 0, sizeof *q);
	if (!qs || !*qs || !(q->buf = strdup(qs)))
		return;
	char *save = NULL;
	for (char *part = strtok_r(q->buf, "&", &save); part && q->n < QUERY_MAX;
	     part = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(part, '=');
		if (eq)
			*eq++ = 0;
		url_decode(part, true);
		if (eq)
			url_decode(eq, true);
		q->key[q->n] = part;
		q->val[q->n] = eq;
		q->n++;
	}
}

static const char *query_get(void *adapter, const char *name)
{
	const struct query *q = adapter;
	for (int i = 0; i < q->n; i++)
		if (strcmp(q->key[i], name) == 0)
			return q->val[i];
	return NULL;
}

/* The API path: REQUEST_URI without its query, decoded (the whole path,
 * whatever prefix the web server mapped to us); failing that SCRIPT_NAME +
 * PATH_INFO.  Under CGI the program is a script: /cgi-bin/parley.cgi/v1/..
 * carries the API path in PATH_INFO. */
static char *request_path(const struct pl_fcgi_io *io)
{
	const char *uri = io->param(io->ud, "REQUEST_URI");
	const char *script = io->param(io->ud, "SCRIPT_NAME");
	const char *info = io->param(io->ud, "PATH_INFO");
	char *path = NULL;
	if (io->cgi && info && *info) {
		path = strdup(info);
	} else if (uri && *uri) {
		path = strndup(uri, strcspn(uri, "?#"));
		if (path)
			url_decode(path, false);
	} else if (asprintf(&path, "%s%s", script ? script : "", info ? info : "") < 0) {
		path = NULL;
	}
	if (path && !*path) {
		free(path);
		path = strdup("/");
	}
	return path;
}

static const char *header_or(const struct pl_fcgi_io *io, const char *a, const char *b)
{
	const char *v = io->param(io->ud, a);
	return v ? v : io->param(io->ud, b);
}

/* ---- the body ---- */

struct body {
	char *data;
	size_t len;
	bool too_large;
};

static void drain(const struct pl_fcgi_io *io, size_t limit)
{
	char sink[8192];
	size_t total = 0, n;
	while (total < limit && (n = io->read(io->ud, sink, sizeof sink)) > 0)
		total += n;
}

/* FastCGI: stdin up to its end.  CGI: CONTENT_LENGTH bytes, never more. */
static void read_body(const struct pl_fcgi_io *io, struct body *b)
{
	memset(b, 0, sizeof *b);
	const char *cl = io->param(io->ud, "CONTENT_LENGTH");
	char *end = NULL;
	unsigned long long declared = 0;
	bool has_length = cl && *cl;
	if (has_length) {
		errno = 0;
		declared = strtoull(cl, &end, 10);
		if (errno || *end)
			declared = ULLONG_MAX;
	}
	if (!has_length && io->cgi)
		return;
	if (has_length && declared == 0)
		return;
	if (declared > PL_BODY_MAX) {
		/* Read and dropped, so the web server can hand over the whole
		 * body and take the 413 (CGI: never past CONTENT_LENGTH). */
		b->too_large = true;
		drain(io, DRAIN_MAX);
		return;
	}
	size_t want = io->cgi ? (size_t)declared : PL_BODY_MAX + 1, cap = 0;
	while (b->len < want) {
		if (b->len == cap) {
			size_t ncap = cap ? cap * 2 : declared > 0 ? (size_t)declared : 4096;
			ncap = ncap > want ? want : ncap;
			char *p = realloc(b->data, ncap + 1);
			if (!p) {
				b->too_large = true;
				break;
			}
			b->data = p;
			cap = ncap;
		}
		size_t n = io->read(io->ud, b->data + b->len, cap - b->len);
		if (n == 0)
			break;
		b->len += n;
	}
	if (b->len > PL_BODY_MAX) {
		b->too_large = true;
		drain(io, DRAIN_MAX);
	}
	if (b->too_large || b->len == 0) {
		free(b->data);
		b->data = NULL;
		b->len = 0;
		return;
	}
	b->data[b->len] = 0;
}

/* ---- the answer ---- */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return status >= 500 ? "Internal Server Error" : "Unknown";
	}
}

/* The CGI response: Status, the headers parleyd sends, the body. */
static void send_resp(const struct pl_fcgi_io *io, const struct pl_resp *r, bool head)
{
	char h[512];
	int n = snprintf(h, sizeof h, "Status: %d %s\r\nCache-Control: no-store\r\n", r->status,
			 reason(r->status));
	if (r->content_type && r->status != 204)
		n += snprintf(h + n, sizeof h - (size_t)n, "Content-Type: %s\r\n", r->content_type);
	if (r->status != 204 && !head)
		n += snprintf(h + n, sizeof h - (size_t)n, "Content-Length: %zu\r\n",
			      r->body ? r->len : 0);
	if (r->retry_after > 0)
		n += snprintf(h + n, sizeof h - (size_t)n, "Retry-After: %d\r\n", r->retry_after);
	if (r->allow)
		n += snprintf(h + n, sizeof h - (size_t)n, "Allow: %s\r\n", r->allow);
	n += snprintf(h + n, sizeof h - (size_t)n, "\r\n");
	if (!io->write(io->ud, h, (size_t)n))
		return;
	if (r->body && r->len && r->status != 204 && !head)
		io->write(io->ud, r->body, r->len);
}

static void fail(struct pl_resp *r, enum pl_code code, int retry_after, const char *msg)
{
	pl_error err;
	pl_fail(&err, code, "%s", msg);
	err.retry_after = retry_after;
	pl_resp_error(r, &err);
	r->retry_after = retry_after;
}

/* ---- long-poll ---- */

/* Appends one stored event, as the API shows it, to the answer. */
static bool append_event(char **buf, size_t *len, size_t *cap, const struct pl_event_row *row)
{
	size_t n;
	char *text = pl_event_row_json(row, &n);
	if (!text)
		return false;
	if (*len + n + 2 > *cap) {
		size_t ncap = (*cap ? *cap * 2 : 1024) + n;
		char *p = realloc(*buf, ncap);
		if (!p) {
			free(text);
			return false;
		}
		*buf = p;
		*cap = ncap;
	}
	if (*len)
		(*buf)[(*len)++] = ',';
	memcpy(*buf + *len, text, n);
	*len += n;
	(*buf)[*len] = 0;
	free(text);
	return true;
}

/* One poll's answer as it fills (push/scan.h reads the store for it). */
struct scan {
	json_t *rooms;      /* rooms=a,b, or NULL for all the user's rooms */
	char *buf;          /* the events, comma-separated */
	size_t len, cap;
	int count;
	bool oom;
};

/* As parleyd: events aimed at the user always, others by room. */
static bool scan_wanted(void *ud, const struct pl_event_row *row)
{
	const struct scan *s = ud;
	bool wanted = !s->rooms || row->target[0];
	size_t i;
	json_t *r;
	json_array_foreach(s->rooms, i, r) {
		if (wanted)
			break;
		wanted = strcmp(json_string_value(r), row->room) == 0;
	}
	return wanted;
}

static bool scan_full(void *ud)
{
	const struct scan *s = ud;
	return s->oom || s->count >= PL_POLL_ANSWER_MAX;
}

static bool scan_take(void *ud, const struct pl_event_row *row)
{
	struct scan *s = ud;
	if (!append_event(&s->buf, &s->len, &s->cap, row)) {
		s->oom = true;
		return false;
	}
	s->count++;
	return true;
}

/* Reads what is new for user after *pos into s, up to PL_POLL_ANSWER_MAX
 * events, and moves *pos as parleyd's cursor moves (push/scan.h). */
static void poll_scan(struct pl_ctx *ctx, const char *user, int64_t *pos, struct scan *s)
{
	pl_store *st = pl_ctx_reader(ctx);
	if (!st)
		return;
	struct pl_scan sc = {
		.user = user, .cursor = *pos, .upto = pl_store_last_event(st),
		.batch = PL_POLL_ANSWER_MAX, .wanted = scan_wanted, .full = scan_full,
		.take = scan_take, .ud = s,
	};
	pl_scan_run(st, &sc);
	*pos = sc.cursor;
	pl_ctx_reader_put(ctx, st);
}

static uint64_t commits_seen(struct pl_fcgi *f)
{
	pthread_mutex_lock(&f->lock);
	uint64_t c = f->commits;
	pthread_mutex_unlock(&f->lock);
	return c;
}

/* Sleeps until this process commits again (after the count seen), the
 * next look at the store is due, or the deadline. */
static void wait_a_little(struct pl_fcgi *f, uint64_t seen, int64_t deadline_ms)
{
	int64_t now = pl_mono_ms();
	int64_t until = now + POLL_CHECK_MS < deadline_ms ? now + POLL_CHECK_MS : deadline_ms;
	if (until <= now)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t ns = ts.tv_nsec + (until - now) * 1000000LL;
	ts.tv_sec += (time_t)(ns / 1000000000LL);
	ts.tv_nsec = (long)(ns % 1000000000LL);
	pthread_mutex_lock(&f->lock);
	if (!atomic_load(&f->stopping) && f->commits == seen)
		pthread_cond_timedwait(&f->wake, &f->lock, &ts);
	pthread_mutex_unlock(&f->lock);
}

static void presence_count(struct pl_fcgi *f, char sign, const char *user)
{
	char msg[PL_ID_MAX + 2];
	int n = snprintf(msg, sizeof msg, "%c%s", sign, user);
	pl_bus_send(f->ctx->bus, 'C', msg, (size_t)n);
}

/* Takes one of user's long-poll places, once a place of the process is
 * taken; false when the user holds user_polls already.  An entry is free
 * when the user holds none: each entry in use holds a place of the
 * max_polls, and the caller holds one more. */
static bool user_poll_take(struct pl_fcgi *f, const char *user)
{
	bool ok = false;
	pthread_mutex_lock(&f->lock);
	struct poller *mine = NULL, *free_one = NULL;
	for (int i = 0; i < f->max_polls && !mine; i++) {
		if (f->pollers[i].n > 0 && strcmp(f->pollers[i].user, user) == 0)
			mine = &f->pollers[i];
		else if (f->pollers[i].n == 0 && !free_one)
			free_one = &f->pollers[i];
	}
	if (mine && mine->n < f->user_polls) {
		mine->n++;
		ok = true;
	} else if (!mine && free_one && strlen(user) <= PL_ID_MAX) {
		snprintf(free_one->user, sizeof free_one->user, "%s", user);
		free_one->n = 1;
		ok = true;
	}
	pthread_mutex_unlock(&f->lock);
	return ok;
}

static void user_poll_put(struct pl_fcgi *f, const char *user)
{
	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < f->max_polls; i++)
		if (f->pollers[i].n > 0 && strcmp(f->pollers[i].user, user) == 0) {
			f->pollers[i].n--;
			break;
		}
	pthread_mutex_unlock(&f->lock);
}

/* GET /v1/poll: the same checks, order and answers as parleyd's; stored
 * events only (typing, receipts and presence travel through parleyd). */
static void serve_poll(struct pl_fcgi *f, struct pl_call *call, struct pl_resp *resp, bool cgi)
{
	pl_error err;
	const char *user = call->who.sub;
	struct pl_poll_req p;
	if (pl_poll_parse(f->ctx, call, &p, &err) != PL_OK) {
		pl_resp_error(resp, &err);
		return;
	}
	long timeout = p.timeout;
	int64_t cursor = p.cursor;
	json_t *rooms = json_incref(p.rooms);
	pl_poll_req_free(&p); /* presence events and sessions are parleyd's */
	/* A poll that may wait takes a slot; CGI runs one request a process. */
	bool slot = timeout > 0 && !cgi;
	if (slot && atomic_fetch_add(&f->polls, 1) >= f->max_polls) {
		atomic_fetch_sub(&f->polls, 1);
		json_decref(rooms);
		char msg[200];
		snprintf(msg, sizeof msg,
			 "long-poll: all %d long-poll places of this worker are taken "
			 "(--max-polls); retry, or use parleyd for push",
			 f->max_polls);
		fail(resp, PL_UNAVAILABLE, 1, msg);
		return;
	}
	/* A place is ours, so an entry is free if the user holds none. */
	if (slot && !user_poll_take(f, user)) {
		atomic_fetch_sub(&f->polls, 1);
		json_decref(rooms);
		char msg[200];
		snprintf(msg, sizeof msg,
			 "long-poll: you hold %d of this worker's %d long-poll places already, "
			 "the most one user may; retry when one of yours is answered",
			 f->user_polls, f->max_polls);
		fail(resp, PL_RATE_LIMITED, 1, msg);
		return;
	}
	/* As on parleyd, a long-poll counts as a connection for presence
	 * while it lasts (the grace period then bridges to the next poll). */
	presence_count(f, '+', user);
	struct scan s = {.rooms = rooms};
	int64_t pos = cursor;
	if (pos < 0) {
		pl_store *st = pl_ctx_reader(f->ctx);
		pos = st ? pl_store_last_event(st) : 0;
		pl_ctx_reader_put(f->ctx, st);
	}
	int64_t deadline = pl_poll_deadline(timeout, call->who.exp);
	for (;;) {
		uint64_t seen = commits_seen(f);
		poll_scan(f->ctx, user, &pos, &s);
		if (s.count > 0 || s.oom || atomic_load(&f->stopping) || pl_mono_ms() >= deadline)
			break;
		wait_a_little(f, seen, deadline);
	}
	presence_count(f, '-', user);
	if (slot) {
		user_poll_put(f, user); /* first: an entry never outlives its place */
		atomic_fetch_sub(&f->polls, 1);
	}
	json_decref(rooms);
	size_t n = 0;
	char *out = s.oom ? NULL : pl_poll_answer(s.buf ? s.buf : "", s.len, pos, NULL, &n);
	free(s.buf);
	if (!out) {
		fail(resp, PL_UNAVAILABLE, 1, "out of memory");
		return;
	}
	pl_resp_text(resp, 200, "application/json", out, n);
}

static void on_stored(void *ud, int64_t last_event_id, const struct pl_commit *commit)
{
	(void)last_event_id;
	(void)commit;
	struct pl_fcgi *f = ud;
	pthread_mutex_lock(&f->lock);
	f->commits++;
	pthread_cond_broadcast(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

/* ---- one request ---- */

void pl_fcgi_serve(struct pl_fcgi *f, const struct pl_fcgi_io *io)
{
	struct query q;
	struct body b;
	struct pl_resp resp = {0};
	const char *method = io->param(io->ud, "REQUEST_METHOD");
	char *path = request_path(io);
	bool head = method && strcmp(method, "HEAD") == 0;
	query_parse(&q, io->param(io->ud, "QUERY_STRING"));
	read_body(io, &b);
	atomic_fetch_add(&f->ctx->counters.http_requests, 1);
	if (!method || !*method || !path) {
		fail(&resp, PL_INVALID_ARGUMENT, 0,
		     path ? "method: REQUEST_METHOD is missing" : "out of memory");
		send_resp(io, &resp, head);
		goto done;
	}
	struct pl_req req = {
		.method = method, .path = path,
		.content_type = io->param(io->ud, "CONTENT_TYPE"),
		.authorization = header_or(io, "HTTP_AUTHORIZATION", "REDIRECT_HTTP_AUTHORIZATION"),
		.last_event_id = io->param(io->ud, "HTTP_LAST_EVENT_ID"),
		.body = b.data, .body_len = b.len, .body_too_large = b.too_large,
		.query = query_get, .adapter = &q,
	};
	if (req.content_type && !*req.content_type)
		req.content_type = NULL;
	struct pl_call call;
	enum pl_route_kind kind = pl_api_handle(f->ctx, &req, &resp, &call);
	switch (kind) {
	case PL_ROUTE_REST:
		break;
	case PL_ROUTE_POLL:
		serve_poll(f, &call, &resp, io->cgi);
		break;
	default: {
		char msg[200];
		snprintf(msg, sizeof msg,
			 "path: %.60s is a push stream, served by parleyd only; "
			 "use /v1/poll here, or connect to parleyd",
			 path);
		fail(&resp, PL_NOT_FOUND, 0, msg);
		break;
	}
	}
	send_resp(io, &resp, head);
	pl_call_done(&call);
done:
	pl_resp_free(&resp);
	free(q.buf);
	free(b.data);
	free(path);
}

/* ---- FastCGI ---- */

static const char *fcgx_param(void *ud, const char *name)
{
	FCGX_Request *r = ud;
	return FCGX_GetParam(name, r->envp);
}

static size_t fcgx_read(void *ud, char *buf, size_t n)
{
	FCGX_Request *r = ud;
	int got = FCGX_GetStr(buf, n > INT_MAX ? INT_MAX : (int)n, r->in);
	return got > 0 ? (size_t)got : 0;
}

static bool fcgx_write(void *ud, const char *buf, size_t n)
{
	FCGX_Request *r = ud;
	while (n > 0) {
		int chunk = n > (1 << 20) ? (1 << 20) : (int)n;
		if (FCGX_PutStr(buf, chunk, r->out) != chunk)
			return false;
		buf += chunk;
		n -= (size_t)chunk;
	}
	return true;
}

/* Waits up to ms for fd to be readable (false: not yet, or stopping). */
static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

/* Takes turns with the other workers at the listening socket, which is
 * non-blocking: no worker ever sleeps in accept(), so a stop is seen
 * within ACCEPT_WAIT_MS.  A connection the web server keeps open for more
 * requests (FastCGI keep-conn) is waited on by its worker alone. */
static void *worker(void *arg)
{
	struct pl_fcgi *f = arg;
	FCGX_Request req;
	if (FCGX_InitRequest(&req, f->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("fastcgi: cannot set up a request");
		return NULL;
	}
	struct pl_fcgi_io io = {fcgx_param, fcgx_read, fcgx_write, &req, false};
	int failures = 0;
	while (!atomic_load(&f->stopping)) {
		int rc = -EAGAIN;
		if (req.ipcFd >= 0) {
			if (readable(req.ipcFd, ACCEPT_WAIT_MS))
				rc = FCGX_Accept_r(&req);
		} else {
			pthread_mutex_lock(&f->accept_lock);
			if (!atomic_load(&f->stopping) && readable(f->listen_fd, ACCEPT_WAIT_MS))
				rc = FCGX_Accept_r(&req);
			pthread_mutex_unlock(&f->accept_lock);
		}
		if (rc < 0) {
			if (rc != -EAGAIN && rc != -EWOULDBLOCK && rc != -EINTR) {
				if (failures++ % 100 == 0)
					log_warn("fastcgi: accept failed (%d)", rc);
				usleep(100 * 1000);
			}
			continue;
		}
		failures = 0;
		pl_fcgi_serve(f, &io);
		FCGX_Finish_r(&req);
	}
	FCGX_Free(&req, 1);
	return NULL;
}

static bool split_host_port(const char *spec, char *host, size_t hostlen, const char **port)
{
	const char *h = spec, *hend, *colon;
	if (*spec == '[') {
		h = spec + 1;
		hend = strchr(h, ']');
		if (!hend || hend[1] != ':')
			return false;
		colon = hend + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon)
			return false;
		hend = colon;
	}
	size_t n = (size_t)(hend - h);
	if (n >= hostlen)
		return false;
	memcpy(host, h, n);
	host[n] = 0;
	*port = colon + 1;
	for (const char *p = *port; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return **port != 0;
}

static int listen_unix(const char *path, pl_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		pl_fail(err, PL_INVALID_ARGUMENT, "--socket: path longer than %zu bytes: %.100s",
			sizeof sa.sun_path - 1, path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pl_fail(err, PL_INTERNAL, "--socket: %s", strerror(errno));
		return -1;
	}
	/* A socket left by an earlier run would make bind fail; only a
	 * socket is ever removed. */
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0) {
		pl_fail(err, PL_INTERNAL, "--socket %.100s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* The web server may run as another user; like a loopback port. */
	chmod(path, 0666);
	return fd;
}

bool pl_fcgi_socket_is_path(const char *spec)
{
	return strchr(spec, '/') || !strchr(spec, ':');
}

int pl_fcgi_listen(const char *spec, pl_error *err)
{
	char host[256];
	const char *port = NULL;
	if (pl_fcgi_socket_is_path(spec))
		return listen_unix(spec, err);
	if (!split_host_port(spec, host, sizeof host, &port)) {
		pl_fail(err, PL_INVALID_ARGUMENT,
			"--socket: expected a path (with a '/') or HOST:PORT, got '%.100s'", spec);
		return -1;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *res = NULL;
	/* ":PORT" means loopback: FastCGI has no authentication of its own. */
	int rc = getaddrinfo(host[0] ? host : "127.0.0.1", port, &hints, &res);
	if (rc != 0 || !res) {
		pl_fail(err, PL_INVALID_ARGUMENT, "--socket: cannot resolve %.100s: %s", spec,
			gai_strerror(rc));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
		pl_fail(err, PL_INTERNAL, "--socket %.100s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

struct pl_fcgi *pl_fcgi_new(struct pl_ctx *ctx, int max_polls, pl_error *err)
{
	struct pl_fcgi *f = calloc(1, sizeof *f);
	if (!f) {
		pl_fail(err, PL_INTERNAL, "out of memory");
		return NULL;
	}
	f->ctx = ctx;
	f->max_polls = max_polls;
	/* Half the places, at least one, for any one user. */
	f->user_polls = max_polls / 2 > 0 ? max_polls / 2 : 1;
	if (max_polls > 0 && !(f->pollers = calloc((size_t)max_polls, sizeof *f->pollers))) {
		free(f);
		pl_fail(err, PL_INTERNAL, "out of memory");
		return NULL;
	}
	f->listen_fd = -1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_init(&f->accept_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->wake, &ca);
	pthread_condattr_destroy(&ca);
	struct pl_sink sink = {.ud = f, .stored = on_stored};
	pl_ctx_set_sink(ctx, &sink);
	return f;
}

enum pl_code pl_fcgi_start(struct pl_fcgi *f, int listen_fd, int threads, pl_error *err)
{
	if (FCGX_Init() != 0)
		return pl_fail(err, PL_INTERNAL, "cannot initialise libfcgi");
	int fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return pl_fail(err, PL_INTERNAL, "the FastCGI socket: %s", strerror(errno));
	f->listen_fd = listen_fd;
	if (threads > THREADS_MAX)
		threads = THREADS_MAX;
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&f->threads[i], NULL, worker, f) != 0) {
			pl_fcgi_stop(f);
			return pl_fail(err, PL_INTERNAL, "cannot start worker thread %d", i + 1);
		}
		f->nthreads++;
	}
	return PL_OK;
}

void pl_fcgi_stop(struct pl_fcgi *f)
{
	if (!f)
		return;
	atomic_store(&f->stopping, true);
	pthread_mutex_lock(&f->lock);
	pthread_cond_broadcast(&f->wake);
	pthread_mutex_unlock(&f->lock);
	for (int i = 0; i < f->nthreads; i++)
		pthread_join(f->threads[i], NULL);
	f->nthreads = 0;
}

void pl_fcgi_free(struct pl_fcgi *f)
{
	if (!f)
		return;
	pl_fcgi_stop(f);
	struct pl_sink none = {0};
	pl_ctx_set_sink(f->ctx, &none);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	pthread_mutex_destroy(&f->accept_lock);
	free(f->pollers);
	free(f);
}

/* ---- CGI ---- */

struct cgi_in {
	size_t left; /* CONTENT_LENGTH bytes not read yet */
};

static const char *cgi_param(void *ud, const char *name)
{
	(void)ud;
	return getenv(name);
}

static size_t cgi_read(void *ud, char *buf, size_t n)
{
	struct cgi_in *in = ud;
	if (n > in->left)
		n = in->left;
	size_t got = n ? fread(buf, 1, n, stdin) : 0;
	in->left -= got;
	return got;
}

static bool cgi_write(void *ud, const char *buf, size_t n)
{
	(void)ud;
	return fwrite(buf, 1, n, stdout) == n;
}

void pl_fcgi_cgi(struct pl_fcgi *f)
{
	const char *cl = getenv("CONTENT_LENGTH");
	struct cgi_in in = {cl ? (size_t)strtoull(cl, NULL, 10) : 0};
	struct pl_fcgi_io io = {cgi_param, cgi_read, cgi_write, &in, true};
	pl_fcgi_serve(f, &io);
	fflush(stdout);
}
