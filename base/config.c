/* base/config: the settings of parleyd and parley.fcgi, from flags, the
 * environment and a .env file in the working directory.
 *
 * One table describes every setting (flag, variable, default, setter), so
 * parsing and --help cannot drift apart.  The layers are applied in rising
 * precedence, each overwriting the last: defaults, .env, environment, flags.
 * Within a layer PORT is applied before PARLEY_LISTEN, so PARLEY_LISTEN wins
 * over PORT from the same layer while a PORT in the environment still beats a
 * PARLEY_LISTEN in .env.  The .env values stay in a local table: the process
 * environment is never changed. */
#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <fcntl.h>

#ifdef PL_WWW_DEFAULT
#define WWW_DEFAULT PL_WWW_DEFAULT
#else
#define WWW_DEFAULT "./www"
#endif

#define DOTENV_PATH ".env"
#define SECRET_MAX 65536 /* a secret file larger than this is a mistake */

enum { FOR_D = 1, FOR_F = 2, FOR_BOTH = 3 }; /* which programs take a setting */

struct opt;
/* Applies val (NULL for a switch given as a flag) to cfg; on failure writes
 * a reason, without the setting's name, to why. */
typedef bool set_fn(struct pl_config *cfg, const struct opt *o, const char *val, char *why,
		    size_t whylen);

struct opt {
	const char *flag; /* NULL: variable only */
	const char *env;  /* NULL: flag only */
	const char *arg;  /* metavar; NULL for a switch */
	const char *help;
	const char *def; /* the default, as --help shows it */
	int progs;
	set_fn *set;
	size_t off;   /* offsetof the field set_str and set_int write */
	size_t size;  /* set_str: the field's size */
	int min, max; /* set_int: range; set_str: min 1 = must not be empty */
};

/* One .env entry; key and val share one allocation. */
struct dotenv_kv {
	char *key, *val;
	size_t len; /* bytes of the allocation, for wiping */
};

struct dotenv {
	struct dotenv_kv *kv;
	size_t n, cap;
};

/* ---- small helpers ---- */

static bool fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return false;
}

/* Clears memory that held a secret in a way the compiler may not drop. */
static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
}

static void set_secret(struct pl_config *cfg, unsigned char *s, size_t n)
{
	if (cfg->jwt_secret) {
		wipe(cfg->jwt_secret, cfg->jwt_secret_len);
		free(cfg->jwt_secret);
	}
	cfg->jwt_secret = s;
	cfg->jwt_secret_len = n;
}

/* Strict decimal: no leading blanks, no trailing junk, within [min, max]. */
static bool parse_int(const char *s, int min, int max, int *out)
{
	char *end = NULL;
	if (!s || !(isdigit((unsigned char)*s) || *s == '-' || *s == '+'))
		return false;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = (int)v;
	return true;
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *yes[] = {"1", "true", "yes", "on"};
	static const char *no[] = {"", "0", "false", "no", "off"};
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
	}
	for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static int prog_mask(const char *prog)
{
	const char *base = prog ? strrchr(prog, '/') : NULL;
	base = base ? base + 1 : prog;
	return base && strcmp(base, "parley.fcgi") == 0 ? FOR_F : FOR_D;
}

/* ---- setters ---- */

static bool set_str(struct pl_config *cfg, const struct opt *o, const char *val, char *why,
		    size_t whylen)
{
	size_t n = strlen(val);
	if (o->min > 0 && n == 0)
		return fail(why, whylen, "must not be empty");
	if (n >= o->size)
		return fail(why, whylen, "longer than %zu bytes", o->size - 1);
	memcpy((char *)cfg + o->off, val, n + 1);
	return true;
}

/* A PostgreSQL URL (libpq's URI forms), or "" for SQLite.  The value is
 * never repeated in the message: it may hold a password. */
static bool set_database(struct pl_config *cfg, const struct opt *o, const char *val,
			 char *why, size_t whylen)
{
	if (*val && strncmp(val, "postgresql://", 13) != 0 && strncmp(val, "postgres://", 11) != 0)
		return fail(why, whylen,
			    "not a PostgreSQL URL: postgresql://USER:PASSWORD@HOST:PORT/DATABASE");
	return set_str(cfg, o, val, why, whylen);
}

static bool set_int(struct pl_config *cfg, const struct opt *o, const char *val, char *why,
		    size_t whylen)
{
	int v = 0;
	if (!parse_int(val, o->min, o->max, &v))
		return fail(why, whylen, "expected an integer from %d to %d, got '%.40s'", o->min,
			    o->max, val);
	memcpy((char *)cfg + o->off, &v, sizeof v);
	return true;
}

static bool set_port(struct pl_config *cfg, const struct opt *o, const char *val, char *why,
		     size_t whylen)
{
	(void)o;
	if (!parse_int(val, 0, 65535, &cfg->listen_port))
		return fail(why, whylen, "expected a port from 0 to 65535, got '%.40s'", val);
	return true;
}

