/* parley.fcgi: Parley's FastCGI front end, on the same handlers, store and
 * bus as parleyd.
 *
 *   parley.fcgi [flags]              under a process manager (spawn-fcgi,
 *                                    lighttpd's bin-path, mod_fcgid): the
 *                                    FastCGI socket is fd 0
 *   parley.fcgi --socket S [flags]   alone, listening on S (PATH or HOST:PORT)
 *   started as a CGI program         answers the one request in its
 *                                    environment and stdin, then exits
 *
 * Settings are checked before anything is accepted; an error is one line
 * on stderr and exit status 2.  SIGINT/SIGTERM: stop accepting, finish the
 * requests in flight, let the writer commit everything queued, exit 0.
 * Signals are taken by sigwait in the main thread. */
#include "config.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/fcgi.h"
#include "chat/ctx.h"
#include "base/config.h"
#include "base/log.h"

#define PROG "parley.fcgi"

static bool cgi_mode;

/* Under CGI a settings error still owes the web server an answer. */
static void settings_error(const char *msg)
{
	fprintf(stderr, PROG ": %s\n", msg);
	if (cgi_mode)
		fputs("Status: 500 Internal Server Error\r\nContent-Type: application/json\r\n"
		      "Cache-Control: no-store\r\n\r\n"
		      "{\"error\":{\"code\":\"internal\",\"message\":\"parley.fcgi is not set up: "
		      "see the web server's error log\"}}",
		      stdout);
}

static bool load_settings(struct pl_config *cfg, int argc, char **argv, int *status)
{
	char err[512];
	/* A CGI program's arguments come from the URL's query string (the
	 * old ISINDEX rule): never take them as flags. */
	enum pl_config_result r =
		pl_config_load(cfg, PROG, cgi_mode ? 1 : argc, argv, 1, err, sizeof err);
	*status = r == PL_CONFIG_HELP ? 0 : 2;
	if (r != PL_CONFIG_OK) {
		if (r == PL_CONFIG_ERROR)
			settings_error(err);
		return false;
	}
	pl_log_set_level(cfg->verbose ? PL_LOG_DEBUG : PL_LOG_INFO);
	if (!cfg->jwt_secret && !cfg->dev) {
		settings_error("no JWT secret: set PARLEY_JWT_SECRET or --jwt-secret-file "
				     "FILE (the same as parleyd's), or --dev for a local trial; "
				     "refusing to start");
		pl_config_free(cfg);
		return false;
	}
	if (!cfg->jwt_secret && !pl_config_dev_secret(cfg)) {
		char msg[4300];
		snprintf(msg, sizeof msg, "cannot read or make the dev secret in %s", cfg->data_dir);
		settings_error(msg);
		pl_config_free(cfg);
		return false;
	}
	char why[256];
	if (!pl_config_secret_strong(cfg, why, sizeof why)) {
		if (!cfg->dev) {
			char msg[300];
			snprintf(msg, sizeof msg, "%s; refusing to start", why);
			settings_error(msg);
			pl_config_free(cfg);
			return false;
		}
		if (!cgi_mode)
			log_warn("%s (accepted in dev mode only)", why);
	}
	if (cfg->dev && !cgi_mode)
		log_warn("DEV MODE: anyone can sign in as anyone (POST /v1/dev/login); "
			 "never expose this server");
	if (!cgi_mode && cfg->fcgi_max_polls >= cfg->fcgi_threads)
		log_warn("--max-polls %d with --threads %d: long-polls can hold every worker "
			 "thread of this process",
			 cfg->fcgi_max_polls, cfg->fcgi_threads);
	return true;
}

/* The socket to accept on: --socket, else the one a process manager
 * passed as fd 0. */
static int listen_socket(const struct pl_config *cfg, bool fd0_fastcgi, int *status)
{
	if (cfg->socket[0]) {
		pl_error err;
		int fd = pl_fcgi_listen(cfg->socket, &err);
		if (fd < 0) {
			settings_error(err.message);
			*status = err.code == PL_INVALID_ARGUMENT ? 2 : 1;
		}
		return fd;
	}
	if (fd0_fastcgi)
		return 0;
	settings_error("no FastCGI socket: fd 0 is not a listening socket. Run under a "
			     "FastCGI process manager (spawn-fcgi, lighttpd bin-path, mod_fcgid), "
			     "as a CGI program, or give --socket PATH|HOST:PORT");
	*status = 2;
	return -1;
}

int main(int argc, char **argv)
{
	/* libfcgi tells a FastCGI listener on fd 0 from CGI's pipe or file. */
	bool fd0_fastcgi = !FCGX_IsCGI();
	cgi_mode = !fd0_fastcgi && (getenv("GATEWAY_INTERFACE") || getenv("REQUEST_METHOD"));

	/* FastCGI: every thread inherits this mask, so SIGINT/SIGTERM reach
	 * only sigwait.  CGI keeps the default: a web server that gives up on
	 * its program (a client gone during a long-poll) ends it at once, and
	 * a write in flight is one SQLite transaction either way. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (!cgi_mode)
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct pl_config cfg;
	int status;
	if (!load_settings(&cfg, argc, argv, &status))
		return status;
	if (cgi_mode)
		cfg.socket[0] = 0;
	int fd = cgi_mode ? -1 : listen_socket(&cfg, fd0_fastcgi, &status);
	if (!cgi_mode && fd < 0) {
		pl_config_free(&cfg);
		return status;
	}

	struct pl_ctx ctx;
	pl_error err;
	if (pl_ctx_init(&ctx, &cfg, false, &err) != PL_OK) {
		settings_error(err.message);
		pl_config_free(&cfg);
		return 1;
	}
	struct pl_fcgi *f = pl_fcgi_new(&ctx, cfg.fcgi_max_polls, &err);
	if (!f) {
		settings_error(err.message);
		pl_ctx_close(&ctx);
		pl_config_free(&cfg);
		return 1;
	}
	if (cgi_mode) {
		pl_fcgi_cgi(f);
		pl_fcgi_free(f);
		pl_ctx_close(&ctx);
		pl_config_free(&cfg);
		return 0;
	}
	if (pl_fcgi_start(f, fd, cfg.fcgi_threads, &err) != PL_OK) {
		log_error("%s", err.message);
		pl_fcgi_free(f);
		pl_ctx_close(&ctx);
		pl_config_free(&cfg);
		return 1;
	}
	log_info(PROG " %s: %d threads on %s (data in %s, at most %d long-polls)",
		 PACKAGE_VERSION, cfg.fcgi_threads,
		 cfg.socket[0] ? cfg.socket : "the inherited socket (fd 0)", cfg.data_dir,
		 cfg.fcgi_max_polls);
	int sig = 0;
	sigwait(&set, &sig);
	log_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	pl_fcgi_stop(f);
	pl_fcgi_free(f);
	pl_ctx_close(&ctx);
	if (fd > 0)
		close(fd);
	if (cfg.socket[0] && pl_fcgi_socket_is_path(cfg.socket))
		unlink(cfg.socket);
	log_info("stopped");
	pl_config_free(&cfg);
	return 0;
}
