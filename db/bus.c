/* db/bus: see bus.h. */
#include "db/bus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"

struct pl_bus {
	struct pl_watch watch;  /* first: the loop hands back this pointer */
	pl_bus_fn fn;
	void *ud;
	int fd;
	bool listening;
	struct sockaddr_un addr;
	socklen_t addrlen;
};

static bool bus_address(const char *data_dir, struct sockaddr_un *sa, socklen_t *len,
			pl_error *err)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path, sizeof sa->sun_path, "%s/parley.bus", data_dir);
	if (n < 0 || (size_t)n >= sizeof sa->sun_path) {
		pl_fail(err, PL_INTERNAL, "data folder path too long for the bus socket: %s",
			data_dir);
		return false;
	}
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
	return true;
}

enum pl_code pl_bus_open(const char *data_dir, bool listen, struct pl_bus **out, pl_error *err)
{
	struct pl_bus *b = calloc(1, sizeof *b);
	if (!b)
		return pl_fail(err, PL_INTERNAL, "out of memory");
	if (!bus_address(data_dir, &b->addr, &b->addrlen, err)) {
		free(b);
		return err->code;
	}
	b->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (b->fd < 0) {
		free(b);
		return pl_fail(err, PL_INTERNAL, "bus socket: %s", strerror(errno));
	}
	if (listen) {
		/* A stale socket file from a killed daemon would make bind fail. */
		unlink(b->addr.sun_path);
		if (bind(b->fd, (struct sockaddr *)&b->addr, b->addrlen) != 0) {
			pl_fail(err, PL_INTERNAL, "bus bind %s: %s", b->addr.sun_path,
				strerror(errno));
			close(b->fd);
			free(b);
			return err->code;
		}
		/* Workers may run as another user (the web server's). */
		chmod(b->addr.sun_path, 0666);
		int size = 4 << 20;
		setsockopt(b->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
		b->listening = true;
	}
	*out = b;
	return PL_OK;
}

void pl_bus_close(struct pl_bus *b)
{
	if (!b)
		return;
	if (b->listening)
		unlink(b->addr.sun_path);
	close(b->fd);
	free(b);
}

void pl_bus_send(struct pl_bus *b, char kind, const char *payload, size_t len)
{
	if (!b || b->listening || len > PL_BUS_MAX)
		return;
	char buf[PL_BUS_MAX + 1];
	buf[0] = kind;
	memcpy(buf + 1, payload, len);
	/* ENOENT/ECONNREFUSED: no daemon runs; EAGAIN: it is overloaded and
	 * will catch up from the store on its next wake-up. */
	(void)sendto(b->fd, buf, len + 1, MSG_DONTWAIT | MSG_NOSIGNAL,
		     (struct sockaddr *)&b->addr, b->addrlen);
}

static void on_readable(struct pl_watch *w, uint32_t events)
{
	(void)events;
	struct pl_bus *b = (struct pl_bus *)w;
	char buf[PL_BUS_MAX + 2];
	for (;;) {
		ssize_t n = recv(b->fd, buf, sizeof buf - 1, MSG_DONTWAIT);
		if (n <= 0)
			break;
		buf[n] = 0;
		b->fn(b->ud, buf[0], buf + 1, (size_t)n - 1);
	}
}

bool pl_bus_attach(struct pl_bus *b, struct pl_loop *loop, pl_bus_fn fn, void *ud)
{
	if (!b || !b->listening)
		return true;
	b->fn = fn;
	b->ud = ud;
	b->watch.fd = b->fd;
	b->watch.fn = on_readable;
	return pl_loop_add(loop, &b->watch, EPOLLIN);
}

void pl_bus_tick(struct pl_bus *b) { (void)b; /* the local bus has no timers */ }
