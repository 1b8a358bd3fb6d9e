/* base/config: the settings of parleyd and parley.fcgi.
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
	char database_url[1024];   /* --database / DATABASE_URL: PostgreSQL, "" = SQLite */
	char socket[4096];         /* parley.fcgi --socket PATH|HOST:PORT / PARLEY_FCGI_SOCKET */
	unsigned char *jwt_secret; /* from --jwt-secret-file FILE or PARLEY_JWT_SECRET (malloc'd) */
	size_t jwt_secret_len;
	bool dev;                  /* --dev / PARLEY_DEV=1 */
	bool socketio_conformance; /* --socketio-conformance: the upstream test suites' app */
	/* Engine.IO sessions that send no Socket.IO CONNECT within this many ms
	 * are closed (hidden --socketio-connect-timeout MS, for tests; 45000) */
	int socketio_connect_timeout_ms;
	/* Origins whose pages may use REST, SSE and long-polling across origins:
	 * a comma list of exact origins (scheme://host[:port]) or "*" alone;
	 * "" = same origin only.  --cors-origin (repeatable, or a comma list) /
	 * PARLEY_CORS_ORIGIN. */
	char cors_origin[2048];
	bool cors_from_flag;       /* a --cors-origin was seen: the next one adds */
	int presence_grace;        /* seconds, --presence-grace / PARLEY_PRESENCE_GRACE, 5 */
	int ping_interval;         /* seconds, --ping-interval / PARLEY_PING_INTERVAL, 25 */
	int small_room;            /* members, --small-room / PARLEY_SMALL_ROOM, 100 */
	int post_rate;             /* messages per user per second, --post-rate / PARLEY_POST_RATE, 50 */
	/* The other repeatable writes, each per user per minute (bursts of as
	 * many): edits and deletes, rooms (and direct-message rooms) opened,
	 * member adds, joins and leaves, status changes, typing, read marks.
	 * Every rate: 0 = no limit; left unset in --dev, no limit either. */
	int edit_rate;             /* --edit-rate, 120 */
	int room_rate;             /* --room-rate, 20 */
	int member_rate;           /* --member-rate, 60 */
	int status_rate;           /* --status-rate, 30 */
	int typing_rate;           /* --typing-rate, 120 */
	int read_rate;             /* --read-rate, 240 */
	int max_user_connections;  /* push connections per user, --max-user-connections, 20 (0 = no cap) */
	int max_ip_connections;    /* connections per client address, --max-ip-connections, 500 */
	int request_timeout;       /* seconds for a request's head and body, --request-timeout, 10 */
	int keepalive;             /* SSE comment interval, --keepalive / PARLEY_KEEPALIVE, 15 */
	int stats_interval;        /* seconds between stats lines, 0 = none (parleyd) */
	int max_connections;       /* --max-connections / PARLEY_MAX_CONNECTIONS, 19500 */
	int http_threads;          /* --threads / PARLEY_THREADS, 4 */
	int fcgi_threads;          /* parley.fcgi --threads, 8 */
	int fcgi_max_polls;        /* parley.fcgi --max-polls / PARLEY_FCGI_MAX_POLLS, 4 */
	bool metrics;              /* --no-metrics turns /metrics off */
	bool no_takeover;          /* --no-takeover: push sockets stay in MHD (api/takeover.h) */
	char webhook_url[1024];    /* --webhook / PARLEY_WEBHOOK_URL, "" = no webhooks */
	char webhook_secret[256];  /* --webhook-secret / PARLEY_WEBHOOK_SECRET (required with a URL) */
	char webhook_events[512];  /* --webhook-events, comma list, default "presence" */
	unsigned webhook_mask;     /* webhook_events as PL_HOOK_* bits */
	int webhook_retry_for;     /* seconds a delivery is retried before it is dropped, 3600 */
	bool verbose;              /* -v / PARLEY_LOG=debug */
};

/* The event types a webhook can carry (--webhook-events). */
enum {
	PL_HOOK_PRESENCE = 1 << 0,
	PL_HOOK_MESSAGE_CREATED = 1 << 1,
	PL_HOOK_MESSAGE_UPDATED = 1 << 2,
	PL_HOOK_MESSAGE_DELETED = 1 << 3,
	PL_HOOK_MEMBER_JOINED = 1 << 4,
	PL_HOOK_MEMBER_LEFT = 1 << 5,
};
/* The bit of an event type, 0 for a type webhooks do not carry. */
unsigned pl_config_hook_bit(const char *type);

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
/* HS256 secrets shorter than this can be searched offline from one token. */
#define PL_SECRET_MIN 32
/* False (and why, naming the settings) for a secret under PL_SECRET_MIN
 * bytes: parleyd and parley.fcgi refuse to start with one outside dev
 * mode, and warn in dev mode. */
bool pl_config_secret_strong(const struct pl_config *cfg, char *why, size_t whylen);
/* Dev mode without a secret: loads (or makes, once) <data>/dev-secret. */
bool pl_config_dev_secret(struct pl_config *cfg);
void pl_config_usage(const char *prog);

#endif