/* HOST:PORT, or [IPv6]:PORT; the brackets are not kept. */
static bool set_listen(struct pl_config *cfg, const struct opt *o, const char *val, char *why,
		       size_t whylen)
{
	const char *host = val, *hend, *port;
	int p = 0;
	(void)o;
	if (*val == '[') {
		host = val + 1;
		hend = strchr(host, ']');
		if (!hend || hend[1] != ':')
			return fail(why, whylen, "expected [IPv6]:PORT, got '%.60s'", val);
		port = hend + 2;
	} else {
		hend = strrchr(val, ':');
		if (!hend)
			return fail(why, whylen, "expected HOST:PORT, got '%.60s'", val);
		if (memchr(val, ':', (size_t)(hend - val)))
			return fail(why, whylen, "an IPv6 address needs brackets: [%.60s]:PORT",
				    val);
		port = hend + 1;
	}
	size_t n = (size_t)(hend - host);
	if (n == 0 || n >= sizeof cfg->listen_host)
		return fail(why, whylen, "expected HOST:PORT, got '%.60s'", val);
	if (!parse_int(port, 0, 65535, &p))
		return fail(why, whylen, "expected a port from 0 to 65535, got '%.40s'", port);
	memcpy(cfg->listen_host, host, n);
	cfg->listen_host[n] = 0;
	cfg->listen_port = p;
	return true;
}

static bool set_dev(struct pl_config *cfg, const struct opt *o, const char *val, char *why,
		    size_t whylen)
{
	(void)o;
	if (!val) {
		cfg->dev = true;
		return true;
	}
	if (!parse_bool(val, &cfg->dev))
		return fail(why, whylen, "expected 1/true/yes or 0/false/no, got '%.40s'", val);
	return true;
}

static bool set_sio_conformance(struct pl_config *cfg, const struct opt *o, const char *val,
				char *why, size_t whylen)
{
	(void)o, (void)why, (void)whylen, (void)val;
	cfg->socketio_conformance = true;
	return true;
}

/* One origin as a browser sends it: http or https, a host, maybe a port,
 * nothing else (no path, no trailing slash, no credentials); or "*". */
static size_t scheme_len(const char *o, size_t n)
{
	static const char *const schemes[] = {"http://", "https://"};
	for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
		size_t l = strlen(schemes[i]);
		if (n > l && strncmp(o, schemes[i], l) == 0)
			return l;
	}
	return 0;
}

static bool origin_ok(const char *o, size_t n)
{
	if (n == 1 && *o == '*')
		return true;
	size_t skip = scheme_len(o, n);
	if (!skip)
		return false;
	for (size_t i = skip; i < n; i++)
		if (!isalnum((unsigned char)o[i]) && !strchr(".-:[]", o[i]))
			return false;
	return o[n - 1] != ':';
}

/* Appends a comma list of origins to cfg->cors_origin (replacing what an
 * earlier layer set unless add), checking each; "*" must stand alone. */
static bool cors_put(struct pl_config *cfg, const char *val, bool add, char *why, size_t whylen)
{
	char list[sizeof cfg->cors_origin];
	size_t len = 0;
	if (add)
		len = (size_t)snprintf(list, sizeof list, "%s", cfg->cors_origin);
	else
		list[0] = 0;
	for (const char *p = val; *p;) {
		while (*p == ',' || *p == ' ')
			p++;
		size_t n = strcspn(p, ", ");
		if (n == 0)
			break;
		if (!origin_ok(p, n))
			return fail(why, whylen,
				    "'%.*s' is no origin: expected scheme://host[:port] (http or "
				    "https, no path) or *",
				    (int)(n > 80 ? 80 : n), p);
		if (len + n + 2 > sizeof list)
			return fail(why, whylen, "the origins are longer than %zu bytes",
				    sizeof list - 1);
		if (len)
			list[len++] = ',';
		memcpy(list + len, p, n);
		len += n;
		list[len] = 0;
		p += n;
	}
	if (strchr(list, '*') && strcmp(list, "*") != 0)
		return fail(why, whylen, "* (any origin) cannot be combined with other origins");
	memcpy(cfg->cors_origin, list, len + 1);
	return true;
}

static bool set_cors_env(struct pl_config *cfg, const struct opt *o, const char *val, char *why,
			 size_t whylen)
{
	(void)o;
	return cors_put(cfg, val, false, why, whylen);
}

/* The first --cors-origin replaces what the environment said; the next add. */
static bool set_cors_flag(struct pl_config *cfg, const struct opt *o, const char *val,
			  char *why, size_t whylen)
{
	(void)o;
	if (!cors_put(cfg, val, cfg->cors_from_flag, why, whylen))
		return false;
	cfg->cors_from_flag = true;
	return true;
}

