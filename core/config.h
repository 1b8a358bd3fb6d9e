/* core/config: the settings of parleyd and parley.fcgi.
 *
 * Each setting comes from a flag, an environment variable or a .env file in
 * the working directory; flag beats environment beats .env. */
#ifndef PL_CONFIG_H
#define PL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct pl_config {
	char listen_host[256];     /* --listen HOST:PORT / PARLEY_LISTEN; PORT sets the port */
	int listen_port;           /* default 127.0.0.1:8080 */
	char data_dir[4096];       /* --data / PARLEY_DATA, default ./var */
	char www_dir[4096];        /* --www / PARLEY_WWW, default PL_WWW_DEFAULT */
	char redis_url[1024];      /* --redis / REDIS_URL, "" = in-process */
	char socket[4096];         /* parley.fcgi --socket PATH|HOST:PORT / PARLEY_FCGI_SOCKET */
	unsigned char *jwt_secret; /* from --jwt-secret-file FILE or PARLEY_JWT_SECRET (malloc'd) */
	size_t jwt_secret_len;
	bool dev;                  /* --dev / PARLEY_DEV=1 */
	bool socketio_conformance; /* --socketio-conformance: the upstream test suites' app */
	int presence_grace;        /* seconds, --presence-grace / PARLEY_PRESENCE_GRACE, 5 */
	int ping_interval;         /* seconds, --ping-interval / PARLEY_PING_INTERVAL, 25 */
	int small_room;            /* members, --small-room / PARLEY_SMALL_ROOM, 100 */
	int post_rate;             /* messages per user per second, --post-rate / PARLEY_POST_RATE, 50 */
	int keepalive;             /* SSE comment interval, --keepalive / PARLEY_KEEPALIVE, 15 */
	int max_connections;       /* --max-connections / PARLEY_MAX_CONNECTIONS, 19500 */
	int http_threads;          /* --threads / PARLEY_THREADS, 4 */
	int fcgi_threads;          /* parley.fcgi --threads, 8 */
	int fcgi_max_polls;        /* parley.fcgi --max-polls / PARLEY_FCGI_MAX_POLLS, 4 */
	bool metrics;              /* --no-metrics turns /metrics off */
	bool verbose;              /* -v / PARLEY_LOG=debug */
};

enum pl_config_result {
	PL_CONFIG_OK,
	PL_CONFIG_HELP,            /* --help was given: usage has been printed */
	PL_CONFIG_ERROR,           /* err holds a one-line reason */
};

/* Fills cfg from defaults, .env, the environment and argv[first..argc).
 * prog is "parleyd" or "parley.fcgi" (for --help and the fcgi-only flags). */
enum pl_config_result pl_config_load(struct pl_config *cfg, const char *prog, int argc,
				     char **argv, int first, char *err, size_t errlen);
void pl_config_free(struct pl_config *cfg);
/* Dev mode without a secret: loads (or makes, once) <data>/dev-secret. */
bool pl_config_dev_secret(struct pl_config *cfg);
void pl_config_usage(const char *prog);

#endif
