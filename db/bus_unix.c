/* db/bus_unix: the embedded bus, a Unix datagram socket in the data
 * folder (see bus.h).  parleyd binds it; parley.fcgi sends one datagram a
 * message, kind then payload.  The socket file is private to the server's
 * user (db/perms.h), and every datagram's sender is checked as well. */
#include "db/busint.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/loop.h"
#include "db/perms.h"

struct bus_unix {
	struct pl_bus base;     /* first: db/bus.c's view */
	struct pl_watch watch;
	int fd;
	struct sockaddr_un addr;
	socklen_t addrlen;
	struct pl_perms perms;          /* who may send (db/perms.h) */
	unsigned long refused;          /* datagrams dropped since the last log line */
	int64_t refused_logged;         /* when that line was written (ms) */
};

#define UNIX_OF(w) ((struct bus_unix *)(void *)((char *)(w) - offsetof(struct bus_unix, watch)))

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
	struct bus_unix *b = calloc(1, sizeof *b);
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
		/* Only the server's user (and a group the data folder is shared
		 * with) may send: a datagram can make someone look online or
		 * type.  Each datagram's sender is checked too (on_readable),
		 * whatever the file's mode. */
		int one = 1;
		if (pl_perms_data_dir(data_dir, &b->perms, err) != PL_OK ||
		    chmod(b->addr.sun_path, b->perms.file) != 0 ||
		    setsockopt(b->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) {
			if (err->code == PL_OK)
				pl_fail(err, PL_INTERNAL, "bus socket %s: %s", b->addr.sun_path,
					strerror(errno));
			unlink(b->addr.sun_path);
			close(b->fd);
			free(b);
			return err->code;
		}
		int size = 4 << 20;
		setsockopt(b->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
		b->base.listening = true;
	}
	b->base.ops = &pl_bus_unix_ops;
	*out = &b->base;
	return PL_OK;
}

static void unix_close(struct pl_bus *bus)
{
	struct bus_unix *b = (struct bus_unix *)bus;
	if (b->base.listening)
		unlink(b->addr.sun_path);
	close(b->fd);
	free(b);
}

static void unix_send(struct pl_bus *bus, char kind, const char *payload, size_t len)
{
	const struct bus_unix *b = (const struct bus_unix *)bus;
	if (b->base.listening)
		return;
	char buf[PL_BUS_MAX + 1];
	buf[0] = kind;
	memcpy(buf + 1, payload, len);
	/* ENOENT/ECONNREFUSED: no daemon runs; EAGAIN: it is overloaded and
	 * will catch up from the store on its next wake-up. */
	(void)sendto(b->fd, buf, len + 1, MSG_DONTWAIT | MSG_NOSIGNAL,
		     (const struct sockaddr *)&b->addr, b->addrlen);
}

/* A datagram from a sender the bus does not trust: dropped, with at most
 * one log line a minute (a flood must not flood the log too). */
static void refuse(struct bus_unix *b, const struct ucred *who)
{
	b->refused++;
	int64_t now = pl_mono_ms();
	if (b->refused_logged && now - b->refused_logged < 60000)
		return;
	if (who)
		log_warn("bus: dropped %lu datagram(s) from a process of another user (last: "
			 "uid %u, gid %u, pid %d); only uid %u%s may send",
			 b->refused, (unsigned)who->uid, (unsigned)who->gid, (int)who->pid,
			 (unsigned)geteuid(), b->perms.shared ? " and the data folder's group" : "");
	else
		log_warn("bus: dropped %lu datagram(s) without sender credentials", b->refused);
	b->refused = 0;
	b->refused_logged = now;
}

static void on_readable(struct pl_watch *w, uint32_t events)
{
	(void)events;
	struct bus_unix *b = UNIX_OF(w);
	char buf[PL_BUS_MAX + 2];
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	for (;;) {
		struct iovec iov = {buf, sizeof buf - 1};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = ctl.space, .msg_controllen = sizeof ctl.space};
		ssize_t n = recvmsg(b->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0)
			break;
		const struct ucred *who = NULL;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET)
				continue;
			if (c->cmsg_type == SCM_CREDENTIALS &&
			    c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
				who = (const struct ucred *)(void *)CMSG_DATA(c);
			else if (c->cmsg_type == SCM_RIGHTS) /* descriptors nobody asked for */
				for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
					int fd;
					memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
					close(fd);
				}
		}
		if (!who || !pl_perms_sender_ok(&b->perms, who->uid, who->gid)) {
			refuse(b, who);
			continue;
		}
		if (n == 0)
			continue;
		buf[n] = 0;
		b->base.fn(b->base.ud, buf[0], buf + 1, (size_t)n - 1);
	}
}

static bool unix_attach(struct pl_bus *bus, struct pl_loop *loop)
{
	struct bus_unix *b = (struct bus_unix *)bus;
	b->watch.fd = b->fd;
	b->watch.fn = on_readable;
	return pl_loop_add(loop, &b->watch, EPOLLIN);
}

const struct pl_bus_ops pl_bus_unix_ops = {
	.close = unix_close,
	.send = unix_send,
	.attach = unix_attach,
};