static bool set_verbose(struct pl_config *cfg, const struct opt *o, const char *val, char *why,
			size_t whylen)
{
	static const char *quiet[] = {"", "info", "warn", "warning", "error"};
	(void)o;
	bool loud = !val || strcasecmp(val, "debug") == 0;
	for (size_t i = 0; i < sizeof quiet / sizeof *quiet && !loud; i++) {
		if (strcasecmp(val, quiet[i]) == 0) {
			cfg->verbose = false;
			return true;
		}
	}
	if (loud) {
		cfg->verbose = true;
		return true;
	}
	return fail(why, whylen, "expected debug, info, warn or error, got '%.40s'", val);
}

/* ---- webhooks ---- */

static const struct {
	const char *type;
	unsigned bit;
} hook_types[] = {
	{"presence", PL_HOOK_PRESENCE},
	{"message.created", PL_HOOK_MESSAGE_CREATED},
	{"message.updated", PL_HOOK_MESSAGE_UPDATED},
	{"message.deleted", PL_HOOK_MESSAGE_DELETED},
	{"member.joined", PL_HOOK_MEMBER_JOINED},
	{"member.left", PL_HOOK_MEMBER_LEFT},
};

unsigned pl_config_hook_bit(const char *type)
{
	for (size_t i = 0; type && i < sizeof hook_types / sizeof *hook_types; i++)
		if (strcmp(type, hook_types[i].type) == 0)
			return hook_types[i].bit;
	return 0;
}

static bool set_hook_events(struct pl_config *cfg, const struct opt *o, const char *val,
			    char *why, size_t whylen)
{
	unsigned mask = 0;
	char type[64];
	for (const char *p = val; *p;) {
		size_t n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' '))
			n--;
		if (n == 0 || n >= sizeof type)
			return fail(why, whylen, "expected a comma list of event types, got '%.60s'",
				    val);
		memcpy(type, p, n);
		type[n] = 0;
		unsigned bit = pl_config_hook_bit(type);
		if (!bit)
			return fail(why, whylen,
				    "'%.40s' is no event type a webhook carries (presence, "
				    "message.created, message.updated, message.deleted, "
				    "member.joined, member.left)",
				    type);
		mask |= bit;
		p += strcspn(p, ",");
		while (*p == ',' || *p == ' ')
			p++;
	}
	if (!mask)
		return fail(why, whylen, "must name at least one event type");
	cfg->webhook_mask = mask;
	return set_str(cfg, o, val, why, whylen);
}

static bool set_hook_url(struct pl_config *cfg, const struct opt *o, const char *val, char *why,
			 size_t whylen)
{
	if (*val && strncmp(val, "http://", 7) != 0 && strncmp(val, "https://", 8) != 0)
		return fail(why, whylen, "expected an http:// or https:// URL, got '%.60s'", val);
	return set_str(cfg, o, val, why, whylen);
}

static bool set_no_metrics(struct pl_config *cfg, const struct opt *o, const char *val,
			   char *why, size_t whylen)
{
	(void)o, (void)val, (void)why, (void)whylen;
	cfg->metrics = false;
	return true;
}

static bool set_no_takeover(struct pl_config *cfg, const struct opt *o, const char *val,
			    char *why, size_t whylen)
{
	(void)o, (void)val, (void)why, (void)whylen;
	cfg->no_takeover = true;
	return true;
}

/* PARLEY_JWT_SECRET holds the secret itself; empty counts as unset. */
static bool set_secret_value(struct pl_config *cfg, const struct opt *o, const char *val,
			     char *why, size_t whylen)
{
	size_t n = strlen(val);
	(void)o;
	if (n == 0)
		return true;
	unsigned char *s = malloc(n + 1);
	if (!s)
		return fail(why, whylen, "out of memory");
	memcpy(s, val, n + 1);
	set_secret(cfg, s, n);
	return true;
}

/* Reads the whole file (binary-safe) and drops one trailing newline, the
 * one editors and `echo` add. */
static bool set_secret_file(struct pl_config *cfg, const struct opt *o, const char *val,
			    char *why, size_t whylen)
{
	(void)o;
	FILE *f = fopen(val, "rb");
	if (!f)
		return fail(why, whylen, "cannot read %.200s: %s", val, strerror(errno));
	unsigned char *s = malloc(SECRET_MAX + 1);
	if (!s) {
		fclose(f);
		return fail(why, whylen, "out of memory");
	}
	size_t n = fread(s, 1, SECRET_MAX + 1, f);
	int bad = ferror(f) ? errno : 0;
	fclose(f);
	const char *reason = bad ? strerror(bad) : n > SECRET_MAX ? "larger than 64 KiB" : NULL;
	if (!reason && n > 0 && s[n - 1] == '\n')
		n -= n > 1 && s[n - 2] == '\r' ? 2 : 1;
	if (!reason && n == 0)
		reason = "the file is empty";
	if (reason) {
		wipe(s, SECRET_MAX + 1);
		free(s);
		return fail(why, whylen, "cannot use %.200s: %s", val, reason);
	}
	s[n] = 0;
	set_secret(cfg, s, n);
	return true;
}

