/* chat/webhook: delivers events to the operator's webhook URL.
 *
 * A thread of its own, so a slow or unreachable receiver never slows
 * anything else: it turns stored events into deliveries (db/outbox.h),
 * claims due deliveries with a lease, and POSTs up to PL_WEBHOOK_INFLIGHT
 * of them at once through libcurl's multi interface, each with a 5 s
 * limit.  Body: {"id":"<delivery id>","type":..,"ts":..,"data":..}; header
 * Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.
 * A 2xx ends a delivery; anything else is retried after 1, 2, 4 ... s, at
 * most 5 minutes apart, until --webhook-retry-for has passed since it was
 * queued; then it is dropped with a log line.  Presence transitions are
 * queued by the node that reports them (pl_webhook_presence). */
#ifndef PL_WEBHOOK_H
#define PL_WEBHOOK_H

#include <jansson.h>
#include <stdatomic.h>

#include "base/err.h"

#define PL_WEBHOOK_INFLIGHT 16

struct pl_ctx;
struct pl_webhook;

/* What /metrics shows. */
struct pl_webhook_stats {
	_Atomic long long delivered;    /* deliveries answered 2xx */
	_Atomic long long failed;       /* attempts that failed (each one) */
	_Atomic long long dropped;      /* deliveries given up */
	_Atomic long long queued;       /* deliveries waiting, as last counted */
};

/* Starts delivering (ctx->cfg->webhook_url set); NULL with err otherwise. */
struct pl_webhook *pl_webhook_start(struct pl_ctx *ctx, pl_error *err);
/* Stops the thread; deliveries in flight go back to the queue at once. */
void pl_webhook_stop(struct pl_webhook *w);
const struct pl_webhook_stats *pl_webhook_stats(const struct pl_webhook *w);

/* Queues user's presence transition (the status object) when webhooks
 * carry presence; returns at once (a writer job). */
void pl_webhook_presence(struct pl_ctx *ctx, const char *user, const json_t *status);

#endif
