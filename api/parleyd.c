/* parleyd: the Parley daemon.
 *
 *   parleyd [flags]                    serve the API, push and the web client
 *   parleyd token USER [--ttl SECONDS] print a token for USER
 *
 * Start-up order (run): settings, the context (store, writer, bus,
 * presence: chat/ctx), webhooks, hub, HTTP; a step that fails undoes the
 * ones before it.  Stop
 * order on SIGINT/SIGTERM: stop accepting, close push connections
 * (WebSocket 1001, each socket closed once the client has its close frame,
 * up to 5 s), stop HTTP, let the writer finish every queued write, exit 0.  Signals are taken by sigwait in the main thread, so no code runs
 * in a signal handler. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <unistd.h>

#include "api/mhd.h"
#include "chat/ctx.h"
#include "chat/webhook.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/jwt.h"
#include "base/log.h"
#include "push/hub.h"

static int print_token(int argc, char **argv)
{
	if (argc < 3 || argv[2][0] == '-') {
		fprintf(stderr, "usage: parleyd token USER [--ttl SECONDS] [--admin] [flags]\n");
		return 2;
	}
	const char *user = argv[2];
	long ttl = 24 * 3600;
	bool admin = false;
	int first = 3;
	/* --ttl and --admin, in either order, before the server's own flags */
	for (;;) {
		if (argc > first && strcmp(argv[first], "--admin") == 0) {
			admin = true;
			first++;
			continue;
		}
		if (argc > first && strcmp(argv[first], "--ttl") == 0) {
			char *end = NULL;
			ttl = argc > first + 1 ? strtol(argv[first + 1], &end, 10) : 0;
			if (!end || *end || ttl < 1 || ttl > 10L * 365 * 24 * 3600) {
				fprintf(stderr,
					"parleyd token: --ttl must be 1 to 315360000 seconds\n");
				return 2;
			}
			first += 2;
			continue;
		}
		break;
	}
	struct pl_config cfg;
	char err[512];
	if (pl_config_load(&cfg, "parleyd", argc, argv, first, err, sizeof err) != PL_CONFIG_OK) {
		fprintf(stderr, "parleyd token: %s\n", err);
		return 2;
	}
	if (!cfg.jwt_secret && cfg.dev && !pl_config_dev_secret(&cfg)) {
		fprintf(stderr, "parleyd token: cannot make the dev secret in %s\n", cfg.data_dir);
		return 1;
	}
	if (!cfg.jwt_secret) {
		fprintf(stderr, "parleyd token: no secret: set PARLEY_JWT_SECRET or "
				"--jwt-secret-file (or --dev)\n");
		pl_config_free(&cfg);
		return 1;
	}
	char *token = pl_jwt_sign_admin(cfg.jwt_secret, cfg.jwt_secret_len, user, NULL,
					pl_now_ms() / 1000 + ttl, admin);
	pl_config_free(&cfg);
	if (!token) {
		fprintf(stderr, "parleyd token: USER must be 1 to 64 of A-Z a-z 0-9 _ . : -\n");
		return 2;
	}
	printf("%s\n", token);
	free(token);
	return 0;
}

static bool load_settings(struct pl_config *cfg, int argc, char **argv, int *status)
{
	char err[512];
	enum pl_config_result r = pl_config_load(cfg, "parleyd", argc, argv, 1, err, sizeof err);
	*status = r == PL_CONFIG_HELP ? 0 : 2;
	if (r != PL_CONFIG_OK) {
		if (r == PL_CONFIG_ERROR)
			fprintf(stderr, "parleyd: %s\n", err);
		return false;
	}
	pl_log_set_level(cfg->verbose ? PL_LOG_DEBUG : PL_LOG_INFO);
	*status = 1;
	if (!cfg->jwt_secret && !cfg->dev) {
		log_error("no JWT secret: set PARLEY_JWT_SECRET or --jwt-secret-file FILE, or run "
			  "with --dev for a local trial; refusing to start");
		return false;
	}
	if (!cfg->jwt_secret && !pl_config_dev_secret(cfg)) {
		log_error("cannot create the dev secret in %s", cfg->data_dir);
		return false;
	}
	char why[256];
	if (!pl_config_secret_strong(cfg, why, sizeof why)) {
		if (!cfg->dev) {
			log_error("%s; refusing to start", why);
			return false;
		}
		log_warn("%s (accepted in dev mode only)", why);
	}
	/* Run from a source tree, the web client is ./www, not the installed one. */
	struct stat st;
	if (stat(cfg->www_dir, &st) != 0 && stat("www/index.html", &st) == 0)
		snprintf(cfg->www_dir, sizeof cfg->www_dir, "www");
	char index[sizeof cfg->www_dir + 16];
	snprintf(index, sizeof index, "%s/index.html", cfg->www_dir);
	if (stat(index, &st) != 0)
		log_warn("no web client in %s (%s): / answers 404; install it (make install) "
			 "or point --www at a copy of www/",
			 cfg->www_dir, strerror(errno));
	if (cfg->dev)
		log_warn("DEV MODE: anyone can sign in as anyone (POST /v1/dev/login); "
			 "never expose this server");
	return true;
}

/* Start-up and stop in one place: each step's undo runs in reverse order,
 * on a failed start as after SIGTERM (every stop call takes NULL). */
static int run(struct pl_config *cfg)
{
	struct pl_ctx ctx;
	pl_error err;
	/* Store, writer, bus and presence: the context owns them. */
	if (pl_ctx_init(&ctx, cfg, true, &err) != PL_OK) {
		log_error("%s", err.message);
		return 1;
	}
	struct pl_hub *hub = NULL;
	struct pl_http *http = NULL;
	int status = 1;
	/* Webhooks first: the HTTP threads read ctx.webhook (/metrics). */
	if ((cfg->webhook_url[0] && !(ctx.webhook = pl_webhook_start(&ctx, &err))) ||
	    !(hub = pl_hub_start(&ctx, &err)) || !(http = pl_http_start(&ctx, hub, &err))) {
		log_error("%s", err.message);
		goto stop;
	}
	log_info("parleyd %s listening on http://%s:%d/ (data in %s, presence %s)",
		 PACKAGE_VERSION, cfg->listen_host, cfg->listen_port, cfg->data_dir,
		 cfg->redis_url[0] ? "redis" : "in-process");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	int sig = 0;
	sigwait(&set, &sig);
	log_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	status = 0;
stop:
	pl_http_quiesce(http);
	pl_hub_stop(hub);
	pl_http_stop(http); /* MHD's last callbacks still reach the hub */
	pl_hub_free(hub);
	pl_webhook_stop(ctx.webhook); /* after the hub: its last presence changes are queued */
	ctx.webhook = NULL;
	pl_ctx_close(&ctx);
	if (status == 0)
		log_info("stopped");
	return status;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "token") == 0)
		return print_token(argc, argv);
	/* Every thread inherits this mask: SIGINT/SIGTERM reach only sigwait,
	 * and a peer closing a socket never kills the process. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct pl_config cfg;
	int status;
	if (!load_settings(&cfg, argc, argv, &status)) {
		return status;
	}
	status = run(&cfg);
	pl_config_free(&cfg);
	return status;
}