/* ---- the settings ---- */

#define F(field) offsetof(struct pl_config, field), sizeof(((struct pl_config *)0)->field)

/* PORT precedes PARLEY_LISTEN: within a layer the later one wins. */
static const struct opt opts[] = {
	{NULL, "PORT", "PORT", "", NULL, FOR_BOTH, set_port, 0, 0, 0, 0},
	{"--listen", "PARLEY_LISTEN", "HOST:PORT",
	 "address to serve on, [v6addr]:PORT for IPv6; PORT alone sets the port", "127.0.0.1:8080",
	 FOR_BOTH, set_listen, 0, 0, 0, 0},
	{"--data", "PARLEY_DATA", "DIR", "directory holding parley.db", "./var", FOR_BOTH, set_str,
	 F(data_dir), 1, 0},
	{"--www", "PARLEY_WWW", "DIR", "the web client's files", WWW_DEFAULT, FOR_BOTH, set_str,
	 F(www_dir), 1, 0},
	{"--jwt-secret-file", NULL, "FILE",
	 "file holding the token secret (one trailing newline is dropped);\n"
	 "                            or PARLEY_JWT_SECRET holding the secret itself",
	 "none (refused unless --dev)", FOR_BOTH, set_secret_file, 0, 0, 0, 0},
	{NULL, "PARLEY_JWT_SECRET", "SECRET", "", NULL, FOR_BOTH, set_secret_value, 0, 0, 0, 0},
	{"--redis", "REDIS_URL", "URL", "Redis for presence and events across nodes",
	 "unset: in-process", FOR_BOTH, set_str, F(redis_url), 0, 0},
	{"--database", "DATABASE_URL", "URL",
	 "PostgreSQL store (postgresql://user:pass@host:port/db) instead of\n"
	 "                            SQLite at --data/parley.db",
	 "unset: SQLite", FOR_BOTH, set_database, F(database_url), 0, 0},
	{"--dev", "PARLEY_DEV", NULL,
	 "dev mode for local trials: POST /v1/dev/login hands out tokens", "off", FOR_BOTH, set_dev,
	 0, 0, 0, 0},
	{"--presence-grace", "PARLEY_PRESENCE_GRACE", "SECONDS",
	 "how long a user whose last connection closed still counts as online", "5", FOR_BOTH,
	 set_int, F(presence_grace), 0, 3600},
	{"--ping-interval", "PARLEY_PING_INTERVAL", "SECONDS", "WebSocket ping interval", "25",
	 FOR_BOTH, set_int, F(ping_interval), 1, 3600},
	{"--small-room", "PARLEY_SMALL_ROOM", "MEMBERS",
	 "rooms up to this size get unasked presence, receipts and join/leave events", "100",
	 FOR_BOTH, set_int, F(small_room), 1, 100000},
	{"--post-rate", "PARLEY_POST_RATE", "N",
	 "messages a user may post per second (bursts of 4x; 0 = no limit;\n"
	 "                            no limit in --dev unless given)",
	 "50", FOR_BOTH, set_int, F(post_rate), 0, 1000000},
	{"--edit-rate", "PARLEY_EDIT_RATE", "N",
	 "edits and deletes a user may make per minute, as many at once\n"
	 "                            (this and the rates below: 0 = no limit; off in --dev\n"
	 "                            unless given)",
	 "120", FOR_BOTH, set_int, F(edit_rate), 0, 1000000},
	{"--room-rate", "PARLEY_ROOM_RATE", "N",
	 "rooms and direct-message rooms a user may open per minute", "20", FOR_BOTH, set_int,
	 F(room_rate), 0, 1000000},
	{"--member-rate", "PARLEY_MEMBER_RATE", "N",
	 "member adds, joins and leaves a user may make per minute", "60", FOR_BOTH, set_int,
	 F(member_rate), 0, 1000000},
	{"--status-rate", "PARLEY_STATUS_RATE", "N", "status changes a user may make per minute",
	 "30", FOR_BOTH, set_int, F(status_rate), 0, 1000000},
	{"--typing-rate", "PARLEY_TYPING_RATE", "N",
	 "typing notices (frames or requests) a user may send per minute", "120", FOR_BOTH,
	 set_int, F(typing_rate), 0, 1000000},
	{"--read-rate", "PARLEY_READ_RATE", "N",
	 "read marks (frames or requests) a user may send per minute", "240", FOR_BOTH, set_int,
	 F(read_rate), 0, 1000000},
	{"--max-user-connections", "PARLEY_MAX_USER_CONNECTIONS", "N",
	 "push connections (WebSocket, SSE, long-poll) one user may hold;\n"
	 "                            0 = no cap", "20",
	 FOR_D, set_int, F(max_user_connections), 0, 1000000},
	{"--max-ip-connections", "PARLEY_MAX_IP_CONNECTIONS", "N",
	 "connections one client address may hold; 0 = no cap", "500", FOR_D, set_int,
	 F(max_ip_connections), 0, 1000000},
	{"--request-timeout", "PARLEY_REQUEST_TIMEOUT", "SECONDS",
	 "time a request's head and body may take in all; then the\n"
	 "                            connection is closed", "10",
	 FOR_D, set_int, F(request_timeout), 1, 3600},
	{"--keepalive", "PARLEY_KEEPALIVE", "SECONDS", "interval of SSE keep-alive comments", "15",
	 FOR_BOTH, set_int, F(keepalive), 1, 3600},
	{"--stats-interval", "PARLEY_STATS_INTERVAL", "SECONDS",
	 "log a stats line (users, connections by transport, messages, deliveries) this often; 0 = off",
	 "30", FOR_D, set_int, F(stats_interval), 0, 86400},
	{"--max-connections", "PARLEY_MAX_CONNECTIONS", "N", "most client connections at once",
	 "19500", FOR_BOTH, set_int, F(max_connections), 16, 1000000},
	{"--threads", "PARLEY_THREADS", "N", "HTTP worker threads", "4", FOR_D, set_int,
	 F(http_threads), 1, 64},
	{"--threads", "PARLEY_THREADS", "N", "FastCGI worker threads", "8", FOR_F, set_int,
	 F(fcgi_threads), 1, 64},
	{"--socket", "PARLEY_FCGI_SOCKET", "PATH|HOST:PORT",
	 "listen for FastCGI here instead of on the socket a process manager passes",
	 "unset: fd 0", FOR_F, set_str, F(socket), 0, 0},
	{"--max-polls", "PARLEY_FCGI_MAX_POLLS", "N", "most worker threads held by long polls at once",
	 "4", FOR_F, set_int, F(fcgi_max_polls), 1, 64},
	{"--no-metrics", NULL, NULL, "turn GET /metrics off", "metrics on", FOR_BOTH, set_no_metrics,
	 0, 0, 0, 0},
	{"--no-takeover", NULL, NULL,
	 "keep SSE and WebSocket sockets inside libmicrohttpd, relayed to the hub (more memory; "
	 "for a libmicrohttpd the takeover was not tested with)",
	 "taken over", FOR_D, set_no_takeover, 0, 0, 0, 0},
	{"--webhook", "PARLEY_WEBHOOK_URL", "URL",
	 "POST each event of --webhook-events to this URL, signed (Parley-Signature)",
	 "unset: no webhooks", FOR_D, set_hook_url, F(webhook_url), 0, 0},
	{"--webhook-secret", "PARLEY_WEBHOOK_SECRET", "SECRET",
	 "the key of the webhooks' HMAC-SHA256 signature (required with --webhook)", "none",
	 FOR_D, set_str, F(webhook_secret), 0, 0},
	{"--webhook-events", "PARLEY_WEBHOOK_EVENTS", "LIST",
	 "comma list: presence, message.created, message.updated, message.deleted, member.joined,\n"
	 "                            member.left",
	 "presence", FOR_D, set_hook_events, F(webhook_events), 1, 0},
	{"--webhook-retry-for", "PARLEY_WEBHOOK_RETRY_FOR", "SECONDS",
	 "how long a failing delivery is retried before it is dropped", "3600", FOR_D, set_int,
	 F(webhook_retry_for), 1, 7 * 86400},
	{"--cors-origin", NULL, "ORIGIN",
	 "let pages of this origin (scheme://host[:port]) use REST,\n"
	 "                            SSE and long-polling (Socket.IO's too) across origins;\n"
	 "                            repeatable or a comma list; * = any origin, without\n"
	 "                            credentials; or PARLEY_CORS_ORIGIN holding the list",
	 "same origin only", FOR_D, set_cors_flag, 0, 0, 0, 0},
	{NULL, "PARLEY_CORS_ORIGIN", "LIST", "", NULL, FOR_D, set_cors_env, 0, 0, 0, 0},
	/* hidden (no help): tests shorten the Socket.IO connect timeout */
	{"--socketio-connect-timeout", NULL, "MS", NULL, "45000", FOR_D, set_int,
	 F(socketio_connect_timeout_ms), 100, 3600000},
	{"--socketio-conformance", NULL, NULL,
	 "serve the app of the Engine.IO/Socket.IO protocol test suites (conformance runs only)",
	 "off", FOR_D, set_sio_conformance, 0, 0, 0, 0},
	{"--verbose", "PARLEY_LOG", NULL, "debug logging (PARLEY_LOG=debug too)", "off",
	 FOR_BOTH, set_verbose, 0, 0, 0, 0},
};

