/* chat/ctx: the server context, the one home of a process's mutable state.
 *
 * It holds the settings, the writer, a pool of read connections, the set of
 * users already signed up in this process, presence, the bus to other
 * processes, and the sink through which the push layer (when this process
 * has one) hears of new events.  chat/ and api/ reach everything through
 * it; nothing is global. */
#ifndef PL_CTX_H
#define PL_CTX_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/config.h"
#include "base/histo.h"
#include "base/map.h"
#include "db/store.h"
#include "db/writer.h"

struct pl_presence;
struct pl_bus;
struct pl_ratelimit;
struct pl_tokens;

/* What the push layer registers to be told of events.  stored() follows
 * every commit that appended events (this process's or, through the bus,
 * another's); commit is this process's commit (its event ids and when it
 * returned, for the delivery latency), NULL for another process's.
 * ephemeral() carries typing, receipt and presence events and
 * takes the event: a jansson value belongs to one thread at a time, so the
 * one that made it lets go of it entirely. */
struct pl_sink {
	void *ud;
	void (*stored)(void *ud, int64_t last_event_id, const struct pl_commit *commit);
	void (*ephemeral)(void *ud, json_t *event);
};

#define PL_READERS_MAX 32

/* The per-user limits of repeatable writes besides posting (see
 * pl_chat_limit); each a token bucket of N a minute, N at once. */
enum pl_limit {
	PL_LIMIT_EDIT,     /* edits and deletes */
	PL_LIMIT_ROOM,     /* rooms created, direct-message rooms opened */
	PL_LIMIT_MEMBER,   /* member adds, joins, leaves */
	PL_LIMIT_STATUS,   /* status changes */
	PL_LIMIT_TYPING,   /* typing notices */
	PL_LIMIT_READ,     /* read marks */
	PL_LIMIT_COUNT
};

/* Counters for /metrics, bumped wherever the thing happens. */
struct pl_counters {
	_Atomic long long http_requests;
	_Atomic long long messages_stored;
	_Atomic long long events_fanned_out;   /* events read from the log by the hub */
	_Atomic long long deliveries;          /* event copies queued on connections */
	_Atomic long long push_open;           /* push connections open now */
	_Atomic long long push_total;          /* push connections ever opened */
	_Atomic long long slow_dropped;        /* consumers cut for falling behind */
	/* push connections open now, by transport, and the users they belong to */
	_Atomic long long open_ws;
	_Atomic long long open_sse;
	_Atomic long long open_poll;
	_Atomic long long open_feed;           /* /ws-online-status feeds */
	_Atomic long long open_sio;            /* Socket.IO sockets in the hub */
	_Atomic long long users_connected;
	_Atomic long long socketio_open;       /* Engine.IO sessions open now */
	struct pl_histo commit_latency;      /* each writer transaction, BEGIN to COMMIT */
	struct pl_histo delivery_latency;    /* commit to the hub's write, per delivery */
};

struct pl_ctx {
	const struct pl_config *cfg;
	char db_path[4200];
	pl_writer *writer;
	pthread_mutex_t lock;            /* guards readers, known_users, sink */
	pl_store *readers[PL_READERS_MAX];
	int nreaders;
	pl_map *known_users;             /* users ensured (and in general) */
	struct pl_tokens *tokens;        /* verified tokens -> claims (chat/tokens.h) */
	struct pl_sink sink;
	struct pl_presence *presence;
	struct pl_bus *bus;
	struct pl_ratelimit *posts;      /* per-user message rate */
	struct pl_ratelimit *typing;     /* one typing start per user and room per 3 s */
	struct pl_webhook *webhook;      /* parleyd with --webhook (chat/webhook.h) */
	struct pl_ratelimit *typing_renew; /* a held-back start renews the lapse, 1/s */
	struct pl_ratelimit *limits[PL_LIMIT_COUNT]; /* per user, by enum pl_limit */
	int64_t started_ms;
	struct pl_counters counters;
	/* NULL: the system's; a test sets its own after pl_ctx_init and
	 * before the hub starts (base/clock.h). */
	const struct pl_clock *clock;
};

/* Opens the store (creating the data folder), starts the writer, opens
 * the bus and, in the daemon, presence (linked to the bus in Redis mode);
 * the context owns them all and pl_ctx_close frees them.  role_daemon:
 * this process listens on the bus (parleyd); otherwise it only publishes
 * to it (parley.fcgi) and has no presence of its own (it reads the store's
 * mirror).  On failure nothing is left open (no pl_ctx_close). */
enum pl_code pl_ctx_init(struct pl_ctx *ctx, const struct pl_config *cfg, bool role_daemon,
			 pl_error *err);
void pl_ctx_close(struct pl_ctx *ctx);

/* A read connection for this thread's use; give it back when done. */
pl_store *pl_ctx_reader(struct pl_ctx *ctx);
void pl_ctx_reader_put(struct pl_ctx *ctx, pl_store *s);

void pl_ctx_set_sink(struct pl_ctx *ctx, const struct pl_sink *sink);
/* Tells this process's sink and the other processes about new events or an
 * ephemeral event (the caller's reference is taken: it must not touch the
 * event again). */
void pl_ctx_stored(struct pl_ctx *ctx, int64_t last_event_id, const struct pl_commit *commit);
void pl_ctx_ephemeral(struct pl_ctx *ctx, json_t *event);

#endif
