/* chat/ctx: see ctx.h. */
#include "config.h"

#include "chat/ctx.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "base/log.h"
#include "chat/chat.h" /* pl_chat_presence_changed: presence transitions go to the chat */
#include "chat/tokens.h"
#include "base/ratelimit.h"
#include "db/bus.h"
#ifdef PL_HAVE_PG
#include "db/bus_pg.h"
#endif
#include "db/perms.h"
#include "db/presence.h"


static void on_commit(void *ud, const struct pl_commit *c)
{
	struct pl_ctx *ctx = ud;
	pl_histo_record(&ctx->counters.commit_latency, c->took_us, 1);
	if (c->last_event_id > 0)
		pl_ctx_stored(ctx, c->last_event_id, c);
}

/* The folder 0700 and the store 0600 (0660 in a folder shared with a
 * group: db/perms.h), before SQLite creates anything with its 0644. */
static enum pl_code make_data_dir(const char *dir, const char *db_path, pl_error *err)
{
	struct pl_perms p;
	if (pl_perms_data_dir(dir, &p, err) != PL_OK)
		return err->code;
	/* SQLite's own words for this are "unable to open database file". */
	if (access(dir, W_OK | X_OK) != 0)
		return pl_fail(err, PL_INTERNAL, "cannot write in data folder %s: %s", dir,
			       strerror(errno));
	if (!db_path) /* PostgreSQL: no store file here */
		return PL_OK;
	if (pl_perms_file(db_path, &p, true, err) != PL_OK)
		return err->code;
	static const char *const extra[] = {"-wal", "-shm"};
	for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
		char path[sizeof ((struct pl_ctx *)0)->db_path + 8];
		snprintf(path, sizeof path, "%s%s", db_path, extra[i]);
		if (pl_perms_file(path, &p, false, err) != PL_OK)
			return err->code;
	}
	return PL_OK;
}

/* A presence transition: the chat publishes it (and tells the webhook). */
static void on_presence(void *ud, const char *user, bool online)
{
	pl_chat_presence_changed(ud, user, online);
}

/* The bus without Redis: this host's, plus PostgreSQL's wake-ups between
 * nodes when the store is there. */
static enum pl_code open_local_bus(struct pl_ctx *ctx, const struct pl_config *cfg,
				   bool role_daemon, pl_error *err)
{
#ifdef PL_HAVE_PG
	if (cfg->database_url[0])
		return pl_bus_open_pg(cfg->database_url, cfg->data_dir, role_daemon, &ctx->bus,
				      err);
#endif
	return pl_bus_open(cfg->data_dir, role_daemon, &ctx->bus, err);
}

/* Makes everything the context owns, in order; pl_ctx_init undoes what
 * was made when a step fails. */
static enum pl_code ctx_open(struct pl_ctx *ctx, const struct pl_config *cfg, bool role_daemon,
			     pl_error *err)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->cfg = cfg;
	ctx->started_ms = pl_now_ms();
	pthread_mutex_init(&ctx->lock, NULL);
	/* The store: PostgreSQL when --database names one (db/store.h opens
	 * by URL), else SQLite in the data folder.  The folder is made either
	 * way: it holds this host's bus socket. */
	bool pg = cfg->database_url[0] != 0;
	if (pg)
		snprintf(ctx->db_path, sizeof ctx->db_path, "%s", cfg->database_url);
	else
		snprintf(ctx->db_path, sizeof ctx->db_path, "%s/parley.db", cfg->data_dir);
	if (make_data_dir(cfg->data_dir, pg ? NULL : ctx->db_path, err) != PL_OK)
		return err->code;
	ctx->known_users = pl_map_new();
	ctx->tokens = pl_tokens_new();
	/* Generous for people, a wall for a runaway bot; bursts of 4 s. */
	ctx->posts = pl_ratelimit_new(cfg->post_rate, 4.0 * cfg->post_rate);
	ctx->typing = pl_ratelimit_new(1.0 / 3.0, 1.0);
	ctx->typing_renew = pl_ratelimit_new(1.0, 1.0);
	if (!ctx->known_users || !ctx->tokens || !ctx->posts || !ctx->typing || !ctx->typing_renew)
		return pl_fail(err, PL_INTERNAL, "out of memory");
	/* The other writes: N a minute, a burst of N (a person never notices;
	 * a script gets N and then one every 60/N s).  cfg already holds 0 for
	 * the limits --dev turns off. */
	const int per_minute[PL_LIMIT_COUNT] = {
		[PL_LIMIT_EDIT] = cfg->edit_rate,     [PL_LIMIT_ROOM] = cfg->room_rate,
		[PL_LIMIT_MEMBER] = cfg->member_rate, [PL_LIMIT_STATUS] = cfg->status_rate,
		[PL_LIMIT_TYPING] = cfg->typing_rate, [PL_LIMIT_READ] = cfg->read_rate,
	};
	for (int i = 0; i < PL_LIMIT_COUNT; i++)
		if (!(ctx->limits[i] = pl_ratelimit_new(per_minute[i] / 60.0, per_minute[i])))
			return pl_fail(err, PL_INTERNAL, "out of memory");
	/* Opening a reader first creates and migrates the schema once; its
	 * error is the one to show at start (a PostgreSQL one never holds the
	 * password: db/pgconn.h). */
	pl_store *first;
	if (pl_store_open(ctx->db_path, &first, err) != PL_OK)
		return err->code;
	pl_ctx_reader_put(ctx, first);
	if (pl_writer_start(ctx->db_path, on_commit, ctx, &ctx->writer, err) != PL_OK)
		return err->code;
	/* The bus and presence back end: REDIS_URL chooses (db/bus.h); on
	 * PostgreSQL without Redis, LISTEN/NOTIFY wakes the other nodes. */
	enum pl_code brc = cfg->redis_url[0]
				   ? pl_bus_open_redis(cfg->redis_url, ctx->db_path, role_daemon,
						       &ctx->bus, err)
				   : open_local_bus(ctx, cfg, role_daemon, err);
	if (brc != PL_OK)
		return err->code;
	/* Presence is counted where push connections are: the daemon.  It
	 * goes through the bus (Redis mode) from before the hub's loop runs
	 * the bus, so from the first connection (db/presence.h). */
	if (role_daemon) {
		ctx->presence = pl_presence_new(cfg->presence_grace, on_presence, ctx);
		if (!ctx->presence)
			return pl_fail(err, PL_INTERNAL, "out of memory");
		pl_presence_use_bus(ctx->presence, ctx->bus);
	}
	return PL_OK;
}