#define NOPTS (sizeof opts / sizeof *opts)

/* A rate nobody set: --dev turns it off, otherwise it takes its default.
 * A rate given explicitly (flag, environment, .env) applies in --dev too,
 * so tests can run dev mode with limits on. */
#define RATE_UNSET (-1)

static void resolve_rates(struct pl_config *cfg)
{
	struct {
		int *v, def;
	} rates[] = {
		{&cfg->post_rate, 50},   {&cfg->edit_rate, 120},   {&cfg->room_rate, 20},
		{&cfg->member_rate, 60}, {&cfg->status_rate, 30},  {&cfg->typing_rate, 120},
		{&cfg->read_rate, 240},
	};
	for (size_t i = 0; i < sizeof rates / sizeof *rates; i++)
		if (*rates[i].v == RATE_UNSET)
			*rates[i].v = cfg->dev ? 0 : rates[i].def;
}

static void set_defaults(struct pl_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	strcpy(cfg->listen_host, "127.0.0.1");
	cfg->listen_port = 8080;
	snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", "./var");
	snprintf(cfg->www_dir, sizeof cfg->www_dir, "%s", WWW_DEFAULT);
	cfg->presence_grace = 5;
	cfg->ping_interval = 25;
	cfg->socketio_connect_timeout_ms = 45000;
	cfg->small_room = 100;
	cfg->post_rate = RATE_UNSET; /* resolved by resolve_rates */
	cfg->edit_rate = RATE_UNSET;
	cfg->room_rate = RATE_UNSET;
	cfg->member_rate = RATE_UNSET;
	cfg->status_rate = RATE_UNSET;
	cfg->typing_rate = RATE_UNSET;
	cfg->read_rate = RATE_UNSET;
	cfg->max_user_connections = 20;
	cfg->max_ip_connections = 500;
	cfg->request_timeout = 10;
	cfg->keepalive = 15;
	cfg->stats_interval = 30;
	cfg->max_connections = 19500;
	cfg->http_threads = 4;
	cfg->fcgi_threads = 8;
	cfg->fcgi_max_polls = 4;
	cfg->metrics = true;
	snprintf(cfg->webhook_events, sizeof cfg->webhook_events, "presence");
	cfg->webhook_mask = PL_HOOK_PRESENCE;
	cfg->webhook_retry_for = 3600;
}

