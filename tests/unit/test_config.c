/* tests/unit/test_config: base/config's defaults, flags, environment and
 * .env layers and their precedence, run in a scratch directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "tests/unit/t.h"

static const char *const VARS[] = {
	"PARLEY_LISTEN",	"PORT",		       "PARLEY_DATA",	    "PARLEY_WWW",
	"PARLEY_JWT_SECRET",	"REDIS_URL",	       "PARLEY_DEV",	    "PARLEY_PRESENCE_GRACE",
	"PARLEY_PING_INTERVAL", "PARLEY_SMALL_ROOM",   "PARLEY_KEEPALIVE",  "PARLEY_MAX_CONNECTIONS",
	"PARLEY_THREADS",	"PARLEY_FCGI_SOCKET", "PARLEY_FCGI_MAX_POLLS", "PARLEY_LOG",
	"PARLEY_CORS_ORIGIN",	"DATABASE_URL",
};

static char err[512];

static void clean_env(void)
{
	for (size_t i = 0; i < sizeof VARS / sizeof *VARS; i++)
		unsetenv(VARS[i]);
	unlink(".env");
}

static void write_file(const char *path, const char *text, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(text, 1, n, f) != n) {
		perror(path);
		exit(2);
	}
	fclose(f);
}

static void write_env(const char *text) { write_file(".env", text, strlen(text)); }

/* Loads with argv = {prog, args..., NULL}; args is NULL-terminated. */
static enum pl_config_result load(struct pl_config *c, const char *prog, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = (char *)prog;
	for (; args && *args && argc < 31; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	err[0] = 0;
	return pl_config_load(c, prog, argc, argv, 1, err, sizeof err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* True when loading args fails with an error mentioning needle. */
static bool fails(const char *prog, const char *const *args, const char *needle)
{
	struct pl_config c;
	enum pl_config_result r = load(&c, prog, args);
	pl_config_free(&c);
	if (r != PL_CONFIG_ERROR || !strstr(err, needle) || strchr(err, '\n')) {
		fprintf(stderr, "  want error with \"%s\", got %d \"%s\"\n", needle, r, err);
		return false;
	}
	return true;
}

static void test_defaults(void)
{
	struct pl_config c;
	CHECK(load(&c, "parleyd", NULL) == PL_CONFIG_OK);
	CHECK_STR(c.listen_host, "127.0.0.1");
	CHECK(c.listen_port == 8080);
	CHECK_STR(c.data_dir, "./var");
#ifdef PL_WWW_DEFAULT
	CHECK_STR(c.www_dir, PL_WWW_DEFAULT);
#else
	CHECK_STR(c.www_dir, "./www");
#endif
	CHECK_STR(c.redis_url, "");
	CHECK_STR(c.socket, "");
	CHECK(c.jwt_secret == NULL && c.jwt_secret_len == 0);
	CHECK(!c.dev && c.metrics && !c.verbose);
	CHECK(c.presence_grace == 5 && c.ping_interval == 25 && c.small_room == 100);
	CHECK(c.keepalive == 15 && c.max_connections == 19500);
	CHECK(c.http_threads == 4 && c.fcgi_threads == 8 && c.fcgi_max_polls == 4);
	/* Socket.IO: 45 s for a CONNECT, as the reference server; no CORS */
	CHECK(c.socketio_connect_timeout_ms == 45000);
	CHECK_STR(c.cors_origin, "");
	pl_config_free(&c);
	pl_config_free(&c); /* twice is harmless */
	CHECK(load(&c, "/usr/bin/parley.fcgi", NULL) == PL_CONFIG_OK);
	CHECK(c.fcgi_threads == 8 && c.listen_port == 8080);
	pl_config_free(&c);
}

/* Rates: defaults outside --dev; in --dev, off unless given (flag or
 * environment), so tests can turn limits on in dev mode. */
static void test_rates(void)
{
	struct pl_config c;
	CHECK(load(&c, "parleyd", NULL) == PL_CONFIG_OK);
	CHECK(c.post_rate == 50 && c.edit_rate == 120 && c.room_rate == 20);
	CHECK(c.member_rate == 60 && c.status_rate == 30 && c.typing_rate == 120);
	CHECK(c.read_rate == 240);
	CHECK(c.max_user_connections == 20 && c.max_ip_connections == 500);
	CHECK(c.request_timeout == 10);
	pl_config_free(&c);
	CHECK(load(&c, "parleyd", ARGS("--dev")) == PL_CONFIG_OK);
	CHECK(c.post_rate == 0 && c.edit_rate == 0 && c.room_rate == 0 && c.member_rate == 0);
	CHECK(c.status_rate == 0 && c.typing_rate == 0 && c.read_rate == 0);
	pl_config_free(&c);
	setenv("PARLEY_ROOM_RATE", "7", 1);
	CHECK(load(&c, "parleyd",
		   ARGS("--dev", "--post-rate", "3", "--edit-rate=1", "--read-rate", "0",
			"--max-user-connections", "0", "--max-ip-connections", "2",
			"--request-timeout", "1")) == PL_CONFIG_OK);
	CHECK(c.post_rate == 3 && c.edit_rate == 1 && c.room_rate == 7 && c.read_rate == 0);
	CHECK(c.member_rate == 0 && c.typing_rate == 0);
	CHECK(c.max_user_connections == 0 && c.max_ip_connections == 2 && c.request_timeout == 1);
	pl_config_free(&c);
	unsetenv("PARLEY_ROOM_RATE");
	CHECK(fails("parleyd", ARGS("--edit-rate", "-1"), "--edit-rate"));
	CHECK(fails("parleyd", ARGS("--request-timeout", "0"), "--request-timeout"));
	CHECK(fails("parley.fcgi", ARGS("--max-user-connections", "3"), "unknown flag"));
}

static void test_flags(void)
{
	struct pl_config c;
	CHECK(load(&c, "parleyd",
		   ARGS("--listen", "0.0.0.0:9000", "--data", "/tmp/d", "--www", "/srv/www",
			"--redis", "redis://r:6379/0", "--dev", "--presence-grace", "0",
			"--ping-interval", "3600", "--small-room", "7", "--keepalive", "2",
			"--max-connections", "16", "--threads", "64", "--no-metrics", "-v")) ==
	      PL_CONFIG_OK);
	CHECK_STR(c.listen_host, "0.0.0.0");
	CHECK(c.listen_port == 9000);
	CHECK_STR(c.data_dir, "/tmp/d");
	CHECK_STR(c.www_dir, "/srv/www");
	CHECK_STR(c.redis_url, "redis://r:6379/0");
	CHECK(c.dev && !c.metrics && c.verbose);
	CHECK(c.presence_grace == 0 && c.ping_interval == 3600 && c.small_room == 7);
	CHECK(c.keepalive == 2 && c.max_connections == 16 && c.http_threads == 64);
	CHECK(c.fcgi_threads == 8);
	pl_config_free(&c);

	/* --flag=value, IPv6 and --verbose */
	CHECK(load(&c, "parleyd",
		   ARGS("--listen=[::1]:8443", "--data=/x=y", "--small-room=100000", "--verbose",
			"--redis=")) == PL_CONFIG_OK);
	CHECK_STR(c.listen_host, "::1");
	CHECK(c.listen_port == 8443);
	CHECK_STR(c.data_dir, "/x=y");
	CHECK(c.small_room == 100000 && c.verbose);
	CHECK_STR(c.redis_url, "");
	pl_config_free(&c);

	/* parley.fcgi: --threads is the FastCGI pool; --socket, --max-polls */
	CHECK(load(&c, "parley.fcgi",
		   ARGS("--threads", "3", "--socket", "/run/parley.sock", "--max-polls=2")) ==
	      PL_CONFIG_OK);
	CHECK(c.fcgi_threads == 3 && c.http_threads == 4 && c.fcgi_max_polls == 2);
	CHECK_STR(c.socket, "/run/parley.sock");
	pl_config_free(&c);

	/* the last of a repeated flag wins; first skips leading arguments */
	char *argv[] = {"parleyd", "token", "--data", "a", "--data", "b", NULL};
	CHECK(pl_config_load(&c, "parleyd", 6, argv, 2, err, sizeof err) == PL_CONFIG_OK);
	CHECK_STR(c.data_dir, "b");
	pl_config_free(&c);
}

static void test_env(void)
{
	struct pl_config c;
	setenv("PARLEY_LISTEN", "10.0.0.1:7000", 1);
	setenv("PARLEY_DATA", "/env/data", 1);
	setenv("PARLEY_WWW", "/env/www", 1);
	setenv("PARLEY_JWT_SECRET", "s3cret", 1);
	setenv("REDIS_URL", "redis://env", 1);
	setenv("PARLEY_DEV", "yes", 1);
	setenv("PARLEY_PRESENCE_GRACE", "9", 1);
	setenv("PARLEY_PING_INTERVAL", "30", 1);
	setenv("PARLEY_SMALL_ROOM", "50", 1);
	setenv("PARLEY_KEEPALIVE", "20", 1);
	setenv("PARLEY_MAX_CONNECTIONS", "1000", 1);
	setenv("PARLEY_THREADS", "2", 1);
	setenv("PARLEY_FCGI_SOCKET", "127.0.0.1:9001", 1);
	setenv("PARLEY_FCGI_MAX_POLLS", "6", 1);
	setenv("PARLEY_LOG", "debug", 1);
	CHECK(load(&c, "parleyd", NULL) == PL_CONFIG_OK);
	CHECK_STR(c.listen_host, "10.0.0.1");
	CHECK(c.listen_port == 7000);
	CHECK_STR(c.data_dir, "/env/data");
	CHECK_STR(c.www_dir, "/env/www");
	CHECK(c.jwt_secret_len == 6 && memcmp(c.jwt_secret, "s3cret", 6) == 0);
	CHECK_STR(c.redis_url, "redis://env");
	CHECK(c.dev && c.verbose);
	CHECK(c.presence_grace == 9 && c.ping_interval == 30 && c.small_room == 50);
	CHECK(c.keepalive == 20 && c.max_connections == 1000 && c.http_threads == 2);
	CHECK(c.fcgi_threads == 8); /* PARLEY_THREADS is parleyd's pool here */
	pl_config_free(&c);
	CHECK(c.jwt_secret == NULL);
	CHECK(load(&c, "parley.fcgi", NULL) == PL_CONFIG_OK);
	CHECK(c.fcgi_threads == 2 && c.fcgi_max_polls == 6);
	CHECK_STR(c.socket, "127.0.0.1:9001");
	pl_config_free(&c);

	setenv("PARLEY_DEV", "0", 1);
	setenv("PARLEY_LOG", "info", 1);
	setenv("PARLEY_JWT_SECRET", "", 1); /* empty counts as unset */
	CHECK(load(&c, "parleyd", NULL) == PL_CONFIG_OK);
	CHECK(!c.dev && !c.verbose && c.jwt_secret == NULL);
	pl_config_free(&c);
	clean_env();
}

static void test_port(void)
{
	struct pl_config c;
	setenv("PORT", "5000", 1);
	CHECK(load(&c, "parleyd", NULL) == PL_CONFIG_OK);
	CHECK_STR(c.listen_host, "127.0.0.1");
	CHECK(c.listen_port == 5000);
	pl_config_free(&c);
	setenv("PARLEY_LISTEN", "0.0.0.0:6000", 1); /* beats PORT */
	CHECK(load(&c, "parleyd", NULL) == PL_CONFIG_OK);
	CHECK_STR(c.listen_host, "0.0.0.0");
	CHECK(c.listen_port == 6000);
	pl_config_free(&c);
	unsetenv("PARLEY_LISTEN");
	/* a PORT in the environment beats PARLEY_LISTEN in .env, host kept */
	write_env("PARLEY_LISTEN=0.0.0.0:6000\n");
	CHECK(load(&c, "parleyd", NULL) == PL_CONFIG_OK);
	CHECK_STR(c.listen_host, "0.0.0.0");
	CHECK(c.listen_port == 5000);
	pl_config_free(&c);
	/* and --listen beats both */
	CHECK(load(&c, "parleyd", ARGS("--listen", "localhost:1")) == PL_CONFIG_OK);
	CHECK_STR(c.listen_host, "localhost");
	CHECK(c.listen_port == 1);
	pl_config_free(&c);
	setenv("PORT", "http", 1);
	CHECK(fails("parleyd", NULL, "PORT"));
	clean_env();
}

static void test_dotenv(void)
{
	struct pl_config c;
	write_env("# comment\n"
		  "\n"
		  "   # indented comment\n"
		  "export PARLEY_DATA=/dot/data\n"
		  "PARLEY_WWW = \"/dot/w w w\"  # trailing comment\n"
		  "REDIS_URL='redis://h:1/#2'\n"
		  "PARLEY_SMALL_ROOM=42 # inline comment\r\n"
		  "PARLEY_JWT_SECRET=\"a\\\"b#c\"\n"
		  "PARLEY_FCGI_SOCKET=/a#b\n"
		  "UNRELATED_THING=whatever\n"
		  "PARLEY_KEEPALIVE=3\n"
		  "PARLEY_KEEPALIVE=4\n");
	CHECK(load(&c, "parley.fcgi", NULL) == PL_CONFIG_OK);
	CHECK_STR(c.data_dir, "/dot/data");
	CHECK_STR(c.www_dir, "/dot/w w w");
	CHECK_STR(c.redis_url, "redis://h:1/#2");
	CHECK(c.small_room == 42);
	CHECK(c.jwt_secret_len == 5 && memcmp(c.jwt_secret, "a\"b#c", 5) == 0);
	CHECK_STR(c.socket, "/a#b");
	CHECK(c.keepalive == 4); /* the last assignment wins */
	pl_config_free(&c);
	/* .env never reaches the process environment */
	CHECK(getenv("PARLEY_DATA") == NULL && getenv("PARLEY_JWT_SECRET") == NULL);

	write_env("PARLEY_DATA=/ok\nthis is not an assignment\n");
	CHECK(fails("parleyd", NULL, ".env line 2"));
	write_env("PARLEY_DATA=\"unterminated\n");
	CHECK(fails("parleyd", NULL, ".env line 1: unterminated quote"));
	write_env("PARLEY_DATA='a' b\n");
	CHECK(fails("parleyd", NULL, "after the closing quote"));
	write_env("PARLEY_PING_INTERVAL=0\n");
	CHECK(fails("parleyd", NULL, ".env PARLEY_PING_INTERVAL"));
	write_env("");
	CHECK(load(&c, "parleyd", NULL) == PL_CONFIG_OK);
	pl_config_free(&c);
	clean_env();
}

static void test_precedence(void)
{
	struct pl_config c;
	write_env("PARLEY_DATA=/dotenv\nPARLEY_WWW=/dotenv\nREDIS_URL=redis://dotenv\n"
		  "PARLEY_PRESENCE_GRACE=1\n");
	setenv("PARLEY_DATA", "/env", 1);
	setenv("PARLEY_WWW", "/env", 1);
	setenv("PARLEY_PRESENCE_GRACE", "2", 1);
	CHECK(load(&c, "parleyd", ARGS("--data", "/flag", "--presence-grace", "3")) ==
	      PL_CONFIG_OK);
	CHECK_STR(c.data_dir, "/flag");        /* flag > env > .env */
	CHECK_STR(c.www_dir, "/env");          /* env > .env */
	CHECK_STR(c.redis_url, "redis://dotenv"); /* .env > default */
	CHECK(c.presence_grace == 3);
	pl_config_free(&c);
	CHECK(load(&c, "parleyd", NULL) == PL_CONFIG_OK);
	CHECK(c.presence_grace == 2);
	pl_config_free(&c);
	/* a bad value hidden by a higher layer still counts as an error:
	 * every layer is checked as it is applied */
	setenv("PARLEY_PRESENCE_GRACE", "x", 1);
	CHECK(fails("parleyd", ARGS("--presence-grace", "3"), "PARLEY_PRESENCE_GRACE"));
	clean_env();
}

static void test_bad_values(void)
{
	CHECK(fails("parleyd", ARGS("--presence-grace", "3601"), "--presence-grace"));
	CHECK(fails("parleyd", ARGS("--presence-grace", "-1"), "--presence-grace"));
	CHECK(fails("parleyd", ARGS("--ping-interval", "0"), "--ping-interval"));
	CHECK(fails("parleyd", ARGS("--small-room", "100001"), "--small-room"));
	CHECK(fails("parleyd", ARGS("--keepalive", "5s"), "--keepalive"));
	CHECK(fails("parleyd", ARGS("--keepalive", " 5"), "--keepalive"));
	CHECK(fails("parleyd", ARGS("--keepalive", ""), "--keepalive"));
	CHECK(fails("parleyd", ARGS("--max-connections", "15"), "--max-connections"));
	CHECK(fails("parleyd", ARGS("--max-connections", "99999999999999999999"),
		    "--max-connections"));
	CHECK(fails("parleyd", ARGS("--threads", "65"), "--threads"));
	CHECK(fails("parley.fcgi", ARGS("--threads=0"), "--threads"));
	CHECK(fails("parley.fcgi", ARGS("--max-polls", "0"), "--max-polls"));
	CHECK(fails("parleyd", ARGS("--listen", "8080"), "--listen"));
	CHECK(fails("parleyd", ARGS("--listen", ":8080"), "--listen"));
	CHECK(fails("parleyd", ARGS("--listen", "::1:8080"), "brackets"));
	CHECK(fails("parleyd", ARGS("--listen", "[::1]8080"), "--listen"));
	CHECK(fails("parleyd", ARGS("--listen", "host:65536"), "--listen"));
	CHECK(fails("parleyd", ARGS("--listen", "host:"), "--listen"));
	CHECK(fails("parleyd", ARGS("--data", ""), "--data"));
	CHECK(fails("parleyd", ARGS("--data"), "--data needs a value"));
	CHECK(fails("parleyd", ARGS("--dev=1"), "--dev takes no value"));
	CHECK(fails("parleyd", ARGS("--bogus"), "unknown flag --bogus"));
	CHECK(fails("parleyd", ARGS("--bogus=1"), "unknown flag --bogus"));
	CHECK(fails("parleyd", ARGS("--socket", "/s"), "unknown flag --socket"));
	CHECK(fails("parleyd", ARGS("--max-polls", "2"), "unknown flag --max-polls"));
	CHECK(fails("parleyd", ARGS("stray"), "unexpected argument 'stray'"));
	CHECK(fails("parleyd", ARGS("-x"), "unexpected argument '-x'"));
	CHECK(fails("parleyd", ARGS("--"), "unexpected argument '--'"));
	setenv("PARLEY_DEV", "maybe", 1);
	CHECK(fails("parleyd", NULL, "PARLEY_DEV"));
	clean_env();
	setenv("PARLEY_LOG", "loud", 1);
	CHECK(fails("parleyd", NULL, "PARLEY_LOG"));
	clean_env();
	char big[5000];
	memset(big, 'd', sizeof big - 1);
	big[sizeof big - 1] = 0;
	CHECK(fails("parleyd", ARGS("--data", big), "longer than"));
}

static void test_secret_file(void)
{
	struct pl_config c;
	write_file("secret", "top\nsecret\n", 11);
	setenv("PARLEY_JWT_SECRET", "from-env", 1);
	CHECK(load(&c, "parleyd", ARGS("--jwt-secret-file", "secret")) == PL_CONFIG_OK);
	CHECK(c.jwt_secret_len == 10 && memcmp(c.jwt_secret, "top\nsecret", 10) == 0);
	pl_config_free(&c);
	unsetenv("PARLEY_JWT_SECRET");
	write_file("secret", "crlf\r\n\n", 7); /* only one newline goes */
	CHECK(load(&c, "parleyd", ARGS("--jwt-secret-file=secret")) == PL_CONFIG_OK);
	CHECK(c.jwt_secret_len == 6 && memcmp(c.jwt_secret, "crlf\r\n", 6) == 0);
	pl_config_free(&c);
	write_file("secret", "a\0b\r\n", 5); /* binary-safe; CRLF counts as one */
	CHECK(load(&c, "parleyd", ARGS("--jwt-secret-file", "secret")) == PL_CONFIG_OK);
	CHECK(c.jwt_secret_len == 3 && memcmp(c.jwt_secret, "a\0b", 3) == 0);
	pl_config_free(&c);
	write_file("secret", "\n", 1);
	CHECK(fails("parleyd", ARGS("--jwt-secret-file", "secret"), "empty"));
	write_file("secret", "", 0);
	CHECK(fails("parleyd", ARGS("--jwt-secret-file", "secret"), "--jwt-secret-file"));
	CHECK(fails("parleyd", ARGS("--jwt-secret-file", "nope"), "--jwt-secret-file: cannot read"));
	CHECK(fails("parleyd", ARGS("--jwt-secret-file", "."), "--jwt-secret-file"));
	/* a failed load leaves nothing to free (ASan would see a leak) */
	write_file("secret", "x", 1);
	CHECK(fails("parleyd", ARGS("--jwt-secret-file", "secret", "--bogus"), "--bogus"));
	unlink("secret");
}

/* Runs --help with stdout captured into out. */
static enum pl_config_result help(const char *prog, char *out, size_t outlen)
{
	struct pl_config c;
	fflush(stdout);
	int saved = dup(1);
	FILE *f = fopen("help.txt", "w+");
	dup2(fileno(f), 1);
	setenv("PARLEY_JWT_SECRET", "do-not-print-me", 1);
	enum pl_config_result r = load(&c, prog, ARGS("--data", "x", "-h", "--bogus"));
	pl_config_free(&c);
	unsetenv("PARLEY_JWT_SECRET");
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(f);
	size_t n = fread(out, 1, outlen - 1, f);
	out[n] = 0;
	fclose(f);
	unlink("help.txt");
	return r;
}

/* --cors-origin: repeatable, comma lists, the first flag replaces the
 * environment's list, "*" alone, exact origins only. */
static void test_cors(void)
{
	struct pl_config c;
	CHECK(load(&c, "parleyd", ARGS("--cors-origin", "https://app.example.com",
				       "--cors-origin=http://localhost:3000, http://[::1]:8080"))
	      == PL_CONFIG_OK);
	CHECK_STR(c.cors_origin, "https://app.example.com,http://localhost:3000,http://[::1]:8080");
	pl_config_free(&c);
	setenv("PARLEY_CORS_ORIGIN", "https://a.example,https://b.example", 1);
	CHECK(load(&c, "parleyd", NULL) == PL_CONFIG_OK);
	CHECK_STR(c.cors_origin, "https://a.example,https://b.example");
	pl_config_free(&c);
	CHECK(load(&c, "parleyd", ARGS("--cors-origin", "https://c.example")) == PL_CONFIG_OK);
	CHECK_STR(c.cors_origin, "https://c.example");
	pl_config_free(&c);
	unsetenv("PARLEY_CORS_ORIGIN");
	CHECK(load(&c, "parleyd", ARGS("--cors-origin", "*")) == PL_CONFIG_OK);
	CHECK_STR(c.cors_origin, "*");
	pl_config_free(&c);
	CHECK(fails("parleyd", ARGS("--cors-origin", "*", "--cors-origin", "https://a.example"),
		    "cannot be combined"));
	CHECK(fails("parleyd", ARGS("--cors-origin", "https://a.example/"), "is no origin"));
	CHECK(fails("parleyd", ARGS("--cors-origin", "https://a.example/app"), "is no origin"));
	CHECK(fails("parleyd", ARGS("--cors-origin", "ftp://a.example"), "is no origin"));
	CHECK(fails("parleyd", ARGS("--cors-origin", "https://"), "is no origin"));
	CHECK(fails("parleyd", ARGS("--cors-origin", "https://u:p@a.example"), "is no origin"));
	CHECK(fails("parley.fcgi", ARGS("--cors-origin", "https://a.example"), "unknown flag"));
	/* the test-only connect timeout */
	CHECK(load(&c, "parleyd", ARGS("--socketio-connect-timeout", "300")) == PL_CONFIG_OK);
	CHECK(c.socketio_connect_timeout_ms == 300);
	pl_config_free(&c);
	CHECK(fails("parleyd", ARGS("--socketio-connect-timeout", "5"), "100"));
}

static void test_help(void)
{
	static char out[16384];
	static const char *want[] = {
		"--listen HOST:PORT", "PARLEY_LISTEN", "127.0.0.1:8080", "PORT", "--data DIR",
		"PARLEY_DATA", "./var", "--www", "PARLEY_WWW", "--jwt-secret-file FILE",
		"PARLEY_JWT_SECRET", "--redis URL", "REDIS_URL", "--dev", "PARLEY_DEV",
		"--presence-grace", "PARLEY_PRESENCE_GRACE", "--ping-interval", "PARLEY_PING_INTERVAL",
		"--small-room", "PARLEY_SMALL_ROOM", "--keepalive", "PARLEY_KEEPALIVE",
		"--max-connections", "PARLEY_MAX_CONNECTIONS", "19500", "--threads", "PARLEY_THREADS",
		"--no-metrics", "--verbose", "-v", "PARLEY_LOG", "--help", "--socketio-conformance",
		"--cors-origin ORIGIN", "PARLEY_CORS_ORIGIN",
		"parleyd token USER [--ttl SECONDS]"};
	CHECK(help("parleyd", out, sizeof out) == PL_CONFIG_HELP);
	for (size_t i = 0; i < sizeof want / sizeof *want; i++)
		if (!strstr(out, want[i])) {
			fprintf(stderr, "  --help lacks %s\n", want[i]);
			CHECK(!"help complete");
		}
	CHECK(strstr(out, "--socket ") == NULL && strstr(out, "--max-polls") == NULL);
	CHECK(strstr(out, "do-not-print-me") == NULL);
	CHECK(strstr(out, "--socketio-connect-timeout") == NULL); /* for tests only */
	CHECK(help("parley.fcgi", out, sizeof out) == PL_CONFIG_HELP);
	CHECK(strstr(out, "--socket PATH|HOST:PORT") && strstr(out, "PARLEY_FCGI_SOCKET"));
	CHECK(strstr(out, "--max-polls") && strstr(out, "PARLEY_FCGI_MAX_POLLS"));
	CHECK(strstr(out, "token USER") == NULL);
	CHECK(strstr(out, "do-not-print-me") == NULL);
}

/* --database / DATABASE_URL: a PostgreSQL URL or nothing (SQLite); any
 * other value is refused without repeating it (it may hold a password). */
static void test_database(void)
{
	struct pl_config c;
	CHECK(load(&c, "parleyd", NULL) == PL_CONFIG_OK);
	CHECK_STR(c.database_url, "");
	pl_config_free(&c);
	CHECK(load(&c, "parleyd", ARGS("--database", "postgresql://u:pw@h:5432/db")) ==
	      PL_CONFIG_OK);
	CHECK_STR(c.database_url, "postgresql://u:pw@h:5432/db");
	pl_config_free(&c);
	setenv("DATABASE_URL", "postgres://env@h/db", 1);
	CHECK(load(&c, "parley.fcgi", NULL) == PL_CONFIG_OK);
	CHECK_STR(c.database_url, "postgres://env@h/db");
	pl_config_free(&c);
	clean_env();
	CHECK(fails("parleyd", ARGS("--database", "mysql://u:hunter2@h/db"), "PostgreSQL URL"));
	CHECK(!strstr(err, "hunter2"));
	CHECK(fails("parleyd", ARGS("--database", "/var/lib/parley.db"), "--database"));
}

int main(void)
{
	char dir[] = "/tmp/pl_test_config.XXXXXX";
	if (!mkdtemp(dir) || chdir(dir) != 0) {
		perror("scratch directory");
		return 2;
	}
	clean_env();
	test_defaults();
	test_flags();
	test_rates();
	test_env();
	test_port();
	test_dotenv();
	test_precedence();
	test_bad_values();
	test_secret_file();
	test_help();
	test_cors();
	test_database();
	clean_env();
	if (chdir("/") != 0 || rmdir(dir) != 0)
		perror("removing the scratch directory");
	return T_DONE();
}