enum pl_code pl_ctx_init(struct pl_ctx *ctx, const struct pl_config *cfg, bool role_daemon,
			 pl_error *err)
{
	if (ctx_open(ctx, cfg, role_daemon, err) == PL_OK)
		return PL_OK;
	pl_ctx_close(ctx); /* whatever was made so far */
	return err->code;
}

void pl_ctx_close(struct pl_ctx *ctx)
{
	pl_writer_stop(ctx->writer);
	ctx->writer = NULL;
	for (int i = 0; i < ctx->nreaders; i++)
		pl_store_close(ctx->readers[i]);
	ctx->nreaders = 0;
	pl_bus_close(ctx->bus);
	pl_presence_free(ctx->presence);
	pl_ratelimit_free(ctx->posts);
	pl_ratelimit_free(ctx->typing);
	pl_ratelimit_free(ctx->typing_renew);
	for (int i = 0; i < PL_LIMIT_COUNT; i++)
		pl_ratelimit_free(ctx->limits[i]);
	pl_map_free(ctx->known_users);
	pl_tokens_free(ctx->tokens);
	ctx->tokens = NULL;
	pthread_mutex_destroy(&ctx->lock);
}

pl_store *pl_ctx_reader(struct pl_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	pl_store *s = ctx->nreaders ? ctx->readers[--ctx->nreaders] : NULL;
	pthread_mutex_unlock(&ctx->lock);
	if (s)
		return s;
	pl_error err;
	if (pl_store_open(ctx->db_path, &s, &err) != PL_OK) {
		log_error("%s", err.message);
		return NULL;
	}
	return s;
}

void pl_ctx_reader_put(struct pl_ctx *ctx, pl_store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&ctx->lock);
	if (ctx->nreaders < PL_READERS_MAX) {
		ctx->readers[ctx->nreaders++] = s;
		s = NULL;
	}
	pthread_mutex_unlock(&ctx->lock);
	pl_store_close(s);
}

void pl_ctx_set_sink(struct pl_ctx *ctx, const struct pl_sink *sink)
{
	pthread_mutex_lock(&ctx->lock);
	ctx->sink = *sink;
	pthread_mutex_unlock(&ctx->lock);
}

static struct pl_sink get_sink(struct pl_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	struct pl_sink s = ctx->sink;
	pthread_mutex_unlock(&ctx->lock);
	return s;
}

void pl_ctx_stored(struct pl_ctx *ctx, int64_t last_event_id, const struct pl_commit *commit)
{
	struct pl_sink s = get_sink(ctx);
	if (s.stored)
		s.stored(s.ud, last_event_id, commit);
	char id[24];
	int n = snprintf(id, sizeof id, "%lld", (long long)last_event_id);
	pl_bus_send(ctx->bus, 'W', id, (size_t)n);
}

void pl_ctx_ephemeral(struct pl_ctx *ctx, json_t *event)
{
	/* Written for the bus before the sink takes it: from then on it is the
	 * hub thread's, which changes it (it takes routing members out). */
	char *text = json_dumps(event, JSON_COMPACT);
	struct pl_sink s = get_sink(ctx);
	if (s.ephemeral)
		s.ephemeral(s.ud, event);
	else
		json_decref(event);
	if (text) {
		pl_bus_send(ctx->bus, 'E', text, strlen(text));
		free(text);
	}
}