/* ---- .env ---- */

static void dotenv_free(struct dotenv *d)
{
	for (size_t i = 0; i < d->n; i++) {
		wipe(d->kv[i].key, d->kv[i].len); /* values may be secrets */
		free(d->kv[i].key);
	}
	free(d->kv);
	memset(d, 0, sizeof *d);
}

static bool dotenv_put(struct dotenv *d, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = strlen(val);
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct dotenv_kv *kv = realloc(d->kv, cap * sizeof *kv);
		if (!kv)
			return false;
		d->kv = kv;
		d->cap = cap;
	}
	char *mem = malloc(kl + vl + 2);
	if (!mem)
		return false;
	memcpy(mem, key, kl + 1);
	memcpy(mem + kl + 1, val, vl + 1);
	struct dotenv_kv *e = &d->kv[d->n++];
	e->key = mem;
	e->val = mem + kl + 1;
	e->len = kl + vl + 2;
	return true;
}

/* The last assignment of key wins, as when a shell sources the file. */
static const char *dotenv_get(const struct dotenv *d, const char *key)
{
	for (size_t i = d->n; i-- > 0;)
		if (strcmp(d->kv[i].key, key) == 0)
			return d->kv[i].val;
	return NULL;
}

/* Unquotes a double-quoted value in place (s points after the opening
 * quote); \n, \t, \\, \" and \$ are understood.  Returns the end of the
 * closing quote, or NULL when there is none. */
static char *unquote_double(char *s)
{
	char *w = s;
	for (; *s && *s != '"'; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*w++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
		} else {
			*w++ = *s;
		}
	}
	if (*s != '"')
		return NULL;
	*w = 0;
	return s + 1;
}

/* Parses the value part of a line in place into *val; NULL or a reason. */
static const char *parse_value(char *v, char **val)
{
	char *rest;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v == '"' || *v == '\'') {
		char q = *v++;
		rest = q == '"' ? unquote_double(v) : strchr(v, '\'');
		if (!rest)
			return "unterminated quote";
		if (q == '\'')
			*rest++ = 0;
		while (*rest == ' ' || *rest == '\t')
			rest++;
		if (*rest && *rest != '#')
			return "text after the closing quote";
		*val = v;
		return NULL;
	}
	/* unquoted: a '#' after a blank starts a comment, trailing blanks go */
	for (rest = v; *rest; rest++)
		if (*rest == '#' && rest > v && (rest[-1] == ' ' || rest[-1] == '\t'))
			break;
	while (rest > v && (rest[-1] == ' ' || rest[-1] == '\t'))
		rest--;
	*rest = 0;
	*val = v;
	return NULL;
}

