/* tests/bussend: sends one datagram to a parleyd bus socket, as the
 * current user or as another one, for tests/integration/security.test.mjs.
 *
 *   tests/bussend [--as USER [--connect-first]] SOCKET KIND PAYLOAD
 *
 * --as USER: the datagram leaves from USER's uid and gid (the test runs as
 * root).  --connect-first: the socket is connected while still root, so
 * the socket file's mode does not stop it and only the bus's check of the
 * sender's credentials can.  Exit 0: sent; 1: refused by the kernel (the
 * message says why); 2: usage. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int drop_to(const char *user)
{
	const struct passwd *pw = getpwnam(user);
	if (!pw) {
		fprintf(stderr, "bussend: no user %s\n", user);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		fprintf(stderr, "bussend: cannot become %s: %s\n", user, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *as = NULL;
	int early = 0, i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--as") == 0 && i + 1 < argc)
			as = argv[++i];
		else if (strcmp(argv[i], "--connect-first") == 0)
			early = 1;
		else
			break;
	}
	if (argc - i != 3 || strlen(argv[i + 1]) != 1) {
		fprintf(stderr, "usage: bussend [--as USER [--connect-first]] SOCKET KIND PAYLOAD\n");
		return 2;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(argv[i]) >= sizeof sa.sun_path)
		return 2;
	strcpy(sa.sun_path, argv[i]);
	char buf[9000];
	size_t n = strlen(argv[i + 2]);
	if (n + 1 > sizeof buf)
		return 2;
	buf[0] = argv[i + 1][0];
	memcpy(buf + 1, argv[i + 2], n);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0)
		return 1;
	if (as && !early && drop_to(as) != 0)
		return 1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		fprintf(stderr, "bussend: connect: %s\n", strerror(errno));
		return 1;
	}
	if (as && early && drop_to(as) != 0)
		return 1;
	if (send(fd, buf, n + 1, 0) != (ssize_t)(n + 1)) {
		fprintf(stderr, "bussend: send: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}
