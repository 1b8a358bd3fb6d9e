/* tests/unit/test_takeover: the libmicrohttpd takeovers (api/takeover.h),
 * against the real front end on loopback.
 *
 * The takeover keeps a dup() of MHD's socket after MHD closes its own,
 * which holds only while MHD closes without shutdown()ing the socket.  This
 * test runs parleyd's whole server in-process (context, hub, MHD), opens
 * one SSE stream and one WebSocket, and after MHD has let go of them makes
 * the server write on each (an event on the stream, a pong on the
 * WebSocket).  It fails if the client sees the connection end or reset
 * first, or if anything called shutdown() on either socket: this program
 * defines shutdown() itself, which takes the place of libc's for MHD too
 * (the executable's symbol comes first in the dynamic lookup), notes the
 * socket's peer port and passes the call on.  The same runs once more with
 * --no-takeover (the relay fallback), where MHD keeps its sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "api/mhd.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/jwt.h"
#include "base/log.h"
#include "chat/ctx.h"
#include "push/hub.h"
#include "tests/unit/t.h"

#define SECRET "takeover-test-secret-0123456789abcdef0123456789"

/* ---- shutdown(), watched ---- */

#define SHUT_LOG 64
static int shut_ports[SHUT_LOG]; /* the peer port of each socket shut down */
static int nshut;

int shutdown(int fd, int how)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof peer;
	if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0 && peer.sin_family == AF_INET) {
		int i = __atomic_fetch_add(&nshut, 1, __ATOMIC_SEQ_CST);
		if (i < SHUT_LOG)
			__atomic_store_n(&shut_ports[i], ntohs(peer.sin_port), __ATOMIC_SEQ_CST);
	}
	return (int)syscall(SYS_shutdown, fd, how);
}

static bool was_shut(int port)
{
	int n = __atomic_load_n(&nshut, __ATOMIC_SEQ_CST);
	for (int i = 0; i < n && i < SHUT_LOG; i++)
		if (__atomic_load_n(&shut_ports[i], __ATOMIC_SEQ_CST) == port)
			return true;
	return false;
}

/* ---- a client ---- */

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Connected to the server; *local: this end's port. */
static int dial(int port, int *local)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	socklen_t len = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &len);
	*local = ntohs(a.sin_port);
	return fd;
}

static bool send_all(int fd, const void *p, size_t n)
{
	return send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n;
}

/* Reads into buf (NUL-ended) until it holds want or 10 s pass; the bytes
 * read, or -1 when the connection ended or was reset first. */
static ssize_t read_until(int fd, char *buf, size_t cap, size_t *have, const char *want)
{
	int64_t until = pl_mono_ms() + 10000;
	while (!memmem(buf, *have, want, strlen(want))) {
		int64_t left = until - pl_mono_ms();
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0 || *have + 1 >= cap)
			return -1;
		ssize_t n = recv(fd, buf + *have, cap - 1 - *have, 0);
		if (n <= 0)
			return -1; /* EOF or reset: the stream was cut */
		*have += (size_t)n;
		buf[*have] = 0;
	}
	return (ssize_t)*have;
}

/* A REST call on a fresh connection; true on a 2xx answer. */
static bool rest(int port, const char *method, const char *path, const char *token,
		 const char *body)
{
	int local;
	int fd = dial(port, &local);
	if (fd < 0)
		return false;
	char req[4096];
	int n = snprintf(req, sizeof req,
			 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s",
			 method, path, token, strlen(body), body);
	char buf[4096] = "";
	size_t have = 0;
	bool ok = send_all(fd, req, (size_t)n) && read_until(fd, buf, sizeof buf, &have, "\r\n\r\n") > 0 &&
		  strncmp(buf, "HTTP/1.1 2", 10) == 0;
	close(fd);
	return ok;
}

/* ---- the two takeovers ---- */

static void check_sse(int port, const char *token)
{
	int local;
	int fd = dial(port, &local);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	char req[2048];
	int n = snprintf(req, sizeof req,
			 "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "Authorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n",
			 token);
	CHECK(send_all(fd, req, (size_t)n));
	char buf[65536] = "";
	size_t have = 0;
	CHECK(read_until(fd, buf, sizeof buf, &have, "\r\n\r\n") > 0);
	CHECK(strncmp(buf, "HTTP/1.1 200", 12) == 0);
	/* MHD has let go by now (the head came from the hub after it). */
	usleep(300 * 1000);
	CHECK(rest(port, "POST", "/v1/rooms/general/messages", token,
		   "{\"text\":\"after the takeover\"}"));
	CHECK(read_until(fd, buf, sizeof buf, &have, "after the takeover") > 0);
	CHECK(!was_shut(local));
	close(fd);
}

static void check_ws(int port, const char *token)
{
	int local;
	int fd = dial(port, &local);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	char req[2048];
	int n = snprintf(req, sizeof req,
			 "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "Authorization: Bearer %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\n\r\n",
			 token);
	CHECK(send_all(fd, req, (size_t)n));
	char buf[65536] = "";
	size_t have = 0;
	CHECK(read_until(fd, buf, sizeof buf, &have, "\r\n\r\n") > 0);
	CHECK(strncmp(buf, "HTTP/1.1 101", 12) == 0);
	usleep(300 * 1000);
	/* A masked ping "hi"; the hub answers a pong "hi". */
	const unsigned char ping[] = {0x89, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
	CHECK(send_all(fd, ping, sizeof ping));
	const char pong[] = {(char)0x8a, 0x02, 'h', 'i', 0};
	CHECK(read_until(fd, buf, sizeof buf, &have, pong) > 0);
	CHECK(!was_shut(local));
	close(fd);
}

static void run(bool takeover)
{
	char dir[] = "/tmp/parley-takeover-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	int port = free_port();
	char listen[32];
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	char *argv[] = {"parleyd", "--listen", listen, "--data", dir, "--threads", "2",
			takeover ? "--threads" : "--no-takeover", takeover ? "2" : NULL, NULL};
	int argc = takeover ? 9 : 8;
	struct pl_config cfg;
	char why[512];
	setenv("PARLEY_JWT_SECRET", SECRET, 1);
	CHECK(pl_config_load(&cfg, "parleyd", argc, argv, 1, why, sizeof why) == PL_CONFIG_OK);
	CHECK(cfg.no_takeover == !takeover);
	struct pl_ctx ctx;
	pl_error err;
	CHECK(pl_ctx_init(&ctx, &cfg, true, &err) == PL_OK);
	struct pl_hub *hub = pl_hub_start(&ctx, &err);
	struct pl_http *http = hub ? pl_http_start(&ctx, hub, &err) : NULL;
	CHECK(http != NULL);
	if (http) {
		char *token = pl_jwt_sign((const unsigned char *)SECRET, strlen(SECRET), "alice",
					  NULL, pl_now_ms() / 1000 + 600);
		CHECK(token != NULL);
		if (token) {
			check_sse(port, token);
			check_ws(port, token);
		}
		free(token);
		pl_http_quiesce(http);
		pl_hub_stop(hub);
		pl_http_stop(http);
		pl_hub_free(hub);
	}
	pl_ctx_close(&ctx);
	pl_config_free(&cfg);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	pl_log_set_level(PL_LOG_WARN);
	signal(SIGPIPE, SIG_IGN); /* as parleyd: a write to a closed peer fails, nothing more */
	run(true);
	run(false);
	return T_DONE();
}