/* Splits one line; returns 0 for blank/comment, 1 for KEY=VALUE and -1
 * with *why set for anything else. */
static int parse_line(char *line, char **key, char **val, const char **why)
{
	size_t n = strcspn(line, "\r\n");
	line[n] = 0;
	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line || *line == '#')
		return 0;
	if (strncmp(line, "export", 6) == 0 && (line[6] == ' ' || line[6] == '\t'))
		for (line += 6; *line == ' ' || *line == '\t';)
			line++;
	char *k = line;
	if (!(isalpha((unsigned char)*k) || *k == '_'))
		return *why = "expected KEY=VALUE", -1;
	while (isalnum((unsigned char)*line) || *line == '_')
		line++;
	char *kend = line;
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line != '=')
		return *why = "expected KEY=VALUE", -1;
	*kend = 0;
	*key = k;
	*why = parse_value(line + 1, val);
	return *why ? -1 : 1;
}

/* A missing .env is normal; an unreadable or malformed one is an error. */
static bool dotenv_load(struct dotenv *d, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ||
		       fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
	char *line = NULL, *key = NULL, *val = NULL;
	size_t cap = 0, lineno = 0;
	bool ok = true;
	while (ok && getline(&line, &cap, f) != -1) {
		const char *why = NULL;
		int r = parse_line(line, &key, &val, &why);
		lineno++;
		if (r < 0)
			ok = fail(err, errlen, "%s line %zu: %s", path, lineno, why);
		else if (r > 0 && !dotenv_put(d, key, val))
			ok = fail(err, errlen, "%s: out of memory", path);
	}
	if (ok && ferror(f))
		ok = fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
	if (line) {
		wipe(line, cap);
		free(line);
	}
	fclose(f);
	return ok;
}

/* ---- layers ---- */

static bool apply(struct pl_config *cfg, const struct opt *o, const char *val,
		  const char *source, const char *name, char *err, size_t errlen)
{
	char why[300];
	if (o->set(cfg, o, val, why, sizeof why))
		return true;
	return fail(err, errlen, "%s%s: %s", source, name, why);
}

/* Applies the variables named in opts, in table order, from the .env
 * table d or, when d is NULL, from the process environment. */
static bool apply_vars(struct pl_config *cfg, int mask, const struct dotenv *d, char *err,
		       size_t errlen)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		if (!o->env || !(o->progs & mask))
			continue;
		const char *v = d ? dotenv_get(d, o->env) : getenv(o->env);
		if (v && !apply(cfg, o, v, d ? DOTENV_PATH " " : "", o->env, err, errlen))
			return false;
	}
	return true;
}

static const struct opt *find_flag(const char *name, size_t n, int mask)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		if (o->flag && (o->progs & mask) && strlen(o->flag) == n &&
		    strncmp(o->flag, name, n) == 0)
			return o;
	}
	return NULL;
}

static bool apply_flags(struct pl_config *cfg, int mask, int argc, char **argv, int first,
			char *err, size_t errlen)
{
	for (int i = first; i < argc; i++) {
		const char *a = strcmp(argv[i], "-v") == 0 ? "--verbose" : argv[i];
		if (strncmp(a, "--", 2) != 0 || !a[2])
			return fail(err, errlen, "unexpected argument '%.60s' (see --help)", a);
		const char *eq = strchr(a, '=');
		size_t n = eq ? (size_t)(eq - a) : strlen(a);
		const struct opt *o = find_flag(a, n, mask);
		if (!o)
			return fail(err, errlen, "unknown flag %.*s (see --help)", (int)(n > 60 ? 60 : n),
				    a);
		const char *val = eq ? eq + 1 : NULL;
		if (!o->arg && val)
			return fail(err, errlen, "%s takes no value", o->flag);
		if (o->arg && !val && i + 1 >= argc)
			return fail(err, errlen, "%s needs a value: %s %s", o->flag, o->flag, o->arg);
		if (o->arg && !val)
			val = argv[++i];
		if (!apply(cfg, o, val, "", o->flag, err, errlen))
			return false;
	}
	return true;
}

