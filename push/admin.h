/* push/admin: the admin stream, GET /v1/admin/stats.
 *
 * An admin stream is an SSE connection (kind PL_CONN_SSE, flagged admin)
 * that hears no chat events: it is in no room and counts for no presence
 * or connection gauge.  Once a second the hub's tick writes this node's
 * figures as one JSON object (pl_admin_json, the one writer of that shape)
 * and queues it, framed once, on every admin stream:
 *
 *   event: stats
 *   data: {"node":"host:8080","ts":..,"connections":{"ws":..,"sse":..,..},
 *          "users_online":..,"messages_per_s":..,"deliveries_per_s":..,
 *          "delivery_latency":{"p50":s,"p99":s,"count":n},
 *          "commit_latency":{..},"slow_consumers_cut":..,..}
 *
 * The per-second figures are deltas of the counters (and of the latency
 * histograms) since the previous tick, so quantiles are of the last second. */
#ifndef PL_ADMIN_H
#define PL_ADMIN_H

#include <jansson.h>
#include <stdint.h>

#include "base/histo.h"

struct pl_hub;
struct pl_conn;
struct pl_ctx;

struct pl_admin {
	struct pl_conn **conns;       /* the admin streams */
	size_t n, cap;
	int64_t last_ms;              /* the previous figures (monotonic); 0: none */
	long long messages, deliveries, slow;
	struct pl_histo_snap delivery, commit;
	char node[300];               /* host:port */
};

/* The hub attaches / detaches an admin stream (hub thread). */
void pl_admin_attach(struct pl_hub *h, struct pl_conn *c);
void pl_admin_detach(struct pl_hub *h, struct pl_conn *c);
/* Every hub tick: the figures once a second, to every admin stream. */
void pl_admin_tick(struct pl_hub *h, int64_t now_ms);
void pl_admin_free(struct pl_admin *a);

/* This node's figures since the previous call (which they become): the
 * stream's event data.  NULL when out of memory. */
json_t *pl_admin_json(struct pl_admin *a, struct pl_ctx *ctx, int64_t now_ms);

#endif
