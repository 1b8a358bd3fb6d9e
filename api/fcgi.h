/* api/fcgi: the FastCGI (and CGI) adapter of parley.fcgi.
 *
 * Every request is turned into a pl_req and answered by pl_api_handle, the
 * very handlers parleyd runs, so no endpoint is written twice.  The two
 * kinds of push stream (SSE, WebSocket) are parleyd's alone: a FastCGI
 * worker pool is no place for connections that last hours, so they answer
 * 404 here.  Long-poll is served, with bounded waits and at most
 * --max-polls of them held at once by one process (over that: 503 with
 * Retry-After: 1), and at most half of those (at least one) by one user
 * (over that: 429 rate_limited with Retry-After: 1).
 *
 * Threads: N workers take turns accepting on one listening socket (the one
 * a process manager passes as fd 0, or --socket) and share one pl_ctx.
 * pl_fcgi_stop stops accepting, lets requests in flight finish (a waiting
 * long-poll answers at once with what it has) and joins the workers. */
#ifndef PL_FCGI_H
#define PL_FCGI_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/ctx.h"
#include "base/err.h"

struct pl_fcgi;

/* The I/O of one request, FastCGI's streams or CGI's environment, stdin
 * and stdout: the one code path behind both. */
struct pl_fcgi_io {
	/* A CGI/FastCGI parameter (REQUEST_METHOD, HTTP_AUTHORIZATION..), NULL
	 * when absent. */
	const char *(*param)(void *ud, const char *name);
	/* Reads up to n bytes of the request body; 0 at its end. */
	size_t (*read)(void *ud, char *buf, size_t n);
	/* Writes the whole buffer; false when the peer is gone. */
	bool (*write)(void *ud, const char *buf, size_t n);
	void *ud;
	/* CGI: the body is CONTENT_LENGTH bytes of stdin (never read past);
	 * the API path is PATH_INFO when there is one. */
	bool cgi;
};

/* max_polls: long-polls this process holds at once (0: none may wait). */
struct pl_fcgi *pl_fcgi_new(struct pl_ctx *ctx, int max_polls, pl_error *err);
void pl_fcgi_free(struct pl_fcgi *f);

/* Answers one request. */
void pl_fcgi_serve(struct pl_fcgi *f, const struct pl_fcgi_io *io);

/* --socket PATH|HOST:PORT: a listening socket.  A path holds a '/' or no
 * ':'; ":PORT" alone listens on 127.0.0.1.  -1 with err filled on failure
 * (PL_INVALID_ARGUMENT for a spec it cannot read). */
int pl_fcgi_listen(const char *spec, pl_error *err);
bool pl_fcgi_socket_is_path(const char *spec);
/* Starts threads workers accepting FastCGI connections on listen_fd. */
enum pl_code pl_fcgi_start(struct pl_fcgi *f, int listen_fd, int threads, pl_error *err);
/* Stops accepting, finishes the requests in flight, joins the workers. */
void pl_fcgi_stop(struct pl_fcgi *f);

/* CGI: answers the one request in environ/stdin on stdout. */
void pl_fcgi_cgi(struct pl_fcgi *f);

#endif