static bool wants_help(int argc, char **argv, int first)
{
	for (int i = first; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

static bool load_layers(struct pl_config *cfg, int mask, int argc, char **argv, int first,
			char *err, size_t errlen)
{
	struct dotenv d = {0};
	bool ok = dotenv_load(&d, DOTENV_PATH, err, errlen) &&
		  apply_vars(cfg, mask, &d, err, errlen);
	dotenv_free(&d);
	return ok && apply_vars(cfg, mask, NULL, err, errlen) &&
	       apply_flags(cfg, mask, argc, argv, first, err, errlen);
}

enum pl_config_result pl_config_load(struct pl_config *cfg, const char *prog, int argc,
				     char **argv, int first, char *err, size_t errlen)
{
	int mask = prog_mask(prog);
	if (err && errlen)
		err[0] = 0;
	set_defaults(cfg);
	if (wants_help(argc, argv, first)) {
		pl_config_usage(prog);
		return PL_CONFIG_HELP;
	}
	if (!load_layers(cfg, mask, argc, argv, first, err, errlen)) {
		pl_config_free(cfg); /* so a caller that just exits leaks nothing */
		return PL_CONFIG_ERROR;
	}
	resolve_rates(cfg);
	if (cfg->webhook_url[0] && !cfg->webhook_secret[0]) {
		fail(err, errlen, "--webhook needs --webhook-secret (or PARLEY_WEBHOOK_SECRET): "
				  "receivers check the signature");
		pl_config_free(cfg);
		return PL_CONFIG_ERROR;
	}
	return PL_CONFIG_OK;
}

void pl_config_free(struct pl_config *cfg)
{
	if (cfg)
		set_secret(cfg, NULL, 0);
}

/* ---- --help ---- */

static void usage_opt(const struct opt *o)
{
	char head[64];
	if (o->flag == NULL || o->help == NULL)
		return; /* variable-only settings are described with their flag;
			 * settings for tests have no help and are not listed */
	/* -v is the one short alias; it is spelled out here, not in the table */
	snprintf(head, sizeof head, "%s%s%s%s", o->set == set_verbose ? "-v, " : "", o->flag,
		 o->arg ? " " : "", o->arg ? o->arg : "");
	if (strlen(head) > 25) /* a long flag: its text starts on the next line */
		printf("  %s\n  %-25s %s\n", head, "", o->help);
	else
		printf("  %-25s %s\n", head, o->help);
	printf("  %-25s %s%s%sdefault %s\n", "", o->env ? "env " : "", o->env ? o->env : "",
	       o->env ? ", " : "", o->def);
}

void pl_config_usage(const char *prog)
{
	int mask = prog_mask(prog);
	const char *name = mask == FOR_F ? "parley.fcgi" : "parleyd";
	printf("Usage: %s [OPTION]...\n", name);
	if (mask == FOR_D)
		printf("       parleyd token USER [--ttl SECONDS]   print a signed token for USER\n");
	printf("\n%s\n\n", mask == FOR_F ? "Parley chat server, FastCGI front end."
					 : "Parley chat server.");
	printf("Each setting is a flag, an environment variable or a line in ./.env;\n"
	       "a flag beats the environment, which beats .env.  --flag=VALUE works too.\n\n");
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].progs & mask)
			usage_opt(&opts[i]);
	printf("  %-25s %s\n", "-h, --help", "show this help and exit");
}

bool pl_config_secret_strong(const struct pl_config *cfg, char *why, size_t whylen)
{
	if (cfg->jwt_secret && cfg->jwt_secret_len >= PL_SECRET_MIN)
		return true;
	snprintf(why, whylen,
		 "the JWT secret is %zu bytes; at least %d are needed (PARLEY_JWT_SECRET or "
		 "--jwt-secret-file; e.g. head -c 48 /dev/urandom | base64 > FILE)",
		 cfg->jwt_secret ? cfg->jwt_secret_len : 0, PL_SECRET_MIN);
	return false;
}

/* Dev mode without a secret: one is made once and kept in the data folder
 * (O_EXCL: parleyd and parley.fcgi may start together), so dev tokens work
 * on both and survive restarts. */
bool pl_config_dev_secret(struct pl_config *cfg)
{
	char path[4200];
	unsigned char key[32];
	snprintf(path, sizeof path, "%s/dev-secret", cfg->data_dir);
	mkdir(cfg->data_dir, 0700); /* db/perms.h */
	for (int attempt = 0; attempt < 20; attempt++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, key, sizeof key) : -1;
		if (fd >= 0)
			close(fd);
		if (n == (ssize_t)sizeof key) {
			cfg->jwt_secret = malloc(sizeof key);
			if (!cfg->jwt_secret)
				return false;
			memcpy(cfg->jwt_secret, key, sizeof key);
			cfg->jwt_secret_len = sizeof key;
			return true;
		}
		if (fd < 0) {
			FILE *r = fopen("/dev/urandom", "rb");
			bool ok = r && fread(key, 1, sizeof key, r) == sizeof key;
			if (r)
				fclose(r);
			fd = ok ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
			if (fd >= 0) {
				ok = write(fd, key, sizeof key) == (ssize_t)sizeof key;
				close(fd);
				if (!ok)
					return false;
				continue;
			}
			if (errno != EEXIST)
				return false;
		}
		/* Another process is writing it now. */
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return false;
}

