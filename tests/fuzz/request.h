/* tests/fuzz/request.h: what the request-level fuzz targets share.
 *
 * One parley.fcgi context (the store in a fresh folder under /dev/shm or
 * /tmp, a writer thread, no hub) made at the first input and kept for the
 * run, and a pl_fcgi_io that serves a request from memory: parameters from
 * a table, the body from a buffer, the answer checked and dropped.  Every
 * request goes through pl_fcgi_serve, the FastCGI adapter, so the path
 * decoding, the query string, the body reading, the router, the token
 * check and the handlers with their JSON bodies all see fuzzed input.
 *
 * A GATEWAY_INTERFACE parameter makes it a CGI request (PATH_INFO, the
 * body bounded by CONTENT_LENGTH), except for GET and HEAD.
 *
 * "Bearer @USER" in HTTP_AUTHORIZATION becomes a real token for USER, so
 * inputs get past authentication into the handlers. */
#ifndef PL_FUZZ_REQUEST_H
#define PL_FUZZ_REQUEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/fcgi.h"
#include "chat/ctx.h"
#include "base/config.h"
#include "base/ids.h"
#include "base/jwt.h"
#include "base/log.h"

#define FUZZ_SECRET "fuzz-secret-0123456789abcdef-0123456789"
#define FUZZ_PARAMS 16

struct fuzz_io {
	const char *name[FUZZ_PARAMS];
	const char *value[FUZZ_PARAMS];
	int n;
	const char *body;
	size_t body_len, body_pos;
	char *out;              /* the answer, grown as written */
	size_t out_len;
};

static struct pl_config fuzz_cfg;
static struct pl_ctx fuzz_ctx;
static struct pl_fcgi *fuzz_f;

static void fuzz_must(bool cond)
{
	if (!cond)
		abort();
}

static void fuzz_setup(void)
{
	if (fuzz_f)
		return;
	char tmpl[] = "/dev/shm/parley-fuzz-XXXXXX";
	char tmpl2[] = "/tmp/parley-fuzz-XXXXXX";
	const char *dir = getenv("FUZZ_DATA"); /* scripts/fuzz.sh makes and removes it */
	if (!dir || !*dir)
		dir = mkdtemp(tmpl);
	if (!dir)
		dir = mkdtemp(tmpl2);
	fuzz_must(dir != NULL);
	pl_log_set_level(PL_LOG_ERROR);
	char err[256];
	char *argv[] = {"parley.fcgi", NULL};
	fuzz_must(pl_config_load(&fuzz_cfg, "parley.fcgi", 1, argv, 1, err, sizeof err) ==
		  PL_CONFIG_OK);
	snprintf(fuzz_cfg.data_dir, sizeof fuzz_cfg.data_dir, "%s", dir);
	fuzz_cfg.jwt_secret = (unsigned char *)strdup(FUZZ_SECRET);
	fuzz_cfg.jwt_secret_len = strlen(FUZZ_SECRET);
	fuzz_cfg.post_rate = 1000000;
	pl_error e;
	fuzz_must(pl_ctx_init(&fuzz_ctx, &fuzz_cfg, false, &e) == PL_OK);
	fuzz_f = pl_fcgi_new(&fuzz_ctx, 0, &e); /* no long-poll waits */
	fuzz_must(fuzz_f != NULL);
	fprintf(stderr, "fuzz: the store is %s/parley.db (remove it after the run)\n", dir);
}

static const char *fuzz_param(void *ud, const char *name)
{
	const struct fuzz_io *io = ud;
	for (int i = io->n - 1; i >= 0; i--)
		if (strcmp(io->name[i], name) == 0)
			return io->value[i];
	return NULL;
}

static size_t fuzz_read(void *ud, char *buf, size_t n)
{
	struct fuzz_io *io = ud;
	size_t left = io->body_len - io->body_pos;
	if (n > left)
		n = left;
	memcpy(buf, io->body + io->body_pos, n);
	io->body_pos += n;
	return n;
}

static bool fuzz_write(void *ud, const char *buf, size_t n)
{
	struct fuzz_io *io = ud;
	char *p = realloc(io->out, io->out_len + n + 1);
	if (!p)
		return false;
	memcpy(p + io->out_len, buf, n);
	io->out = p;
	io->out_len += n;
	io->out[io->out_len] = 0;
	return true;
}

static void fuzz_add(struct fuzz_io *io, const char *name, const char *value)
{
	if (io->n < FUZZ_PARAMS) {
		io->name[io->n] = name;
		io->value[io->n] = value;
		io->n++;
	}
}

/* Serves io; checks what every answer must be: a Status line the handlers
 * chose (never 500, which is "internal") and, for a JSON answer, a body
 * that is JSON.  Returns the status. */
static int fuzz_serve(struct fuzz_io *io)
{
	char auth[1024];
	const char *a = fuzz_param(io, "HTTP_AUTHORIZATION");
	char *tok = NULL;
	if (a && strncmp(a, "Bearer @", 8) == 0 && pl_valid_id(a + 8)) {
		tok = pl_jwt_sign((const unsigned char *)FUZZ_SECRET, strlen(FUZZ_SECRET), a + 8,
				  NULL, 4000000000LL);
		if (tok) {
			snprintf(auth, sizeof auth, "Bearer %s", tok);
			fuzz_add(io, "HTTP_AUTHORIZATION", auth);
		}
	}
	/* GATEWAY_INTERFACE given: served as a CGI program would (PATH_INFO,
	 * never more than CONTENT_LENGTH bytes of body).  Not for GET and
	 * HEAD: a CGI long-poll really waits (one process per poll). */
	const char *m = fuzz_param(io, "REQUEST_METHOD");
	bool cgi = fuzz_param(io, "GATEWAY_INTERFACE") && m && strcmp(m, "GET") != 0 &&
		   strcmp(m, "HEAD") != 0;
	struct pl_fcgi_io fio = {fuzz_param, fuzz_read, fuzz_write, io, cgi};
	pl_fcgi_serve(fuzz_f, &fio);
	free(tok);
	int status = 0;
	fuzz_must(io->out && sscanf(io->out, "Status: %d", &status) == 1);
	if (status == 500) {
		fprintf(stderr, "fuzz: 500 answered:\n%s\n", io->out);
		abort();
	}
	const char *body = strstr(io->out, "\r\n\r\n");
	fuzz_must(body != NULL);
	body += 4;
	if (strstr(io->out, "Content-Type: application/json") && *body) {
		json_error_t je;
		json_t *j = json_loads(body, JSON_DECODE_ANY, &je);
		if (!j) {
			fprintf(stderr, "fuzz: not JSON:\n%s\n", io->out);
			abort();
		}
		json_decref(j);
	}
	free(io->out);
	io->out = NULL;
	return status;
}

#endif
